"""Custom layers written as Keras 3 users write them (issue 20): add_weight(shape=...,
initializer=..., trainable=...) with the name optional, add_loss() summed into the training
loss, and a frozen model that trains with a warning. Reference numbers: Keras 3 on the same
weights, from tests/keras_reference/generate_idioms.py (idioms.json)."""

import json
import os

import numpy as np
import pytest

import graphengine as ge
from gradcheck import numeric_vjp

L, ops = ge.layers, ge.ops
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "keras_reference", "idioms.json")) as f:
    KERAS = json.load(f)["cases"]


class Linear(ge.layers.Layer):
    """keras-io's "making new layers" Linear, unchanged but for the import."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


class ActivityRegularization(ge.layers.Layer):
    """keras-io's add_loss example: rate * sum(inputs**2) joins the loss."""

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.sum(ops.square(inputs)))
        return inputs


def _add_loss_model():
    inp = ge.Input((3,))
    h = Linear(4, name="linear")(inp)
    h = L.Activation("tanh")(h)
    h = ActivityRegularization(0.05, name="act_reg")(h)
    return ge.Model(inp, L.Dense(1, name="head")(h))


def test_add_weight_names_are_optional_and_numbered_in_the_layer():
    layer = Linear(2)
    layer.build((None, 3))
    assert [w.name for w in layer.weights] == ["variable", "variable_1"]
    assert layer.w.shape == (3, 2) and np.all(layer.b.numpy() == 0)
    scalar = ge.layers.Layer()
    assert scalar.add_weight().shape == ()  # Keras: shape defaults to a scalar
    ids = scalar.add_weight(shape=(2,), dtype="int32", name="counts")
    assert ids.dtype == "int32" and np.all(ids.numpy() == 0)  # zeros for non-floats


def test_add_weight_rejects_what_keras_3_rejects():
    layer = ge.layers.Layer(name="aw")
    with pytest.raises(ValueError, match=r"'aw'.add_weight: `name` must be passed as a keyword"):
        layer.add_weight("kernel", (2, 2))
    with pytest.raises(ValueError, match=r"`shape` was passed both positionally and by keyword"):
        layer.add_weight((2,), shape=(2,))
    with pytest.raises(TypeError, match=r"at most 3 positional arguments, 4 given"):
        layer.add_weight((2,), "zeros", "float32", True)
    with pytest.raises(ValueError, match=r"weight 'w' needs a fully known shape"):
        layer.add_weight(shape=(None, 2), name="w")
    with pytest.raises(NotImplementedError, match=r"constraints .* are not supported"):
        layer.add_weight(shape=(2,), constraint="non_neg")
    with pytest.raises(ValueError, match=r"aggregation must be one of"):
        layer.add_weight(shape=(2,), aggregation="max")


def test_add_loss_joins_the_training_loss_as_keras():
    case = KERAS["add_loss"]
    x, y = np.array(case["x"], "float32"), np.array(case["y"], "float32")
    model = _add_loss_model()
    model.set_weights([np.array(w, "float32") for w in case["weights"]])
    model.compile(optimizer=ge.optimizers.SGD(0.1), loss="mse")
    losses = [model.train_on_batch(x, y) for _ in range(3)]
    np.testing.assert_allclose(losses, case["train_losses"], rtol=2e-5)
    for ours, theirs in zip(model.get_weights(), case["final_weights"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), case["eval_loss"], rtol=2e-5)
    # the penalty is part of the loss, not of the prediction
    pred = model.predict(x, verbose=0)
    mse = float(np.mean((pred - y) ** 2))
    h = np.tanh(x @ model.get_weights()[0] + model.get_weights()[1])
    penalty = 0.05 * float(np.sum(h.astype(np.float64) ** 2))
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), mse + penalty, rtol=1e-5)


