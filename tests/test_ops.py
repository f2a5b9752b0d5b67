"""Every public ge.ops function: eager on arrays against tests/reference.py or NumPy, symbolic
shape and dtype inference with a None batch (and the compiled graph's values), float64 gradient
checks through tests/gradcheck.py, and the shape errors."""

import numpy as np
import pytest

import graphengine as ge
import reference as ref
from gradcheck import check_grads

ops = ge.ops

X = np.array([[-1.7, -0.6, 0.35], [0.9, 1.4, -2.3]])  # no value near 0 or a kink
POS = np.array([[0.3, 1.2, 2.5], [0.7, 1.9, 0.45]])
X3 = np.random.default_rng(0).standard_normal((2, 3, 4))  # continuous: no ties


def rand(shape, seed=0, away_from_zero=False):
    a = np.random.default_rng(seed).standard_normal(shape)
    if away_from_zero:
        a = np.sign(a) * (0.5 + np.abs(a))
    return a


def tol(dtype):
    return (
        dict(rtol=2e-5, atol=2e-6)
        if np.dtype(dtype) == np.float32
        else dict(rtol=1e-12, atol=1e-12)
    )


def run(fn, *arrays):
    """fn applied to Inputs of the arrays' full shapes, compiled into a Model, run on arrays."""
    inputs = [ge.Input(batch_shape=np.shape(a), dtype=np.asarray(a).dtype) for a in arrays]
    out = ge.Model(inputs, fn(*inputs))(list(arrays) if len(arrays) > 1 else arrays[0])
    return np.asarray(out)


# -- unary ------------------------------------------------------------------------------------

