"""The random image layers (RandomFlip, RandomRotation, RandomZoom, RandomTranslation,
RandomCrop) and their affine sampling: a naive NumPy sampler for every interpolation and fill
mode, the drawn transforms' ranges, seeding and reproducibility, identity at inference, float64
gradients in training, errors. Keras's numbers for fixed draws are in test_image_layers.py."""

import numpy as np
import pytest

import graphengine as ge
import graphengine_kernels.cpu as cpu
from gradcheck import check_model_grads
from layer_harness import run_layer_test
from test_image_layers import ref_resize

L = ge.layers
FILLS = ["constant", "nearest", "wrap", "mirror", "reflect"]


def fold(i, n, mode):
    """The input index out-of-range index i reads, by walking the reflections one at a time."""
    if mode == "nearest":
        return min(max(i, 0), n - 1)
    if mode == "wrap":
        return i % n
    while not 0 <= i < n:
        if n == 1:
            return 0
        if mode == "reflect":  # d c b a | a b c d | d c b a
            i = -i - 1 if i < 0 else 2 * n - 1 - i
        else:  # mirror: d c b | a b c d | c b a
            i = -i if i < 0 else 2 * (n - 1) - i
    return i


def ref_affine(x, t, interpolation, fill_mode, fill_value, out_hw=None):
    n, h, w, c = x.shape
    oh, ow = out_hw or (h, w)
    y = np.zeros((n, oh, ow, c))
    for b in range(n):
        a0, a1, a2, b0, b1, b2 = t[b]
        for i in range(oh):
            for j in range(ow):
                px, py = a0 * j + a1 * i + a2, b0 * j + b1 * i + b2
                if interpolation == "nearest":
                    taps = [(int(np.round(py)), int(np.round(px)), 1.0)]
                else:
                    r, s = int(np.floor(py)), int(np.floor(px))
                    fy, fx = py - r, px - s
                    taps = [(r + da, s + db, (fy if da else 1 - fy) * (fx if db else 1 - fx))
                            for da in (0, 1) for db in (0, 1)]  # fmt: skip
                for r, s, wt in taps:
                    inside = 0 <= r < h and 0 <= s < w
                    if fill_mode == "constant" and not inside:
                        y[b, i, j] += wt * fill_value
                    else:
                        y[b, i, j] += wt * x[b, fold(r, h, fill_mode), fold(s, w, fill_mode)]
    return y


@pytest.mark.parametrize("fill_mode", FILLS)
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_affine_sampling_and_its_adjoint(fill_mode, interpolation):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 5, 2))
    t = np.array([[0.9, -0.6, 1.3, 0.7, 1.1, -2.2], [-1.2, 0.3, 7.4, 0.2, 1.6, 3.1]])
    y = np.zeros((2, 3, 6, 2))
    cpu.affine_transform(x, t, interpolation, fill_mode, 0.25, y)
    np.testing.assert_allclose(y, ref_affine(x, t, interpolation, fill_mode, 0.25, (3, 6)))
    dy, dx = rng.standard_normal(y.shape), np.zeros_like(x)
    cpu.affine_transform_backward(dy, t, interpolation, fill_mode, dx)
    no_fill = np.zeros_like(y)  # the adjoint: <A x, dy> = <x, A^T dy> for the linear part
    cpu.affine_transform(x, t, interpolation, fill_mode, 0.0, no_fill)
    np.testing.assert_allclose(np.sum(no_fill * dy), np.sum(x * dx))


# -- one layer per random kind: identity at inference, gradients through a fixed draw ------------
FIXED = [
    (L.RandomRotation, {"factor": (0.1, 0.1)}),
    (L.RandomRotation, {"factor": (-0.2, -0.2), "fill_mode": "constant", "fill_value": 1.5}),
    (L.RandomZoom, {"height_factor": (0.3, 0.3), "width_factor": (-0.4, -0.4),
                    "fill_mode": "wrap"}),
    (L.RandomZoom, {"height_factor": (-0.5, -0.5), "fill_mode": "nearest"}),
    (L.RandomTranslation, {"height_factor": (0.3, 0.3), "width_factor": (-0.35, -0.35)}),
    (L.RandomTranslation, {"height_factor": (-1, -1), "width_factor": (0.2, 0.2),
                           "interpolation": "nearest", "fill_mode": "constant"}),
]  # fmt: skip


