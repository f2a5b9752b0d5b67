"""The second-wave activation, RReLU and group-normalization kernels: CUDA against the CPU, in
Numba's CUDA simulator (run by test_cuda.py with every cuda_parity*.py); shapes are tiny."""

import numpy as np
import pytest

import cuda_device  # noqa: F401  (the simulator or a GPU)

import graphengine as ge  # noqa: E402
import graphengine_kernels.cpu as cpu  # noqa: E402
from cuda_parity import DTYPES, Backend, check, rand  # noqa: E402


@pytest.fixture
def device():
    return Backend("cuda")  # against the CPU, which check() runs as the reference


# kernel kind -> its parameters
KINDS = {
    "relu6": (), "step": (), "sign_ste": (), "hard_silu": (), "mish": (), "celu": (0.7,),
    "soft_shrink": (0.5,), "hard_shrink": (0.4,), "squareplus": (2.0,), "threshold": (0.3, -2.0),
    "hard_tanh": (), "log_sigmoid": (), "sparse_plus": (), "sparse_sigmoid": (),
    "tanh_shrink": (),
}  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
def test_activations(device, dtype):
    x = rand(9, dtype=dtype, low=-7.0, high=7.0)
    x[:3] = [np.nan, np.inf, -np.inf]
    y, dy, out = rand(9, dtype=dtype, seed=1), rand(9, dtype=dtype, seed=2), np.zeros_like(x)
    for kind, params in KINDS.items():
        check(device, f"{kind}_forward", x, *params, out)
        check(device, f"{kind}_backward", x, y, dy, *params, out)


@pytest.mark.parametrize("act", ["relu6", "step"])
def test_fused_rows(device, act):
    y = rand(4, 3, dtype="float32", low=-8.0, high=8.0)
    bias = rand(3, dtype="float32", seed=1)
    check(device, "bias_activation", y, bias, act)
    dy = rand(4, 3, dtype="float32", seed=2)
    check(device, "bias_activation_backward", y, dy, act, np.zeros_like(y), np.zeros(3, "float32"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_rrelu(device, dtype):
    x = rand(3, 5, dtype=dtype)
    check(device, "rrelu_forward", x, 0.125, 1 / 3, np.random.default_rng(), x * 0, x * 0)
    check(device, "rrelu_inference", x, 0.25, np.full_like(x, np.nan), x * 0)


# channels last, channels in the middle (float64), one group per row (RMS normalization's view)
@pytest.mark.parametrize(
    "view, groups, dtype",
    [((2, 3, 4, 1), 2, "float32"), ((2, 2, 6, 3), 3, "float64"), ((3, 1, 5, 1), 1, "float64")],
)
def test_group_normalization(device, view, groups, dtype):
    x, c, n = rand(*view, dtype=dtype), view[2], view[0]
    gamma, beta = rand(c, dtype=dtype, seed=1), rand(c, dtype=dtype, seed=2)
    dy = rand(*view, dtype=dtype, seed=3)
    for centered in (True, False):
        stats = [np.zeros((n, groups), dtype), np.zeros((n, groups), dtype)]
        check(device, "groupnorm_forward", x, gamma, beta, 1e-3, centered, x * 0, *stats)
        cpu.groupnorm_forward(x, gamma, beta, 1e-3, centered, x * 0, *stats)
        check(device, "groupnorm_backward", x, dy, *stats, gamma, centered, x * 0,
              gamma * 0, gamma * 0)  # fmt: skip


def test_fused_batch_norm_relu_on_the_device_matches_the_cpu():
    """A plan fuses BatchNormalization -> ReLU (runtime/fusion.py) on either device."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3, 3, 2)).astype("float32")
    inp = ge.Input(shape=(3, 3, 2))
    model = ge.Model(inp, ge.layers.ReLU()(ge.layers.BatchNormalization()(inp)))
    cot = rng.standard_normal(x.shape).astype("float32")
    results = {}
    for name in ("cpu", "cuda"):  # inference first: a training pass moves the moving statistics
        with ge.device(name):
            results[name] = [model(x)]
    for name in ("cpu", "cuda"):
        with ge.device(name):
            dx, dw = model.vjp(x, cot, training=True)
            results[name] += [dx[0], *dw]
    for got, expected in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
