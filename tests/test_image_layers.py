"""The resampling, padding and cropping layers and the deterministic image preprocessing layers
(UpSampling, ZeroPadding, Cropping, Resizing, CenterCrop, Rescaling): Keras 3 reference numbers
(tests/keras_reference/image.json, the random layers' cases included), naive NumPy references
through the layer harness, float64 gradient checks, errors, saving."""

import os

import numpy as np
import pytest

import graphengine as ge
from helpers import REF_DIR, check_keras_case, keras_cases
from layer_harness import run_layer_test

L = ge.layers
KERAS = np.load(os.path.join(REF_DIR, "image.npz"))
LAYERS = ["UpSampling1D", "UpSampling2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D",
          "Cropping2D", "Resizing", "CenterCrop", "Rescaling", "RandomRotation", "RandomZoom",
          "RandomTranslation", "RandomCrop"]  # fmt: skip


@pytest.mark.parametrize("case", keras_cases(LAYERS, "image"), ids=lambda c: c["id"])
def test_matches_keras(case):
    check_keras_case(case, KERAS)


# -- naive NumPy references ------------------------------------------------------------------------
def ref_resize(x, oh, ow, interpolation):
    """PyTorch's interpolate (align_corners=False), one output cell at a time."""
    n, h, w, c = x.shape
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            if interpolation == "nearest":
                si = min(int(np.floor((i + 0.5) * np.float32(h / oh))), h - 1)
                sj = min(int(np.floor((j + 0.5) * np.float32(w / ow))), w - 1)
                y[:, i, j] = x[:, si, sj]
                continue
            ri, rj = max((i + 0.5) * h / oh - 0.5, 0.0), max((j + 0.5) * w / ow - 0.5, 0.0)
            i0, j0 = int(ri), int(rj)
            i1, j1 = min(i0 + 1, h - 1), min(j0 + 1, w - 1)
            a, b = ri - i0, rj - j0
            y[:, i, j] = (1 - a) * ((1 - b) * x[:, i0, j0] + b * x[:, i0, j1]) + a * (
                (1 - b) * x[:, i1, j0] + b * x[:, i1, j1]
            )
    return y


def test_upsampling1d():
    run_layer_test(L.UpSampling1D, {"size": 3}, (2, 4, 3), expected_output_shape=(2, 12, 3),
                   reference=lambda x, w: np.repeat(x, 3, axis=1))  # fmt: skip


@pytest.mark.parametrize("size, interpolation", [((2, 3), "nearest"), ((3, 2), "bilinear")])
def test_upsampling2d(size, interpolation):
    def reference(x, w):
        if interpolation == "nearest":
            return np.repeat(np.repeat(x, size[0], axis=1), size[1], axis=2)
        return ref_resize(x, 3 * size[0], 4 * size[1], "bilinear")

    run_layer_test(
        L.UpSampling2D,
        {"size": size, "interpolation": interpolation},
        (1, 3, 4, 2),
        expected_output_shape=(1, 3 * size[0], 4 * size[1], 2),
        reference=reference,
    )


@pytest.mark.parametrize(
    "layer, kwargs, shape, widths",
    [
        (L.ZeroPadding1D, {"padding": (2, 0)}, (2, 3, 2), ((0, 0), (2, 0), (0, 0))),
        (L.ZeroPadding2D, {"padding": 1}, (1, 2, 3, 2), ((0, 0), (1, 1), (1, 1), (0, 0))),
        (L.ZeroPadding2D, {"padding": ((0, 2), (3, 1))}, (2, 2, 2, 1),
         ((0, 0), (0, 2), (3, 1), (0, 0))),
    ],
)  # fmt: skip
def test_zero_padding(layer, kwargs, shape, widths):
    out = tuple(d + sum(p) for d, p in zip(shape, widths))
    run_layer_test(layer, kwargs, shape, expected_output_shape=out,
                   reference=lambda x, w: np.pad(x, widths))  # fmt: skip


