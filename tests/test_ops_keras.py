"""The keras.ops names of ge.ops added for custom layers, losses and Lambda bodies (zeros ... take,
one_hot's axis) and for metric code (logical ops ... in_top_k, ops2): against Keras 3's own
numbers (tests/keras_reference/ops.json + ops.npz and ops2.json + ops2.npz, made by
generate_ops.py and generate_ops2.py with the torch backend; read here with NumPy alone),
against naive NumPy references eagerly and through compiled graphs with a None batch, float64
gradient checks through tests/gradcheck.py, non-finite values, empty inputs and every argument
error."""

import json
import os

import numpy as np
import pytest

import graphengine as ge
from gradcheck import check_grads
from helpers import REF_DIR

ops = ge.ops
RTOL, ATOL = 1e-9, 1e-12


def rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def run(fn, *arrays):
    """fn applied to Inputs of the arrays' full shapes, compiled into a Model, run on arrays."""
    inputs = [ge.Input(batch_shape=np.shape(a), dtype=np.asarray(a).dtype) for a in arrays]
    return ge.Model(inputs, fn(*inputs))(list(arrays) if len(arrays) > 1 else arrays[0])


def vjp(fn, arrays, cotangents):
    """(outputs, input gradients) of the compiled graph of fn at arrays."""
    inputs = [ge.Input(batch_shape=np.shape(a), dtype=np.asarray(a).dtype) for a in arrays]
    model = ge.Model(inputs, fn(*inputs))
    feed = list(arrays) if len(arrays) > 1 else arrays[0]
    dx, _ = model.vjp(feed, cotangents if len(cotangents) > 1 else cotangents[0])
    return model(feed), dx


# -- Keras 3 reference numbers ------------------------------------------------------------------
with open(os.path.join(REF_DIR, "ops.json")) as f:
    KERAS_CASES = json.load(f)
# at ties min is not differentiable, and stop_gradient is not its numeric derivative on purpose
NOT_SMOOTH = {"min_ties", "stop_gradient"}


@pytest.fixture(scope="module")
def keras_ops():
    with np.load(os.path.join(REF_DIR, "ops.npz"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def keras_call(case):
    fn = getattr(ops, case["op"])
    args, kwargs = case["args"], case["kwargs"]
    if case["pack"]:
        return lambda *xs: fn(list(xs), *args, **kwargs)
    if case["op"] == "einsum":
        return lambda *xs: fn(*args, *xs, **kwargs)
    return lambda *xs: fn(*xs, *args, **kwargs)


def keras_arrays(case, arrays):
    cid = case["id"]
    xs = [arrays[f"{cid}/x{i}"] for i in range(case["n_inputs"])]
    ys = [arrays[f"{cid}/y{k}"] for k in range(case["n_outputs"])]
    dys = [arrays.get(f"{cid}/dy{k}") for k in range(case["n_outputs"])]
    dxs = [arrays.get(f"{cid}/dx{i}") for i in range(case["n_inputs"])]
    return xs, ys, dys, dxs


def as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


# Keras's result_type turns 64-bit dtypes into 32-bit ones ("aligned with JAX's default"), so
# with the torch backend prod, cumsum, maximum and minimum of float64 give float32 while where,
# einsum and power give float64. graphengine keeps float64 (its gradient checks run in it).
KERAS_DOWNCAST = {"float64": "float32", "int64": "int32"}


def tolerance(keras_dtype):
    """Keras's float32 results were computed in float32."""
    return dict(rtol=1e-5, atol=1e-6) if keras_dtype == np.float32 else dict(rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: c["id"])
def test_eager_matches_keras(case, keras_ops):
    xs, ys, _, _ = keras_arrays(case, keras_ops)
    got = as_list(keras_call(case)(*xs))
    assert len(got) == len(ys)
    for g, y in zip(got, ys):
        assert isinstance(g, np.ndarray) and g.shape == y.shape
        assert y.dtype in (g.dtype, KERAS_DOWNCAST.get(g.dtype.name)), (g.dtype, y.dtype)
        np.testing.assert_allclose(g, y, **tolerance(y.dtype))


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: c["id"])
def test_graph_and_gradients_match_keras(case, keras_ops):
    """Compiled through a Model: the outputs, and model.vjp against torch autograd through
    keras.ops (stop_gradient: d/dx sum(stop_gradient(x) * x * c) = x * c)."""
    xs, ys, dys, dxs = keras_arrays(case, keras_ops)
    fn = keras_call(case)
    if case["op"] == "stop_gradient":
        fn = lambda x: ops.stop_gradient(x) * x  # noqa: E731
        ys = [xs[0] * xs[0]]
    tol = tolerance(ys[0].dtype)
    if any(d is None for d in dys):
        for g, y in zip(as_list(run(fn, *xs)), ys):
            np.testing.assert_allclose(g, y, **tol)
        return
    got, dx = vjp(fn, xs, dys)
    for g, y in zip(as_list(got), ys):
        np.testing.assert_allclose(g, y, **tol)
    for i, (g, want) in enumerate(zip(dx, dxs)):
        if want is None:  # an integer or boolean input: no gradient
            assert g is None and xs[i].dtype.kind != "f"
            continue
        np.testing.assert_allclose(g, want, err_msg=f"dx{i}", **tol)


SMOOTH_CASES = [
    c
    for c in KERAS_CASES
    if c["id"] not in NOT_SMOOTH
    and c["op"] not in ("argmax", "argmin", "one_hot", "zeros_like", "ones_like")
]


@pytest.mark.parametrize("case", SMOOTH_CASES, ids=lambda c: c["id"])
def test_gradients_by_central_differences(case, keras_ops):
    xs, _, _, _ = keras_arrays(case, keras_ops)
    check_grads(keras_call(case), *xs)


def test_the_reference_covers_every_new_op():
    covered = {c["op"] for c in KERAS_CASES}
    new = {"zeros_like", "ones_like", "stack", "split", "where", "argmax", "argmin", "min"}
    new |= {"prod", "pad", "tile", "sign", "power", "einsum", "stop_gradient", "cumsum", "take"}
    assert new | {"one_hot", "maximum", "minimum"} <= covered


# -- the keras.ops names of metric and loss code (ops2.json, made by generate_ops2.py) -------------
with open(os.path.join(REF_DIR, "ops2.json")) as f:
    KERAS_CASES2 = json.load(f)
# torch gives int64 indices and sizes where Keras's own output spec says int32 (graphengine's)
TORCH_INT64 = {"top_k", "size"}
TIED_TOP_K = {"top_k_ties", "top_k_ints"}


with np.load(os.path.join(REF_DIR, "ops2.npz"), allow_pickle=False) as data:
    KERAS_ARRAYS2 = {key: data[key] for key in data.files}  # small: read once, at collection


@pytest.fixture(scope="module")
def keras_ops2():
    return KERAS_ARRAYS2


def assert_keras_value(case, got, want):
    """got (graphengine) against want (Keras): shape, dtype up to Keras's 64-bit downcast, bools
    and integers exactly, floats at want's precision with NaN where Keras has it and the sign of
    every zero (floor(-0.5) is -0.0)."""
    got = np.asarray(got)
    assert got.shape == want.shape, (got.shape, want.shape)
    allowed = {got.dtype.name, KERAS_DOWNCAST.get(got.dtype.name)}
    if case["op"] in TORCH_INT64 and got.dtype == np.int32:
        allowed.add("int64")
    assert want.dtype.name in allowed, (got.dtype, want.dtype)
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    np.testing.assert_allclose(got, want, **tolerance(want.dtype))
    zeros = want == 0
    np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(want[zeros]))


