"""Every public ge.ops function: eager on arrays against tests/reference.py, NumPy or a naive
reference, symbolic shape and dtype inference with a None batch (and the compiled graph's
values), float64 gradient checks through tests/gradcheck.py, and the shape and argument errors
(the CUDA kernels of the newer ops: tests/cuda_parity_ops.py)."""

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
    ("log1p", ops.log1p, np.log1p, POS - 0.25),
    ("expm1", ops.expm1, np.expm1, X),
    ("floor", ops.floor, np.floor, X),  # a zero gradient, as Keras
    ("ceil", ops.ceil, np.ceil, X),
    ("round", ops.round, np.round, 1.3 * X),
    ("round_decimals", lambda x: ops.round(x, 1), lambda x: np.round(x, 1), X + 0.012),
    ("round_tens", lambda x: ops.round(x, -1), lambda x: np.round(x, -1), 40 * X),
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


COMPARE = {
    "equal": np.equal,
    "not_equal": np.not_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
    "less": np.less,
    "less_equal": np.less_equal,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
}
SPECIAL = np.array([[1.5, np.nan, -np.inf, 0.0], [-0.0, np.inf, -2.5, np.nan]])


@pytest.mark.parametrize("name", list(COMPARE))
def test_comparisons_and_logical_ops_give_bool(name):
    """Bool, as Keras 3 (not a float mask); NaN compares false and is true as a truth value."""
    fn, want = getattr(ops, name), COMPARE[name]
    b = np.array([0.0, np.nan, -np.inf, -0.0])
    out = fn(SPECIAL, b)
    assert out.dtype == bool
    np.testing.assert_array_equal(out, want(SPECIAL, b))
    np.testing.assert_array_equal(fn(SPECIAL.astype("float32"), 0.0), want(SPECIAL, 0.0))
    sym = fn(ge.Input((3,)), 0.0)
    assert sym.shape == (None, 3) and sym.dtype == "bool"
    np.testing.assert_array_equal(run(fn, SPECIAL, b), want(SPECIAL, b))
    bools = np.array([[True, False], [False, False]])
    np.testing.assert_array_equal(fn(bools, np.array([True, False])), want(bools, [True, False]))


def test_logical_not():
    x = np.array([1.5, np.nan, -np.inf, 0.0, -0.0])
    np.testing.assert_array_equal(ops.logical_not(x), np.logical_not(x))
    np.testing.assert_array_equal(ops.logical_not(np.array([True, False])), [False, True])
    np.testing.assert_array_equal(ops.logical_not(np.array([0, 3], "int8")), [True, False])
    np.testing.assert_array_equal(run(ops.logical_not, x), np.logical_not(x))
    assert ops.logical_not(ge.Input((3,), dtype="int32")).dtype == "bool"


def test_a_bool_mask_multiplies_and_selects():
    check_grads(lambda x: x * ops.greater_equal(x, 0.0), X)  # a mask: no gradient of its own
    check_grads(lambda x: ops.where(ops.logical_and(x > -1.0, x < 1.0), x * x, x), X)
    assert (ge.Input((3,)) * ops.greater(ge.Input((3,)), 0.0)).dtype == "float32"
    np.testing.assert_array_equal(run(lambda x: ops.cast(x > 0, "int32") * 2, X), (X > 0) * 2)


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


# -- dtypes of bools, small integers and array-likes (Keras's rules) -----------------------------

BOOLS = np.array([[True, False, True], [False, False, True]])


@pytest.mark.parametrize(
    "name,dtype",
    [("sum", "int32"), ("mean", "float32"), ("max", "bool"), ("min", "bool"), ("prod", "int32")],
)
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_reductions_of_bools_follow_keras(name, dtype, axis):
    """sum([True] * 3) is 3 (bools add as int32, as Keras and NumPy), never True."""
    fn = getattr(ops, name)
    out = fn(BOOLS, axis=axis)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, getattr(np, name)(BOOLS.astype("int64"), axis=axis), rtol=1e-7)
    sym = fn(ge.Input((3,), dtype="bool"), axis=axis)
    assert sym.dtype == dtype
    np.testing.assert_array_equal(run(lambda t: fn(t, axis=axis), BOOLS), out)
    assert ops.sum(np.array([True] * 3)) == 3