act = ge.activations
UNARY = [
    ("exp", ops.exp, ref.exp, X),
    ("log", ops.log, ref.log, POS),
    ("sqrt", ops.sqrt, ref.sqrt, POS),
    ("square", ops.square, ref.square, X),
    ("abs", ops.abs, ref.abs_, X),
    ("tanh", ops.tanh, ref.tanh, X),
    ("sigmoid", ops.sigmoid, ref.sigmoid, X),
    ("relu", ops.relu, ref.relu, X),
    (
        "relu_params",
        lambda x: ops.relu(x, negative_slope=0.1, max_value=1.0, threshold=0.2),
        lambda x: ref.relu(x, 0.1, 1.0, 0.2),
        X,
    ),
    ("clip", lambda x: ops.clip(x, -0.5, 1.0), lambda x: ref.clip(x, -0.5, 1.0), X),
    ("negative", ops.negative, lambda x: -x, X),
    ("identity", ops.identity, lambda x: x, X),
    ("softmax", ops.softmax, lambda x: ref.softmax(x, -1), X),
    ("softmax_axis0", lambda x: ops.softmax(x, axis=0), lambda x: ref.softmax(x, 0), X),
    ("log_softmax", ops.log_softmax, lambda x: ref.log_softmax(x, -1), X),
    (
        "log_softmax_axis0",
        lambda x: ops.log_softmax(x, axis=0),
        lambda x: ref.log_softmax(x, 0),
        X,
    ),
    # the named activations built on the same primitives
    ("elu", lambda x: act.elu(x, alpha=0.7), lambda x: ref.elu(x, 0.7), X),
    ("selu", act.selu, ref.selu, X),
    ("gelu", act.gelu, ref.gelu, X),
    ("gelu_tanh", lambda x: act.gelu(x, approximate=True), ref.gelu_tanh, X),
    ("softplus", act.softplus, ref.softplus, X),
    ("softsign", act.softsign, ref.softsign, X),
    ("swish", act.swish, ref.swish, X),
    ("hard_sigmoid", act.hard_sigmoid, ref.hard_sigmoid, 2.5 * X),
    ("leaky_relu", act.leaky_relu, lambda x: ref.relu(x, 0.2), X),
    ("relu6", act.relu6, lambda x: ref.relu(x, 0.0, 6.0), 4 * X),
]
UNARY_IDS = [c[0] for c in UNARY]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,fn,reference,x", UNARY, ids=UNARY_IDS)
def test_unary_eager(name, fn, reference, x, dtype):
    out = fn(x.astype(dtype))
    assert isinstance(out, np.ndarray) and out.dtype == dtype
    np.testing.assert_allclose(out, reference(x.astype(dtype)), **tol(dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,fn,reference,x", UNARY, ids=UNARY_IDS)
def test_unary_symbolic(name, fn, reference, x, dtype):
    out = fn(ge.Input(shape=(3,), dtype=dtype))
    assert out.shape == (None, 3) and out.dtype == dtype
    np.testing.assert_allclose(run(fn, x.astype(dtype)), reference(x.astype(dtype)), **tol(dtype))


@pytest.mark.parametrize("name,fn,reference,x", UNARY, ids=UNARY_IDS)
def test_unary_grad(name, fn, reference, x):
    check_grads(fn, x)


# -- binary -----------------------------------------------------------------------------------

BINARY = {
    "add": (ops.add, np.add),
    "subtract": (ops.subtract, np.subtract),
    "multiply": (ops.multiply, np.multiply),
    "divide": (ops.divide, np.divide),
    "maximum": (ops.maximum, np.maximum),
    "minimum": (ops.minimum, np.minimum),
}
BINARY_SHAPES = [
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((2, 1), (1, 3)),
    ((3,), (2, 3)),
    ((2, 3), ()),
    ((2, 1, 3), (4, 1)),
]


def binary_operands(sa, sb):
    return rand(sa, seed=1), rand(sb, seed=2, away_from_zero=True)  # b may be a divisor


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sa,sb", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_eager(name, sa, sb, dtype):
    a, b = (v.astype(dtype) for v in binary_operands(sa, sb))
    out = BINARY[name][0](a, b)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, BINARY[name][1](a.astype(float), b.astype(float)), **tol(dtype))


@pytest.mark.parametrize("sa,sb", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_grad(name, sa, sb):
    check_grads(BINARY[name][0], *binary_operands(sa, sb))


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_symbolic_values(name):
    a, b = binary_operands((2, 1, 3), (4, 1))
    np.testing.assert_allclose(run(BINARY[name][0], a, b), BINARY[name][1](a, b), rtol=1e-12)


def _sym(shape):
    return ge.Input(shape=shape)


SYMBOLIC_BROADCAST = [
    (lambda: (_sym((3,)), _sym((3,))), (None, 3)),
    (lambda: (_sym((2, 1)), _sym((1, 3))), (None, 2, 3)),
    (lambda: (_sym((3,)), np.ones(3, np.float32)), (None, 3)),
    (lambda: (np.ones(3, np.float32), _sym((2, 3))), (None, 2, 3)),
    (lambda: (_sym((3,)), np.ones((4, 1, 3), np.float32)), (4, None, 3)),
    (lambda: (_sym((1,)), _sym((4,))), (None, 4)),
    (lambda: (_sym((2, 3)), np.float32(2.0)), (None, 2, 3)),
]


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("make,expected", SYMBOLIC_BROADCAST, ids=range(len(SYMBOLIC_BROADCAST)))
def test_binary_symbolic_shape(name, make, expected):
    out = BINARY[name][0](*make())
    assert out.shape == expected and out.dtype == "float32"


def test_maximum_minimum_ties_send_the_gradient_to_the_first_operand():
    a, b = ge.Input(batch_shape=(3,), dtype="float64"), ge.Input(batch_shape=(3,), dtype="float64")
    x, y = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])
    (da, db), _ = ge.Model([a, b], ops.maximum(a, b)).vjp([x, y], np.ones(3))
    np.testing.assert_array_equal(da, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(db, [0.0, 1.0, 0.0])
    (da, db), _ = ge.Model([a, b], ops.minimum(a, b)).vjp([x, y], np.ones(3))
    np.testing.assert_array_equal(da, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(db, [0.0, 0.0, 1.0])


def test_greater_equal():
    a, b = np.array([[1.0, 2.0, 3.0]]), np.array([2.0, 2.0, 2.0])
    out = ops.greater_equal(a, b)
    np.testing.assert_array_equal(out, [[0.0, 1.0, 1.0]])
    assert out.dtype == "float64"
    sym = ops.greater_equal(ge.Input((3,)), 0.0)
    assert sym.shape == (None, 3) and sym.dtype == "float32"
    check_grads(lambda x: x * ops.greater_equal(x, 0.0), X)  # a mask: no gradient of its own


# -- matmul -----------------------------------------------------------------------------------

MATMUL = [
    ((2, 3), (3, 4)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((3,), (3,)),
    ((2, 2, 3), (3, 4)),
    ((2, 3), (2, 3, 4)),
    ((2, 1, 2, 3), (3, 3, 2)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sa,sb", MATMUL, ids=str)
def test_matmul_eager(sa, sb, dtype):
    a, b = rand(sa, 3).astype(dtype), rand(sb, 4).astype(dtype)
    out = np.asarray(ops.matmul(a, b))
    expected = ref.matmul(a, b)
    assert out.shape == expected.shape and out.dtype == dtype
    np.testing.assert_allclose(out, expected, **tol(dtype))


@pytest.mark.parametrize("sa,sb", MATMUL, ids=str)
def test_matmul_grad(sa, sb):
    check_grads(ops.matmul, rand(sa, 3), rand(sb, 4))


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda: (_sym((3,)), np.ones((3, 4), np.float32)), (None, 4)),
        (lambda: (_sym((2, 3)), np.ones((3, 4), np.float32)), (None, 2, 4)),
        (lambda: (_sym((2, 3)), _sym((3, 4))), (None, 2, 4)),
        (lambda: (np.ones((5, 2), np.float32), _sym((2, 3))), (None, 5, 3)),
        (lambda: (_sym((3,)), np.ones(3, np.float32)), (None,)),
        (lambda: (np.ones(2, np.float32), _sym((2, 3))), (None, 3)),
    ],
    ids=range(6),
)
def test_matmul_symbolic_shape(make, expected):
    out = ops.matmul(*make())
    assert out.shape == expected and out.dtype == "float32"


# -- reductions -------------------------------------------------------------------------------

REDUCE = {
    "sum": (ops.sum, ref.reduce_sum),
    "mean": (ops.mean, ref.reduce_mean),
    "max": (ops.max, ref.reduce_max),
}
AXES = [None, 0, 1, -1, (0, 2), (1, -1)]


def reduced_symbolic_shape(shape, axis, keepdims):
    axes = range(len(shape)) if axis is None else [axis] if isinstance(axis, int) else axis
    axes = {a % len(shape) for a in axes}
    return tuple(1 if i in axes else d for i, d in enumerate(shape) if keepdims or i not in axes)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", list(REDUCE))
def test_reduce_eager(name, axis, keepdims, dtype):
    x = X3.astype(dtype)
    out = np.asarray(REDUCE[name][0](x, axis=axis, keepdims=keepdims))
    expected = REDUCE[name][1](x, axis, keepdims)
    assert out.shape == expected.shape and out.dtype == dtype
    np.testing.assert_allclose(out, expected, **tol(dtype))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", list(REDUCE))
def test_reduce_symbolic(name, axis, keepdims):
    fn = REDUCE[name][0]
    out = fn(ge.Input(shape=(3, 4)), axis=axis, keepdims=keepdims)
    assert out.shape == reduced_symbolic_shape((None, 3, 4), axis, keepdims)
    assert out.dtype == "float32"
    np.testing.assert_allclose(
        run(lambda t: fn(t, axis=axis, keepdims=keepdims), X3),
        REDUCE[name][1](X3, axis, keepdims),
        rtol=1e-12,
    )


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", list(REDUCE))
def test_reduce_grad(name, axis, keepdims):
    check_grads(lambda t: REDUCE[name][0](t, axis=axis, keepdims=keepdims), X3)


@pytest.mark.parametrize("axis,keepdims", [(1, False), (1, True), (None, False), ((0, 2), False)])
def test_max_grad_ties_share_equally(axis, keepdims):
    x = np.array([[[1.0, 3.0], [3.0, 0.0], [3.0, 3.0]], [[2.0, 2.0], [2.0, 2.0], [-1.0, 2.0]]])
    inp = ge.Input(batch_shape=x.shape, dtype="float64")
    model = ge.Model(inp, ops.max(inp, axis=axis, keepdims=keepdims))
    cot = np.arange(1.0, 1.0 + np.asarray(model(x)).size).reshape(np.shape(model(x)))
    (dx,), _ = model.vjp(x, cot)
    np.testing.assert_allclose(dx, ref.reduce_max_backward(x, cot, axis), rtol=1e-12)


# -- shape ops --------------------------------------------------------------------------------

RESHAPES = [(6, 4), (-1,), (4, -1, 3), (2, 12), (24,)]


@pytest.mark.parametrize("newshape", RESHAPES, ids=str)
def test_reshape(newshape):
    out = ops.reshape(X3, newshape)
    np.testing.assert_array_equal(out, X3.reshape(newshape))
    check_grads(lambda t: ops.reshape(t, newshape), X3)


@pytest.mark.parametrize(
    "newshape,expected",
    [((-1, 12), (None, 12)), ((-1, 2, 6), (None, 2, 6)), ((-1, 3, 2, 2), (None, 3, 2, 2))],
    ids=str,
)
def test_reshape_symbolic(newshape, expected):
    out = ops.reshape(ge.Input(shape=(3, 4), dtype="float64"), newshape)
    assert out.shape == expected and out.dtype == "float64"
    np.testing.assert_array_equal(
        run(lambda t: ops.reshape(t, newshape), X3), X3.reshape((2,) + expected[1:])
    )


TRANSPOSES = [None, (1, 0, 2), (0, 2, 1), (-1, 0, 1), (2, 1, 0)]


@pytest.mark.parametrize("axes", TRANSPOSES, ids=str)
def test_transpose(axes):
    np.testing.assert_array_equal(ops.transpose(X3, axes), np.transpose(X3, axes))
    sym = ops.transpose(ge.Input(shape=(3, 4)), axes)
    batch7 = np.transpose(np.empty((7, 3, 4)), axes).shape  # 7 marks where the batch went
    assert sym.shape == tuple(None if d == 7 else d for d in batch7)
    check_grads(lambda t: ops.transpose(t, axes), X3)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate(axis):
    shapes = [[2, 3, 2], [2, 3, 2], [2, 3, 2]]
    for s, n in zip(shapes, (1, 2, 3)):
        s[axis] = n
    xs = [rand(tuple(s), seed=i) for i, s in enumerate(shapes)]
    np.testing.assert_array_equal(ops.concatenate(xs, axis=axis), np.concatenate(xs, axis=axis))
    check_grads(lambda *ts: ops.concatenate(list(ts), axis=axis), *xs)


def test_concatenate_symbolic():
    a, b = ge.Input(shape=(2, 3)), ge.Input(shape=(2, 5))
    assert ops.concatenate([a, b], axis=-1).shape == (None, 2, 8)
    assert ops.concatenate([a, ge.Input(shape=(4, 3))], axis=1).shape == (None, 6, 3)
    assert ops.concatenate([a, a], axis=0).shape == (None, 2, 3)
    with_const = ops.concatenate([a, np.ones((1, 2, 3), np.float32)], axis=0)
    assert with_const.shape == (None, 2, 3) and with_const.dtype == "float32"
    x, y = rand((2, 2, 3), 1), rand((2, 2, 5), 2)
    np.testing.assert_array_equal(
        run(lambda s, t: ops.concatenate([s, t], axis=-1), x, y), np.concatenate([x, y], axis=-1)
    )


SQUEEZE = [None, 1, -1, (1, 3)]


@pytest.mark.parametrize("axis", SQUEEZE, ids=str)
def test_squeeze(axis):
    x = rand((2, 1, 3, 1))
    np.testing.assert_array_equal(ops.squeeze(x, axis), np.squeeze(x, axis))
    check_grads(lambda t: ops.squeeze(t, axis), x)


def test_squeeze_symbolic():
    x = ge.Input(shape=(1, 3, 1))
    assert ops.squeeze(x).shape == (None, 3)  # an unknown batch is never squeezed
    assert ops.squeeze(x, 1).shape == (None, 3, 1)
    assert ops.squeeze(x, (-1, 1)).shape == (None, 3)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_expand_dims(axis):
    np.testing.assert_array_equal(ops.expand_dims(X, axis), np.expand_dims(X, axis))
    sym = ops.expand_dims(ge.Input(shape=(3,)), axis)
    assert sym.shape == tuple(
        None if d == 7 else d for d in np.expand_dims(np.empty((7, 3)), axis).shape
    )
    check_grads(lambda t: ops.expand_dims(t, axis), X)


BROADCASTS = [((3,), (2, 3)), ((2, 1), (4, 2, 3)), ((1, 3), (2, 2, 3)), ((2, 3), (2, 3))]


@pytest.mark.parametrize("src,shape", BROADCASTS, ids=str)
def test_broadcast_to(src, shape):
    x = rand(src)
    np.testing.assert_array_equal(ops.broadcast_to(x, shape), np.broadcast_to(x, shape))
    check_grads(lambda t: ops.broadcast_to(t, shape), x)


def test_broadcast_to_symbolic():
    assert ops.broadcast_to(ge.Input(shape=(1, 3)), (None, 2, 3)).shape == (None, 2, 3)
    assert ops.broadcast_to(ge.Input(shape=(3,)), (4, None, 3)).shape == (4, None, 3)
    x = rand((2, 1, 3))
    np.testing.assert_array_equal(
        run(lambda t: ops.broadcast_to(t, (None, 4, 3)), x), np.broadcast_to(x, (2, 4, 3))
    )


# key, shape of Input((3, 4))[key]
GETITEM = [
    ((slice(None), 1), (None, 4)),
    ((Ellipsis, slice(None, None, 2)), (None, 3, 2)),
    ((slice(None), None), (None, 1, 3, 4)),
    ((slice(None), -1), (None, 4)),
    (1, (3, 4)),
    ((slice(None), slice(1, None), slice(None, None, -1)), (None, 2, 4)),
    ((0, Ellipsis, None), (3, 4, 1)),
    ((slice(None), slice(0, 2), 3), (None, 2)),
    ((Ellipsis, 2), (None, 3)),
]


@pytest.mark.parametrize("key,sym_shape", GETITEM, ids=str)
def test_getitem(key, sym_shape):
    np.testing.assert_array_equal(ops.getitem(X3, key), X3[key])
    sym = ge.Input(shape=(3, 4), dtype="float64")[key]
    assert sym.shape == sym_shape and sym.dtype == "float64"
    np.testing.assert_array_equal(run(lambda t: t[key], X3), X3[key])
    check_grads(lambda t: t[key], X3)


def test_cast():
    out = ops.cast(X, "float32")
    assert out.dtype == "float32"
    np.testing.assert_array_equal(out, X.astype(np.float32))
    inp = ge.Input(shape=(3,), dtype="float64")
    assert ops.cast(inp, "float32").dtype == "float32"
    (dx,), _ = ge.Model(inp, ops.cast(inp, "float32")).vjp(X, np.full((2, 3), 2.5, np.float32))
    assert dx.dtype == np.float64
    np.testing.assert_array_equal(dx, np.full((2, 3), 2.5))


def test_one_hot():
    ids = np.array([[0, 2, 2], [3, -1, 1]])  # 3 and -1 are out of range: rows of zeros
    out = ops.one_hot(ids, 3)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, ref.one_hot(ids, 3))
    np.testing.assert_array_equal(ops.one_hot(np.array([2.0, 0.0]), 3), ref.one_hot([2, 0], 3))
    assert ops.one_hot(ids, 4, dtype="float64").dtype == np.float64
    sym = ops.one_hot(ge.Input(shape=(3,), dtype="int32"), 4)
    assert sym.shape == (None, 3, 4) and sym.dtype == "float32"
    np.testing.assert_array_equal(run(lambda t: ops.one_hot(t, 3), ids), ref.one_hot(ids, 3))
    # not differentiable in the ids (None for an int input), a constant mask for x
    check_grads(lambda x, i: x * ops.one_hot(i, 3, dtype="float64"), X, np.array([2, 0]))


def test_take_rows_with_repeated_ids():
    table, ids = rand((5, 3)), np.array([[0, 2, 2], [4, 0, 2]])
    np.testing.assert_array_equal(ops.take_rows(table, ids), ref.gather(table, ids))
    sym = ops.take_rows(np.ones((5, 3), np.float32), ge.Input(shape=(4,), dtype="int32"))
    assert sym.shape == (None, 4, 3) and sym.dtype == "float32"
    check_grads(ops.take_rows, table, ids)  # ids repeat: their rows' gradients must add up


# -- operators on SymbolicTensors ----------------------------------------------------------------

C = np.array([0.5, -1.5, 2.0])
W = rand((3, 2), seed=5)
WL = rand((4, 2), seed=6)
OPERATORS = [
    ("x+2.5", lambda x: x + 2.5, lambda x: x + 2.5),
    ("2.5+x", lambda x: 2.5 + x, lambda x: 2.5 + x),
    ("x-2", lambda x: x - 2, lambda x: x - 2),
    ("3-x", lambda x: 3 - x, lambda x: 3 - x),
    ("x*-1.5", lambda x: x * -1.5, lambda x: x * -1.5),
    ("2*x", lambda x: 2 * x, lambda x: 2 * x),
    ("x/4", lambda x: x / 4, lambda x: x / 4),
    ("1.5/x", lambda x: 1.5 / x, lambda x: 1.5 / x),
    ("x+C", lambda x: x + C, lambda x: x + C),
    ("C+x", lambda x: C + x, lambda x: C + x),
    ("x-C", lambda x: x - C, lambda x: x - C),
    ("C-x", lambda x: C - x, lambda x: C - x),
    ("x*C", lambda x: x * C, lambda x: x * C),
    ("C*x", lambda x: C * x, lambda x: C * x),
    ("x/C", lambda x: x / C, lambda x: x / C),
    ("C/x", lambda x: C / x, lambda x: C / x),
    ("x@W", lambda x: x @ W, lambda x: ref.matmul(x, W)),
    ("WL@x", lambda x: WL @ x, lambda x: ref.matmul(WL, x)),
    ("x@x.T", lambda x: x @ ops.transpose(x), lambda x: ref.matmul(x, x.T)),
    ("-x", lambda x: -x, lambda x: -x),
    ("x*x", lambda x: x * x, lambda x: x * x),
    ("x**2", lambda x: x**2, lambda x: x * x),
    ("abs(x)", lambda x: abs(x), lambda x: np.abs(x)),
    ("x-x/x", lambda x: x - x / x, lambda x: x - 1.0),
]
OPERATOR_IDS = [c[0] for c in OPERATORS]


@pytest.mark.parametrize("name,fn,expected", OPERATORS, ids=OPERATOR_IDS)
def test_operator_values(name, fn, expected):
    np.testing.assert_allclose(run(fn, X), expected(X), rtol=1e-12)


@pytest.mark.parametrize("name,fn,expected", OPERATORS, ids=OPERATOR_IDS)
def test_operator_grad(name, fn, expected):
    check_grads(fn, X)


def test_operator_with_symbolic_on_both_sides():
    a, b = ge.Input(shape=(3,), dtype="float64"), ge.Input(shape=(3,), dtype="float64")
    out = (a + b) * (a - b) / (b * b) @ np.ones((3, 1))
    assert out.shape == (None, 1) and out.dtype == "float64"
    y = rand((2, 3), 2, away_from_zero=True)
    np.testing.assert_allclose(
        ge.Model([a, b], out)([X, y]),
        ((X + y) * (X - y) / (y * y)).sum(-1, keepdims=True),
        rtol=1e-12,
    )
    check_grads(lambda s, t: (s + t) * (s - t) / (t * t) @ np.ones((3, 1)), X, y)


# -- dtypes -----------------------------------------------------------------------------------

F32_OPS = [
    ("scalar_mul", lambda x: x * 2.0),
    ("scalar_rmul", lambda x: 2.0 * x),
    ("int_scalar", lambda x: x * 2),
    ("scalar_div", lambda x: x / 3),
    ("scalar_rsub", lambda x: 1.0 - x),
    ("array_add", lambda x: x + C.astype(np.float32)),
    ("add", lambda x: ops.add(x, 1.0)),
    ("divide", lambda x: ops.divide(1.0, x)),
    ("maximum", lambda x: ops.maximum(x, 0.5)),
    ("minimum", lambda x: ops.minimum(0.5, x)),
    ("matmul", lambda x: ops.matmul(x, W.astype(np.float32))),
    ("exp", ops.exp),
    ("log", lambda x: ops.log(ops.abs(x))),
    ("sqrt", lambda x: ops.sqrt(x * x)),
    ("square", ops.square),
    ("tanh", ops.tanh),
    ("sigmoid", ops.sigmoid),
    ("relu", ops.relu),
    ("softmax", ops.softmax),
    ("log_softmax", ops.log_softmax),
    ("sum", ops.sum),
    ("mean", lambda x: ops.mean(x, axis=1)),
    ("max", lambda x: ops.max(x, axis=0)),
    ("reshape", lambda x: ops.reshape(x, (-1,))),
    ("transpose", ops.transpose),
    ("clip", lambda x: ops.clip(x, -1.0, 1.0)),
    ("concatenate", lambda x: ops.concatenate([x, x], axis=-1)),
    ("expand_squeeze", lambda x: ops.squeeze(ops.expand_dims(x, 1), 1)),
    ("broadcast_to", lambda x: ops.broadcast_to(x, (2, 2, 3))),
    ("negative", ops.negative),
    ("getitem", lambda x: ops.getitem(x, (slice(None), 1))),
]


@pytest.mark.parametrize("name,fn", F32_OPS, ids=[c[0] for c in F32_OPS])
def test_float32_stays_float32(name, fn):
    x32 = X.astype(np.float32)
    eager = np.asarray(fn(x32))
    assert eager.dtype == np.float32
    sym = fn(ge.Input(batch_shape=(2, 3), dtype="float32"))
    assert sym.dtype == "float32"
    assert run(fn, x32).dtype == np.float32


def test_integer_arrays_take_the_float_dtype_they_meet():
    x32, ints = X.astype(np.float32), np.array([[1], [2]])
    assert ops.add(x32, ints).dtype == np.float32
    assert ops.matmul(x32, np.ones((3, 1), np.int64)).dtype == np.float32
    out = ops.concatenate([x32, ints], axis=1)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.concatenate([x32, ints.astype(np.float32)], axis=1))
    assert ops.concatenate([ge.Input(shape=(3,)), ints], axis=-1).dtype == "float32"


