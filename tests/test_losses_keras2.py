"""The hinge, divergence, regression and focal losses, sparse crossentropy's ignore_class, and
loss objects called with sample_weight, against Keras 3's numbers (keras_reference/losses2.*,
made by generate_losses2.py) eagerly and in a graph, plus float64 gradient checks and errors."""

import json
import os

import numpy as np
import pytest
from gradcheck import check_grads, check_model_grads

import graphengine as ge
from graphengine.graph.tensor import SymbolicTensor, graph_mode
from graphengine.training import losses as losses_module

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
with open(os.path.join(REF, "losses2.json")) as f:
    CASES = json.load(f)
NEW_LOSSES = [
    "KLDivergence",
    "Poisson",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "CosineSimilarity",
    "LogCosh",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "BinaryFocalCrossentropy",
    "CategoricalFocalCrossentropy",
]


@pytest.fixture(scope="module")
def ref():
    with np.load(os.path.join(REF, "losses2.npz"), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def case_arrays(case, ref):
    cid = case["id"]
    sw = ref[f"{cid}/sample_weight"] if case["sample_weight"] else None
    return ref[f"{cid}/y_true"], ref[f"{cid}/y_pred"], sw


def symbolic_loss_model(loss, y_true, y_pred, sw):
    """The loss as the trainer builds it: placeholders with an unknown batch, one for the
    sample weights."""
    yt = ge.Input(shape=y_true.shape[1:], dtype=y_true.dtype.name)
    yp = ge.Input(shape=y_pred.shape[1:], dtype=y_pred.dtype.name)
    if sw is None:
        return ge.Model([yt, yp], loss(yt, yp))
    w = ge.Input(shape=sw.shape[1:], dtype=sw.dtype.name)
    return ge.Model([yt, yp, w], loss(yt, yp, sample_weight=w))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_loss_matches_keras_eagerly_and_in_a_graph(case, ref):
    cid = case["id"]
    y_true, y_pred, sw = case_arrays(case, ref)
    loss = getattr(ge.losses, case["loss"])(**case["kwargs"])
    expected = ref[f"{cid}/loss"]
    eager = loss(y_true, y_pred, sample_weight=sw)
    assert np.shape(eager) == expected.shape
    np.testing.assert_allclose(eager, expected, rtol=1e-5, atol=1e-6)
    model = symbolic_loss_model(loss, y_true, y_pred, sw)
    feeds = [y_true, y_pred] + ([] if sw is None else [sw])
    np.testing.assert_allclose(model(feeds), expected, rtol=1e-5, atol=1e-6)
    (_, grad, *_), _ = model.vjp(feeds, ref[f"{cid}/dy"])
    np.testing.assert_allclose(grad, ref[f"{cid}/grad"], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if c["fn"]], ids=lambda c: c["id"])
def test_function_gives_keras_per_sample_values(case, ref):
    y_true, y_pred, _ = case_arrays(case, ref)
    values = getattr(ge.losses, case["fn"])(y_true, y_pred, **case["fn_kwargs"])
    expected = ref[f"{case['id']}/values"]
    assert values.shape == expected.shape
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-6)


def _draw(name, rng, shape=(3, 4)):
    """(y_true, y_pred) in float64 away from every kink (clipping bounds, hinge corners)."""
    if name in ("Hinge", "SquaredHinge"):
        return rng.choice([-1.0, 1.0], shape), rng.uniform(-2.0, 2.0, shape)
    if name in ("CategoricalHinge", "CategoricalFocalCrossentropy"):
        p = rng.uniform(0.1, 1.0, shape)
        return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])], p
    if name == "BinaryFocalCrossentropy":
        return rng.uniform(0.0, 1.0, shape), rng.uniform(0.05, 0.95, shape)
    if name in ("CosineSimilarity", "LogCosh"):
        return rng.standard_normal(shape), rng.standard_normal(shape) * 2
    if name == "MeanAbsolutePercentageError":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape), rng.normal(
            0, 1, shape
        )
    return rng.uniform(0.1, 0.9, shape), rng.uniform(0.1, 2.0, shape)