def test_sums_of_small_integers_do_not_wrap():
    assert ops.sum(np.array([100, 100, 100], "int8")).tolist() == 300
    assert ops.sum(np.array([200, 200], "uint8")).dtype == np.uint32
    assert ops.sum(np.array([2**40, 1])).dtype == np.int64  # 64 bits stay 64
    assert ops.sum(ge.Input((3,), dtype="int16")).dtype == "int32"
    assert ops.mean(np.array([1, 2], "int32")).dtype == np.float32


WEAK = [
    (np.array([True, False]), 1, "int32", [2, 1]),
    (np.array([True, False]), 1.5, "float32", [2.5, 1.5]),
    (np.array([True, False]), True, "bool", [True, True]),
    (np.array([1, 2], "int8"), 3, "int8", [4, 5]),
    (np.array([1, 2], "int64"), 0.5, "float32", [1.5, 2.5]),
    (np.array([1, 2], "int32"), [1, 2], "int32", [2, 4]),
    (np.array([1.0, 2.0], "float32"), [1, 2], "float32", [2.0, 4.0]),
    (np.array([1.0, 2.0], "float16"), 1, "float16", [2.0, 3.0]),
    (np.array([1.0, 2.0], "float32"), np.float64(1.0), "float64", [2.0, 3.0]),
]


@pytest.mark.parametrize("x,y,dtype,want", WEAK, ids=range(len(WEAK)))
def test_python_numbers_are_weakly_typed_as_keras(x, y, dtype, want):
    for out in (ops.add(x, y), ops.add(y, x)):
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, want)
    if x.dtype != np.float16:  # not a dtype Inputs take
        assert ops.add(ge.Input((2,), dtype=x.dtype.name), y).dtype == dtype
    with pytest.raises(TypeError, match="'a' is not a number, so it cannot meet a tensor of"):
        ops.add(x, "a")


def test_an_array_like_with_a_dtype_is_typed_by_it():
    """A metric variable (an array-like, not an ndarray) keeps its float32, as a tensor does."""
    m = ge.metrics.Mean(dtype="float32")
    var = m.add_variable(shape=(), initializer="zeros", name="v")
    var.assign(2.0)
    for out, want in [
        (ops.add(var, 1.0), 3.0),
        (ops.multiply(1.5, var), 3.0),
        (ops.maximum(var, 1), 2.0),
        (ops.subtract(var, ops.ones(())), 1.0),
    ]:
        assert out.dtype == np.float32 and out == want
    assert ops.divide(var, 4).dtype == np.float32
    assert ops.greater(var, 1.0).dtype == bool and bool(ops.greater(var, 1.0))
    assert ops.cumsum(np.float32(2.0)).dtype == np.float32


# -- any, all, count_nonzero, isnan, isinf, isfinite --------------------------------------------

TRUTH = np.array([[0.0, -0.0, 2.0, np.nan], [0.0, 0.0, 0.0, 0.0], [1.0, -np.inf, 3.0, 0.5]])


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), ()])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["any", "all"])
def test_any_all(name, axis, keepdims):
    fn, want = getattr(ops, name), getattr(np, name)(TRUTH, axis=axis, keepdims=keepdims)
    out = fn(TRUTH, axis=axis, keepdims=keepdims)
    assert out.dtype == bool
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(run(lambda t: fn(t, axis, keepdims), TRUTH), want)
    np.testing.assert_array_equal(fn(TRUTH != 0, axis=axis, keepdims=keepdims), want)