def test_python_scalar_does_not_upcast():
    x = ge.Input(shape=(3,))
    for y in (x * 2.0, 2.0 * x, x + 1, x - 0.5, 3.0 / x, -x):
        assert y.dtype == "float32"
    assert ops.multiply(np.ones(3, np.float32), 2.0).dtype == np.float32
    assert (ge.Input(shape=(3,), dtype="float64") * 2.0).dtype == "float64"


# -- errors -----------------------------------------------------------------------------------


def test_matmul_inner_dimension_mismatch():
    with pytest.raises(ValueError, match=r"inner dimensions differ: \(2, 3\) @ \(4, 5\)"):
        ops.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"inner dimensions differ: \(None, 3\) @ \(4, 2\)"):
        ge.Input(shape=(3,)) @ np.ones((4, 2), np.float32)
    with pytest.raises(ValueError, match="inner dimensions differ"):
        ops.matmul(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="must not be scalars"):
        ops.matmul(np.ones(3), np.float64(2.0))


def test_reshape_to_an_impossible_size():
    with pytest.raises(ValueError, match=r"cannot reshape \(2, 3\) \(6 elements\) into \(4, 2\)"):
        ops.reshape(np.ones((2, 3)), (4, 2))
    with pytest.raises(ValueError, match=r"cannot reshape \(2, 3\) into \(-1, 4\)"):
        ops.reshape(np.ones((2, 3)), (-1, 4))
    with pytest.raises(ValueError, match="cannot reshape"):
        ops.reshape(ge.Input(batch_shape=(2, 3)), (5,))
    with pytest.raises(ValueError, match="at most one -1"):
        ops.reshape(np.ones((2, 3)), (-1, -1))