GRAD_CASES = [(name, {}) for name in NEW_LOSSES] + [
    ("BinaryFocalCrossentropy", {"from_logits": True, "apply_class_balancing": True}),
    ("BinaryFocalCrossentropy", {"gamma": 1.5, "label_smoothing": 0.1}),
    ("CategoricalFocalCrossentropy", {"from_logits": True, "alpha": [0.2, 0.3, 0.4, 0.1]}),
    ("CategoricalFocalCrossentropy", {"gamma": 0.5, "label_smoothing": 0.2}),
    ("CosineSimilarity", {"axis": 0}),
]


@pytest.mark.parametrize(
    "name, kwargs", GRAD_CASES, ids=[f"{n}-{'-'.join(k) or 'default'}" for n, k in GRAD_CASES]
)
def test_new_loss_gradients_float64(name, kwargs):
    rng = np.random.default_rng(len(name) + 7 * len(kwargs))
    y_true, y_pred = _draw(name, rng)
    if kwargs.get("from_logits"):
        y_pred = rng.standard_normal(y_pred.shape) * 2
    loss = getattr(ge.losses, name)(**kwargs)
    check_grads(lambda t, p: loss(t, p), y_true, y_pred)


@pytest.mark.parametrize(
    "name, reduction",
    [
        ("KLDivergence", "mean_with_sample_weight"),
        ("LogCosh", "sum"),
        ("BinaryFocalCrossentropy", "sum_over_batch_size"),
        ("CategoricalHinge", "none"),
    ],
)
def test_sample_weight_gradients_float64(name, reduction):
    """d loss / d (y_true, y_pred, sample_weight) through the weighted reduction."""
    rng = np.random.default_rng(11)
    y_true, y_pred = _draw(name, rng)
    weights = rng.uniform(0.2, 2.0, (3,))
    loss = getattr(ge.losses, name)(reduction=reduction)
    check_grads(lambda t, p, w: loss(t, p, sample_weight=w), y_true, y_pred, weights)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ignore_class", [-1, 0])
def test_ignore_class_gradient_float64(from_logits, ignore_class):
    rng = np.random.default_rng(5)
    ids = np.array([[ignore_class, 2, 1], [3, ignore_class, 0]])
    if ignore_class == 0:
        ids[1, 2] = 2
    pred = rng.standard_normal((2, 3, 4)) if from_logits else rng.uniform(0.1, 1.0, (2, 3, 4))
    weights = rng.uniform(0.5, 2.0, (2,))
    loss = ge.losses.SparseCategoricalCrossentropy(from_logits, ignore_class)
    check_grads(lambda t, p, w: loss(t, p, sample_weight=w), ids, pred, weights)


def test_symbolic_sample_weight_placeholder_trains_a_model():
    """What the trainer builds: in graph mode, a (None,) weight placeholder times a model's
    per-sample loss; the weights and the model's parameters get correct float64 gradients."""
    rng = np.random.default_rng(2)
    x = ge.Input(shape=(3,), dtype="float64")
    logits = ge.layers.Dense(4, dtype="float64")(x)
    ids = ge.Input(shape=(), dtype="int32")
    weights = ge.Input(shape=(), dtype="float64")
    loss = ge.losses.CategoricalFocalCrossentropy(from_logits=True, alpha=0.5)
    with graph_mode():
        placeholder = SymbolicTensor((None,), "float64")
        assert loss(ge.ops.one_hot(ids, 4, dtype="float64"), logits, placeholder).shape == ()
    focal = loss(ge.ops.one_hot(ids, 4, dtype="float64"), logits, sample_weight=weights)
    model = ge.Model([x, ids, weights], focal)
    feeds = [rng.standard_normal((5, 3)), np.array([0, 3, 1, 1, 2]), rng.uniform(0, 2, (5,))]
    check_model_grads(model, feeds)