@pytest.mark.parametrize("layer, kwargs", FIXED, ids=lambda v: str(v)[:40])
def test_fixed_draws_in_training(layer, kwargs):
    """The harness at inference (identity, config, eager == model), then float64 gradients in
    training, where the degenerate factor fixes the transform; and a NumPy reference of it."""
    built = run_layer_test(layer, kwargs, (2, 4, 5, 2), expected_output_shape=(2, 4, 5, 2),
                           reference=lambda x, w: x)  # fmt: skip
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 2))
    model = ge.Model(built.input, built.output)
    check_model_grads(model, x, training=True)
    fixed = built.draw(np.random.default_rng(), 2, 4, 5)
    want = ref_affine(x, fixed, built.interpolation, built.fill_mode,
                      built.fill_value)  # fmt: skip
    np.testing.assert_allclose(model(x, training=True), want, rtol=1e-10, atol=1e-12)


def test_augmentation_after_trainable_layers_trains():
    """A trainable layer below an augmentation gets its gradient through it (in training)."""
    ge.utils.set_random_seed(0)
    x = ge.Input((5, 5, 1), dtype="float64")
    h = L.Conv2D(2, 3, padding="same", dtype="float64")(x)
    h = L.RandomRotation((0.05, 0.05), dtype="float64")(h)
    h = L.RandomZoom((0.2, 0.2), fill_mode="constant", dtype="float64")(h)
    out = L.Dense(1, dtype="float64")(L.Flatten(dtype="float64")(h))
    model = ge.Model(x, out)
    data = np.random.default_rng(1).standard_normal((2, 5, 5, 1))
    check_model_grads(model, data, training=True)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(data, np.ones((2, 1)), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


# -- the draws -------------------------------------------------------------------------------------
def test_drawn_transforms_respect_their_ranges():
    rng, n = np.random.default_rng(0), 2000
    t = L.RandomRotation((-0.1, 0.25)).draw(rng, n, 6, 8)
    turns = np.arctan2(t[:, 3], t[:, 0]) / (2 * np.pi)
    assert -0.1 <= turns.min() < -0.09 and 0.24 < turns.max() <= 0.25
    t = L.RandomZoom(0.5, width_factor=(0.1, 0.2)).draw(rng, n, 6, 8)
    assert 0.5 <= t[:, 4].min() < 0.51 and 1.49 < t[:, 4].max() <= 1.5
    assert 1.1 <= t[:, 0].min() < 1.11 and 1.19 < t[:, 0].max() <= 1.2
    t = L.RandomZoom((0.1, 0.3)).draw(rng, n, 6, 8)
    np.testing.assert_array_equal(t[:, 0], t[:, 4])  # no width_factor: the aspect ratio kept
    t = L.RandomTranslation(0.5, (-0.25, 0.0)).draw(rng, n, 6, 8)
    down, right = -t[:, 5], -t[:, 2]  # the content moves by (right, down) pixels
    assert -3 <= down.min() < -2.9 and 2.9 < down.max() <= 3
    assert -2 <= right.min() < -1.9 and -0.1 < right.max() <= 0
    flips = L.RandomFlip("horizontal").draw(rng, n, 6, 8)[:, 0] < 0
    assert 0.45 < flips.mean() < 0.55


def test_flips_are_mirror_images():
    x = np.random.default_rng(2).standard_normal((400, 3, 4, 1)).astype("float32")
    for mode, axes in [("horizontal", (2,)), ("vertical", (1,)), ("horizontal_and_vertical",
                                                                  (1, 2))]:  # fmt: skip
        y = L.RandomFlip(mode, seed=4)(x, training=True)
        flipped = np.all(y == np.flip(x, axes), axis=(1, 2, 3))
        assert np.all(flipped | np.all(y == x, axis=(1, 2, 3))), mode  # all or nothing, as Keras
        assert 0.4 < flipped.mean() < 0.6, mode


def test_random_crop_windows():
    x = np.arange(2 * 5 * 6, dtype="float64").reshape(2, 5, 6, 1)
    layer = L.RandomCrop(3, 2, seed=0, dtype="float64")
    seen = set()
    for _ in range(200):
        y = layer(x, training=True)
        top, left = divmod(int(y[0, 0, 0, 0]), 6)
        np.testing.assert_array_equal(y, x[:, top : top + 3, left : left + 2])  # one per batch
        seen.add((top, left))
    assert seen == {(t, c) for t in range(3) for c in range(5)}
    # inference (and training on an image not larger): the centred aspect window, resized
    run_layer_test(L.RandomCrop, {"height": 4, "width": 2}, (1, 3, 5, 1),
                   expected_output_shape=(1, 4, 2, 1),
                   reference=lambda x, w: ref_resize(x[:, :, 2:3], 4, 2, "bilinear"))  # fmt: skip
    small = np.random.default_rng(0).standard_normal((1, 3, 5, 1))
    np.testing.assert_allclose(L.RandomCrop(4, 2, dtype="float64")(small, training=True),
                               ref_resize(small[:, :, 2:3], 4, 2, "bilinear"))  # fmt: skip


def test_random_crop_gradient_lands_in_the_window():
    x = np.random.default_rng(0).standard_normal((2, 5, 6, 1))
    inp = ge.Input((5, 6, 1), dtype="float64")
    layer = L.RandomCrop(2, 3, seed=9, dtype="float64")
    model = ge.Model(inp, layer(inp))
    dy = np.random.default_rng(1).standard_normal((2, 2, 3, 1))
    state = layer._rng.bit_generator.state  # the same window for the forward call and the vjp
    y = model(x, training=True)
    layer._rng.bit_generator.state = state
    (dx,), _ = model.vjp(x, dy, training=True)
    top, left = [
        (t, c) for t in range(4) for c in range(4) if np.all(x[:, t : t + 2, c : c + 3] == y)
    ][0]
    want = np.zeros_like(x)
    want[:, top : top + 2, left : left + 3] = dy
    np.testing.assert_array_equal(dx, want)


@pytest.mark.parametrize(
    "make",
    [
        lambda s: L.RandomFlip(seed=s),
        lambda s: L.RandomRotation(0.5, seed=s),
        lambda s: L.RandomZoom(0.3, seed=s),
        lambda s: L.RandomTranslation(0.3, 0.3, seed=s),
        lambda s: L.RandomCrop(2, 3, seed=s),
    ],
)
def test_seeding_inference_and_fresh_draws(make):
    x = np.random.default_rng(5).standard_normal((6, 4, 5, 2)).astype("float32")
    x[1:] = x[0]  # the same image six times: different draws show as different outputs
    a, b = make(11), make(11)
    first = a(x, training=True)
    np.testing.assert_array_equal(first, b(x, training=True))  # same seed, same draws
    assert not np.array_equal(first, a(x, training=True))  # a fresh draw on every call
    if first.shape == x.shape:
        assert len({y.tobytes() for y in first}) > 1  # one draw per image
        np.testing.assert_array_equal(a(x, training=False), x)  # inference: unchanged
        assert not np.array_equal(a(x), x)  # a bare eager call augments, as Keras's
        inp = ge.Input((4, 5, 2))
        np.testing.assert_array_equal(ge.Model(inp, make(None)(inp)).predict(x, verbose=0), x)
    runs = []  # unseeded layers follow the global seed, eager and compiled
    for _ in range(2):
        ge.utils.set_random_seed(7)
        inp = ge.Input((4, 5, 2))
        model = ge.Model(inp, make(None)(inp))
        runs.append((make(None)(x, training=True), model(x, training=True)))
    for got, want in zip(runs[1], runs[0]):
        np.testing.assert_array_equal(got, want)


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L.RandomFlip("diagonal"), r"RandomFlip .*mode must be one of 'horizontal', "
         r"'vertical', 'horizontal_and_vertical', got mode='diagonal'"),
        (lambda: L.RandomRotation(1.5), r"RandomRotation .*factor must be a number or a pair"
         r".*factor=1.5"),
        (lambda: L.RandomRotation((2, 3)), r"factor=\(2, 3\)"),
        (lambda: L.RandomRotation(0.1, fill_mode="mirror"), r"fill_mode must be one of "
         r"'reflect', 'wrap', 'constant', 'nearest', got fill_mode='mirror'"),
        (lambda: L.RandomRotation(0.1, interpolation="bicubic"), r"interpolation must be one "
         r"of 'nearest', 'bilinear'"),
        (lambda: L.RandomZoom(-1.0), r"RandomZoom .*height_factor must be a number or a pair "
         r"of numbers in \(-1.0, 1.0\], got height_factor=-1.0"),
        (lambda: L.RandomZoom(0.2, width_factor=(0.1, 0.2, 0.3)), r"width_factor="),
        (lambda: L.RandomTranslation(0.2, None), r"RandomTranslation .*width_factor must be a "
         r"number .*\[-1.0, 1.0\], got width_factor=None"),
        (lambda: L.RandomTranslation(1.2, 0.1), r"height_factor=1.2"),
        (lambda: L.RandomCrop(0, 2), r"RandomCrop .*\(height, width\) must be a positive"),
        (lambda: L.RandomFlip(data_format="channels_first"), r"only data_format='channels_las"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_seed_and_rank():
    with pytest.raises(TypeError, match=r"RandomZoom .*seed must be an int or None, got 1.5"):
        L.RandomZoom(0.1, seed=1.5)
    with pytest.raises(ValueError, match=r"random_flip_rank.*ndim"):
        L.RandomFlip(name="random_flip_rank")(ge.Input((4, 3)))
