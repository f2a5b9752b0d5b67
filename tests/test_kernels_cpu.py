"""graphengine_kernels.cpu called directly, in float32 and float64 on tiny arrays, against
tests/reference.py.

Every output array starts filled with NaN, so a kernel that leaves an element unwritten fails.
"""

import math

import numpy as np
import pytest

import graphengine_kernels.cpu as k
from graphengine_kernels.cpu.matmul import SMALL_DENSE
import reference as ref

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-6, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}
INF = math.inf


def nan_like(shape, dtype):
    return np.full(shape, np.nan, dtype=dtype)


def close(actual, expected, dtype, **tol):
    assert actual.dtype == dtype
    np.testing.assert_allclose(actual, expected, **(tol or TOL[dtype]))


# -- reference self-checks: the references must be right before anything is compared to them ---

SMOOTH = np.array([-2.7, -1.3, -0.45, 0.35, 0.8, 1.9, 2.6])
POSITIVE = np.array([0.15, 0.6, 1.1, 2.4, 3.7])

# (kernel kind, scalar parameters in kernel order, inputs away from kinks)
ACTIVATION_CASES = [
    ("relu", (0.0, INF, 0.0), SMOOTH),
    ("relu", (0.2, INF, 0.0), SMOOTH),
    ("relu", (0.0, 6.0, 0.0), np.array([-1.5, 0.5, 5.5, 6.5, 9.0])),
    ("relu", (0.1, 1.5, 0.4), SMOOTH),
    ("sigmoid", (), SMOOTH),
    ("tanh", (), SMOOTH),
    ("elu", (1.0,), SMOOTH),
    ("elu", (0.3,), SMOOTH),
    ("selu", (), SMOOTH),
    ("gelu", (), SMOOTH),
    ("gelu_tanh", (), SMOOTH),
    ("softplus", (), SMOOTH),
    ("softsign", (), SMOOTH),
    ("swish", (), SMOOTH),
    ("hard_sigmoid", (), np.array([-5.0, -3.4, -2.2, -0.3, 0.6, 2.9, 3.2, 7.0])),
    ("exp", (), SMOOTH),
    ("log", (), POSITIVE),
    ("sqrt", (), POSITIVE),
    ("square", (), SMOOTH),
    ("abs", (), SMOOTH),
    ("clip", (-0.5, 0.9), SMOOTH),
]
ACTIVATION_IDS = [f"{kind}{params}" if params else kind for kind, params, _ in ACTIVATION_CASES]


@pytest.mark.parametrize("kind,params,x", ACTIVATION_CASES, ids=ACTIVATION_IDS)
def test_reference_derivative_matches_finite_differences(kind, params, x):
    fwd, grad = ref.ACTIVATIONS[kind]
    eps = 1e-6
    numeric = (fwd(x + eps, *params) - fwd(x - eps, *params)) / (2 * eps)
    np.testing.assert_allclose(grad(x, *params), numeric, rtol=1e-6, atol=1e-8)


def test_reference_softmax_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2))
    eps = 1e-6
    numeric = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = np.sum((ref.softmax(up, 1) - ref.softmax(down, 1)) * dy) / (2 * eps)
    np.testing.assert_allclose(
        ref.softmax_backward(ref.softmax(x, 1), dy, 1), numeric, rtol=1e-6, atol=1e-9
    )


