"""CUDA kernels against the CPU kernels, in Numba's CUDA simulator (run by test_cuda.py in a
subprocess with NUMBA_ENABLE_CUDASIM=1: the simulator is process-global) or on a GPU (run by
benchmarks/gpu_check.sh); shapes are tiny."""

import contextlib
import inspect

import numpy as np
import pytest
from cuda_device import SIMULATOR
from numba import cuda

import graphengine as ge
import graphengine_kernels.cpu as cpu
import graphengine_kernels.cuda as gpu

DTYPES = ["float32", "float64"]


class Backend:
    """A kernel module plus how arrays reach it and come back."""

    def __init__(self, name):
        self.name, self.k = name, {"cpu": cpu, "cuda": gpu}[name]

    def put(self, a):
        # a real device copies contiguous arrays only
        return cuda.to_device(np.ascontiguousarray(a)) if self.name == "cuda" else a.copy()

    def get(self, a):
        return a.copy_to_host() if self.name == "cuda" else a


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    return Backend(request.param)


def _seeded(a):
    return np.random.default_rng(7) if isinstance(a, np.random.Generator) else a


def check(device, name, *args, rtol=None):
    """Runs kernel `name` on `device` and on the CPU from the same inputs; every array argument
    (kernels write in place), every array in a list argument, and the return value must agree."""
    rtol = rtol or 1e-4

    def arrays(a):  # a list of arrays (concatenate's inputs, split's outputs)
        return isinstance(a, list) and all(isinstance(v, np.ndarray) for v in a)

    ref = [[v.copy() for v in a] if arrays(a) else a.copy() if isinstance(a, np.ndarray)
           else _seeded(a) for a in args]  # fmt: skip
    mine = [[device.put(v) for v in a] if arrays(a) else device.put(a)
            if isinstance(a, np.ndarray) else _seeded(a) for a in args]  # fmt: skip
    expected = getattr(cpu, name)(*ref)
    got = getattr(device.k, name)(*mine)
    if expected is not None:
        np.testing.assert_allclose(got, expected, rtol=rtol, err_msg=name)
    for i, (r, m) in enumerate(zip(ref, mine)):
        pairs = zip(r, m) if arrays(r) else [(r, m)]
        for j, (r_j, m_j) in enumerate(pairs):
            if isinstance(r_j, np.ndarray):
                got_j = device.get(m_j)
                np.testing.assert_allclose(
                    got_j, r_j, rtol=rtol, atol=1e-6, err_msg=f"{name} {i}.{j}"
                )


def rand(*shape, dtype="float64", seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed + len(shape)).uniform(low, high, shape).astype(dtype)


def test_same_names_and_signatures():
    """graphengine_kernels.cuda exports every public kernel of graphengine_kernels.cpu with the same
    parameters."""
    for name in sorted(n for n in dir(cpu) if not n.startswith("_")):
        f = getattr(cpu, name)
        if not callable(f) or not getattr(f, "__module__", "").startswith(
            "graphengine_kernels.cpu"
        ):
            continue
        assert hasattr(gpu, name), name
        want = inspect.signature(getattr(f, "py_func", f)).parameters
        assert list(inspect.signature(getattr(gpu, name)).parameters) == list(want), name


UNARY = ["sigmoid", "tanh", "selu", "gelu", "gelu_tanh", "softplus", "softsign", "swish",
         "hard_sigmoid", "exp", "log", "sqrt", "square", "abs"]  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