def test_any_all_count_of_nothing():
    empty = np.zeros((0, 3))
    np.testing.assert_array_equal(ops.any(empty, axis=0), [False] * 3)
    np.testing.assert_array_equal(ops.all(empty, axis=0), [True] * 3)
    assert ops.any(np.zeros(0)).tolist() is False and ops.all(np.zeros(0)).tolist() is True
    assert ops.count_nonzero(np.zeros((2, 0)), axis=1).tolist() == [0, 0]
    sym = ops.all(ge.Input((3,)), axis=0)
    assert sym.shape == (3,) and sym.dtype == "bool"


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1), -1])
def test_count_nonzero(axis):
    out = ops.count_nonzero(TRUTH, axis=axis)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.count_nonzero(TRUTH, axis=axis))
    np.testing.assert_array_equal(run(lambda t: ops.count_nonzero(t, axis), TRUTH), out)
    ints = np.array([[0, 3, -1], [0, 0, 7]], "int64")
    np.testing.assert_array_equal(ops.count_nonzero(ints, axis), np.count_nonzero(ints, axis))


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite"])
def test_float_classes(name):
    fn, want = getattr(ops, name), getattr(np, name)
    for dtype in ("float32", "float64"):
        x = SPECIAL.astype(dtype)
        assert fn(x).dtype == bool
        np.testing.assert_array_equal(fn(x), want(x))
        np.testing.assert_array_equal(run(fn, x), want(x))
    ints = np.array([[0, -3, 7]], "int32")
    np.testing.assert_array_equal(fn(ints), want(ints))
    np.testing.assert_array_equal(run(fn, ints), want(ints))
    np.testing.assert_array_equal(fn(np.array([True, False])), want([1.0, 0.0]))
    sym = fn(ge.Input((4,), dtype="int32"))
    assert sym.shape == (None, 4) and sym.dtype == "bool"


# -- floor, ceil, round, log1p, expm1, divide_no_nan ---------------------------------------------

EDGES = np.array([[0.5, 1.5, 2.5, -0.5, -1.5, -0.4], [np.inf, -np.inf, np.nan, -0.0, 0.0, 1e300]])


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # NumPy on -1, -2
@pytest.mark.parametrize("name", ["floor", "ceil", "round", "log1p", "expm1"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rounding_and_exact_logs_at_the_edges(name, dtype):
    """NumPy's values, bit for bit: halves to even, signed zeros, infinities, NaN, -1 in log1p."""
    want_fn = np.rint if name == "round" else getattr(np, name)
    x = (np.concatenate([EDGES, [[-1.0, -2.0, 1e-10, -1e-10, 800.0, 88.0]]]) * 1).astype(dtype)
    want = want_fn(x)
    for got in (getattr(ops, name)(x), run(getattr(ops, name), x)):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_rounding_dtypes_and_zero_gradients():
    ints = np.array([15, 25, -35], "int32")
    assert ops.floor(ints).dtype == np.float32 and ops.ceil(np.array([True])).dtype == np.float32
    assert ops.log1p(np.abs(ints)).dtype == np.float32 and ops.expm1(ints).dtype == np.float32
    out = ops.round(ints, -1)
    assert out.dtype == np.int32 and out.tolist() == [20, 20, -40]  # halves to even, as NumPy
    assert ops.round(ints).tolist() == [15, 25, -35] and ops.round(ints).dtype == np.int32
    assert ops.round(ge.Input((3,), dtype="int32"), -1).dtype == "int32"
    np.testing.assert_array_equal(run(lambda t: ops.round(t, -1), ints), [20, 20, -40])
    # zero even for infinite and NaN cotangents, as Keras (PyTorch, TensorFlow, JAX)
    for fn in (ops.floor, ops.ceil, ops.round, lambda t: ops.round(t, 2)):
        inp = ge.Input(batch_shape=(3,), dtype="float64")
        (dx,), _ = ge.Model(inp, fn(inp)).vjp(np.ones(3), np.array([np.inf, np.nan, 1.0]))
        np.testing.assert_array_equal(dx, 0.0)
    with pytest.raises(TypeError, match="round: decimals must be an integer, received"):
        ops.round(X, 1.5)


def test_log1p_expm1_are_exact_near_zero():
    tiny = np.array([1e-12, -3e-17, 1e-300])
    np.testing.assert_array_equal(ops.log1p(tiny), np.log1p(tiny))  # log(1 + x) would give 0
    np.testing.assert_array_equal(ops.expm1(tiny), np.expm1(tiny))
    check_grads(ops.log1p, np.array([[1e-8, 0.5, 3.0]]))
    check_grads(ops.expm1, np.array([[-1e-8, -2.0, 3.0]]))


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # 0 * inf, selected away
def test_divide_no_nan():
    a = np.array([[1.0, np.nan, np.inf, -2.0, 3.0], [0.0, 5.0, -1.0, 2.0, 0.0]])
    b = np.array([[0.0, 0.0, 0.0, 4.0, -0.0], [0.0, 2.0, 0.5, np.inf, np.nan]])
    want = np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))
    for got in (ops.divide_no_nan(a, b), run(ops.divide_no_nan, a, b)):
        np.testing.assert_array_equal(got, want)
    assert ops.divide_no_nan(np.array([1, 2]), np.array([0, 4])).dtype == np.float32
    assert ops.divide_no_nan(np.array([1.0], "float32"), 2).dtype == np.float32
    assert ops.divide_no_nan(ge.Input((3,), dtype="int32"), 2.0).dtype == "float32"
    check_grads(ops.divide_no_nan, rand((2, 3), 1), rand((3,), 2, away_from_zero=True))
    # where the divisor is 0 the gradient is 0 too, whatever the numerator holds
    inputs = [ge.Input(batch_shape=(5,), dtype="float64") for _ in range(2)]
    (da, db), _ = ge.Model(inputs, ops.divide_no_nan(*inputs)).vjp([a[0], b[0]], np.ones(5))
    np.testing.assert_array_equal(da, [0.0, 0.0, 0.0, 0.25, 0.0])
    np.testing.assert_array_equal(db, [0.0, 0.0, 0.0, 0.125, 0.0])