def test_concatenate_mismatched_non_axis_dims():
    msg = r"input 1 has shape \(None, 4, 3\) but input 0 has shape \(None, 2, 3\).*must match"
    with pytest.raises(ValueError, match=msg):
        ops.concatenate([ge.Input(shape=(2, 3)), ge.Input(shape=(4, 3))], axis=-1)
    with pytest.raises(ValueError, match="all dimensions except the concatenation axis must match"):
        ops.concatenate([np.ones((2, 3)), np.ones((3, 3))], axis=1)
    with pytest.raises(ValueError, match="same rank"):
        ops.concatenate([np.ones((2, 3)), np.ones(3)], axis=0)


def test_incompatible_broadcast():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        ops.add(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"multiply: shapes \(None, 3\) and \(None, 4\) cannot be"):
        ge.Input(shape=(3,)) * ge.Input(shape=(4,))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        ge.Input(shape=(2, 3)) - np.ones((5, 3), np.float32)
    with pytest.raises(ValueError, match=r"cannot broadcast \(None, 3\) to \(None, 4\)"):
        ops.broadcast_to(ge.Input(shape=(3,)), (None, 4))
    with pytest.raises(ValueError, match="cannot broadcast"):
        ops.broadcast_to(np.ones((2, 3)), (3,))