def float_outputs(fn, keep):
    """fn with only its outputs at positions `keep` (those with cotangents), as a list."""
    return lambda *xs: [as_list(fn(*xs))[k] for k in keep]


def assert_keras_outputs(case, xs, got, ys):
    """Every output as assert_keras_value, but top_k's indices: PyTorch orders tied values as it
    likes, graphengine by index (as TensorFlow), so they must pick the same values, each once."""
    got = as_list(got)
    assert len(got) == len(ys)
    if case["op"] == "top_k":
        idx = np.asarray(got[1])
        assert idx.dtype == np.int32 and idx.shape == ys[1].shape
        assert all(len(set(row)) == len(row) for row in idx.reshape(-1, idx.shape[-1]))
        got, ys = [got[0], np.take_along_axis(xs[0], idx, -1)], [ys[0], ys[0]]
    for g, y in zip(got, ys):
        assert_keras_value(case, g, y)


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # NaN and inf inputs
@pytest.mark.parametrize("case", KERAS_CASES2, ids=lambda c: c["id"])
def test_eager_matches_keras2(case, keras_ops2):
    xs, ys, _, _ = keras_arrays(case, keras_ops2)
    assert_keras_outputs(case, xs, keras_call(case)(*xs), ys)


GRAPH_CASES2 = [c for c in KERAS_CASES2 if c["n_inputs"] and c["op"] != "size"]


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # NaN and inf inputs
@pytest.mark.parametrize("case", GRAPH_CASES2, ids=lambda c: c["id"])
def test_graph_and_gradients_match_keras2(case, keras_ops2):
    """Compiled through a Model: the outputs, and model.vjp against torch autograd through
    keras.ops for the float outputs (zeros for floor / ceil / round, as torch)."""
    xs, ys, dys, dxs = keras_arrays(case, keras_ops2)
    fn = keras_call(case)
    assert_keras_outputs(case, xs, run(lambda *t: list(as_list(fn(*t))), *xs), ys)
    keep = [k for k, d in enumerate(dys) if d is not None]
    if not keep:
        return
    _, dx = vjp(float_outputs(fn, keep), xs, [dys[k] for k in keep])
    tol = tolerance(min((ys[k].dtype for k in keep), key=lambda d: d.itemsize))  # Keras's float32
    for i, (g, want) in enumerate(zip(dx, dxs)):
        if want is None:  # an integer or boolean input: no gradient
            assert g is None and xs[i].dtype.kind != "f"
            continue
        if case["id"] in TIED_TOP_K:  # the cotangents reach other (tied) elements of each row
            g, want = g.sum(axis=-1), want.sum(axis=-1)
        np.testing.assert_allclose(g, want, err_msg=f"dx{i}", **tol)


# ties, halves and zero divisors are kinks; the float32 cast loses what differences measure
NOT_SMOOTH2 = {"sort_ties", "top_k_ties", "round_negative_decimals", "divide_no_nan_zeros"}
NOT_SMOOTH2 |= {"divide_no_nan_broadcast", "convert_array_dtype", "full_like_nan"}


def smooth(case):
    """Whether a case has gradients and central differences can check them there."""
    xs, _, _, dxs = keras_arrays(case, KERAS_ARRAYS2)
    finite = all(np.isfinite(x).all() for x in xs if x.dtype.kind == "f")
    return case["id"] not in NOT_SMOOTH2 and finite and any(d is not None for d in dxs)


SMOOTH_CASES2 = [c for c in KERAS_CASES2 if smooth(c)]


@pytest.mark.parametrize("case", SMOOTH_CASES2, ids=lambda c: c["id"])
def test_gradients_by_central_differences2(case, keras_ops2):
    xs, _, dys, _ = keras_arrays(case, keras_ops2)
    check_grads(
        float_outputs(keras_call(case), [k for k, d in enumerate(dys) if d is not None]), *xs
    )


