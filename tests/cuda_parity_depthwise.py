"""The depthwise convolution's CUDA kernels against the CPU kernels, and a depthwise / separable
model trained on both, in Numba's CUDA simulator (run by tests/test_cuda.py); shapes are tiny."""

import numpy as np
import pytest

import graphengine as ge
from cuda_parity import DTYPES, Backend, check, rand


@pytest.fixture(params=["cpu", "cuda"])
def backend(request):
    return Backend(request.param)


# (x shape, kernel shape, strides, dilation, pads, output shape)
GEOMETRIES = [
    ((2, 5, 4, 2), (3, 2, 2, 2), (2, 1), (1, 2), (1, 1), (2, 3, 3, 4)),
    ((1, 1, 6, 3), (1, 3, 3, 1), (1, 2), (1, 1), (0, 1), (1, 1, 3, 3)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geo", GEOMETRIES, ids=["2d_dm2_strided_dilated", "1d_view_same"])
def test_depthwise_kernels(backend, dtype, geo):
    xs, ws, strides, dilation, pads, ys = geo
    x, w = rand(*xs, dtype=dtype), rand(*ws, dtype=dtype, seed=1)
    b, dz = rand(ys[-1], dtype=dtype, seed=2), rand(*ys, dtype=dtype, seed=3)
    geometry = (strides, dilation, pads)
    check(backend, "depthwise_conv2d_forward", x, w, b, "relu", *geometry, np.zeros(ys, dtype))
    check(backend, "depthwise_conv2d_forward", x, w, None, "tanh", *geometry, np.zeros(ys, dtype))
    check(backend, "depthwise_conv2d_backward_input", dz, w, *geometry, np.zeros_like(x))
    check(backend, "depthwise_conv2d_backward_weight", x, dz, *geometry, np.zeros_like(w))


def _model():
    ge.utils.set_random_seed(5)
    inp = ge.Input(shape=(5, 5, 2))
    h = ge.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu")(inp)
    h = ge.layers.SeparableConv2D(3, 2, strides=2, activation="sigmoid")(h)
    h = ge.layers.DepthwiseConv1D(2, use_bias=False)(ge.layers.Reshape((4, 3))(h))
    return ge.Model(inp, ge.layers.Dense(2)(ge.layers.Flatten()(h)))


def test_depthwise_model_matches_cpu():
    """The same predictions and, after one train_on_batch, the same weights on cuda as on cpu."""
    x = rand(3, 5, 5, 2, dtype="float32")
    y = np.array([0, 1, 1])
    results = {}
    for name in ("cpu", "cuda"):
        model = _model()
        model.compile(
            optimizer=ge.optimizers.SGD(0.1),
            loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
            device=name,
        )
        with ge.device(name):
            before = model.predict(x, verbose=0)
        loss = model.train_on_batch(x, y)
        results[name] = (before, loss, model.get_weights())
    (p0, l0, w0), (p1, l1, w1) = results["cpu"], results["cuda"]
    np.testing.assert_allclose(p1, p0, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(l1, l0, rtol=1e-4)
    assert len(w0) == len(w1) == 8
    for a, b in zip(w0, w1):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    assert not np.allclose(w0[0], _model().get_weights()[0])  # the step changed weights
