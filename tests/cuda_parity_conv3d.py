"""CUDA kernels of the 3-D convolution and pooling family against the CPU kernels, in Numba's CUDA
simulator (run by test_cuda.py with NUMBA_ENABLE_CUDASIM=1; shapes are tiny). The rank-2 forms
(conv2d_*, *_pool2d_*) are tests/cuda_parity.py's."""

import numpy as np
import pytest

import cuda_device  # noqa: F401  (the simulator or a GPU)

import graphengine as ge  # noqa: E402
import graphengine_kernels.cpu as cpu  # noqa: E402
from cuda_parity import DTYPES, Backend, check, rand  # noqa: E402


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    return Backend(request.param)


# (x shape, kernel shape, groups, strides, dilation, pads, output spatial shape); every product
# within one GEMM tile (the simulator runs each tile's threads in Python)
CONV_GEOMETRIES = [
    ((1, 3, 3, 2, 2), (2, 2, 2, 2, 3), 1, (1, 1, 1), (1, 1, 1), (0, 0, 0), (2, 2, 1)),
    ((1, 3, 3, 4, 4), (2, 1, 2, 2, 4), 2, (2, 1, 2), (1, 1, 1), (1, 0, 1), (2, 3, 2)),
    ((1, 4, 3, 3, 2), (2, 2, 1, 2, 2), 1, (1, 1, 1), (2, 1, 1), (1, 0, 0), (3, 2, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", CONV_GEOMETRIES, ids=["valid", "grouped_strided", "dilated"])
def test_conv3d(device, dtype, geometry):
    xs, ws, groups, strides, dilation, pads, out = geometry
    x, w = rand(*xs, dtype=dtype), rand(*ws, dtype=dtype, seed=1)
    b = rand(ws[-1], dtype=dtype, seed=2)
    y = np.zeros((xs[0], *out, ws[-1]), dtype)
    cols = np.zeros((groups, xs[0] * int(np.prod(out)), int(np.prod(ws[:4]))), dtype)
    geo = (strides, dilation, pads)
    check(device, "conv3d_forward", x, w, b, "relu", *geo, cols, y)
    dz = rand(*y.shape, dtype=dtype, seed=3)
    # as an input gradient, and as a transposed convolution's output pass (bias and activation)
    check(device, "conv3d_backward_input", dz, w, None, "linear", *geo, cols, np.zeros_like(x))
    check(device, "conv3d_backward_input", dz, w, b[: xs[-1]], "tanh", *geo, cols,
          np.zeros_like(x))  # fmt: skip
    check(device, "conv3d_backward_weight", x, *geo, cols, dz, np.zeros_like(w))


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv3d_1x1x1_without_columns(device, dtype):
    x, w = rand(2, 2, 3, 2, 3, dtype=dtype), rand(1, 1, 1, 3, 4, dtype=dtype, seed=1)
    b, one, zero = rand(4, dtype=dtype, seed=2), (1, 1, 1), (0, 0, 0)
    y = np.zeros((2, 2, 3, 2, 4), dtype)
    check(device, "conv3d_forward", x, w, b, "sigmoid", one, one, zero, None, y)
    dz = rand(*y.shape, dtype=dtype, seed=3)
    check(device, "conv3d_backward_input", dz, w, None, "linear", one, one, zero, None,
          np.zeros_like(x))  # fmt: skip
    check(device, "conv3d_backward_weight", x, one, one, zero, None, dz, np.zeros_like(w))


# (x shape, pool size, strides, pads, output spatial shape)
POOL_GEOMETRIES = [
    ((2, 4, 5, 3, 2), (2, 2, 2), (2, 2, 2), (0, 0, 0), (2, 2, 1)),
    ((1, 4, 5, 3, 2), (3, 2, 3), (2, 1, 2), (1, 0, 1), (2, 4, 2)),
    ((1, 3, 4, 3, 2), (2, 3, 2), (1, 1, 1), (0, 1, 0), (2, 4, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", POOL_GEOMETRIES, ids=["valid", "same_asym", "overlap"])
def test_pool3d(device, dtype, geometry):
    xs, pool, strides, pads, out = geometry
    x = rand(*xs, dtype=dtype)
    x[:, :2, :2] = 0.5  # ties: the first maximum in (d, h, w) order wins on both devices
    y, argmax = np.zeros((xs[0], *out, xs[-1]), dtype), np.zeros((xs[0], *out, xs[-1]), "int32")
    geo = (pool, strides, pads)
    check(device, "max_pool3d_forward", x, *geo, y, argmax)
    check(device, "avg_pool3d_forward", x, *geo, y)
    cpu.max_pool3d_forward(x, *geo, y.copy(), argmax)
    dy = rand(*y.shape, dtype=dtype, seed=3)
    check(device, "max_pool3d_backward", dy, argmax, np.zeros_like(x))
    check(device, "avg_pool3d_backward", dy, *geo, np.zeros_like(x))


def test_3d_model_matches_cpu():
    """Conv3D (fused relu), Conv3DTranspose, both poolings and SpatialDropout3D at inference:
    predictions and every gradient on cuda as on cpu."""
    L = ge.layers
    x = ge.Input(shape=(3, 3, 2, 1), dtype="float64")
    h = L.Conv3D(2, 2, padding="same", activation="relu", dtype="float64")(x)
    h = L.SpatialDropout3D(0.5, dtype="float64")(h)
    h = L.MaxPooling3D((2, 2, 1), dtype="float64")(h)
    h = L.Conv3DTranspose(2, 2, strides=2, dtype="float64")(h)
    model = ge.Model(x, L.AveragePooling3D(3, padding="same", dtype="float64")(h))
    xv = rand(1, 3, 3, 2, 1, dtype="float64")
    cot = rand(*model(xv).shape, dtype="float64", seed=5)
    results = {}
    for name in ("cpu", "cuda"):
        with ge.device(name):
            dx, dw = model.vjp(xv, cot)
            results[name] = [model(xv), dx[0], *dw]
    for a, b in zip(results["cpu"], results["cuda"]):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)