# -- sort, argsort, top_k, in_top_k -------------------------------------------------------------


def naive_order(row, descending):
    """Indices sorting a row: NaN above every number, ties (-0 == +0) by index (a stable sort)."""

    def key(i):
        v = row[i]
        if v != v:
            return (1 - descending, 0.0, i)
        return (int(descending), -v if descending else v, i)

    return sorted(range(len(row)), key=key)


def naive_sort(x, axis, descending=False, k=None):
    """(values, indices) along `axis` by naive_order, the first k."""
    moved = np.moveaxis(np.asarray(x), axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    idx = np.array([naive_order(list(r), descending)[:k] for r in rows], dtype=np.int64)
    idx = idx.reshape(moved.shape[:-1] + (idx.shape[-1] if rows.size else 0,))
    vals = np.take_along_axis(moved, idx, axis=-1)
    return np.moveaxis(vals, -1, axis), np.moveaxis(idx, -1, axis)


TIES = np.array([[1.0, 3.0, 3.0, -1.0, np.nan], [2.0, -0.0, 0.0, np.nan, -0.0], [5.0] * 5])


@pytest.mark.parametrize("x", [X3, TIES, np.array([[3, 1, 3, 0, 1]], "int32"), BOOLS], ids=range(4))
@pytest.mark.parametrize("axis", [-1, 0, 1, None])
def test_sort_and_argsort(x, axis):
    want_v, want_i = naive_sort(x.reshape(-1) if axis is None else x, 0 if axis is None else axis)
    values, indices = ops.sort(x, axis=axis), ops.argsort(x, axis=axis)
    assert values.dtype == x.dtype and indices.dtype == np.int32
    np.testing.assert_array_equal(values, want_v)
    np.testing.assert_array_equal(indices, want_i)
    np.testing.assert_array_equal(np.signbit(values), np.signbit(want_v))  # -0 keeps its place
    np.testing.assert_array_equal(run(lambda t: ops.sort(t, axis), x), want_v)
    np.testing.assert_array_equal(run(lambda t: ops.argsort(t, axis), x), want_i)
    np.testing.assert_array_equal(indices, np.argsort(x, axis=axis, kind="stable"))


@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_top_k(k):
    for x in (TIES, rand((2, 3, 5), 4)):
        values, indices = ops.top_k(x, k)
        want_v, want_i = naive_sort(x, -1, descending=True, k=k)
        assert values.dtype == x.dtype and indices.dtype == np.int32
        np.testing.assert_array_equal(values, want_v)
        np.testing.assert_array_equal(indices, want_i)
        got_v, got_i = run(lambda t: list(ops.top_k(t, k)), x)
        np.testing.assert_array_equal(got_v, want_v)
        np.testing.assert_array_equal(got_i, want_i)


def test_sort_and_top_k_gradients():
    check_grads(lambda t: ops.sort(t, axis=1), X3)
    check_grads(lambda t: ops.sort(t, axis=None), X3)
    check_grads(lambda t: ops.top_k(t, 2)[0], X3)
    check_grads(lambda t: ops.top_k(t, 2)[0] * ops.cast(ops.argsort(t)[..., :2], "float64"), X3)
    # each value's cotangent goes back where the value came from; ties keep theirs apart
    inp = ge.Input(batch_shape=(1, 4), dtype="float64")
    model = ge.Model(inp, ops.top_k(inp, 2)[0])
    (dx,), _ = model.vjp(np.array([[1.0, 3.0, 3.0, 0.0]]), np.array([[10.0, 20.0]]))
    np.testing.assert_array_equal(dx, [[0.0, 10.0, 20.0, 0.0]])


def test_sort_symbolic_with_unknown_sizes():
    x = ge.Input(shape=(4,))
    assert ops.sort(x).shape == (None, 4) and ops.argsort(x, axis=0).shape == (None, 4)
    values, indices = ops.top_k(x, 2)
    assert values.shape == indices.shape == (None, 2) and indices.dtype == "int32"
    assert ops.sort(x, axis=None).shape == (None,)
    # along the unknown batch axis
    a = rand((5, 4), 3)
    np.testing.assert_array_equal(run(lambda t: ops.sort(t, axis=0), a), np.sort(a, axis=0))
    model = ge.Model(i := ge.Input(shape=(None,), dtype="float64"), ops.top_k(i, 3)[0])
    np.testing.assert_array_equal(model(a), -np.sort(-a, axis=1)[:, :3])
    with pytest.raises(ValueError, match=r"top_k: k=3 is larger than the last axis of x"):
        model(a[:, :2])


def naive_in_top_k(targets, predictions, k):
    """Keras's torch backend: the target's score is >= one of the k largest (NaN ranked first)."""
    out = []
    for t, row in zip(targets, predictions):
        top = [row[i] for i in naive_order(list(row), descending=True)[:k]]
        out.append(any(row[t] >= v for v in top))
    return np.array(out, dtype=bool)


PREDICTIONS = np.array(
    [
        [0.1, 0.4, 0.6, 0.9, 0.5],
        [0.1, 0.7, 0.9, 0.9, 0.5],  # a tie at the k-th score
        [np.nan, 0.2, 0.8, 0.3, 0.3],  # NaN ranks first
        [0.5, 0.5, 0.5, 0.5, 0.5],
        [np.nan, np.nan, 0.2, -np.inf, np.inf],
    ]
)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5, 7])
def test_in_top_k(k):
    for targets in ([3, 2, 0, 4, 3], [1, 3, 2, 0, 4], [4, 1, 3, 2, 2]):
        targets = np.array(targets, "int32")
        want = naive_in_top_k(targets, PREDICTIONS, k)
        got = ops.in_top_k(targets, PREDICTIONS, k)
        assert got.dtype == bool
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(run(lambda t, p: ops.in_top_k(t, p, k), targets, PREDICTIONS),
                                      want)  # fmt: skip