def test_activations(device, dtype):
    x = rand(7, dtype=dtype, low=0.1)
    y, dy, out = rand(7, dtype=dtype, seed=1, low=0.5), rand(7, dtype=dtype, seed=2), x * 0
    for kind in UNARY:
        check(device, f"{kind}_forward", x, out)
        check(device, f"{kind}_backward", x, y, dy, out)
    xs = rand(7, dtype=dtype)
    check(device, "relu_forward", xs, 0.1, 1.5, 0.0, out)
    check(device, "relu_backward", xs, y, dy, 0.1, 1.5, 0.0, out)
    check(device, "elu_forward", xs, 1.0, out)
    check(device, "elu_backward", xs, y, dy, 1.0, out)
    check(device, "clip_forward", xs, -1.0, 1.0, out)
    check(device, "clip_backward", xs, y, dy, -1.0, 1.0, out)


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_and_shape(device, dtype):
    a, b = rand(2, 3, 4, dtype=dtype), rand(3, 1, dtype=dtype, seed=3)
    out = np.zeros((2, 3, 4), dtype)
    for name in ["add", "subtract", "multiply", "divide", "maximum", "minimum", "greater_equal",
                 "greater", "less_equal", "less", "equal", "not_equal"]:  # fmt: skip
        check(device, name, a, b, out)
    check(device, "fill", 2.5, out)
    check(device, "copy", a, np.zeros((6, 4), dtype))
    check(device, "cast", a, np.zeros((2, 3, 4), "float32"))
    check(device, "transpose", a, (2, 0, 1), np.zeros((4, 2, 3), dtype))
    check(device, "broadcast_to", b, np.zeros((2, 3, 4), dtype))
    check(device, "sum_to", a, np.zeros((3, 1), dtype))
    check(device, "getitem", a, (1, slice(0, 3, 2), None), np.zeros((2, 1, 4), dtype))
    check(device, "getitem_backward", rand(2, 1, 4, dtype=dtype), (1, slice(0, 3, 2), None), a)
    check(device, "concatenate", [a, a[:, :1]], 1, np.zeros((2, 4, 4), dtype))
    check(device, "split", a, 1, [np.zeros((2, 1, 4), dtype), np.zeros((2, 2, 4), dtype)])
    whole = device.put(a)
    for view, want in ((whole[:, 1:, :], a[:, 1:, :]), (whole[1, :, 1:3], a[1, :, 1:3])):
        out = device.put(np.zeros(want.shape, dtype))  # copies of views with strides not C's
        device.k.copy(view, out)
        np.testing.assert_array_equal(device.get(out), want)
    host = device.k.to_host(device.put(a))
    np.testing.assert_array_equal(host, a)
    target = device.put(np.zeros_like(a))
    device.k.from_host(a * 2, target)
    np.testing.assert_array_equal(device.get(target), a * 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reduce_softmax_matmul(device, dtype):
    x = rand(2, 3, 4, dtype=dtype)
    check(device, "sum_forward", x, (0, 2), np.zeros((1, 3, 1), dtype))
    check(device, "mean_forward", x, (1,), np.zeros((2, 1, 4), dtype))
    check(device, "max_forward", x, (2,), np.zeros((2, 3, 1), dtype))
    check(device, "broadcast_scaled", rand(2, 1, 4, dtype=dtype), 0.5, np.zeros_like(x))
    xt = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], dtype)
    check(device, "max_backward", xt, xt.max(1, keepdims=True), np.ones((2, 1), dtype),
          np.zeros_like(xt))  # fmt: skip
    for name in ["softmax", "log_softmax"]:
        y = np.zeros_like(x)
        check(device, f"{name}_forward", x, y)
        cpu_y = np.zeros_like(x)
        getattr(cpu, f"{name}_forward")(x, cpu_y)
        check(device, f"{name}_backward", cpu_y, rand(2, 3, 4, dtype=dtype, seed=5), y)
    check(device, "matmul", rand(5, 3, dtype=dtype), rand(3, 6, dtype=dtype, seed=4),
          np.zeros((5, 6), dtype))  # fmt: skip
    check(device, "matmul", rand(2, 2, 3, dtype=dtype), rand(3, 2, dtype=dtype, seed=4),
          np.zeros((2, 2, 2), dtype))  # fmt: skip
    check(device, "matmul_at_b", rand(5, 3, dtype=dtype), rand(5, 2, dtype=dtype, seed=4),
          np.zeros((3, 2), dtype))  # fmt: skip
    for act, bias in [("relu", rand(6, dtype=dtype, seed=6)), ("tanh", None)]:
        check(device, "dense_forward", rand(5, 3, dtype=dtype), rand(3, 6, dtype=dtype, seed=4),
              bias, act, np.zeros((5, 6), dtype))  # fmt: skip