def test_squeeze_of_a_non_unit_axis():
    with pytest.raises(ValueError, match=r"axis 1 of shape \(2, 3\) is not of size 1"):
        ops.squeeze(np.ones((2, 3)), 1)
    with pytest.raises(ValueError, match=r"axis 0 of shape \(None, 1\) is not of size 1"):
        ops.squeeze(ge.Input(shape=(1,)), 0)


def test_axis_and_index_errors():
    with pytest.raises(ValueError, match="axis=3 is out of range for a tensor of rank 3"):
        ops.sum(ge.Input(shape=(3, 4)), axis=3)
    with pytest.raises(ValueError, match="out of range"):
        ops.softmax(np.ones((2, 3)), axis=-3)
    with pytest.raises(ValueError, match="repeated axis"):
        ops.mean(np.ones((2, 3)), axis=(1, -1))
    with pytest.raises(ValueError, match="is not a permutation"):
        ops.transpose(np.ones((2, 3)), (0, 0))
    with pytest.raises(ValueError, match="out of range"):
        ops.expand_dims(np.ones((2, 3)), 3)
    with pytest.raises(ValueError, match="index 3 is out of range for axis 1 of size 3"):
        ge.Input(shape=(3,))[:, 3]
    with pytest.raises(ValueError, match=r"gather: index 5 is out of range \[0, 5\)"):
        ops.take_rows(np.ones((5, 3)), np.array([0, 5]))