def test_the_reference_covers_every_new_op2():
    covered = {c["op"] for c in KERAS_CASES2}
    new = {"logical_and", "logical_or", "logical_xor", "logical_not", "any", "all", "isnan"}
    new |= {"isinf", "isfinite", "floor", "ceil", "round", "divide_no_nan", "count_nonzero"}
    new |= {"size", "convert_to_tensor", "sort", "argsort", "top_k", "in_top_k", "arange"}
    new |= {"full", "full_like", "log1p", "expm1", "sum", "mean", "max", "min", "prod", "equal"}
    assert new <= covered


# -- constructors -------------------------------------------------------------------------------
def test_zeros_and_ones():
    z = ops.zeros((2, 3))
    assert isinstance(z, np.ndarray) and z.dtype == np.float32 and z.shape == (2, 3)
    assert not z.any() and ops.ones(4, dtype="int32").tolist() == [1, 1, 1, 1]
    x = ge.Input(shape=(3,))
    y = x + ops.ones((3,))  # a constant in a graph
    assert y.shape == (None, 3) and y.dtype == "float32"
    np.testing.assert_array_equal(run(lambda t: t + ops.ones((3,)), np.zeros((2, 3))), 1.0)


def test_zeros_like_ones_like_never_multiply():
    x = np.array([[np.inf, -np.inf, np.nan], [1.0, 0.0, -2.0]])
    np.testing.assert_array_equal(ops.zeros_like(x), np.zeros_like(x))
    np.testing.assert_array_equal(ops.ones_like(x, dtype="int32"), np.ones((2, 3), "int32"))
    sym = ops.ones_like(ge.Input(shape=(3,), dtype="float64"))
    assert sym.shape == (None, 3) and sym.dtype == "float64"
    np.testing.assert_array_equal(run(ops.zeros_like, x), np.zeros_like(x))
    # no gradient reaches x through a constant: d/dx sum(x * ones_like(x) * c) = c
    inp = ge.Input(batch_shape=(2, 3), dtype="float64")
    (dx,), _ = ge.Model(inp, inp * ops.ones_like(inp)).vjp(np.ones((2, 3)), np.full((2, 3), 3.0))
    np.testing.assert_array_equal(dx, np.full((2, 3), 3.0))


# -- stack and split ------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_stack(axis):
    xs = [rand((2, 3), seed=i) for i in range(3)]
    np.testing.assert_array_equal(ops.stack(xs, axis=axis), np.stack(xs, axis=axis))
    sym = ops.stack([ge.Input(shape=(3,)), ge.Input(shape=(3,))], axis=axis)
    assert sym.shape == tuple(
        None if d == 7 else d for d in np.stack([np.empty((7, 3))] * 2, axis).shape
    )
    np.testing.assert_array_equal(run(lambda *t: ops.stack(list(t), axis), *xs), np.stack(xs, axis))
    check_grads(lambda *t: ops.stack(list(t), axis=axis), *xs)


@pytest.mark.parametrize(
    "spec,axis",
    [(2, 0), (3, 1), (1, -1), ([1, 3], 1), ([0, 2, 2], 1), ([-2], 1), ([2, 9], 1), ([], 0)],
    ids=str,
)
def test_split(spec, axis):
    x = rand((4, 6))
    got, want = ops.split(x, spec, axis=axis), np.split(x, spec, axis=axis)
    assert isinstance(got, list) and len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    for g, w in zip(run(lambda t: ops.split(t, spec, axis), x), want):
        np.testing.assert_array_equal(g, w)
    check_grads(lambda t: ops.split(t, spec, axis=axis), x)


def test_split_symbolic_and_unused_pieces():
    x = ge.Input(shape=(6,))
    assert [p.shape for p in ops.split(x, 3, axis=1)] == [(None, 2)] * 3
    assert [p.shape for p in ops.split(x, 2, axis=0)] == [(None, 6)] * 2  # unknown batch
    # only one piece used: the others' gradients are zeros
    check_grads(lambda t: ops.split(t, [1, 4], axis=1)[1] * 2.0, rand((2, 6)))


# -- where ----------------------------------------------------------------------------------------
def test_where_selects_and_never_multiplies():
    x = np.array([1.0, np.inf, -np.inf, np.nan, 2.0])
    cond = np.isfinite(x)
    out = ops.where(cond, x, 0.0)
    np.testing.assert_array_equal(out, [1.0, 0.0, 0.0, 0.0, 2.0])
    # float masks select too (nonzero is true; NaN is true, as np.where)
    np.testing.assert_array_equal(ops.where(np.array([0.0, 2.0, np.nan]), 1.0, -1.0), [-1, 1, 1])

    # the gradient of a safe log: finite where the branch is taken, zero elsewhere
    def safe(t):
        positive = ops.greater(t, 0.0)
        return ops.where(positive, ops.log(ops.where(positive, t, 1.0)), 0.0)

    a = np.array([[2.0, 0.0, -1.0]])
    (dx,), _ = ge.Model(i := ge.Input(batch_shape=(1, 3), dtype="float64"), safe(i)).vjp(
        a, np.ones((1, 3))
    )
    np.testing.assert_array_equal(dx, [[0.5, 0.0, 0.0]])


def test_where_symbolic_broadcast_and_dtypes():
    c, x = ge.Input(shape=(1,), dtype="bool"), ge.Input(shape=(3,))
    out = ops.where(c, x, 0)
    assert out.shape == (None, 3) and out.dtype == "float32"
    assert ops.where(np.array([True]), np.int32(1), np.int32(2)).dtype == np.int32
    assert ops.where(np.array([True]), np.array([1], "int32"), 2.5).dtype == np.float32
    cond, a, b = rand((2, 1)) > 0, rand((3,)), rand((2, 3), 1)
    np.testing.assert_array_equal(run(ops.where, cond, a, b), np.where(cond, a, b))
    check_grads(lambda s, t: ops.where(cond, s, t), a, b)