def test_indexing(device):
    table, ids = rand(5, 3), np.array([[0, 4], [2, 2]], np.int64)
    check(device, "gather_forward", table, ids, np.zeros((2, 2, 3)))
    check(device, "gather_backward", ids.reshape(-1), rand(4, 3), np.zeros((5, 3)))
    check(device, "one_hot", np.array([1, 0, 3]), np.zeros((3, 3), "float32"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_keras_ops_kernels(device, dtype):
    """The kernels behind ge.ops's keras.ops names: sign, power, where, min, prod, argmax,
    argmin, cumsum, take and pad."""
    x, y = rand(2, 3, 4, dtype=dtype), rand(3, 1, dtype=dtype, seed=3)
    xs = np.concatenate([x.reshape(-1)[:-3], np.array([0.0, -0.0, np.nan], dtype)])
    check(device, "sign_forward", xs, np.zeros_like(xs))
    check(device, "sign_backward", xs, xs, xs, np.ones_like(xs))
    check(device, "power", np.abs(x) + 0.5, y, np.zeros_like(x))
    check(device, "where", x > 0, x, y, np.zeros_like(x))
    mask = np.array([1.0, 0.0, np.nan, 2.0], dtype)  # nonzero (NaN too) selects the first
    check(device, "where", mask, np.array(1.5, dtype), rand(4, dtype=dtype), np.zeros(4, dtype))
    check(device, "min_forward", x, (0, 2), np.zeros((1, 3, 1), dtype))
    check(device, "prod_forward", x, (1,), np.zeros((2, 1, 4), dtype))
    xz = x.copy()
    xz[0, 1, :2] = 0.0  # zeros: the gradient of the others' product, not y / x
    check(device, "prod_backward", xz, rand(2, 1, 4, dtype=dtype, seed=5), (1,), np.zeros_like(x))
    check(device, "prod_backward", xz, rand(1, 3, 1, dtype=dtype, seed=5), (0, 2), np.zeros_like(x))
    ties = np.array([[1, 3, 3, np.nan, 5], [2, 2, -1, -1, 0]], dtype).reshape(1, 2, 5)
    for name in ("argmax_forward", "argmin_forward"):
        check(device, name, x, np.zeros((2, 4), "int32"))
        check(device, name, ties.transpose(0, 2, 1).copy(), np.zeros((1, 2), "int32"))
    for reverse in (False, True):
        check(device, "cumsum_forward", x, reverse, np.zeros_like(x))
    check(device, "cumsum_forward", np.arange(6, dtype="int32").reshape(1, 6, 1), False,
          np.zeros((1, 6, 1), "int32"))  # fmt: skip
    ids = np.array([0, 3, 3, -1, 1, -4], np.int64)  # repeats and negatives
    check(device, "take_forward", x, ids[:4] % 3, np.zeros((2, 4, 4), dtype))
    check(device, "take_forward", x.reshape(1, 24, 1), ids, np.zeros((1, 6, 1), dtype))
    dx4 = np.zeros((2, 4, 4), dtype)
    check(device, "take_backward", ids, rand(2, 6, 4, dtype=dtype, seed=6), dx4)
    check(device, "take_backward", ids % 3, rand(2, 6, 4, dtype=dtype, seed=7), np.zeros_like(x))
    pads = ((1, 0), (2, 3), (0, 5))
    for mode in ("constant", "edge", "reflect", "symmetric", "wrap"):
        check(device, "pad_forward", x, pads, mode, 1.5, np.zeros((3, 8, 9), dtype))
        check(device, "pad_backward", rand(3, 8, 9, dtype=dtype, seed=8), pads, mode,
              np.zeros_like(x))  # fmt: skip


def test_keras_ops_graph_matches_cpu():
    """A graph of the keras.ops names, its predictions and input gradients, on cuda as on cpu."""
    ops = ge.ops
    x = ge.Input(shape=(3, 4), dtype="float64")
    ids = ge.Input(shape=(2,), dtype="int32")
    h = ops.einsum("bij,bkj->bik", x, ops.pad(x, ((0, 0), (1, 1), (0, 0)), mode="reflect"))
    h = ops.where(ops.greater(h, 0.0), h, ops.power(ops.abs(h) + 1.0, 0.5))
    m = x * ops.one_hot(ops.argmax(x, axis=-1), 4, dtype="float64")
    h = ops.concatenate([h, ops.take(m, np.array([3, 0, 3]), axis=2)], axis=-1)
    h = ops.cumsum(ops.tile(h, (1, 1, 2)), axis=1) * ops.prod(ops.sign(x) + 2.0, axis=-1)[..., None]
    out = ops.stack(ops.split(ops.min(h, axis=2), 3, axis=1), axis=-1) + ops.sum(
        ops.take(x, ids, axis=1), axis=(1, 2, 3))[:, None, None]  # fmt: skip
    model = ge.Model([x, ids], ops.stop_gradient(out) + out)
    xv = rand(2, 3, 4, dtype="float64")
    idv = np.array([[0, 2], [1, -1]], "int32")
    cot = rand(2, 1, 3, dtype="float64", seed=3)
    results = {}
    for name in ("cpu", "cuda"):
        with ge.device(name):
            results[name] = (model([xv, idv]), model.vjp([xv, idv], cot)[0][0])
    for a, b in zip(results["cpu"], results["cuda"]):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_and_pooling(device, dtype):
    """The 3-D kernels on 2-D shapes (a depth-1 axis), as the rank-1 and rank-2 layers run them;
    tests/cuda_parity_conv3d.py has the 3-D geometries."""
    x, w = rand(2, 1, 5, 4, 2, dtype=dtype), rand(1, 3, 2, 2, 4, dtype=dtype, seed=1)
    b = rand(4, dtype=dtype)
    geo = ((1, 2, 1), (1, 1, 2), (0, 1, 1))  # strides, dilation, pads
    y, cols = np.zeros((2, 1, 3, 2, 4), dtype), np.zeros((1, 12, 12), dtype)
    check(device, "conv3d_forward", x, w, b, "relu", *geo, cols, y)
    check(device, "conv3d_forward", x, rand(1, 1, 1, 2, 4, dtype=dtype), None, "tanh",
          (1, 1, 1), (1, 1, 1), (0, 0, 0), None, np.zeros((2, 1, 5, 4, 4), dtype))  # fmt: skip
    g = rand(2, 1, 3, 2, 4, dtype=dtype, seed=2)
    check(device, "conv3d_backward_input", g, w, None, "linear", *geo, cols, np.zeros_like(x))
    check(device, "conv3d_backward_input", g, w, b[:2], "sigmoid", *geo, cols, np.zeros_like(x))
    check(device, "conv3d_backward_weight", x, *geo, cols, g, np.zeros_like(w))
    tile = np.zeros((1, 6, 12), dtype)  # the columns of one image at a time: two tiles
    check(device, "conv3d_forward", x, w, b, "relu", *geo, tile, y)
    check(device, "conv3d_backward_input", g, w, None, "linear", *geo, tile, np.zeros_like(x))
    check(device, "conv3d_backward_weight", x, *geo, tile, g, np.zeros_like(w))
    yy = np.abs(g)
    check(device, "bias_activation_backward", yy, g, "relu", np.zeros_like(g),
          np.zeros(4, dtype))  # fmt: skip
    check(device, "bias_backward", g, np.zeros(4, dtype))
    check(device, "bias_activation", g.reshape(12, 4), b, "sigmoid")
    pool = ((1, 2, 2), (1, 2, 1), (0, 0, 1))
    out = (2, 1, 2, 5, 2)
    check(device, "max_pool3d_forward", x, *pool, np.zeros(out, dtype), np.zeros(out, "int32"))
    check(device, "avg_pool3d_forward", x, *pool, np.zeros(out, dtype))
    argmax = np.zeros(out, "int32")
    cpu.max_pool3d_forward(x, *pool, np.zeros(out, dtype), argmax)
    dy = rand(*out, dtype=dtype, seed=3)
    check(device, "max_pool3d_backward", dy, argmax, np.zeros_like(x))
    check(device, "avg_pool3d_backward", dy, *pool, np.zeros_like(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_normalization(device, dtype):
    x, c = rand(3, 2, 4, dtype=dtype), 2
    stats = [rand(c, dtype=dtype, low=0.5) for _ in range(2)] + [np.zeros(c, dtype)] * 2
    check(device, "batchnorm_training_stats", x, 0.9, 1e-3, *stats)
    check(device, "batchnorm_inference_stats", *stats[:2], 1e-3, *stats[2:])
    mean, inv = x.mean((0, 2)).astype(dtype), (1 / x.std((0, 2))).astype(dtype)
    gamma, beta = rand(c, dtype=dtype, seed=1), rand(c, dtype=dtype, seed=2)
    dy = rand(3, 2, 4, dtype=dtype, seed=3)
    for relu in (False, True):  # a plan's fused BatchNormalization -> ReLU
        check(device, "batchnorm_forward", x, mean, inv, gamma, beta, relu, np.zeros_like(x))
        for batch_stats in (True, False):
            check(device, "batchnorm_backward", x, dy, mean, inv, gamma, beta, batch_stats, relu,
                  np.zeros_like(x), np.zeros(c, dtype), np.zeros(c, dtype))  # fmt: skip
    x2, g2, b2 = rand(3, 5, dtype=dtype), rand(5, dtype=dtype, seed=1), rand(5, dtype=dtype, seed=2)
    check(device, "layernorm_forward", x2, g2, b2, 1e-3, np.zeros_like(x2), np.zeros(3, dtype),
          np.zeros(3, dtype))  # fmt: skip
    m2, i2 = x2.mean(1).astype(dtype), (1 / x2.std(1)).astype(dtype)
    check(device, "layernorm_backward", x2, rand(3, 5, dtype=dtype, seed=4), m2, i2, g2,
          np.zeros_like(x2), np.zeros(5, dtype), np.zeros(5, dtype))  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizers_and_regularization(device, dtype):
    w, g = rand(9, dtype=dtype), rand(9, dtype=dtype, seed=1)
    s = [rand(9, dtype=dtype, low=0.1, seed=i) for i in range(3)]
    check(device, "sgd_update", w, g, s[0], 0.1, 0.9, True, 0.01)
    check(device, "adam_update", w, g, *s, 0.01, 0.9, 0.999, 1e-7, True, 0.0)
    small = s[2] * 0.01  # centered: the mean gradient's square stays below the velocity
    check(device, "rmsprop_update", w, g, s[0], s[1], small, 0.01, 0.9, 0.5, 1e-7, True, 0.0)
    check(device, "adagrad_update", w, g, s[0], 0.01, 1e-7, 0.0)
    check(device, "gradient_sum_of_squares", g)
    check(device, "scale_gradient", g, 0.5)
    check(device, "clip_gradient_by_value", g, 0.5)
    rng = np.random.default_rng(0)  # check() reseeds it identically on both sides
    x, mask = rand(3, 4, dtype=dtype), np.zeros((3, 4), dtype)
    check(device, "dropout_forward", x, 0.3, rng, mask, np.zeros_like(x))
    check(device, "dropout_mask", 0.3, rng, np.zeros((1, 4), dtype))
    check(device, "dropout_apply", x, rand(1, 4, dtype=dtype), np.zeros_like(x))
    check(device, "alpha_dropout_forward", x, 0.3, -1.7, 0.9, 0.1, rng, mask, np.zeros_like(x))
    check(device, "alpha_dropout_mask", 0.3, 0.9, rng, np.zeros((1, 4), dtype))
    check(device, "alpha_dropout_apply", x, rand(1, 4, dtype=dtype), -1.7, 0.2, np.zeros_like(x))
    check(device, "gaussian_dropout_forward", x, 0.5, rng, mask, np.zeros_like(x))
    check(device, "gaussian_noise_forward", x, 0.5, rng, mask, np.zeros_like(x))
    check(device, "dropout_backward", x, rand(3, 1, dtype=dtype), np.zeros_like(x))


def with_nonfinite(draw):
    """draw (rand), with NaN, +inf and -inf at three places of every array of 6 or more."""

    def nonfinite(*shape, seed=0, **kwargs):
        a = draw(*shape, seed=seed, **kwargs)
        flat = a.reshape(-1)
        if flat.size >= 6:
            for k, v in ((1, np.nan), (3, np.inf), (4, -np.inf)):
                flat[(seed * 7 + k) % flat.size] = v
        return a

    return nonfinite


FAMILIES = [test_activations, test_elementwise_and_shape, test_reduce_softmax_matmul,
            test_conv_and_pooling, test_normalization]  # fmt: skip


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN and inf on purpose
@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__[len("test_") :])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nonfinite_inputs_give_the_cpus_results(family, dtype, monkeypatch):
    """The kernel families' cases again with NaN, +inf and -inf among their inputs: the device
    gives the CPU's NaN, infinities and numbers, no NaN turned into a number nor a number into
    NaN. (Found so: clip's gradient multiplied where the CPU selects, and the CPU's running
    batch mean gave NaN where a channel's mean is +-inf.)"""
    monkeypatch.setitem(globals(), "rand", with_nonfinite(rand))
    family(Backend("cuda"), dtype)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizers_with_nonfinite_gradients(dtype):
    """NaN, +inf and -inf gradients through every optimizer update (states finite and
    positive, as a real run's are before such a gradient)."""
    w, g = rand(9, dtype=dtype), with_nonfinite(rand)(9, dtype=dtype, seed=1)
    s = [rand(9, dtype=dtype, low=0.1, seed=i) for i in range(3)]
    cuda_device = Backend("cuda")
    check(cuda_device, "sgd_update", w, g, s[0], 0.1, 0.9, True, 0.01)
    check(cuda_device, "adam_update", w, g, *s, 0.01, 0.9, 0.999, 1e-7, True, 0.0)
    check(cuda_device, "rmsprop_update", w, g, s[0], s[1], s[2] * 0.01, 0.01, 0.9, 0.5, 1e-7,
          True, 0.0)  # fmt: skip
    check(cuda_device, "adagrad_update", w, g, s[0], 0.01, 1e-7, 0.0)
    check(cuda_device, "gradient_sum_of_squares", g)
    check(cuda_device, "clip_gradient_by_value", g, 0.5)


def test_recurrent_kernels(device):
    """Every recurrent kernel through one whole layer each (forward and BPTT), which calls them
    all on realistic saved tensors; CPU against this device at 1e-4."""
    import graphengine.ops.recurrent as rec

    x = rand(2, 3, 2, dtype="float32")
    mask = np.array([[1, 1, 0], [1, 0, 1]], "float32")
    for cell, extra in (("lstm", {}), ("gru", {}), ("gru", {"reset_after": False}),
                        ("simple_rnn", {"recurrent_dropout": 0.3, "dropout": 0.2})):  # fmt: skip
        U, G = 3, rec.GATES[cell] * 3
        op = rec.RecurrentSequence(cell, U, return_sequences=True, has_mask=True, training=True,
                                   **extra)  # fmt: skip
        bias = rand(2, G, seed=3) if cell == "gru" and op.reset_after else rand(G, seed=3)
        ins = {"x": x, "kernel": rand(2, G, seed=1), "recurrent_kernel": rand(U, G, seed=2),
               "bias": bias.astype("float32"), "mask": mask}  # fmt: skip
        ins = [ins[n].astype("float32") for n in op.in_names]
        results = []
        for backend in (Backend("cpu"), device):
            specs = op.infer([a.shape for a in ins], [a.dtype.name for a in ins])
            outs = [backend.put(np.zeros(s, d)) for s, d in specs]
            args = [backend.put(a) for a in ins]
            ctx = ge.ops.base.RunContext(training=True, rng=np.random.default_rng(1))
            op.forward(backend.k, args, outs, ctx)
            saved = dict(zip(op.out_names, outs))
            gop = rec.RecurrentSequenceGrad(op, True, True, cell == "lstm")
            cots = [
                backend.put(rand(*s.shape, dtype="float32", seed=9))
                for s in (saved["y"], saved["h"]) + ((saved["c"],) if cell == "lstm" else ())
            ]
            gins = cots + [args[op.in_names.index("recurrent_kernel")]]
            gins += [saved[n] for n in gop.saved_names] + [args[-1]]
            gspecs = gop.infer([a.shape for a in gins], [a.dtype.name for a in gins])
            gouts = [backend.put(np.zeros(s, d)) for s, d in gspecs]
            gop.forward(backend.k, gins, gouts, ctx)
            results.append([backend.get(a) for a in outs + gouts])
        for name, a, b in zip(op.out_names + gop.out_names, *results):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5, err_msg=f"{cell} {name}")


def _mixed_model(dtype="float32"):
    ge.utils.set_random_seed(3)
    inp = ge.Input(shape=(6, 6, 1), dtype=dtype)
    # no conv bias: before BatchNormalization its true gradient is 0, and Adam would scale the
    # rounding noise of that 0 up to a step of its own (different on every device)
    y = ge.layers.Conv2D(2, 3, padding="same", activation="relu", use_bias=False, dtype=dtype)(inp)
    y = ge.layers.MaxPooling2D(2, dtype=dtype)(y)
    y = ge.layers.BatchNormalization(dtype=dtype)(y)
    y = ge.layers.Reshape((3, 6), dtype=dtype)(y)
    y = ge.layers.LSTM(3, dtype=dtype)(y)
    out = ge.layers.Dense(2, activation="softmax", dtype=dtype)(y)
    return ge.Model(inp, out)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the NaN sample
@pytest.mark.parametrize("dtype", DTYPES)
def test_mixed_model_matches_cpu(dtype):
    """Conv2D, MaxPooling2D, BatchNormalization, LSTM and Dense: the same predictions (of
    samples holding a NaN and an inf too), and the same weights (moving statistics included)
    after one train_on_batch, on cuda as on cpu."""
    x = rand(4, 6, 6, 1, dtype=dtype)
    y = np.array([0, 1, 1, 0])
    x_special = x.copy()
    x_special[0, 2, 3, 0], x_special[1, 0, 5, 0] = np.nan, np.inf
    results = {}
    for name in ("cpu", "cuda"):
        model = _mixed_model(dtype)
        model.compile(optimizer=ge.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                      device=name)  # fmt: skip
        with ge.device(name):
            before = model.predict(x, verbose=0)
            special = model.predict(x_special, verbose=0)
        loss = model.train_on_batch(x, y)
        results[name] = (before, loss, model.get_weights(), model.optimizer.get_weights())
        results[name + " special"] = special
    (p0, l0, w0, o0), (p1, l1, w1, o1) = results["cpu"], results["cuda"]
    assert p0.dtype == p1.dtype == dtype
    np.testing.assert_allclose(p1, p0, rtol=1e-4, atol=1e-6)
    # NaN and inf stay in their samples, the same on both devices
    got, want = results["cuda special"], results["cpu special"]
    assert np.isnan(want[:2]).all() and np.isfinite(want[2:]).all(), want
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(l1, l0, rtol=1e-4)
    assert len(w0) == len(w1) == 10
    for a, b in zip(w0 + o0[1:], w1 + o1[1:]):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    assert not np.allclose(w0[0], _mixed_model(dtype).get_weights()[0])  # the step changed them


@contextlib.contextmanager
def counted_transfers():
    """Counts copies between host and device while in the block: {"to device": n, "to host": n}.
    On a GPU every copy goes through the driver's host_to_device / device_to_host; in the
    simulator through to_device and a device array's copy methods."""
    counts = {"to device": 0, "to host": 0}
    if SIMULATOR:
        from numba.cuda.simulator.cudadrv import devicearray as owner

        patches = [(cuda, "to_device", "to device"), (owner.FakeCUDAArray, "copy_to_device",
                    "to device"), (owner.FakeCUDAArray, "copy_to_host", "to host")]  # fmt: skip
    else:
        from numba.cuda.cudadrv import driver as owner

        patches = [(owner, "host_to_device", "to device"), (owner, "device_to_host", "to host")]

    def counting(f, kind):
        def call(*args, **kwargs):
            counts[kind] += 1
            return f(*args, **kwargs)

        return call

    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    for obj, name, kind in patches:
        setattr(obj, name, counting(getattr(obj, name), kind))
    try:
        yield counts
    finally:
        for obj, name, f in saved:
            setattr(obj, name, f)


def test_a_train_step_copies_only_its_batch_and_its_loss():
    """Weights, optimizer states and every intermediate stay on the device across steps: a
    steady train step copies its inputs and targets to the device and its loss back, nothing
    else (no host round trip per kernel or per weight)."""
    model = _mixed_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", device="cuda")
    x, y = rand(4, 6, 6, 1, dtype="float32"), np.array([0, 1, 1, 0])
    model.train_on_batch(x, y)  # the first step builds the plan and puts the weights there
    with counted_transfers() as counts:
        model.train_on_batch(x, y)
    assert counts == {"to device": 2, "to host": 1}, counts


def test_weights_stay_on_device_and_sync_lazily():
    model = _mixed_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", device="cuda")
    x, y = rand(4, 6, 6, 1, dtype="float32"), np.array([0, 1, 1, 0])
    model.train_on_batch(x, y)
    w = model.layers[-1].weights[0]
    device = ge.runtime.devices.get_device("cuda")
    mirror = w.on_device(device)
    assert mirror is w.on_device(device)  # one mirror, updated in place
    host = w.numpy()
    np.testing.assert_array_equal(host, mirror.copy_to_host())  # synced on read
    w.assign(np.zeros(w.shape, "float32"))  # set_weights path: the mirror follows
    np.testing.assert_array_equal(mirror.copy_to_host(), 0)