def test_sparse_crossentropy_ignore_class_masks_like_keras():
    """Ignored entries count 0 and leave the mean; an in-range ignore_class drops that class."""
    probs = np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]], np.float32)
    nll = -np.log(probs[[0, 1], [1, 0]])
    loss = ge.losses.SparseCategoricalCrossentropy(ignore_class=255)
    assert float(loss(np.array([1, 0, 255]), probs)) == pytest.approx(nll.mean(), rel=1e-6)
    loss0 = ge.losses.SparseCategoricalCrossentropy(ignore_class=0)
    assert float(loss0(np.array([1, 0, 0]), probs)) == pytest.approx(nll[0], rel=1e-6)
    summed = ge.losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction="sum")
    assert float(summed(np.array([1, 0, -1]), probs)) == pytest.approx(nll.sum(), rel=1e-6)
    values = ge.losses.sparse_categorical_crossentropy(np.array([1, 0, -1]), probs, ignore_class=-1)
    np.testing.assert_allclose(values, [*nll, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(losses_module.output_mask(values), [1.0, 1.0, 0.0])


def test_ignore_class_entries_hide_nan_kept_ones_do_not():
    probs = np.array([[np.nan, 0.5], [0.3, 0.7]], np.float32)
    loss = ge.losses.SparseCategoricalCrossentropy(ignore_class=-1)
    assert float(loss(np.array([-1, 1]), probs)) == pytest.approx(-np.log(0.7), rel=1e-6)
    assert np.isnan(loss(np.array([0, 1]), probs))
    yt, yp = ge.Input(shape=(), dtype="int64"), ge.Input(shape=(2,))
    model = ge.Model([yt, yp], loss(yt, yp))
    (_, grad), _ = model.vjp([np.array([-1, 1]), probs], np.float32(1.0))
    np.testing.assert_allclose(grad, [[0.0, 0.0], [1.0, 1.0 - 1.0 / 0.7]], rtol=1e-6)


def test_ignore_class_is_let_through_the_class_id_checks():
    probs = np.full((3, 4), 0.25, np.float32)
    with pytest.raises(ValueError, match=r"label 4 at index 1"):
        ge.losses.SparseCategoricalCrossentropy(ignore_class=-1)(np.array([-1, 4, 0]), probs)
    with pytest.raises(ValueError, match=r"label -1 at index 0"):
        ge.losses.SparseCategoricalCrossentropy(ignore_class=255)(np.array([-1, 255, 0]), probs)
    with pytest.raises(TypeError, match=r"ignore_class must be an integer class id.*1.5"):
        ge.losses.SparseCategoricalCrossentropy(ignore_class=1.5)
    assert losses_module.ignored_class(ge.losses.SparseCategoricalCrossentropy()) is None
    wrapped = ge.losses.LossFunctionWrapper(
        ge.losses.sparse_categorical_crossentropy, ignore_class=7
    )
    assert losses_module.ignored_class(wrapped) == 7 and losses_module.class_axis(wrapped) == -1
    loss = ge.losses.SparseCategoricalCrossentropy(ignore_class=255)
    assert losses_module.ignored_class(loss) == 255
    assert losses_module.ignored_class(ge.losses.Hinge()) is None


def test_mask_on_predictions_combines_with_sample_weight_and_ignore_class():
    """A mask on y_pred (as from Embedding(mask_zero=True)) and ignore_class's mask both hold
    entries out; sum_over_batch_size divides by the entries kept by both."""
    rng = np.random.default_rng(9)
    probs = rng.uniform(0.1, 1.0, (2, 3, 4)).astype(np.float32)
    probs /= probs.sum(-1, keepdims=True)
    ids = np.array([[1, -1, 2], [0, 3, 3]], np.int32)
    keep = np.array([[1, 1, 0], [1, 1, 1]], np.float32)
    weights = np.array([0.5, 2.0], np.float32)
    yt = ge.Input(shape=(3,), dtype="int32")
    yp = ge.Input(shape=(3, 4))
    yp.mask = ge.Input(shape=(3,))
    w = ge.Input(shape=())
    both = keep * (ids != -1)
    nll = -np.log(np.take_along_axis(probs, np.maximum(ids, 0)[..., None], -1)[..., 0])
    weighted = nll * both * weights[:, None]
    for reduction, expected in [
        ("sum_over_batch_size", weighted.sum() / both.sum()),
        ("sum", weighted.sum()),
        ("mean_with_sample_weight", weighted.sum() / (both * weights[:, None]).sum()),
    ]:
        loss = ge.losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction=reduction)
        model = ge.Model([yt, yp, yp.mask, w], loss(yt, yp, sample_weight=w))
        value = model([ids, probs, keep, weights])
        assert float(value) == pytest.approx(expected, rel=1e-5), reduction


def test_everything_masked_or_zero_weights_give_zero_not_nan():
    probs = np.full((2, 3), 1.0 / 3.0, np.float32)
    loss = ge.losses.SparseCategoricalCrossentropy(ignore_class=-1)
    assert float(loss(np.array([-1, -1]), probs)) == 0.0
    mwsw = ge.losses.Poisson(reduction="mean_with_sample_weight")
    assert float(mwsw(probs, probs, sample_weight=np.zeros(2, np.float32))) == 0.0


NAMES = {
    "KLDivergence": ["kl_divergence", "kld", "KLD", "kullback_leibler_divergence"],
    "Hinge": ["hinge"],
    "SquaredHinge": ["squared_hinge"],
    "CategoricalHinge": ["categorical_hinge"],
    "CosineSimilarity": ["cosine_similarity"],
    "LogCosh": ["log_cosh", "logcosh"],
    "Poisson": ["poisson"],
    "MeanAbsolutePercentageError": ["mean_absolute_percentage_error", "mape", "MAPE"],
    "MeanSquaredLogarithmicError": ["mean_squared_logarithmic_error", "msle", "MSLE"],
    "BinaryFocalCrossentropy": ["binary_focal_crossentropy"],
    "CategoricalFocalCrossentropy": ["categorical_focal_crossentropy"],
    "BinaryCrossentropy": ["bce", "BCE"],
    "MeanSquaredError": ["MSE"],
}


@pytest.mark.parametrize("cls", sorted(NAMES))
def test_get_knows_every_name_and_class_name(cls):
    for identifier in [cls, *NAMES[cls]]:
        loss = ge.losses.get(identifier)
        assert type(loss).__name__ == cls, identifier


CONFIGS = [
    ("KLDivergence", {"reduction": "sum", "name": "kl"}),
    ("CosineSimilarity", {"axis": 1}),
    ("LogCosh", {"reduction": "mean_with_sample_weight"}),
    (
        "BinaryFocalCrossentropy",
        {"apply_class_balancing": True, "alpha": 0.4, "gamma": 3.0, "from_logits": True},
    ),
    ("CategoricalFocalCrossentropy", {"alpha": [0.1, 0.9], "label_smoothing": 0.1, "axis": 1}),
    ("SparseCategoricalCrossentropy", {"ignore_class": 255, "from_logits": True}),
]


@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=[c for c, _ in CONFIGS])
def test_config_round_trips(cls, kwargs):
    loss = getattr(ge.losses, cls)(**kwargs)
    config = json.loads(json.dumps(loss.get_config()))
    for key, value in kwargs.items():
        assert config[key] == value
    again = ge.losses.get({"class_name": cls, "config": config})
    assert type(again) is type(loss) and again.get_config() == loss.get_config()


