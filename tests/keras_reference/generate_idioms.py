"""Keras 3 reference numbers for the Keras idioms of tests/test_custom_layers.py and
tests/test_custom_training.py (custom layers with add_weight / add_loss, frozen models, custom
train steps). This is a script, not a test. Run it from the repository root:

    KERAS_BACKEND=torch python tests/keras_reference/generate_idioms.py

It writes idioms.json next to this file: for each case its inputs, starting weights and what
Keras computed (losses, weights after training steps). Everything is seeded, so a rerun writes
the same file. Only the generation needs Keras and torch; the tests read the JSON alone.
"""

import json
import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import keras  # noqa: E402
from keras import ops  # noqa: E402

if keras.backend.backend() != "torch":
    sys.exit("Run with KERAS_BACKEND=torch (got %r)." % keras.backend.backend())

HERE = os.path.dirname(os.path.abspath(__file__))


def arr(a):
    return np.asarray(a, dtype=np.float64).tolist()


class Linear(keras.layers.Layer):
    """The keras-io "making new layers" Linear: weights made with add_weight, no names."""

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


class ActivityRegularization(keras.layers.Layer):
    """The keras-io guide's add_loss layer: rate * sum(inputs**2) joins the loss."""

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.sum(ops.square(inputs)))
        return inputs


def add_loss_case():
    rng = np.random.default_rng(20)
    x = rng.standard_normal((6, 3)).astype("float32")
    y = rng.standard_normal((6, 1)).astype("float32")
    inp = keras.Input((3,))
    h = Linear(4, name="linear")(inp)
    h = keras.layers.Activation("tanh")(h)
    h = ActivityRegularization(0.05, name="act_reg")(h)
    out = keras.layers.Dense(1, name="head")(h)
    model = keras.Model(inp, out)
    weights = [rng.standard_normal(w.shape).astype("float32") * 0.5 for w in model.weights]
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    losses = [float(model.train_on_batch(x, y)) for _ in range(3)]
    return {
        "x": arr(x),
        "y": arr(y),
        "weights": [arr(w) for w in weights],
        "train_losses": losses,
        "final_weights": [arr(w) for w in model.get_weights()],
        "eval_loss": float(model.evaluate(x, y, verbose=0)),
    }


def frozen_case():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((5, 3)).astype("float32")
    y = rng.standard_normal((5, 2)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    weights = [rng.standard_normal(w.shape).astype("float32") for w in model.weights]
    model.set_weights(weights)
    model.trainable = False
    model.compile(optimizer="adam", loss="mse")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = float(model.train_on_batch(x, y))
    return {
        "x": arr(x),
        "y": arr(y),
        "weights": [arr(w) for w in weights],
        "loss": loss,
        "warning": str(caught[0].message) if caught else None,
        "weights_after": [arr(w) for w in model.get_weights()],
    }


class CustomStepModel(keras.Model):
    """keras-io's "customizing what happens in fit" (torch) CustomModel, unchanged."""

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def custom_train_step_case():
    rng = np.random.default_rng(22)
    x = rng.standard_normal((16, 4)).astype("float32")
    y = rng.standard_normal((16, 1)).astype("float32")
    inputs = keras.Input(shape=(4,))
    model = CustomStepModel(inputs, keras.layers.Dense(1)(inputs))
    weights = [rng.standard_normal(w.shape).astype("float32") for w in model.weights]
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    return {
        "x": arr(x),
        "y": arr(y),
        "weights": [arr(w) for w in weights],
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "final_weights": [arr(w) for w in model.get_weights()],
    }


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(3, activation="relu")
        self.out = keras.layers.Dense(1)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))


def subclassed_case():
    rng = np.random.default_rng(23)
    x = rng.standard_normal((10, 5)).astype("float32")
    y = rng.standard_normal((10, 1)).astype("float32")
    model = Subclassed()
    model(x[:1])  # builds the sublayers (Keras 3's build((None, 5)) creates no weights here)
    weights = [rng.standard_normal(w.shape).astype("float32") for w in model.weights]
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    losses = [float(model.train_on_batch(x, y)) for _ in range(3)]
    return {
        "x": arr(x),
        "y": arr(y),
        "weights": [arr(w) for w in weights],
        "train_losses": losses,
        "prediction": arr(model.predict(x, verbose=0)),
    }


def main():
    torch.set_num_threads(1)
    keras.utils.set_random_seed(0)
    cases = {
        "add_loss": add_loss_case(),
        "frozen": frozen_case(),
        "custom_train_step": custom_train_step_case(),
        "subclassed": subclassed_case(),
    }
    with open(os.path.join(HERE, "idioms.json"), "w") as f:
        json.dump({"keras_version": keras.__version__, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