def test_where_with_condition_only():
    np.testing.assert_array_equal(ops.where(np.array([[0, 1], [2, 0]]))[1], [1, 0])
    with pytest.raises(ValueError, match="where.*depends on the data.*pass x1 and x2"):
        ops.where(ge.Input(shape=(3,)))
    with pytest.raises(ValueError, match="where: x1 and x2 must both be None or both be given"):
        ops.where(np.ones(3), np.ones(3))


# -- reductions ---------------------------------------------------------------------------------
X3 = rand((2, 3, 4))


@pytest.mark.parametrize("kind", ["argmax", "argmin"])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (None, True), (0, False), (-1, True)])
def test_argmax_argmin(kind, axis, keepdims):
    fn, ref = getattr(ops, kind), getattr(np, kind)
    out = fn(X3, axis=axis, keepdims=keepdims)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, ref(X3, axis=axis, keepdims=keepdims))
    np.testing.assert_array_equal(run(lambda t: fn(t, axis, keepdims), X3), out)
    sym = fn(ge.Input(shape=(3, 4)), axis=2 if axis == -1 else axis, keepdims=keepdims)
    assert sym.dtype == "int32"
    # ties: the first; NaN: the first NaN; integers too
    ties = np.array([[1.0, 3.0, 3.0], [np.nan, 5.0, np.nan], [-0.0, 0.0, -1.0]])
    np.testing.assert_array_equal(fn(ties, axis=1), ref(ties, axis=1))
    np.testing.assert_array_equal(fn(np.array([3, 1, 3, 1]))[()], ref(np.array([3, 1, 3, 1])))


def test_argmax_gradient_is_zero():
    # argmax feeding a one-hot mask: only the mask's x factor has a gradient
    fn = lambda t: t * ops.one_hot(ops.argmax(t, axis=-1), 4, dtype="float64")  # noqa: E731
    check_grads(fn, X3[0])


@pytest.mark.parametrize("name", ["min", "prod"])
@pytest.mark.parametrize("axis", [None, 0, (0, 2), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_min_and_prod(name, axis, keepdims):
    fn, want = getattr(ops, name), getattr(np, name)(X3, axis, keepdims=keepdims)
    np.testing.assert_allclose(fn(X3, axis, keepdims), want, rtol=1e-12)
    np.testing.assert_allclose(run(lambda t: fn(t, axis, keepdims), X3), want, rtol=1e-12)
    check_grads(lambda t: fn(t, axis, keepdims), X3)


def test_prod_gradient_with_zeros_is_exact():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0], [1.5, -2.0, 4.0]])
    inp = ge.Input(batch_shape=(3, 3), dtype="float64")
    (dx,), _ = ge.Model(inp, ops.prod(inp, axis=1)).vjp(x, np.ones(3))
    np.testing.assert_array_equal(dx, [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-8.0, 6.0, -3.0]])
    check_grads(lambda t: ops.prod(t, axis=1), x)
    assert ops.prod(np.array([2, 3], "int8")).dtype == np.int32  # as Keras
    assert ops.prod(np.array([2, 3], "int8"), dtype="float64").dtype == np.float64


def test_min_initial_and_ties():
    np.testing.assert_array_equal(ops.min(X3, axis=1, initial=-0.5), np.min(X3, 1, initial=-0.5))
    np.testing.assert_array_equal(ops.max(X3, axis=1, initial=0.5), np.max(X3, 1, initial=0.5))
    np.testing.assert_array_equal(ops.min(np.zeros((2, 0)), axis=1, initial=3.0), [3.0, 3.0])
    x = np.array([[1.0, 0.5, 0.5]])
    (dx,), _ = ge.Model(i := ge.Input(batch_shape=(1, 3), dtype="float64"), ops.min(i)).vjp(x, 1.0)
    np.testing.assert_array_equal(dx, [[0.0, 0.5, 0.5]])  # ties share, as torch.amin


def test_reductions_propagate_nan_and_refuse_empty():
    x = np.array([[1.0, np.nan, 0.0], [2.0, -np.inf, 3.0]])
    np.testing.assert_array_equal(ops.min(x, axis=1), np.min(x, axis=1))
    np.testing.assert_array_equal(ops.prod(x, axis=1), np.prod(x, axis=1))
    np.testing.assert_array_equal(ops.argmin(x, axis=1), [1, 1])
    np.testing.assert_array_equal(ops.cumsum(x, axis=1), np.cumsum(x, axis=1))
    assert ops.prod(np.zeros((0, 3)), axis=0).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"min: cannot reduce axis 0 of size 0 in shape \(0, 3\)"):
        ops.min(np.zeros((0, 3)), axis=0)
    with pytest.raises(ValueError, match=r"argmax: cannot reduce axis 1 of size 0"):
        ops.argmax(np.zeros((2, 0)))


# -- cumsum -------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumsum(axis):
    np.testing.assert_allclose(ops.cumsum(X3, axis), np.cumsum(X3, axis), rtol=1e-12)
    np.testing.assert_allclose(run(lambda t: ops.cumsum(t, axis), X3), np.cumsum(X3, axis))
    check_grads(lambda t: ops.cumsum(t, axis), X3)


def test_cumsum_dtypes_and_shapes():
    ints = np.array([[1, 2], [3, 4]], "int32")
    assert ops.cumsum(ints).dtype == np.int32 and ops.cumsum(ints).tolist() == [1, 3, 6, 10]
    assert ops.cumsum(np.array([True, True])).dtype == np.int32
    assert ops.cumsum(ints, axis=0, dtype="float64").dtype == np.float64
    assert ops.cumsum(ge.Input(shape=(3,))).shape == (None,)
    assert ops.cumsum(ge.Input(shape=(3,)), axis=1).shape == (None, 3)
    assert ops.cumsum(np.zeros((0, 2)), axis=0).shape == (0, 2)