def test_default_names_are_keras():
    names = {cls: getattr(ge.losses, cls)().name for cls in NEW_LOSSES}
    assert names == {
        "KLDivergence": "kl_divergence",
        "Poisson": "poisson",
        "Hinge": "hinge",
        "SquaredHinge": "squared_hinge",
        "CategoricalHinge": "categorical_hinge",
        "CosineSimilarity": "cosine_similarity",
        "LogCosh": "log_cosh",
        "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
        "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error",
        "BinaryFocalCrossentropy": "binary_focal_crossentropy",
        "CategoricalFocalCrossentropy": "categorical_focal_crossentropy",
    }


@pytest.mark.parametrize("cls", NEW_LOSSES)
def test_nan_in_predictions_propagates(cls):
    rng = np.random.default_rng(1)
    y_true, y_pred = (a.astype(np.float32) for a in _draw(cls, rng))
    y_pred[1, 2] = np.nan
    values = getattr(ge.losses, cls)(reduction="none")(y_true, y_pred)
    assert np.isnan(values[1]) and not np.isnan(values[0]) and not np.isnan(values[2])
    assert np.isnan(getattr(ge.losses, cls)()(y_true, y_pred))


def test_log_cosh_does_not_overflow():
    error = np.array([[1e4, -1e4, 100.0, -300.0]], np.float32)
    value = ge.losses.log_cosh(np.zeros_like(error), error)
    assert value[0] == pytest.approx(np.mean(np.abs(error)) - np.log(2.0), rel=1e-6)