def test_in_top_k_in_a_graph_and_out_of_range_targets():
    t, p = ge.Input(shape=(), dtype="int32"), ge.Input(shape=(5,))
    hit = ops.in_top_k(t, p, 2)
    assert hit.shape == (None,) and hit.dtype == "bool"
    model = ge.Model([t, p], hit)
    preds = PREDICTIONS[:3].astype("float32")
    np.testing.assert_array_equal(
        model([np.array([3, -1, 5], "int32"), preds]), [True, False, False]
    )
    np.testing.assert_array_equal(ops.in_top_k(np.array([2.0]), preds[:1], 3), [True])
    with pytest.raises(ValueError, match=r"in_top_k: target 5 is out of range \[0, 5\)"):
        ops.in_top_k(np.array([0, 5]), preds[:2], 1)
    with pytest.raises(ValueError, match=r"in_top_k: target -1 is out of range"):
        ops.in_top_k(np.array([-1]), preds[:1], 1)


# -- making, converting and measuring tensors ---------------------------------------------------


def test_shape_is_a_function_and_size_counts():
    assert ops.shape(X3) == (2, 3, 4) and ops.shape([[1, 2]]) == (1, 2)
    x = ge.Input(shape=(3, 4))
    assert ops.shape(x) == (None, 3, 4)
    assert ops.size(X3).dtype == np.int32 and ops.size(X3) == 24
    assert ops.size(np.zeros((0, 3))) == 0 and ops.size(np.float64(1.0)) == 1
    assert ops.size(ge.Input(batch_shape=(2, 3))) == 6
    n = ops.size(x)  # an unknown batch: counted at run time
    assert n.shape == () and n.dtype == "int32"
    assert ge.Model(x, n)(np.zeros((5, 3, 4))) == 60