# -- scalars, compositions, batch sizes ------------------------------------------------------


def test_zero_dim_operands_stay_zero_dim_eagerly():
    assert np.shape(ops.exp(np.array(0.5))) == ()
    assert np.shape(ops.add(np.array(1.0), 2.0)) == ()
    assert np.shape(ops.multiply(np.float32(3.0), np.array(2.0, np.float32))) == ()
    np.testing.assert_allclose(ops.sqrt(np.array(4.0)), np.array(2.0))
    v = np.array([1.0, 2.0, 3.0])
    assert np.shape(ops.add(ops.matmul(v, v), 1.0)) == ()


def test_python_scalar_with_a_symbolic_scalar_stays_scalar():
    x = ge.Input(shape=(3,), dtype="float64")
    assert ops.sum(x).shape == ()
    for y in (ops.sum(x) + 1.0, ops.mean(x) * 2, 1.0 - ops.max(x), ops.divide(ops.sum(x), 4.0)):
        assert y.shape == ()
    out = ge.Model(x, ops.mean(ops.square(x)) * 0.5)(X)
    assert np.shape(out) == ()
    np.testing.assert_allclose(out, 0.5 * np.mean(X * X), rtol=1e-12)


def test_gradient_of_a_broadcast_between_unknown_dims():
    # both time axes are None when the graph is built; at run time b's is 1 and broadcasts
    a = ge.Input(shape=(None, 3), dtype="float64")
    b = ge.Input(shape=(None, 3), dtype="float64")
    x, y = rand((2, 4, 3), 1), rand((2, 1, 3), 2)
    cot = rand((2, 4, 3), 3)
    model = ge.Model([a, b], a * b)
    np.testing.assert_allclose(model([x, y]), x * y, rtol=1e-12)
    (da, db), _ = model.vjp([x, y], cot)
    np.testing.assert_allclose(da, cot * y, rtol=1e-12)
    assert db.shape == y.shape
    np.testing.assert_allclose(db, ref.sum_to(cot * x, y.shape), rtol=1e-12)