def test_add_loss_gradients_by_central_differences():
    """The training gradient, penalty included: one SGD step of rate 1 moves the weights by
    minus the gradient, checked against central differences of the evaluated loss."""
    ge.utils.set_random_seed(5)
    rng = np.random.default_rng(0)
    inp = ge.Input((3,), dtype="float64")
    h = Linear(2, dtype="float64")(inp)
    out = L.Dense(1, dtype="float64")(ActivityRegularization(0.3, dtype="float64")(h))
    model = ge.Model(inp, out)
    model.compile(optimizer=ge.optimizers.SGD(1.0), loss="mse")
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 1))
    weights = [w.value for w in model.trainable_weights]
    numeric = numeric_vjp(lambda: float(model.test_on_batch(x, y)), weights, 1e-6)
    before = [w.copy() for w in weights]
    model.train_on_batch(x, y)
    for w0, w1, g in zip(before, model.get_weights(), numeric):
        np.testing.assert_allclose(w0 - w1, g, rtol=1e-5, atol=1e-8)


def test_add_loss_outside_a_call_raises_and_eager_calls_record_it():
    layer = ActivityRegularization(0.5, name="reg_eager")
    with pytest.raises(ValueError, match=r"'reg_eager'.add_loss can only be called from inside"):
        layer.add_loss(np.ones(3))
    layer(np.ones((2, 3)))  # eager: the value is kept in layer.losses, as Keras
    assert layer.losses == [pytest.approx(0.5 * 6)]
    layer(np.ones((1, 3)))
    assert layer.losses == [pytest.approx(0.5 * 3)]  # each call starts afresh


def test_a_frozen_model_trains_with_keras_warning_and_returns_the_loss():
    case = KERAS["frozen"]
    x, y = np.array(case["x"], "float32"), np.array(case["y"], "float32")
    model = ge.Sequential([ge.Input((3,)), L.Dense(2)])
    model.set_weights([np.array(w, "float32") for w in case["weights"]])
    model.trainable = False
    model.compile(optimizer="adam", loss="mse")
    assert case["warning"] == "The model does not have any trainable weights."
    with pytest.warns(UserWarning, match=r"^The model does not have any trainable weights"):
        loss = model.train_on_batch(x, y)
    np.testing.assert_allclose(loss, case["loss"], rtol=1e-6)
    with pytest.warns(UserWarning, match=r"trainable weights: model '.*' computes the loss"):
        history = model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_allclose(history.history["loss"], [case["loss"]] * 2, rtol=1e-6)
    for ours, theirs in zip(model.get_weights(), case["weights_after"]):
        np.testing.assert_array_equal(ours, np.array(theirs, "float32"))


def test_layers_held_in_attributes_train_and_save(tmp_path):
    """Sublayers assigned in __init__ (alone or in a list) are tracked as Keras tracks them:
    their weights are the layer's, so fit updates them and save/load keeps them. Untracked, a
    model trained every weight but these, silently."""

    @ge.utils.register_serializable()
    class TwoDense(ge.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.first = ge.layers.Dense(3, activation="tanh")
            self.rest = [ge.layers.Dense(1)]

        def call(self, x):
            return self.rest[0](self.first(x))

    x = ge.Input((4,))
    model = ge.Model(x, TwoDense()(x))
    assert len(model.trainable_weights) == 4
    before = [w.copy() for w in model.get_weights()]
    model.compile(optimizer="sgd", loss="mse")
    data = np.random.default_rng(0).standard_normal((8, 4)).astype("float32")
    model.fit(data, data[:, :1], epochs=1, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    model.save(tmp_path / "m.keras")
    loaded = ge.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))


def test_a_sublayer_before_super_init_raises():
    class Early(ge.layers.Layer):
        def __init__(self):
            self.dense = ge.layers.Dense(2)
            super().__init__()

    with pytest.raises(RuntimeError, match=r"Early: a layer was assigned to self.dense before "
                       r"super\(\).__init__\(\) ran"):  # fmt: skip
        Early()
