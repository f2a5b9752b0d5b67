"""Model subclassing (issue 20): layers made in __init__, call(inputs, training=None) traced once
into the static graph, then fit / summary / save / load like a functional model. Reference
numbers: Keras 3 on the same weights (tests/keras_reference/generate_idioms.py)."""

import json
import os

import numpy as np
import pytest

import graphengine as ge
from gradcheck import check_model_grads

L = ge.layers
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "keras_reference", "idioms.json")) as f:
    KERAS = json.load(f)["cases"]


class Subclassed(ge.Model):
    def __init__(self, hidden=3, rate=0.0, **kwargs):
        super().__init__(**kwargs)
        self.hidden = L.Dense(hidden, activation="relu", dtype=self.dtype)
        self.drop = L.Dropout(rate, dtype=self.dtype)
        self.out = L.Dense(1, dtype=self.dtype)

    def call(self, inputs, training=None):
        return self.out(self.drop(self.hidden(inputs), training=training))


@ge.saving.register_keras_serializable(package="tests")
class Registered(Subclassed):
    pass


def test_a_subclass_trains_as_keras():
    case = KERAS["subclassed"]
    x, y = np.array(case["x"], "float32"), np.array(case["y"], "float32")
    model = Subclassed()
    model.build((None, 5))
    assert model.built and model.inputs[0].shape == (None, 5)
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dropout", "Dense"]
    model.set_weights([np.array(w, "float32") for w in case["weights"]])
    model.compile(optimizer=ge.optimizers.SGD(0.05), loss="mse")
    losses = [model.train_on_batch(x, y) for _ in range(3)]
    np.testing.assert_allclose(losses, case["train_losses"], rtol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0), case["prediction"], rtol=1e-5)


def test_compile_before_the_first_data_and_build_on_fit():
    ge.utils.set_random_seed(0)
    model = Subclassed(hidden=4)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    assert not model.built and model.metrics == []
    x = np.random.default_rng(0).standard_normal((12, 3))
    history = model.fit(x, x.sum(1, keepdims=True), epochs=2, verbose=0)
    assert model.built and model.inputs[0].shape == (None, 3)
    assert set(history.history) == {"loss", "mae"}
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]


def test_training_is_decided_when_the_model_runs():
    model = Subclassed(hidden=64, rate=0.5)
    x = np.ones((4, 3), "float32")
    inference = model(x)
    np.testing.assert_array_equal(model(x), inference)  # no dropout at inference
    assert not np.array_equal(model(x, training=True), inference)


def test_branching_on_training_in_python_raises():
    class Branching(ge.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, x, training=None):
            return self.dense(x * 2 if training else x)

    with pytest.raises(TypeError, match=r"`training` inside a traced call\(\) is symbolic"):
        Branching()(np.ones((2, 3)))


def test_call_must_return_tensors():
    class ReturnsNumbers(ge.Model):
        def call(self, x):
            return 3.0

    with pytest.raises(TypeError, match=r"call must return tensors .* returned \['float'\]"):
        ReturnsNumbers(name="numbers").build((None, 2))


def test_unbuilt_subclass_says_how_to_build_it():
    model = Subclassed(name="unbuilt_sub")
    with pytest.raises(ValueError, match=r"'unbuilt_sub' \(Subclassed\) has not been built yet"):
        model.summary()
    with pytest.raises(ValueError, match=r"build needs the input shape"):
        model.build()


def test_dict_inputs_and_nesting_in_a_functional_model():
    class TwoInputs(ge.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, inputs):
            return self.dense(ge.ops.concatenate([inputs["a"], inputs["b"]], axis=-1))

    model = TwoInputs()
    data = {"a": np.ones((3, 2), "float32"), "b": np.zeros((3, 4), "float32")}
    out = model(data)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(out, np.concatenate([data["a"], data["b"]], 1) @ kernel + bias)
    a, b = ge.Input((2,), name="a"), ge.Input((4,), name="b")
    outer = ge.Model([a, b], L.Dense(1)(model({"a": a, "b": b})))
    assert outer.predict([data["a"], data["b"]], verbose=0).shape == (3, 1)


def test_gradients_by_central_differences():
    ge.utils.set_random_seed(1)
    model = Subclassed(hidden=3, dtype="float64")
    model.build((None, 4))
    check_model_grads(model, np.random.default_rng(2).standard_normal((5, 4)))


def test_a_registered_subclass_saves_and_loads(tmp_path):
    ge.utils.set_random_seed(2)
    model = Registered(hidden=5, name="saved_sub")
    x = np.random.default_rng(3).standard_normal((4, 3)).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.ones((4, 1)), verbose=0)
    # the arguments the constructor was given, as Keras 3 captures them
    assert model.get_config() == {
        "name": "saved_sub", "trainable": True, "dtype": "float32", "hidden": 5
    }  # fmt: skip
    path = str(tmp_path / "sub.gez")
    model.save(path)
    loaded = ge.models.load_model(path)
    assert type(loaded) is Registered and loaded.hidden.units == 5
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded.fit(x, np.ones((4, 1)), verbose=0)  # the optimizer state came back too


def test_saving_needs_a_registered_class_and_plain_arguments(tmp_path):
    model = Subclassed(name="plain")
    model.build((None, 2))
    with pytest.raises(ValueError, match=r"Subclassed, which is not a built-in layer: register"):
        model.save(str(tmp_path / "a.gez"))

    class TakesALayer(ge.Model):
        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner

        def call(self, x):
            return self.inner(x)

    odd = TakesALayer(L.Dense(2), name="odd")
    with pytest.raises(NotImplementedError, match=r"'odd' \(TakesALayer\) takes constructor"):
        odd.get_config()


def test_add_loss_in_the_subclass_own_call_joins_the_loss():
    class Penalized(ge.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, x):
            y = self.dense(x)
            self.add_loss(0.5 * ge.ops.sum(ge.ops.square(y)))
            return y

    model = Penalized()
    x = np.random.default_rng(4).standard_normal((3, 2)).astype("float32")
    model.compile(loss="mse")
    pred = model(x)
    expected = np.mean((pred - 1.0) ** 2) + 0.5 * np.sum(pred.astype(np.float64) ** 2)
    np.testing.assert_allclose(model.evaluate(x, np.ones((3, 2)), verbose=0), expected, rtol=1e-5)