def test_one_graph_serves_several_batch_sizes():
    x = ge.Input(shape=(3, 4), dtype="float64")
    out = ops.reshape(ops.softmax(x, axis=1), (-1, 12)) @ W.repeat(4, axis=0)
    model = ge.Model(x, out)
    for batch in (2, 5, 1):
        a = rand((batch, 3, 4), seed=batch)
        expected = ref.matmul(ref.softmax(a, 1).reshape(batch, 12), W.repeat(4, axis=0))
        np.testing.assert_allclose(model(a), expected, rtol=1e-12)
        (dx,), _ = model.vjp(a, np.ones((batch, 2)))
        assert dx.shape == a.shape
    check_grads(
        lambda t: ops.reshape(ops.softmax(t, axis=1), (-1, 12)) @ W.repeat(4, axis=0),
        rand((3, 3, 4)),
    )


def _logsumexp(x):
    m = ops.max(x, axis=-1, keepdims=True)
    return ops.log(ops.sum(ops.exp(x - m), axis=-1)) + ops.squeeze(m, -1)


def _layer_norm(x):
    d = x - ops.mean(x, axis=-1, keepdims=True)
    return d / ops.sqrt(ops.mean(d * d, axis=-1, keepdims=True) + 1e-3)


def _attention(q, k, v):
    return ops.softmax(q @ ops.transpose(k, (0, 2, 1)) / 2.0, axis=-1) @ v