def test_arange_and_full_follow_keras_dtypes():
    assert ops.arange(5).dtype == np.int32 and ops.arange(5).tolist() == list(range(5))
    np.testing.assert_array_equal(ops.arange(0.5, 3.0, 0.75), [0.5, 1.25, 2.0, 2.75])
    assert ops.arange(0.5, 3.0, 0.75).dtype == np.float32
    assert ops.arange(5, -2, -2).tolist() == [5, 3, 1, -1]
    assert ops.arange(np.int64(3)).dtype == np.int64
    assert ops.arange(1, 4, dtype="float64").dtype == np.float64
    assert ops.full((2, 3), 7).dtype == np.float32 and ops.full((2,), 7, "int32").tolist() == [7, 7]
    np.testing.assert_array_equal(ops.full((2, 3), [1.0, 2.0, 3.0]), np.full((2, 3), [1, 2, 3]))
    assert np.isnan(ops.full((1,), np.nan)).all()


def test_full_like():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = ops.full_like(x, -0.5)
    assert out.dtype == np.float64 and (out == -0.5).all()
    assert ops.full_like(x, 3, dtype="int32").dtype == np.int32
    np.testing.assert_array_equal(ops.full_like(x, [np.inf, -0.0]), [[np.inf, -0.0]] * 2)
    assert np.signbit(ops.full_like(x, [np.inf, -0.0])[:, 1]).all()
    sym = ops.full_like(ge.Input(shape=(3,)), np.nan)
    assert sym.shape == (None, 3) and sym.dtype == "float32"
    assert np.isnan(run(lambda t: ops.full_like(t, np.nan), X)).all()
    np.testing.assert_array_equal(
        run(lambda t: ops.full_like(t, [1.0, 2.0, 3.0]), X), [[1, 2, 3]] * 2
    )
    check_grads(lambda t: t * ops.full_like(t, 2.5), X)  # no gradient through the fill