def test_reference_log_softmax_backward_matches_finite_differences():
    rng = np.random.default_rng(11)
    x, dy = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2))
    eps = 1e-6
    numeric = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        diff = ref.log_softmax(up, 1) - ref.log_softmax(down, 1)
        numeric[i] = np.sum(diff * dy) / (2 * eps)
    np.testing.assert_allclose(
        ref.log_softmax_backward(ref.log_softmax(x, 1), dy, 1), numeric, rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(np.exp(ref.log_softmax(x, 1)), ref.softmax(x, 1), rtol=1e-12)


def test_reference_sum_to_is_the_adjoint_of_broadcasting():
    rng = np.random.default_rng(1)
    u, v = rng.standard_normal((3, 1)), rng.standard_normal((2, 3, 4))
    lhs = np.sum(np.broadcast_to(u, v.shape) * v)
    np.testing.assert_allclose(lhs, np.sum(u * ref.sum_to(v, u.shape)), rtol=1e-12)


def test_reference_small_values():
    np.testing.assert_allclose(ref.sigmoid(np.array([0.0, 2.0])), [0.5, 1 / (1 + np.exp(-2.0))])
    np.testing.assert_allclose(ref.gelu(np.array([1.0])), [0.8413447460685429])
    np.testing.assert_allclose(ref.matmul(np.arange(6.0).reshape(2, 3), np.ones(3)), [3.0, 12.0])
    np.testing.assert_allclose(ref.softmax(np.log(np.array([[1.0, 3.0]]))), [[0.25, 0.75]])
    np.testing.assert_allclose(
        ref.reduce_max_backward(np.array([[2.0, 2.0, 1.0]]), [[6.0]], 1), [[3.0, 3.0, 0.0]]
    )


# -- activations ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,params,x", ACTIVATION_CASES, ids=ACTIVATION_IDS)
def test_activation_forward(kind, params, x, dtype):
    x = x.astype(dtype)
    out = nan_like(x.shape, dtype)
    getattr(k, f"{kind}_forward")(x, *params, out)
    close(out, ref.ACTIVATIONS[kind][0](x, *params), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,params,x", ACTIVATION_CASES, ids=ACTIVATION_IDS)
def test_activation_backward(kind, params, x, dtype):
    fwd, grad = ref.ACTIVATIONS[kind]
    x = x.astype(dtype)
    y = fwd(x, *params).astype(dtype)
    dy = np.linspace(-1.5, 2.0, x.size).astype(dtype)
    dx = nan_like(x.shape, dtype)
    getattr(k, f"{kind}_backward")(x, y, dy, *params, dx)
    close(dx, dy.astype(np.float64) * grad(x, *params), dtype)


LARGE = np.array([-1000.0, -120.0, -40.0, -15.0, 15.0, 40.0, 120.0, 1000.0])
STABLE_KINDS = [
    ("sigmoid", ()),
    ("tanh", ()),
    ("softplus", ()),
    ("swish", ()),
    ("gelu", ()),
    ("gelu_tanh", ()),
    ("elu", (1.0,)),
    ("selu", ()),
    ("softsign", ()),
    ("hard_sigmoid", ()),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,params", STABLE_KINDS, ids=[s[0] for s in STABLE_KINDS])
def test_activation_large_inputs_do_not_overflow(kind, params, dtype):
    fwd, grad = ref.ACTIVATIONS[kind]
    x = LARGE.astype(dtype)
    out = nan_like(x.shape, dtype)
    with np.errstate(all="raise"):
        getattr(k, f"{kind}_forward")(x, *params, out)
    assert np.isfinite(out).all(), out
    close(out, fwd(x, *params), dtype, rtol=1e-6, atol=1e-30)

    # backward formulas may use y (sigmoid: y (1 - y), as TensorFlow and PyTorch), whose
    # cancellation near y = 1 costs absolute accuracy at the dtype's epsilon, never more
    dy = np.ones_like(x)
    dx = nan_like(x.shape, dtype)
    getattr(k, f"{kind}_backward")(x, out, dy, *params, dx)
    assert np.isfinite(dx).all(), dx
    close(dx, grad(x, *params), dtype, rtol=1e-5, atol=4 * np.finfo(dtype).eps)


def test_sigmoid_and_softplus_saturate_exactly():
    x = np.array([-800.0, 800.0])
    s, sp = np.empty(2), np.empty(2)
    k.sigmoid_forward(x, s)
    k.softplus_forward(x, sp)
    np.testing.assert_array_equal(s, [0.0, 1.0])
    np.testing.assert_array_equal(sp, [0.0, 800.0])


# (kind, params, x exactly on a kink, documented derivative there)
KINKS = [
    ("abs", (), 0.0, 0.0),  # sign(0) = 0
    ("clip", (-0.5, 0.5), -0.5, 1.0),  # clip_by_value: the interval is closed
    ("clip", (-0.5, 0.5), 0.5, 1.0),
    ("hard_sigmoid", (), -3.0, 0.0),  # relu6(x + 3) / 6: zero at both corners
    ("hard_sigmoid", (), 3.0, 0.0),
    ("relu", (0.0, 6.0, 0.0), 6.0, 0.0),  # relu6: no gradient at the cap
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,params,x0,slope", KINKS, ids=[f"{c[0]}@{c[2]}" for c in KINKS])
def test_activation_derivative_at_kinks(kind, params, x0, slope, dtype):
    fwd = ref.ACTIVATIONS[kind][0]
    x = np.array([x0], dtype)
    y = fwd(x, *params).astype(dtype)
    dx = nan_like(1, dtype)
    getattr(k, f"{kind}_backward")(x, y, np.array([2.0], dtype), *params, dx)
    np.testing.assert_array_equal(dx, [2.0 * slope])


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_forward_at_threshold_and_cap(dtype):
    x = np.array([0.4, 1.5, 2.0, -0.6], dtype)
    out = nan_like(4, dtype)
    k.relu_forward(x, 0.1, 1.5, 0.4, out)
    close(out, ref.relu(x, 0.1, 1.5, 0.4), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_and_sqrt_outside_their_domain_follow_numpy(dtype):
    x = np.array([-1.0, 0.0, 4.0], dtype)
    out = nan_like(3, dtype)
    k.log_forward(x, out)
    np.testing.assert_array_equal(out, ref.log(x).astype(dtype))
    out = np.zeros(3, dtype)
    k.sqrt_forward(x, out)
    np.testing.assert_array_equal(out, ref.sqrt(x).astype(dtype))


# -- softmax ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 5, 1), (3, 1, 2)])
def test_softmax_forward_and_backward(shape, dtype):
    rng = np.random.default_rng(2)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    y = nan_like(shape, dtype)
    k.softmax_forward(x, y)
    close(y, ref.softmax(x, axis=1), dtype)

    dy = rng.standard_normal(shape).astype(dtype)
    y_ref = ref.softmax(x, axis=1).astype(dtype)
    dx = nan_like(shape, dtype)
    k.softmax_backward(y_ref, dy, dx)
    close(dx, ref.softmax_backward(y_ref, dy, axis=1), dtype, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_large_logits_are_stable(dtype):
    x = np.array(
        [[1000.0, 0.0, -1000.0, 999.0], [-1e4, -1e4, -1e4, -1e4], [88.0, 89.0, 90.0, -90.0]], dtype
    ).T.reshape(1, 4, 3)
    y = nan_like(x.shape, dtype)
    k.softmax_forward(x, y)
    assert np.isfinite(y).all(), y
    close(y, ref.softmax(x, axis=1), dtype)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)

    dy = np.arange(12, dtype=dtype).reshape(x.shape)
    dx = nan_like(x.shape, dtype)
    k.softmax_backward(y, dy, dx)
    assert np.isfinite(dx).all(), dx
    close(dx, ref.softmax_backward(y, dy, axis=1), dtype, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 5, 1), (3, 1, 2)])
def test_log_softmax_forward_and_backward(shape, dtype):
    rng = np.random.default_rng(12)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    y = nan_like(shape, dtype)
    k.log_softmax_forward(x, y)
    close(
        y,
        ref.log_softmax(x, axis=1),
        dtype,
        rtol=1e-5 if dtype == np.float32 else 1e-12,
        atol=2e-6 if dtype == np.float32 else 1e-13,
    )

    dy = rng.standard_normal(shape).astype(dtype)
    y_ref = ref.log_softmax(x, axis=1).astype(dtype)
    dx = nan_like(shape, dtype)
    k.log_softmax_backward(y_ref, dy, dx)
    close(dx, ref.log_softmax_backward(y_ref, dy, axis=1), dtype, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_large_logits_are_finite(dtype):
    x = np.array([1000.0, 0.0, -1000.0, 999.0], dtype).reshape(1, 4, 1)
    y = nan_like(x.shape, dtype)
    k.log_softmax_forward(x, y)
    assert np.isfinite(y).all(), y
    close(y, ref.log_softmax(x, axis=1), dtype, rtol=1e-6, atol=1e-6)
    dx = nan_like(x.shape, dtype)
    k.log_softmax_backward(y, np.ones_like(x), dx)
    assert np.isfinite(dx).all(), dx
    close(dx, ref.log_softmax_backward(y, np.ones_like(x), axis=1), dtype, rtol=1e-5, atol=1e-6)


# -- reductions -------------------------------------------------------------------------------

AXES = [(0,), (1,), (2,), (0, 2), (1, 2), (0, 1, 2)]


def kept(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axes", AXES, ids=str)
@pytest.mark.parametrize("kind", ["sum", "mean", "max"])
def test_reduce_forward(kind, axes, dtype):
    x = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(dtype)
    out = nan_like(kept(x.shape, axes), dtype)
    getattr(k, f"{kind}_forward")(x, axes, out)
    expected = getattr(ref, f"reduce_{kind}")(x, axes, keepdims=True)
    close(out, expected, dtype, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axes", AXES, ids=str)
def test_broadcast_scaled(axes, dtype):
    shape = (2, 3, 4)
    dy = np.random.default_rng(4).standard_normal(kept(shape, axes)).astype(dtype)
    dx = nan_like(shape, dtype)
    k.broadcast_scaled(dy, 0.25, dx)
    expected = np.empty(shape)
    for i in np.ndindex(*shape):
        expected[i] = 0.25 * dy[tuple(0 if a in axes else j for a, j in enumerate(i))]
    close(dx, expected, dtype)


MAX_TIES = [
    # two-way, three-way, all-equal and no ties along axis 1
    (np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, 0.0, -1.0], [-4.0, -4.0, -7.0]]), (1,)),
    # ties spread over several reduced axes
    (np.array([[[1.0, 4.0], [4.0, 0.0]], [[4.0, 4.0], [2.0, 3.0]]]), (0, 1, 2)),
    (np.array([[[1.0, 4.0], [4.0, 0.0]], [[4.0, 4.0], [2.0, 3.0]]]), (0, 2)),
    (np.array([[[1.0, 4.0], [4.0, 0.0]], [[4.0, 4.0], [2.0, 3.0]]]), (0,)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x,axes", MAX_TIES, ids=["rows", "all", "outer", "axis0"])
def test_max_backward_shares_ties_equally(x, axes, dtype):
    x = x.astype(dtype)
    y = ref.reduce_max(x, axes, keepdims=True).astype(dtype)
    dy = (np.arange(y.size).reshape(y.shape) + 1.5).astype(dtype)
    dx = nan_like(x.shape, dtype)
    k.max_backward(x, y, dy, dx)
    close(dx, ref.reduce_max_backward(x, dy, axes), dtype)


# -- gather / scatter-add ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("id_dtype", [np.int64, np.int32])
def test_gather_forward_and_backward_with_repeated_ids(id_dtype, dtype):
    rng = np.random.default_rng(5)
    table = rng.standard_normal((5, 3)).astype(dtype)
    ids = np.array([[0, 2, 2], [4, 0, 2]], id_dtype)
    out = nan_like(ids.shape + (3,), dtype)
    k.gather_forward(table, ids, out)
    close(out, ref.gather(table, ids), dtype)

    dy = rng.standard_normal(ids.shape + (3,)).astype(dtype)
    dtable = nan_like(table.shape, dtype)
    k.gather_backward(ids, dy, dtable)
    close(dtable, ref.scatter_add(ids, dy, 5), dtype)
    np.testing.assert_array_equal(dtable[[1, 3]], 0.0)  # rows never looked up get nothing

    flat = nan_like(table.shape, dtype)  # the documented flattened form: ids (M,), dy (M, D)
    k.gather_backward(ids.reshape(-1), dy.reshape(-1, 3), flat)
    close(flat, ref.scatter_add(ids, dy, 5), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("id_dtype", [np.int64, np.int32])
def test_one_hot_with_out_of_range_ids(id_dtype, dtype):
    ids = np.array([[0, 3, 3], [-1, 4, 1]], id_dtype)  # -1 and 4 fall outside [0, 4)
    out = nan_like(ids.shape + (4,), dtype)
    k.one_hot(ids, out)
    np.testing.assert_array_equal(out, ref.one_hot(ids, 4))
    assert out.dtype == dtype


# -- un-broadcast, matmul ---------------------------------------------------------------------

SUM_TO = [(3, 4), (1, 4), (3, 1), (2, 1, 4), (1, 3, 1), (1, 1, 1), (4,), (1,), (), (2, 3, 4)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SUM_TO, ids=str)
def test_sum_to(shape, dtype):
    x = np.random.default_rng(6).standard_normal((2, 3, 4)).astype(dtype)
    out = nan_like(shape, dtype)
    k.sum_to(x, out)
    close(out, ref.sum_to(x, shape), dtype, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


MATMUL = [((2, 3), (3, 4)), ((2, 2, 3), (3, 4)), ((3, 2), (2, 2, 4)), ((2, 1, 2, 3), (3, 3, 2))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb", MATMUL, ids=str)
def test_matmul(sa, sb, dtype):
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    expected = ref.matmul(a, b)
    out = nan_like(expected.shape, dtype)
    k.matmul(a, b, out)
    close(out, expected, dtype, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_at_b(dtype):
    rng = np.random.default_rng(8)
    a, g = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((5, 2)).astype(dtype)
    out = nan_like((3, 2), dtype)
    k.matmul_at_b(a, g, out)
    close(out, ref.matmul(a.T, g), dtype, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


DENSE_ACTIVATIONS = {
    "linear": lambda v: v,
    "relu": ref.relu,
    "sigmoid": ref.sigmoid,
    "tanh": ref.tanh,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", sorted(DENSE_ACTIVATIONS))
@pytest.mark.parametrize("shape", [(1, 8, 16), (3, 5, 1), (64, 32, 16)], ids=str)
def test_dense_forward(shape, activation, dtype):
    """The fused Dense forward on both of its paths: one Numba loop for tiny products (the first
    two shapes), BLAS then the bias/activation pass beyond SMALL_DENSE multiply-adds."""
    m, kk, n = shape
    assert (m * kk * n <= SMALL_DENSE) == (m < 64)
    rng = np.random.default_rng(9)
    x, w = rng.standard_normal((m, kk)).astype(dtype), rng.standard_normal((kk, n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    for bias in (b, None):
        out = nan_like((m, n), dtype)
        k.dense_forward(x, w, bias, activation, out)
        z = ref.matmul(x, w) + (0 if bias is None else bias)
        expected = DENSE_ACTIVATIONS[activation](z)
        close(out, expected, dtype, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


# -- binary elementwise -----------------------------------------------------------------------

BINARY = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
    "maximum": lambda a, b: a if a >= b else b,
    "minimum": lambda a, b: a if a <= b else b,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_broadcasting(name, dtype):
    a = np.array([[1.5, -2.0, 0.25], [3.0, 0.5, -1.0]], dtype)
    b = np.array([0.5, -2.0, 4.0], dtype)
    out = nan_like((2, 3), dtype)
    getattr(k, name)(a, b, out)
    expected = np.array(
        [[BINARY[name](float(a[i, j]), float(b[j])) for j in range(3)] for i in range(2)]
    )
    close(out, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_greater_equal_and_fill(dtype):
    a = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]], dtype)
    out = nan_like((2, 3), dtype)
    k.greater_equal(a, np.array([1.0, 3.0, 2.0], dtype), out)
    np.testing.assert_array_equal(out, [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    assert out.dtype == dtype
    k.fill(2.5, out)
    np.testing.assert_array_equal(out, np.full((2, 3), 2.5))


# -- data movement ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_copy_cast_transpose_broadcast(dtype):
    x = np.arange(24, dtype=dtype).reshape(2, 3, 4) - 7.5
    out = nan_like((4, 6), dtype)
    k.copy(x, out)
    np.testing.assert_array_equal(out.ravel(), x.ravel())

    other = np.float64 if dtype == np.float32 else np.float32
    out = nan_like(x.shape, other)
    k.cast(x, out)
    np.testing.assert_array_equal(out, x.astype(other))

    out = nan_like((4, 2, 3), dtype)
    k.transpose(x, (2, 0, 1), out)
    for i, j, m in np.ndindex(2, 3, 4):
        assert out[m, i, j] == x[i, j, m]

    out = nan_like((2, 3, 4), dtype)
    k.broadcast_to(x[0, :, :1], out)
    for i, j, m in np.ndindex(2, 3, 4):
        assert out[i, j, m] == x[0, j, 0]


GETITEM_KEYS = [
    (slice(None), 1),
    (Ellipsis, slice(None, None, 2)),
    (1, slice(1, None), None),
    (slice(None), slice(None, None, -1), -1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("key", GETITEM_KEYS, ids=str)
def test_getitem_and_backward(key, dtype):
    x = np.arange(24, dtype=dtype).reshape(2, 3, 4) * 0.5
    expected = x[key]
    out = nan_like(expected.shape, dtype)
    k.getitem(x, key, out)
    np.testing.assert_array_equal(out, expected)

    dy = np.arange(1, expected.size + 1, dtype=dtype).reshape(expected.shape)
    dx = nan_like(x.shape, dtype)
    k.getitem_backward(dy, key, dx)
    # the adjoint of a selection: <x[key], dy> == <x, dx> for every x, and dx is 0 off the key
    probe = np.random.default_rng(9).standard_normal(x.shape)
    np.testing.assert_allclose(np.sum(probe[key] * dy), np.sum(probe * dx), rtol=1e-6)
    mask = np.zeros(x.shape, bool)
    mask[key] = True
    np.testing.assert_array_equal(dx[~mask], 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_concatenate_and_split(axis, dtype):
    rng = np.random.default_rng(10)
    shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
    for s, n in zip(shapes, (1, 2, 3)):
        s[axis] = n
    xs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    total = sum(s[axis] for s in shapes)
    out_shape = list(shapes[0])
    out_shape[axis] = total
    out = nan_like(tuple(out_shape), dtype)
    k.concatenate(xs, axis, out)
    start = 0
    for x in xs:
        sl = [slice(None)] * 3
        sl[axis] = slice(start, start + x.shape[axis])
        np.testing.assert_array_equal(out[tuple(sl)], x)
        start += x.shape[axis]

    parts = [nan_like(x.shape, dtype) for x in xs]
    k.split(out, axis, parts)
    for p, x in zip(parts, xs):
        np.testing.assert_array_equal(p, x)