@pytest.mark.parametrize(
    "fn,arrays,expected",
    [
        (_logsumexp, [X3], lambda x: np.log(np.exp(x).sum(-1))),
        (
            _layer_norm,
            [X3],
            lambda x: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3),
        ),
        (
            _attention,
            [rand((2, 3, 4), 1), rand((2, 3, 4), 2), rand((2, 3, 5), 3)],
            lambda q, k, v: ref.matmul(ref.softmax(ref.matmul(q, k.transpose(0, 2, 1)) / 2.0), v),
        ),
    ],
    ids=["logsumexp", "layer_norm", "attention"],
)
def test_compositions(fn, arrays, expected):
    np.testing.assert_allclose(run(fn, *arrays), expected(*arrays), rtol=1e-10)
    check_grads(fn, *arrays)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_and_sigmoid_of_large_values(dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [-500.0, -500.0, -500.0]], dtype)
    for out in (ops.softmax(x), run(ops.softmax, x)):
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out, ref.softmax(x), atol=1e-7)
    for out in (ops.log_softmax(x), run(ops.log_softmax, x)):
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out, ref.log_softmax(x), rtol=1e-6, atol=1e-6)
    for out in (ops.sigmoid(x), run(ops.sigmoid, x)):
        np.testing.assert_allclose(out, ref.sigmoid(x), atol=1e-7)
