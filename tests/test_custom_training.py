"""Custom training steps (issue 20): an overridden train_step / test_step / predict_step is
called per batch with the batch's arrays; ge.value_and_grad traces the gradient work once into
compiled plans; compute_loss, model.metrics and optimizer.apply as Keras 3. Reference numbers:
keras-io's "customizing what happens in fit" CustomModel run by Keras 3 on the same weights
(tests/keras_reference/generate_idioms.py)."""

import json
import os

import numpy as np
import pytest

import graphengine as ge
from gradcheck import numeric_vjp

L = ge.layers
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "keras_reference", "idioms.json")) as f:
    KERAS = json.load(f)["cases"]


class CustomModel(ge.Model):
    """The keras-io guide's CustomModel; only the gradient lines are graphengine's."""

    def loss_of(self, x, y):
        y_pred = self(x, training=True)
        return self.compute_loss(y=y, y_pred=y_pred), y_pred

    def train_step(self, data):
        x, y = data
        step = ge.value_and_grad(self.loss_of, self.trainable_weights, has_aux=True)
        (loss, y_pred), gradients = step(x, y)
        self.optimizer.apply(gradients, self.trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _custom_model(cls=CustomModel, units=4):
    inputs = ge.Input(shape=(units,))
    return cls(inputs, L.Dense(1)(inputs))


def test_the_guide_custom_model_trains_as_keras():
    case = KERAS["custom_train_step"]
    x, y = np.array(case["x"], "float32"), np.array(case["y"], "float32")
    model = _custom_model()
    model.set_weights([np.array(w, "float32") for w in case["weights"]])
    model.compile(optimizer=ge.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    for name in ("loss", "mae"):
        np.testing.assert_allclose(history.history[name], case["history"][name], rtol=1e-5)
    for ours, theirs in zip(model.get_weights(), case["final_weights"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_super_train_step_runs_the_compiled_step():
    calls = []

    class Delegating(ge.Model):
        def train_step(self, data):
            calls.append(tuple(a.shape for a in data))
            return super().train_step(data)

    x = np.random.default_rng(0).standard_normal((10, 4)).astype("float32")
    y = x.sum(1, keepdims=True)
    histories = []
    for cls in (ge.Model, Delegating):
        ge.utils.set_random_seed(3)
        model = _custom_model(cls)
        model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
        histories.append(model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0))
    assert calls == [((4, 4), (4, 1)), ((4, 4), (4, 1)), ((2, 4), (2, 1))] * 2
    for name in ("loss", "mae"):  # the running means over the epoch, as fit's own
        np.testing.assert_allclose(histories[1].history[name], histories[0].history[name])


class OwnMetrics(ge.Model):
    """The guide's second CustomModel: its own trackers, loss and test_step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = ge.metrics.Mean(name="loss")
        self.mae_metric = ge.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = ge.losses.MeanSquaredError()

    def loss_of(self, x, y):
        y_pred = self(x, training=True)
        return self.loss_fn(y, y_pred), y_pred

    def train_step(self, data):
        x, y = data
        step = ge.value_and_grad(self.loss_of, self.trainable_weights, has_aux=True)
        (loss, y_pred), gradients = step(x, y)
        self.optimizer.apply(gradients, self.trainable_weights)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(self.loss_fn(y, y_pred))
        self.mae_metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_own_trackers_reset_each_epoch_and_a_custom_test_step():
    ge.utils.set_random_seed(4)
    model = _custom_model(OwnMetrics)
    model.compile(optimizer="adam")
    x = np.random.default_rng(1).standard_normal((12, 4)).astype("float32")
    y = np.ones((12, 1), "float32")
    history = model.fit(x, y, batch_size=12, epochs=2, shuffle=False, verbose=0)
    assert history.history["loss"][0] != history.history["loss"][1]  # one batch, reset between
    loss, mae = model.evaluate(x, y, batch_size=5, verbose=0)
    pred = model.predict(x, verbose=0)
    batches = [slice(0, 5), slice(5, 10), slice(10, 12)]
    batch_losses = [np.mean((pred[s] - y[s]) ** 2) for s in batches]
    np.testing.assert_allclose(loss, np.mean(batch_losses), rtol=1e-5)  # a mean over batches
    np.testing.assert_allclose(mae, np.mean(np.abs(pred - y)), rtol=1e-5)  # over samples


def test_a_custom_predict_step_and_steps_given_x_alone():
    seen = []

    class Doubling(ge.Model):
        def predict_step(self, data):
            return {"twice": 2 * self(data)}

        def train_step(self, data):
            seen.append(type(data).__name__)
            return {}

    model = _custom_model(Doubling, units=2)
    x = np.ones((5, 2), "float32")
    out = model.predict(x, batch_size=2)
    np.testing.assert_allclose(out["twice"], 2 * model(x))
    model.compile()
    model.fit(x, batch_size=5, verbose=0)  # x alone: the batch is the array itself, as Keras
    model.fit([x, x], batch_size=5, verbose=0)  # a list of inputs comes as (x,)
    assert seen == ["ndarray", "tuple"]


def test_value_and_grad_matches_central_differences():
    ge.utils.set_random_seed(5)
    inputs = ge.Input((3,), dtype="float64")
    h = L.Dense(4, activation="tanh", dtype="float64")(inputs)
    model = ge.Model(inputs, L.Dense(2, dtype="float64")(h))
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))

    def loss(x, y):
        return ge.ops.mean(ge.ops.square(model(x) - y)) + 0.1 * ge.ops.sum(model.weights[0] ** 2)

    step = ge.value_and_grad(loss, model.trainable_weights)
    value, grads = step(x, y)
    weights = [w.value for w in model.trainable_weights]

    def f():
        pred = model.predict(x, verbose=0)
        return float(np.mean((pred - y) ** 2) + 0.1 * np.sum(weights[0] ** 2))

    np.testing.assert_allclose(value, f(), rtol=1e-12)
    for g, n in zip(grads, numeric_vjp(f, weights, 1e-6)):
        np.testing.assert_allclose(g, n, rtol=1e-6, atol=1e-9)


def test_value_and_grad_traces_once_per_signature_and_caches_steps():
    model = _custom_model(ge.Model)
    model.compile(loss="mse")
    assert ge.value_and_grad(model.compute_loss, model.weights) is ge.value_and_grad(
        model.compute_loss, model.weights
    )  # the same bound method and variables: the same step

    def loss(x, y):
        return model.compute_loss(y=y, y_pred=model(x))

    step = ge.value_and_grad(loss, model.trainable_weights)
    for n in (2, 3, 2):
        step(np.ones((n, 4)), np.ones((n, 1)))
    assert len(step._traces) == 1  # a new batch size reuses the trace (and compiles a plan)
    step(np.ones((2, 4), "int32"), np.ones((2, 1)))
    assert len(step._traces) == 2  # a new dtype is a new signature
    zero, grads = ge.value_and_grad(loss, [model.trainable_weights[1]])(
        np.zeros((2, 4)), np.zeros((2, 1))
    )
    assert grads[0].shape == (1,)


def test_value_and_grad_errors():
    model = _custom_model(ge.Model, units=2)
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match=r"fn must return a float scalar .* shape \(None, 1\)"):
        ge.value_and_grad(lambda a: model(a), model.weights)(x)
    with pytest.raises(TypeError, match=r"fn returned a float, not a tensor of its arguments"):
        ge.value_and_grad(lambda a: 1.0, model.weights)(x)
    with pytest.raises(TypeError, match=r"variables\[0\] is a ndarray, not a weight"):
        ge.value_and_grad(lambda a: a, [np.ones(2)])
    with pytest.raises(TypeError, match=r"must return \(value, aux\)"):
        ge.value_and_grad(lambda a: ge.ops.sum(model(a)), model.weights, has_aux=True)(x)
    with pytest.raises(TypeError, match=r"argument 0 must be numeric"):
        ge.value_and_grad(lambda a: ge.ops.sum(a), model.weights)(np.array(["a"]))


def test_a_closure_made_anew_every_batch_warns():
    model = _custom_model(ge.Model, units=2)
    x = np.ones((2, 2))
    with pytest.warns(UserWarning, match=r"was given anew 4 times.*define it once"):
        for _ in range(4):
            ge.value_and_grad(lambda a: ge.ops.sum(model(a)), model.weights)(x)


def test_compute_loss_on_arrays_is_the_evaluated_loss():
    ge.utils.set_random_seed(7)
    model = _custom_model(ge.Model, units=3)
    model.compile(loss="mse")
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 1), "float32")
    np.testing.assert_allclose(
        model.compute_loss(y=y, y_pred=model(x)), model.evaluate(x, y, verbose=0), rtol=1e-6
    )
    with pytest.raises(ValueError, match=r"compute_loss: the model has 1 outputs, received 2"):
        model.compute_loss(y=[y, y], y_pred=[x, x])


def test_a_custom_fit_validates_on_the_last_samples():
    ge.utils.set_random_seed(8)
    model = _custom_model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.random.default_rng(2).standard_normal((16, 4)).astype("float32")
    y = x[:, :1] * 2
    history = model.fit(x, y, batch_size=4, epochs=2, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    held_out = model.evaluate(x[12:], y[12:], verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == pytest.approx(held_out["loss"], rel=1e-6)
    with pytest.raises(ValueError, match=r"validation_split=0.5 leaves no samples .* out of 1"):
        model.fit(x[:1], y[:1], validation_split=0.5, verbose=0)


def test_training_true_in_a_traced_loss_reaches_the_layers():
    ge.utils.set_random_seed(9)
    inputs = ge.Input((50,))
    model = ge.Model(inputs, L.Dropout(0.5)(inputs))
    x = np.ones((4, 50), "float32")
    inference, _ = ge.value_and_grad(lambda a: ge.ops.sum(model(a)), model.weights)(x)
    training, _ = ge.value_and_grad(
        lambda a: ge.ops.sum(ge.ops.square(model(a, training=True))), model.weights
    )(x)
    assert inference == 200.0
    assert training != 200.0 * 1.0 and training % 4.0 == 0.0  # kept entries are scaled by 2