# -- pad and tile -------------------------------------------------------------------------------
PADS = [1, (2,), (1, 2), ((0, 1), (2, 0), (1, 1)), ((3, 4), (0, 0), (5, 2))]


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("pad_width", PADS, ids=str)
def test_pad(mode, pad_width):
    x = rand((2, 3, 2))
    want = np.pad(x, pad_width, mode=mode)
    np.testing.assert_array_equal(ops.pad(x, pad_width, mode=mode), want)
    np.testing.assert_array_equal(run(lambda t: ops.pad(t, pad_width, mode), x), want)
    check_grads(lambda t: ops.pad(t, pad_width, mode=mode), x)


def test_pad_constant_values_symbolic_and_dtypes():
    x = np.arange(6, dtype="int32").reshape(2, 3)
    out = ops.pad(x, ((1, 0), (0, 2)), constant_values=7)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.pad(x, ((1, 0), (0, 2)), constant_values=7))
    sym = ops.pad(ge.Input(shape=(3,)), ((0, 0), (1, 2)), constant_values=-1.0)
    assert sym.shape == (None, 6) and sym.dtype == "float32"
    assert ops.pad(ge.Input(shape=(3,)), 1).shape == (None, 5)
    inf = np.array([[np.inf, np.nan]])
    np.testing.assert_array_equal(ops.pad(inf, 1, mode="reflect"), np.pad(inf, 1, mode="reflect"))


@pytest.mark.parametrize(
    "shape,repeats",
    [((2, 3), (2, 1)), ((2, 3), 3), ((3,), (2, 2)), ((2, 1, 3), (2,)), ((2, 3), (0, 2))],
    ids=str,
)
def test_tile(shape, repeats):
    x = rand(shape)
    np.testing.assert_array_equal(ops.tile(x, repeats), np.tile(x, repeats))
    np.testing.assert_array_equal(run(lambda t: ops.tile(t, repeats), x), np.tile(x, repeats))
    check_grads(lambda t: ops.tile(t, repeats), x)


def test_tile_symbolic():
    x = ge.Input(shape=(3,))
    assert ops.tile(x, (1, 2)).shape == (None, 6)
    assert ops.tile(x, (2, 1)).shape == (None, 3)  # 2 * unknown: unknown
    assert ops.tile(x, (2, 1, 2)).shape == (2, None, 6)
    np.testing.assert_array_equal(run(lambda t: ops.tile(t, (2, 1)), X3[0]), np.tile(X3[0], (2, 1)))


# -- sign and power -----------------------------------------------------------------------------
def test_sign():
    x = np.array([-2.5, -0.0, 0.0, 3.0, np.nan, np.inf, -np.inf])
    np.testing.assert_array_equal(ops.sign(x), np.sign(x))
    assert ops.sign(x.astype("float32")).dtype == np.float32
    ints = np.array([-3, 0, 5], "int32")
    assert ops.sign(ints).dtype == np.int32 and ops.sign(ints).tolist() == [-1, 0, 1]
    np.testing.assert_array_equal(run(ops.sign, x), np.sign(x))
    check_grads(ops.sign, rand((2, 3)))  # zero, as Keras
    # a zero gradient even for infinite cotangents (as torch's sign)
    (dx,), _ = ge.Model(i := ge.Input(batch_shape=(3,), dtype="float64"), ops.sign(i)).vjp(
        np.ones(3), np.array([np.inf, np.nan, 1.0])
    )
    np.testing.assert_array_equal(dx, 0.0)


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # NumPy on NaN
def test_power():
    a, b = np.abs(rand((2, 3))) + 0.5, rand((3,), 1)
    np.testing.assert_allclose(ops.power(a, b), np.power(a, b), rtol=1e-14)
    np.testing.assert_allclose(run(ops.power, a, b), np.power(a, b), rtol=1e-14)
    check_grads(ops.power, a, b)
    check_grads(lambda t: ops.power(t, 3), rand((2, 3)))  # any sign of base, integer exponent
    assert ops.power(np.array([2, 3], "int32"), 2).dtype == np.int32
    assert ops.power(ge.Input(shape=(3,)), 2.0).dtype == "float32"
    assert np.isnan(ops.power(np.array([-8.0]), 1 / 3)[0])


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # NumPy on NaN
def test_power_gradient_at_zero_follows_torch():
    a, b = np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.5, 0.0])
    inputs = [ge.Input(batch_shape=(4,), dtype="float64") for _ in range(2)]
    (da, db), _ = ge.Model(inputs, ops.power(*inputs)).vjp([a, b], np.ones(4))
    np.testing.assert_array_equal(da, [0.0, 0.0, np.inf, 0.0])
    np.testing.assert_array_equal(db, [0.0, 0.0, 0.0, np.log(2.0)])