@pytest.mark.parametrize(
    "layer, kwargs, shape, key",
    [
        (L.Cropping1D, {"cropping": 2}, (2, 5, 2), np.s_[:, 2:3]),
        (L.Cropping2D, {"cropping": (1, 0)}, (2, 4, 3, 2), np.s_[:, 1:3, :]),
        (L.Cropping2D, {"cropping": ((0, 2), (1, 1))}, (1, 4, 4, 1), np.s_[:, 0:2, 1:3]),
    ],
)
def test_cropping(layer, kwargs, shape, key):
    out = np.zeros(shape)[key].shape
    run_layer_test(layer, kwargs, shape, expected_output_shape=out,
                   reference=lambda x, w: x[key])  # fmt: skip


@pytest.mark.parametrize("size, interpolation", [((5, 2), "bilinear"), ((3, 7), "nearest")])
def test_resizing(size, interpolation):
    run_layer_test(
        L.Resizing,
        {"height": size[0], "width": size[1], "interpolation": interpolation},
        (1, 4, 5, 2),
        expected_output_shape=(1, *size, 2),
        reference=lambda x, w: ref_resize(x, *size, interpolation),
    )


def test_resizing_to_aspect_ratio_crops_and_pads():
    x = np.random.default_rng(1).standard_normal((1, 4, 8, 1))
    cropped = L.Resizing(2, 2, crop_to_aspect_ratio=True, dtype="float64")(x)
    np.testing.assert_allclose(cropped, ref_resize(x[:, :, 2:6], 2, 2, "bilinear"))
    padded = L.Resizing(3, 3, pad_to_aspect_ratio=True, fill_value=7.0, dtype="float64")(x)
    framed = np.pad(x, ((0, 0), (2, 2), (0, 0), (0, 0)), constant_values=7.0)
    np.testing.assert_allclose(padded, ref_resize(framed, 3, 3, "bilinear"))
    run_layer_test(L.Resizing, {"height": 3, "width": 3, "pad_to_aspect_ratio": True},
                   (1, 2, 4, 1), expected_output_shape=(1, 3, 3, 1))  # fmt: skip


def test_center_crop_crops_or_resizes():
    run_layer_test(L.CenterCrop, {"height": 2, "width": 3}, (2, 5, 6, 2),
                   expected_output_shape=(2, 2, 3, 2),
                   reference=lambda x, w: x[:, 1:3, 1:4])  # fmt: skip
    run_layer_test(L.CenterCrop, {"height": 4, "width": 2}, (1, 3, 5, 1),
                   expected_output_shape=(1, 4, 2, 1),
                   reference=lambda x, w: ref_resize(x[:, :, 2:3], 4, 2, "bilinear"))  # fmt: skip


def test_rescaling():
    run_layer_test(L.Rescaling, {"scale": [0.5, -2.0], "offset": 1.0}, (2, 3, 2),
                   reference=lambda x, w: x * np.array([0.5, -2.0]) + 1.0)  # fmt: skip
    pixels = np.array([[0, 128, 255]], dtype="uint8")
    out = L.Rescaling(1 / 255)(pixels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, pixels / 255, rtol=1e-6)