def test_hinge_converts_only_binary_labels():
    pred = np.array([[0.3, -0.4]], np.float32)
    binary = ge.losses.hinge(np.array([[1.0, 0.0]]), pred)
    signed = ge.losses.hinge(np.array([[1.0, -1.0]]), pred)
    assert binary[0] == pytest.approx(signed[0]) == pytest.approx((0.7 + 0.6) / 2)
    other = ge.losses.hinge(np.array([[2.0, 0.0]]), pred)  # not all in {0, 1}: kept as given
    assert other[0] == pytest.approx((0.4 + 1.0) / 2)


@pytest.mark.parametrize(
    "name",
    [
        "kl_divergence",
        "poisson",
        "hinge",
        "squared_hinge",
        "categorical_hinge",
        "cosine_similarity",
        "log_cosh",
        "mean_absolute_percentage_error",
        "mean_squared_logarithmic_error",
        "binary_focal_crossentropy",
        "categorical_focal_crossentropy",
        "binary_crossentropy",
        "mean_squared_error",
    ],
)
def test_mismatched_shapes_name_the_loss(name):
    with pytest.raises(ValueError, match=rf"{name}: y_true of shape \(4, 3\) does not match "):
        getattr(ge.losses, name)(np.zeros((4, 3), np.float32), np.ones((4, 2), np.float32))
    loss = ge.losses.get(name)
    with pytest.raises(ValueError, match=rf"{name}: y_true of shape \(None, 5\) .* \(None, 2\)"):
        loss(ge.Input((5,)), ge.Input((2,)))


def test_sparse_targets_of_another_batch_are_rejected():
    with pytest.raises(ValueError, match=r"targets of shape \(3,\) do not fit predictions"):
        ge.losses.SparseCategoricalCrossentropy()(np.zeros(3, np.int32), np.ones((4, 2)))


def test_sample_weight_of_the_wrong_length_is_named():
    loss = ge.losses.KLDivergence()
    y = np.full((4, 3), 0.5, np.float32)
    with pytest.raises(ValueError, match=r"'kl_divergence': sample_weight of shape \(3,\) does "):
        loss(y, y, sample_weight=np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"sample_weight of shape \(4, 2\) does not fit .*\(4,"):
        loss(y, y, sample_weight=np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match=r"sample_weight of shape \(None, 3\) does not fit"):
        loss(ge.Input((3,)), ge.Input((3,)), sample_weight=ge.Input((3,)))


def test_per_sample_weight_spreads_over_each_samples_values():
    """(N,) weights on (N, T) values weigh whole samples (Keras 3 would line them up with T)."""
    y_true = np.zeros((2, 3, 1), np.float32)
    y_pred = np.arange(6, dtype=np.float32).reshape(2, 3, 1)
    loss = ge.losses.MeanSquaredError(reduction="sum")
    value = loss(y_true, y_pred, sample_weight=np.array([1.0, 10.0], np.float32))
    assert float(value) == pytest.approx(0 + 1 + 4 + 10 * (9 + 16 + 25))


def test_empty_eager_batch_is_an_error_not_nan():
    with pytest.raises(ValueError, match=r"'hinge': y_pred of shape \(0, 3\) is empty"):
        ge.losses.Hinge()(np.zeros((0, 3)), np.zeros((0, 3)))
    assert ge.losses.Hinge(reduction="none")(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0,)


def test_unknown_reduction_lists_the_keras_ones():
    with pytest.raises(ValueError, match="Unknown reduction 'avg'.*mean_with_sample_weight"):
        ge.losses.Poisson(reduction="avg")


def test_focal_alpha_per_class_lies_along_the_class_axis():
    """alpha[c] weighs class c whatever `axis` is (Keras lines a list up with the last axis)."""
    rng = np.random.default_rng(4)
    probs = rng.uniform(0.1, 1.0, (2, 3, 5))
    probs /= probs.sum(1, keepdims=True)
    onehot = np.moveaxis(np.eye(3)[rng.integers(0, 3, (2, 5))], 2, 1)
    alpha = np.array([0.2, 0.5, 0.3])
    values = ge.losses.categorical_focal_crossentropy(onehot, probs, alpha=alpha, axis=1)
    naive = -(alpha[:, None] * (1 - probs) ** 2 * onehot * np.log(probs)).sum(1)
    np.testing.assert_allclose(values, naive, rtol=1e-10)
    with pytest.raises(ValueError, match=r"alpha has 2 weights for 3 classes"):
        ge.losses.categorical_focal_crossentropy(onehot, probs, alpha=[0.5, 0.5], axis=1)