def test_convert_to_tensor_and_back():
    assert ops.convert_to_tensor([1.0, 2.5]).dtype == np.float32
    assert ops.convert_to_tensor([[1, 2]]).dtype == np.int32
    assert ops.convert_to_tensor([2**40]).dtype == np.int64
    assert ops.convert_to_tensor([True, False]).dtype == bool
    assert ops.convert_to_tensor(3.0).dtype == np.float32 and ops.convert_to_tensor(3).shape == ()
    assert ops.convert_to_tensor(X).dtype == np.float64  # arrays keep their dtype
    assert ops.convert_to_tensor(X, dtype="float32").dtype == np.float32
    assert ops.convert_to_tensor([1, 2], "float64").dtype == np.float64
    m = ge.metrics.Mean(dtype="float32")
    var = m.add_variable(shape=(2,), initializer="ones", name="v")
    assert ops.convert_to_tensor(var).dtype == np.float32
    x = ge.Input(shape=(3,))
    assert ops.convert_to_tensor(x) is x and ops.convert_to_tensor(x, "float64").dtype == "float64"
    assert ops.convert_to_tensor([x, x]).shape == (2, None, 3)
    back = ops.convert_to_numpy(var)
    assert isinstance(back, np.ndarray) and back.tolist() == [1.0, 1.0]
    back[0] = 5.0  # a copy
    assert var.numpy().tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"convert_to_numpy: x is a symbolic tensor \(shape"):
        ops.convert_to_numpy(x)
    with pytest.raises(ValueError, match="convert_to_tensor: sparse=True is not supported"):
        ops.convert_to_tensor(X, sparse=True)
    with pytest.raises(ValueError, match="convert_to_tensor: ragged=True is not supported"):
        ops.convert_to_tensor(X, ragged=True)


NEW_ERRORS = [
    (lambda: ops.top_k(X, 4), ValueError, r"top_k: k=4 is larger than the last axis of x"),
    (lambda: ops.top_k(X, -1), ValueError, "top_k: k must be an integer >= 0"),
    (lambda: ops.top_k(X, 1.0), TypeError, "top_k: k must be an integer"),
    (lambda: ops.top_k(np.float64(1.0), 1), ValueError, "top_k: x must have rank >= 1"),
    (lambda: ops.sort(X, axis=2), ValueError, "sort: axis=2 is out of range"),
    (lambda: ops.argsort(X, axis=1.0), TypeError, "argsort: axis must be an integer or None"),
    (lambda: ops.in_top_k(np.array([0]), X, -1), ValueError, "in_top_k: k must be an integer"),
    (
        lambda: ops.in_top_k(np.array([0, 1, 2]), X, 1),
        ValueError,
        r"in_top_k: targets must have shape \(N,\) and predictions \(N, C\), received targets "
        r"of shape \(3,\) and predictions of shape \(2, 3\)",
    ),
    (
        lambda: ops.in_top_k(np.array([[0]]), X, 1),
        ValueError,
        r"in_top_k: targets must have shape \(N,\)",
    ),
    (
        lambda: ops.in_top_k(np.array([True, False]), X, 1),
        TypeError,
        "in_top_k: targets must be class ids, received dtype bool",
    ),
    (
        lambda: ops.in_top_k(ge.Input(shape=(), dtype="int32"), ge.Input(shape=(None,)), 1),
        ValueError,
        "in_top_k: the number of classes .* must be known",
    ),
    (lambda: ops.round(X, 309), ValueError, r"round: decimals must be in \[-308, 308\]"),
    (lambda: ops.round(X, -309), ValueError, "round: decimals must be an integer >= -308"),
    (lambda: ops.arange(0, 5, 0), ValueError, "arange: step must not be 0"),
    (lambda: ops.arange("5"), TypeError, "arange: start, stop and step must be numbers"),
    (lambda: ops.full((None, 2), 1.0), ValueError, r"full: shape=\(None, 2\) has an unknown"),
    (
        lambda: ops.full((2, 3), [1.0, 2.0]),
        ValueError,
        r"full: fill_value of shape \(2,\) does not broadcast to shape=\(2, 3\)",
    ),
    (lambda: ops.full((2,), "a"), TypeError, "full: fill_value must be a number"),
    (lambda: ops.full_like(X, None), TypeError, "full_like: fill_value must be a number"),
    (lambda: ops.count_nonzero(X, axis=2), ValueError, "axis=2 is out of range"),
    (lambda: ops.any(X, axis=(0, 0)), ValueError, "repeated axis"),
]


@pytest.mark.parametrize("call,error,match", NEW_ERRORS, ids=range(len(NEW_ERRORS)))
def test_new_argument_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