def test_nan_and_inf_spread_as_in_pytorch():
    """A non-finite input reaches the cells that read it (a zero-weight tap too, as torch)."""
    x = np.zeros((1, 2, 2, 1), "float32")
    x[0, 1, 1, 0] = np.inf
    y = L.Resizing(4, 4)(x)[0, :, :, 0]
    assert np.isnan(y[0]).all() and np.isnan(y[:, 0]).all()  # 0 * inf: torch's numbers
    assert np.isposinf(y[1:, 1:]).all()
    y = L.Resizing(4, 4, interpolation="nearest")(x)[0, :, :, 0]
    assert np.isinf(y[2:, 2:]).all() and (y[:2] == 0).all()


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L.UpSampling1D(size=0), r"UpSampling1D .*size must be a positive int.* got 0"),
        (lambda: L.UpSampling2D(size=(2, 2, 2)), r"size must be a positive int or a tuple of 2"),
        (lambda: L.UpSampling2D(interpolation="bicubic"), r"interpolation must be 'nearest' or "
         r"'bilinear'.*'bicubic'"),
        (lambda: L.UpSampling2D(data_format="channels_first"), r"only data_format='channels_"),
        (lambda: L.ZeroPadding1D(padding=-1), r"ZeroPadding1D .*padding must be a non-negative"),
        (lambda: L.ZeroPadding2D(padding=(1, 2, 3)), r"padding must be an int, a tuple of 2 ints"
         r" or a tuple of 2 tuples.*\(1, 2, 3\)"),
        (lambda: L.ZeroPadding2D(padding=((1, 2), (3,))), r"padding\[1\] must be a non-negative"),
        (lambda: L.Cropping2D(cropping="1"), r"Cropping2D .*cropping must be an int"),
        (lambda: L.Cropping2D(data_format="channels_first"), r"only data_format='channels_last"),
        (lambda: L.Resizing(2, 2, interpolation="bicubic"), r"Resizing .*interpolation must be "
         r"one of 'bilinear', 'nearest', got interpolation='bicubic'"),
        (lambda: L.Resizing(2, 2, interpolation="lanczos3"), r"'bilinear', 'nearest'"),
        (lambda: L.Resizing(0, 2), r"Resizing .*\(height, width\) must be a positive int"),
        (lambda: L.Resizing(2, 2, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True),
         r"only one of crop_to_aspect_ratio and pad_to_aspect_ratio"),
        (lambda: L.Resizing(2, 2, fill_mode="reflect"), r"fill_mode must be one of 'constant'"),
        (lambda: L.Resizing(2, 2, antialias=True), r"antialias=True is not supported"),
        (lambda: L.CenterCrop(2, -1), r"CenterCrop .*\(height, width\) must be a positive"),
        (lambda: L.Rescaling("half"), r"Rescaling .*scale must be a number or a list"),
        (lambda: L.Rescaling(1.0, offset=[[1.0]]), r"offset must be a number or a list"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_impossible_shapes_name_the_layer():
    with pytest.raises(ValueError, match=r"Cropping1D .*leaves nothing of axis 1 \(size 4\)"):
        L.Cropping1D((2, 2))(ge.Input((4, 3)))
    with pytest.raises(ValueError, match=r"Cropping2D .*leaves nothing of axis 2 \(size 3\)"):
        L.Cropping2D(((0, 0), (1, 2)))(np.zeros((1, 4, 3, 1)))
    with pytest.raises(ValueError, match=r"up_sampling2d.*expected ndim=4|ndim"):
        L.UpSampling2D(name="up_sampling2d_bad")(ge.Input((4, 3)))
    with pytest.raises(ValueError, match=r"CenterCrop .*height and width must be known"):
        L.CenterCrop(2, 2)(ge.Input((None, None, 3)))
    with pytest.raises(ValueError, match=r"UpSampling2D .*needs a known height and width"):
        L.UpSampling2D(interpolation="bilinear")(ge.Input((None, 4, 3)))


# -- saving ----------------------------------------------------------------------------------------
def test_save_and_load_round_trip(tmp_path):
    x = ge.Input((6, 6, 2))
    h = L.ZeroPadding2D(((1, 0), (0, 1)))(x)
    h = L.Cropping2D(((0, 1), (1, 0)))(h)
    h = L.UpSampling2D(interpolation="bilinear")(h)
    h = L.Resizing(9, 7, crop_to_aspect_ratio=True)(h)
    h = L.CenterCrop(5, 5)(h)
    h = L.Rescaling([2.0, 0.5], offset=-1.0)(h)
    h = L.RandomRotation(0.2, seed=3)(h)
    h = L.RandomFlip("horizontal", seed=2)(L.RandomZoom(0.1, (0.2, 0.3))(h))
    h = L.RandomTranslation(0.1, 0.2, fill_mode="wrap", interpolation="nearest")(h)
    h = L.RandomCrop(4, 3, seed=1)(h)
    h = L.Reshape((4, 6))(h)
    h = L.Cropping1D(1)(L.ZeroPadding1D(2)(L.UpSampling1D(2)(h)))
    model = ge.Model(x, h)
    path = str(tmp_path / "image.gez")
    model.save(path)
    loaded = ge.models.load_model(path)
    data = np.random.default_rng(0).standard_normal((2, 6, 6, 2)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    assert [layer.get_config() for layer in loaded.layers] == [
        layer.get_config() for layer in model.layers
    ]
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