# -- einsum -------------------------------------------------------------------------------------
EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("bij,jk->bik", [(2, 2, 3), (3, 2)]),
    ("bqhd,bkhd->bhqk", [(2, 3, 2, 2), (2, 4, 2, 2)]),
    ("ij,kj", [(2, 3), (4, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ji", [(3, 3, 2)]),
    ("ijk->", [(2, 3, 2)]),
    ("ijk->kj", [(2, 3, 2)]),
    ("i,j->ij", [(3,), (2,)]),
    ("i,i", [(4,), (4,)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 2)]),
    ("...i,...i->...", [(2, 1, 3), (4, 3)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 4)]),
    ("ij,ij->j", [(2, 1), (2, 3)]),  # size 1 broadcasts, as NumPy
    ("ab,cd->", [(2, 3), (2, 2)]),
    ("ij->ji", [(2, 3)]),
    ("iJ,Jk->ki", [(2, 3), (3, 2)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM, ids=[e[0] for e in EINSUM])
def test_einsum(subscripts, shapes):
    xs = [rand(s, seed=i) for i, s in enumerate(shapes)]
    want = np.einsum(subscripts, *xs)
    got = ops.einsum(subscripts, *xs)
    assert np.shape(got) == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(run(lambda *t: ops.einsum(subscripts, *t), *xs), want, rtol=1e-12)
    check_grads(lambda *t: ops.einsum(subscripts, *t), *xs)


def test_einsum_symbolic_batch_and_dtypes():
    x, w = ge.Input(shape=(3, 4)), np.ones((4, 5), np.float32)
    assert ops.einsum("bij,jk->bik", x, w).shape == (None, 3, 5)
    assert ops.einsum("bij,bik->bjk", x, x).shape == (None, 4, 4)
    assert ops.einsum("bij->ij", x).shape == (3, 4)  # the batch summed
    q = ge.Input(shape=(3, 2, 4), dtype="float64")
    assert ops.einsum("bqhd,bkhd->bhqk", q, q).shape == (None, 2, 3, 3)
    out = ops.einsum("bij,bik->jk", x, x)  # contracting the unknown batch
    assert out.shape == (4, 4) and out.dtype == "float32"
    a = rand((5, 3, 4))
    want = np.einsum("bij,bik->jk", a, a)
    np.testing.assert_allclose(run(lambda t: ops.einsum("bij,bik->jk", t, t), a), want)
    assert ops.einsum("ij,jk", np.ones((2, 2), "int32"), np.ones((2, 2), "float32")).dtype == (
        np.float32
    )


# -- take ---------------------------------------------------------------------------------------
TAKES = [
    ((3, 4), [[0, 11], [5, -1]], None),
    ((5, 3), [0, 2, 2, -5, 4], 0),
    ((2, 5, 3), [[1, -2], [1, 0]], 1),
    ((2, 4), [3, 3, 0], -1),
    ((4,), 2, 0),  # a scalar index drops the axis
    ((3, 2), np.zeros((0,), "int64"), 0),  # no indices at all
]


@pytest.mark.parametrize("shape,indices,axis", TAKES, ids=str)
def test_take(shape, indices, axis):
    x, idx = rand(shape), np.asarray(indices)
    want = np.take(x, idx, axis=axis)
    got = ops.take(x, idx, axis=axis)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(run(lambda t, i: ops.take(t, i, axis), x, idx), want)
    check_grads(lambda t, i: ops.take(t, i, axis=axis), x, idx)  # repeats must add up


def test_take_symbolic_shapes():
    nodes, edges = ge.Input(shape=(4,)), ge.Input(shape=(2,), dtype="int32")
    assert ops.take(nodes, edges[:, 0], axis=0).shape == (None, 4)
    assert ops.take(nodes, edges, axis=0).shape == (None, 2, 4)
    assert ops.take(nodes, np.array([1, 2]), axis=1).shape == (None, 2)
    assert ops.take(nodes, np.array([[1, 2]])).shape == (1, 2)


def test_take_gathers_and_scatters_many_rows():
    """The graph-network use: node rows gathered by a large edge list, whose gradient adds each
    edge's row back into its node (np.add.at as the naive reference)."""
    rng = np.random.default_rng(0)
    x, idx = rng.standard_normal((50, 3)), rng.integers(-50, 50, 20000)
    dy = rng.standard_normal((20000, 3))
    out, (dx, _) = vjp(lambda t, i: ops.take(t, i, axis=0), [x, idx], [dy])
    np.testing.assert_array_equal(out, x[idx])
    want = np.zeros_like(x)
    np.add.at(want, idx, dy)
    np.testing.assert_allclose(dx, want, rtol=1e-12, atol=1e-12)


def test_take_out_of_range_raises():
    x = rand((3, 4))
    with pytest.raises(ValueError, match=r"take: index 3 is out of range \[-3, 3\)"):
        ops.take(x, np.array([0, 3]), axis=0)
    with pytest.raises(ValueError, match=r"take: index -13 is out of range \[-12, 12\)"):
        ops.take(x, np.array([-13]))
    model = ge.Model(i := ge.Input(shape=(), dtype="int32"), ops.take(x, i, axis=1))
    with pytest.raises(ValueError, match=r"take: index 4 is out of range \[-4, 4\)"):
        model(np.array([1, 4], "int32"))
    with pytest.raises(TypeError, match="take: indices must be integers, received dtype float64"):
        ops.take(x, np.array([0.0]))


# -- one_hot, maximum, minimum -----------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, 0, 1, 2])
def test_one_hot_axis(axis):
    ids = np.array([[0, 3, -1], [2, 1, 4]])  # -1 and 4 are out of range: zeros
    flat = (ids[..., None] == np.arange(4)).astype("float32")
    want = np.moveaxis(flat, -1, axis)
    out = ops.one_hot(ids, 4, axis=axis)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(run(lambda t: ops.one_hot(t, 4, axis=axis), ids), want)
    sym = ops.one_hot(ge.Input(shape=(3,), dtype="int32"), 4, axis=axis, dtype="float64")
    assert sym.dtype == "float64"
    assert sym.shape == tuple(
        None if d == 7 else d for d in np.moveaxis(np.empty((7, 3, 4)), -1, axis).shape
    )


def test_maximum_minimum_keep_keras_semantics():
    a = np.array([1.0, np.nan, -np.inf, 2.0])
    b = np.array([np.nan, 1.0, 0.0, 2.0])
    np.testing.assert_array_equal(ops.maximum(a, b), np.maximum(a, b))  # NaN propagates
    np.testing.assert_array_equal(ops.minimum(a, b), np.minimum(a, b))
    assert ops.maximum(np.array([1, 2], "int32"), 1.5).dtype == np.float32


# -- stop_gradient ------------------------------------------------------------------------------
def test_stop_gradient():
    x = rand((2, 3))
    np.testing.assert_array_equal(ops.stop_gradient(x), x)
    inp = ge.Input(batch_shape=(2, 3), dtype="float64")
    model = ge.Model(inp, ops.stop_gradient(inp) * inp)
    (dx,), _ = model.vjp(x, np.ones((2, 3)))
    np.testing.assert_array_equal(dx, x)  # only the second factor's gradient
    (dx,), _ = ge.Model(inp, ops.stop_gradient(inp * 2.0)).vjp(x, np.ones((2, 3)))
    np.testing.assert_array_equal(dx, 0.0)


# -- in layers, losses and saved models -----------------------------------------------------------
def test_in_a_lambda_layer_and_a_custom_loss_and_saved_config(tmp_path):
    ge.utils.set_random_seed(0)
    x = ge.Input(shape=(4,))
    h = ge.layers.Dense(6)(x)
    h = ge.layers.Lambda(
        lambda t: ops.concatenate(
            [
                ops.where(ops.greater(t, 0.0), t, ops.zeros_like(t)),
                ops.einsum("bi,bi->bi", t, ops.tile(ops.max(t, axis=1, keepdims=True), (1, 6))),
                ops.pad(ops.cumsum(t, axis=1), ((0, 0), (1, 0)))[:, :6],
            ],
            axis=-1,
        )
    )(h)
    out = ge.layers.Dense(3)(h)
    model = ge.Model(x, out)

    def loss(y_true, y_pred):
        picked = ops.take(y_pred, ops.argmax(y_true, axis=-1))  # from the flattened y_pred
        return ops.mean(ops.square(picked - ops.stop_gradient(ops.min(y_pred))))

    model.compile(optimizer="sgd", loss=loss)
    xs = np.random.default_rng(0).standard_normal((8, 4)).astype("float32")
    ys = np.eye(3, dtype="float32")[np.arange(8) % 3]
    before = model.predict(xs, verbose=0)
    model.fit(xs, ys, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(model.predict(xs, verbose=0)).all()
    assert not np.allclose(before, model.predict(xs, verbose=0))
    # ops built outside a Lambda are named by the saved config, and rebuilt from it
    a = ge.Input(shape=(3,))
    b = ops.stack(ops.split(ops.pad(a, ((0, 0), (1, 2)), mode="reflect"), 2, axis=1), axis=1)
    c = ops.take(ops.sign(b), np.array([1, 0]), axis=1) * ops.prod(b, axis=-1, keepdims=True)
    m = ge.Model(a, ops.cumsum(ops.where(ops.greater(c, 0.0), c, 0.0), axis=-1))
    again = ge.Model.from_config(json.loads(json.dumps(m.get_config())))
    v = np.random.default_rng(1).standard_normal((2, 3)).astype("float32")
    np.testing.assert_array_equal(again(v), m(v))


def test_the_metric_ops_in_a_saved_config_and_a_training_loss():
    """The new ops named by a saved functional config and rebuilt from it; a loss built from them
    trains (top_k and sort pass gradients, the rest are masks and counts)."""
    a = ge.Input(shape=(5,))
    ids = ge.Input(shape=(), dtype="int32")
    values, indices = ops.top_k(a, 3)
    kept = ops.logical_and(ops.isfinite(a), ops.logical_not(ops.less(a, -1.0)))
    out = ops.concatenate(
        [
            values + ops.cast(indices, "float32"),
            ops.where(ops.any(kept, axis=1, keepdims=True), ops.sort(a)[:, :2], 0.0),
            ops.expand_dims(ops.cast(ops.in_top_k(ids, a, 2), "float32"), -1),
            ops.floor(a[:, :1]) + ops.round(a[:, 1:2], 1) + ops.divide_no_nan(a[:, 2:3], a[:, 3:4]),
            ops.log1p(ops.abs(a[:, :1])) + ops.expm1(a[:, 1:2]) + ops.full_like(a[:, :1], 0.5),
            ops.cast(ops.count_nonzero(ops.argsort(a), axis=1)[:, None], "float32"),
        ],
        axis=-1,
    )
    model = ge.Model([a, ids], out)
    again = ge.Model.from_config(json.loads(json.dumps(model.get_config())))
    v = np.random.default_rng(2).standard_normal((4, 5)).astype("float32")
    v[1, 3] = 0.0
    t = np.array([0, 4, 2, 1], "int32")
    np.testing.assert_array_equal(again([v, t]), model([v, t]))

    def loss(y_true, y_pred):
        top, _ = ops.top_k(y_pred, 2)
        hit = ops.cast(ops.in_top_k(ops.argmax(y_true, axis=-1), y_pred, 1), "float32")
        return ops.mean(ops.square(ops.sort(y_pred)[:, -1] - 1.0)) + ops.mean(top) * ops.mean(hit)

    ge.utils.set_random_seed(0)
    net = ge.Sequential([ge.layers.Dense(4, input_dim=3)])
    net.compile(optimizer="sgd", loss=loss)
    xs = np.random.default_rng(3).standard_normal((8, 3)).astype("float32")
    ys = np.eye(4, dtype="float32")[np.arange(8) % 4]
    before = [w.copy() for w in net.get_weights()]
    net.fit(xs, ys, epochs=1, batch_size=4, verbose=0)
    assert all(np.isfinite(w).all() for w in net.get_weights())
    assert not np.allclose(before[0], net.get_weights()[0])


# -- argument errors ----------------------------------------------------------------------------
ERRORS = [
    (lambda: ops.zeros((None, 3)), ValueError, r"zeros: shape=\(None, 3\) has an unknown"),
    (lambda: ops.ones((2, -1)), ValueError, "ones: shape=.*negative entry -1"),
    (lambda: ops.stack([]), ValueError, "stack: x must be a non-empty list"),
    (
        lambda: ops.stack([np.ones(2), np.ones(3)]),
        ValueError,
        r"stack: every tensor must have the same shape, but x\[1\] has shape \(3,\)",
    ),
    (lambda: ops.stack([np.ones(2)], axis=2), ValueError, "stack: axis=2 is out of range"),
    (
        lambda: ops.split(np.ones((2, 5)), 2, axis=1),
        ValueError,
        "split: an axis of size 5 does not split into 2 equal sections",
    ),
    (
        lambda: ops.split(np.ones(4), 0),
        ValueError,
        "split: indices_or_sections must be an int.*>= 1",
    ),
    (lambda: ops.split(np.ones(4), 1.5), TypeError, "split: indices_or_sections must be an int"),
    (lambda: ops.split(np.ones(4), [3, 1]), ValueError, r"split: .*=\[3, 1\] must not decrease"),
    (lambda: ops.split(np.ones(4), 2, axis=1), ValueError, "split: axis=1 is out of range"),
    (
        lambda: ops.where(np.ones(2), np.ones(3), np.ones(4)),
        ValueError,
        r"where: shapes \(2,\) and \(3,\) cannot be broadcast",
    ),
    (lambda: ops.argmax(np.ones((2, 3)), axis=2), ValueError, "argmax: axis=2 is out of range"),
    (lambda: ops.argmin(np.ones(3), axis=1.0), TypeError, "argmin: axis must be an integer"),
    (lambda: ops.min(np.ones(3), axis=3), ValueError, "axis=3 is out of range"),
    (
        lambda: ops.pad(np.ones((2, 3)), ((1, 2), (3, 4), (5, 6))),
        ValueError,
        r"pad: pad_width=.* does not give \(before, after\) for each of the 2 axes",
    ),
    (lambda: ops.pad(np.ones(3), -1), ValueError, "pad: pad_width=-1 holds a negative width"),
    (lambda: ops.pad(np.ones(3), 1.5), TypeError, "pad: pad_width must hold integers"),
    (
        lambda: ops.pad(np.ones(3), 1, mode="mirror"),
        ValueError,
        "pad: unknown mode='mirror'; valid: constant, edge, reflect, symmetric, wrap",
    ),
    (
        lambda: ops.pad(np.ones(3), 1, mode="reflect", constant_values=2),
        ValueError,
        "pad: constant_values is only for mode='constant'",
    ),
    (
        lambda: ops.pad(np.ones(3), 1, constant_values=[1, 2]),
        TypeError,
        "pad: constant_values must be a number",
    ),
    (
        lambda: ops.pad(np.ones((2, 0)), 1, mode="wrap"),
        ValueError,
        r"pad: mode='wrap' cannot pad axis 1 of size 0",
    ),
    (lambda: ops.tile(np.ones(3), (2, -1)), ValueError, "tile: repeats must be an integer >= 0"),
    (lambda: ops.tile(np.ones(3), 1.5), TypeError, "tile: repeats must be an integer"),
    (
        lambda: ops.tile(ge.Input(shape=(None,)), (2, 2)),
        ValueError,
        "tile: cannot repeat more than one axis of unknown size",
    ),
    (
        lambda: ops.einsum("ij,jk", np.ones((2, 3)), np.ones((4, 2))),
        ValueError,
        r"einsum: subscript 'j' is 3 in operand 0 \(shape \(2, 3\)\) but 4 in operand 1",
    ),
    (
        lambda: ops.einsum("ij", np.ones(3)),
        ValueError,
        "einsum: operand 0 has subscripts 'ij' for 2 axes but rank 1",
    ),
    (
        lambda: ops.einsum("ij,jk", np.ones((2, 2))),
        ValueError,
        "einsum: subscripts 'ij,jk' name 2 operands but 1 were given",
    ),
    (lambda: ops.einsum("i1", np.ones((2, 2))), ValueError, "einsum: operand 0 has .* 'i1'"),
    (
        lambda: ops.einsum("ij->ii", np.ones((2, 2))),
        ValueError,
        "einsum: output .* 'i' is repeated",
    ),
    (
        lambda: ops.einsum("ij->k", np.ones((2, 2))),
        ValueError,
        "einsum: .* 'k' appears in no operand",
    ),
    (lambda: ops.einsum("...i->i", np.ones((2, 2))), ValueError, "einsum: .* none in its output"),
    (lambda: ops.einsum(3, np.ones(2)), TypeError, "einsum: subscripts must be a string"),
    (lambda: ops.einsum("i"), ValueError, "einsum: at least one operand is required"),
    (lambda: ops.cumsum(np.ones(3), axis=1), ValueError, "cumsum: axis=1 is out of range"),
    (lambda: ops.take(np.ones(3), np.array([0]), axis=1), ValueError, "take: axis=1 is out of"),
    (
        lambda: ops.take(np.ones(3), ge.Input(shape=(2,))),
        TypeError,
        "take: indices must be integers, got dtype float32",
    ),
    (
        lambda: ops.one_hot(np.array([1]), 3, axis=3),
        ValueError,
        r"one_hot: axis must be -1 or in \[0, 1\] for ids of rank 1, received axis=3",
    ),
    (
        lambda: ops.one_hot(np.array([1]), 0),
        ValueError,
        "one_hot: num_classes must be an int.*>= 1",
    ),
    (lambda: ops.one_hot(np.array([1]), 2.0), TypeError, "one_hot: num_classes must be an int"),
    (lambda: ops.one_hot(np.array([1]), 2, sparse=True), ValueError, "one_hot: sparse=True is not"),
]


@pytest.mark.parametrize("call,error,match", ERRORS, ids=range(len(ERRORS)))
def test_argument_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
