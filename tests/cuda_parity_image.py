"""The image resampling kernels on CUDA against the CPU (kernels/{cpu,cuda}/image.py), and a
model of the random image layers trained one step on both devices. Run by test_cuda.py in the
simulator; shapes are tiny."""

import numpy as np
import pytest

import graphengine as ge
from cuda_parity import DTYPES, check, device, rand  # noqa: F401 (device: the fixture)
from graphengine.ops.image import resize_taps

FILLS = ["constant", "nearest", "wrap", "mirror", "reflect"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_resize(device, dtype, interpolation):  # noqa: F811
    x = rand(2, 3, 4, 2, dtype=dtype)
    rows = resize_taps(3, 5, 0, interpolation, dtype)
    cols = resize_taps(2, 3, 1, interpolation, dtype)  # a crop: columns 1 and 2 of 4
    check(device, "resize_forward", x, *rows, *cols, np.zeros((2, 5, 3, 2), dtype))
    dy = rand(2, 5, 3, 2, dtype=dtype, seed=1)
    check(device, "resize_backward", dy, *rows, *cols, np.full(x.shape, np.nan, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_affine_transform(device, dtype, interpolation):  # noqa: F811
    x = rand(2, 3, 4, 2, dtype=dtype)
    t = np.array([[0.9, -0.6, 1.33, 0.7, 1.1, -2.23], [-1.2, 0.3, 5.41, 0.2, 1.6, 3.17]], dtype)
    dy = rand(2, 4, 3, 2, dtype=dtype, seed=2)
    for fill_mode in FILLS:
        check(device, "affine_transform", x, t, interpolation, fill_mode, 0.5,
              np.zeros((2, 4, 3, 2), dtype))  # fmt: skip
        check(device, "affine_transform_backward", dy, t, interpolation, fill_mode,
              np.full(x.shape, np.nan, dtype))  # fmt: skip


def _augmented_model():
    ge.utils.set_random_seed(5)
    x = ge.Input((6, 6, 1))
    h = ge.layers.Conv2D(2, 3, padding="same", use_bias=False)(x)
    h = ge.layers.RandomFlip(seed=1)(h)
    h = ge.layers.RandomRotation(0.1, seed=2)(h)
    h = ge.layers.RandomZoom(0.2, fill_mode="constant", seed=3)(h)
    h = ge.layers.RandomTranslation(0.2, 0.1, fill_mode="wrap", seed=4)(h)
    h = ge.layers.RandomCrop(4, 5, seed=5)(h)
    h = ge.layers.UpSampling2D(interpolation="bilinear")(h)
    h = ge.layers.Resizing(3, 3)(h)
    return ge.Model(x, ge.layers.Dense(1)(ge.layers.Flatten()(h)))


def test_augmented_model_trains_the_same_on_both_devices():
    """Seeded draws are made on the host, so both devices see the same transforms."""
    x, y = rand(4, 6, 6, 1, dtype="float32"), rand(4, 1, dtype="float32", seed=3)
    results = {}
    for name in ("cpu", "cuda"):
        model = _augmented_model()
        model.compile(optimizer="sgd", loss="mse", device=name)
        loss = model.train_on_batch(x, y)
        with ge.device(name):
            results[name] = (loss, model.get_weights(), model.predict(x, verbose=0))
    (l0, w0, p0), (l1, w1, p1) = results["cpu"], results["cuda"]
    np.testing.assert_allclose(l1, l0, rtol=1e-4)
    for a, b in zip(w0 + [p0], w1 + [p1]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
