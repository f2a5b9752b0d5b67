"""Model plumbing as Keras 3 has it: ge.models.clone_model (new layers, fresh weights),
model.to_json / ge.models.model_from_json, ge.saving (register_keras_serializable's
"package>name", get_custom_objects, custom_object_scope, load_model(custom_objects=...),
save_model) and model.metrics_names."""

import json
import os

import numpy as np
import pytest

import graphengine as ge
from helpers import REF_DIR


@ge.saving.register_keras_serializable(package="test_model_plumbing")
class Scale(ge.layers.Layer):
    """Multiplies by a fixed factor: a custom layer with a config of its own."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@ge.saving.register_keras_serializable("test_model_plumbing", name="halved")
def halve(t):
    return t * 0.5


def mlp(seed=0):
    """A shared layer called twice, a custom layer and a registered Lambda."""
    ge.utils.set_random_seed(seed)
    x = ge.Input((3,), name="x")
    shared = ge.layers.Dense(3, activation="tanh", name="shared")
    h = shared(shared(x))
    h = Scale(3.0, name="scale")(ge.layers.Lambda(halve, name="half")(h))
    return ge.Model(x, ge.layers.Dense(1, name="out")(h), name="mlp")


X = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
Y = np.random.default_rng(1).standard_normal((5, 1)).astype("float32")


# -- clone_model ---------------------------------------------------------------------------------
def test_clone_has_the_architecture_and_new_weights():
    model = mlp()
    clone = ge.models.clone_model(model)
    assert type(clone) is ge.Model and clone.name == model.name
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert clone.get_config() == model.get_config()
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    kernel, cloned = model.get_layer("shared").kernel, clone.get_layer("shared").kernel
    assert not np.allclose(kernel.value, cloned.value)  # fresh from the initializer
    # the shared layer is cloned once and shared again: 2 calls, one kernel
    assert len(clone.get_layer("shared")._calls) == 2
    assert len(clone.weights) == len(model.weights) == 4
    clone.set_weights(model.get_weights())
    before = model(X)
    np.testing.assert_allclose(clone(X), before, rtol=1e-6)
    clone.get_layer("out").set_weights([np.zeros((3, 1), "float32"), np.ones(1, "float32")])
    np.testing.assert_allclose(clone(X), 1.0)
    np.testing.assert_array_equal(model(X), before)  # nothing shared with the original


def test_clone_of_a_compiled_model_is_compiled_alike():
    model = mlp()
    model.compile(optimizer=ge.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    model.fit(X, Y, epochs=1, verbose=0)
    clone = ge.models.clone_model(model)
    assert clone.compiled and clone.optimizer is not model.optimizer
    assert clone.optimizer.get_config() == model.optimizer.get_config()
    assert clone.metrics_names == model.metrics_names == ["loss", "mae"]
    clone.set_weights(model.get_weights())
    assert clone.evaluate(X, Y, verbose=0) == pytest.approx(model.evaluate(X, Y, verbose=0))


def test_sequential_clone_stays_sequential():
    ge.utils.set_random_seed(1)
    model = ge.Sequential(
        [ge.layers.Dense(4, activation="relu", input_shape=(3,)), ge.layers.Dense(1)], name="seq"
    )
    clone = ge.models.clone_model(model)
    assert type(clone) is ge.Sequential and clone.name == "seq"
    assert clone.inputs[0].shape == (None, 3) and len(clone.layers) == 2
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(X), model(X), rtol=1e-6)
    unbuilt = ge.models.clone_model(ge.Sequential([ge.layers.Dense(2)]))
    assert type(unbuilt) is ge.Sequential and not unbuilt.built
    assert unbuilt(X).shape == (5, 2)  # builds from the first data, as the original would


def test_clone_function_sees_each_layer_once_and_not_the_inputs():
    model = mlp()
    seen = []

    def clone_function(layer):
        seen.append(layer.name)
        config = layer.get_config()
        if isinstance(layer, Scale):
            config["factor"] = 10.0
        return type(layer).from_config(config)

    clone = ge.models.clone_model(model, clone_function=clone_function)
    assert seen == ["shared", "half", "scale", "out"]
    assert clone.get_layer("scale").factor == 10.0


def test_call_function_inserts_layers_around_reused_ones():
    """Keras's example: clone_function=lambda layer: layer reuses the layers (and weights);
    call_function adds a layer after each Dense call."""
    model = mlp()
    calls = []

    def call_function(layer, *args, **kwargs):
        calls.append(layer.name)
        out = layer(*args, **kwargs)
        return ge.layers.Activation("relu")(out) if layer.name == "out" else out

    clone = ge.models.clone_model(
        model, clone_function=lambda layer: layer, call_function=call_function
    )
    assert calls == ["shared", "shared", "half", "scale", "out"]
    assert clone.get_layer("out") is model.get_layer("out")
    np.testing.assert_allclose(clone(X), np.maximum(model(X), 0.0), rtol=1e-6)


def test_clone_on_given_input_tensors():
    model = mlp()
    x = ge.Input((3,), name="new_x")
    clone = ge.models.clone_model(model, input_tensors=x)
    assert clone.inputs[0] is x and clone.input_names == ["new_x"]
    two = ge.Model(
        {"a": (a := ge.Input((2,), name="a")), "b": (b := ge.Input((2,), name="b"))},
        ge.layers.Add()([a, b]),
    )
    new = {"a": ge.Input((2,), name="a2"), "b": ge.Input((2,), name="b2")}
    clone = ge.models.clone_model(two, input_tensors=new)
    np.testing.assert_allclose(clone({"a": np.ones((1, 2)), "b": np.ones((1, 2))}), 2.0)


def test_recursive_clones_nested_models_with_the_clone_function():
    inner_in = ge.Input((3,))
    inner = ge.Model(inner_in, ge.layers.Dense(2, name="inner_dense")(inner_in), name="inner")
    x = ge.Input((3,))
    outer = ge.Model(x, ge.layers.Dense(1, name="head")(inner(x)), name="outer")
    seen = []

    def clone_function(layer):
        seen.append(layer.name)
        return type(layer).from_config(layer.get_config())

    ge.models.clone_model(outer, clone_function=clone_function)
    assert seen == ["inner", "head"]  # the nested model as one layer
    seen.clear()
    clone = ge.models.clone_model(outer, clone_function=clone_function, recursive=True)
    assert seen == ["inner_dense", "head"]
    assert clone.get_layer("inner").get_layer("inner_dense") is not inner.get_layer("inner_dense")


def test_clone_model_errors():
    model = mlp()
    seq = ge.Sequential([ge.Input((3,)), ge.layers.Dense(1)])
    with pytest.raises(TypeError, match="expects a ge.Model or ge.Sequential, received Dense"):
        ge.models.clone_model(ge.layers.Dense(1))
    with pytest.raises(TypeError, match="clone_function must be callable"):
        ge.models.clone_model(model, clone_function="copy")
    with pytest.raises(ValueError, match="call_function applies to functional models only"):
        ge.models.clone_model(seq, call_function=lambda layer, *a, **k: layer(*a, **k))
    with pytest.raises(ValueError, match="has one input, but input_tensors holds 2"):
        ge.models.clone_model(seq, input_tensors=[ge.Input((3,)), ge.Input((3,))])
    hidden = ge.layers.Dense(3)(ge.Input((3,)))
    with pytest.raises(ValueError, match="input_tensors of Sequential .* must be a ge.Input"):
        ge.models.clone_model(seq, input_tensors=hidden)
    with pytest.raises(ValueError, match="must be a symbolic tensor .* received ndarray"):
        ge.models.clone_model(model, input_tensors=np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"must have the structure .* \(1: x\), received 2"):
        ge.models.clone_model(model, input_tensors=[ge.Input((3,)), ge.Input((3,))])


# -- to_json / model_from_json ------------------------------------------------------------------
def test_json_round_trip_rebuilds_the_architecture():
    model = mlp()
    text = model.to_json()
    config = json.loads(text)
    assert config["class_name"] == "Functional"
    assert "weights" not in text
    rebuilt = ge.models.model_from_json(text)
    assert type(rebuilt) is ge.Model and rebuilt.get_config() == model.get_config()
    assert not getattr(rebuilt, "compiled", False)
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt(X), model(X), rtol=1e-6)
    assert "\n" in model.to_json(indent=2)  # keywords go to json.dumps
    seq = ge.Sequential([ge.Input((3,)), ge.layers.Dense(2)])
    assert type(ge.models.model_from_json(seq.to_json())) is ge.Sequential


def test_model_from_json_uses_the_registry_and_custom_objects():
    text = mlp().to_json()
    assert '"test_model_plumbing>Scale"' in text and '"test_model_plumbing>halved"' in text
    registry = ge.saving.get_custom_objects()
    saved = registry.pop("test_model_plumbing>Scale")
    try:
        with pytest.raises(ValueError, match="'test_model_plumbing>Scale' is not registered"):
            ge.models.model_from_json(text)
        # as Keras: custom_objects by the class name (or by its registered name)
        for custom in ({"Scale": Scale}, {"test_model_plumbing>Scale": Scale}):
            rebuilt = ge.models.model_from_json(text, custom_objects=custom)
            assert type(rebuilt.get_layer("scale")) is Scale
        with ge.saving.custom_object_scope({"Scale": Scale}):
            assert type(ge.models.model_from_json(text).get_layer("scale")) is Scale
    finally:
        registry["test_model_plumbing>Scale"] = saved


def test_model_from_json_errors():
    with pytest.raises(TypeError, match="expects JSON text"):
        ge.models.model_from_json({"class_name": "Functional"})
    with pytest.raises(ValueError, match="the text is not JSON"):
        ge.models.model_from_json("{not json")
    with pytest.raises(ValueError, match=r"'class_name' and 'config', received list"):
        ge.models.model_from_json("[1, 2]")
    with pytest.raises(ValueError, match="unknown layer class 'Nope'"):
        ge.models.model_from_json('{"class_name": "Nope", "config": {}}')
    with pytest.raises(ValueError, match="the config is malformed"):
        ge.models.model_from_json('{"class_name": "Functional", "config": {"name": "m"}}')
    with pytest.raises(TypeError, match="custom_objects must be a dict"):
        ge.models.model_from_json(mlp().to_json(), custom_objects=[Scale])
    with pytest.raises(ValueError, match="'os>system' is not registered"):
        ge.models.model_from_json('{"class_name": "os>system", "registered": true, "config": {}}')


# -- ge.saving ------------------------------------------------------------------------------------
def test_register_keras_serializable_names_package_and_name():
    assert ge.saving.get_registered_name(Scale) == "test_model_plumbing>Scale"
    assert ge.saving.get_registered_name(halve) == "test_model_plumbing>halved"
    assert ge.saving.get_registered_object("test_model_plumbing>Scale") is Scale
    assert ge.saving.get_custom_objects()["test_model_plumbing>halved"] is halve
    assert ge.saving.get_registered_name(np.tanh) == "tanh"  # unregistered: its own name
    assert ge.saving.get_registered_object("nothing>here") is None
    assert ge.saving.get_registered_object("x", custom_objects={"x": halve}) is halve
    # ge.utils holds the same functions, as keras.utils does
    assert ge.utils.register_keras_serializable is ge.saving.register_keras_serializable
    assert ge.utils.get_custom_objects is ge.saving.get_custom_objects
    assert ge.utils.custom_object_scope is ge.saving.CustomObjectScope


def test_register_keras_serializable_errors():
    class NoConfig:
        pass

    with pytest.raises(ValueError, match="cannot register class NoConfig, which has no get_conf"):
        ge.saving.register_keras_serializable("test_model_plumbing")(NoConfig)
    with pytest.raises(TypeError, match="package and name must be strings"):
        ge.saving.register_keras_serializable(package=3)
    with pytest.raises(TypeError, match="custom_objects keys must be names"):
        ge.saving.custom_object_scope({Scale: Scale})


def test_get_custom_objects_is_live():
    """An entry added to the dict loads by name, as in Keras."""

    def triple(t):
        return t * 3.0

    layer = ge.layers.Lambda(triple, name="tri")
    registry = ge.saving.get_custom_objects()
    registry["test_model_plumbing.triple"] = triple
    try:
        config = layer.get_config()
        assert config["function"] == {"registered": "test_model_plumbing.triple"}
        assert ge.layers.Lambda.from_config(config).function is triple
    finally:
        del registry["test_model_plumbing.triple"]


def test_custom_object_scopes_nest_and_serve_saving(tmp_path):
    def twice(t):
        return t * 2.0

    x = ge.Input((2,))
    model = ge.Model(x, ge.layers.Lambda(twice)(x))
    with pytest.raises(ValueError, match="is not registered"):
        model.save(tmp_path / "m.gez")
    with ge.saving.custom_object_scope({"twice": twice}):
        with ge.saving.CustomObjectScope({"other": halve}) as inner:
            assert inner.custom_objects == {"other": halve}
            assert ge.saving.get_registered_object("twice") is twice  # the outer scope's too
            model.save(tmp_path / "m.gez")
        assert ge.saving.get_registered_object("other") is None
    assert ge.saving.get_registered_object("twice") is None
    with pytest.raises(ValueError, match="'twice' is not registered"):
        ge.saving.load_model(tmp_path / "m.gez")
    loaded = ge.saving.load_model(tmp_path / "m.gez", custom_objects={"twice": twice})
    np.testing.assert_allclose(loaded(np.ones((1, 2))), 2.0)


def test_saving_load_model_and_save_model(tmp_path):
    model = mlp()
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path / "m.gez"
    ge.saving.save_model(model, path)
    loaded = ge.saving.load_model(path)
    assert loaded.compiled and type(loaded.get_layer("scale")) is Scale
    np.testing.assert_allclose(loaded(X), model(X), rtol=1e-6)
    bare = ge.models.load_model(path, compile=False, safe_mode=False)
    assert not getattr(bare, "compiled", False)
    assert ge.models.save_model is ge.saving.save_model
    before = path.stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="exists and overwrite=False"):
        ge.saving.save_model(model, path, overwrite=False)
    assert path.stat().st_mtime_ns == before
    ge.saving.save_model(model, tmp_path / "new.gez", overwrite=False)
    assert (tmp_path / "new.gez").exists()


# -- metrics_names ------------------------------------------------------------------------------
def test_metrics_names_are_what_evaluate_returns():
    """Keras 3 names its metric objects (["loss", "compile_metrics"], recorded in
    data_shapes.json); ours name evaluate's values in their order. Both give [] before compile
    and the same keys in evaluate(return_dict=True)."""
    with open(os.path.join(REF_DIR, "data_shapes.json")) as f:
        keras_names = json.load(f)["metrics_names"]
    x = np.zeros((4, 3), "float32")
    y = np.zeros((4, 1), "float32")
    i = ge.Input((3,), name="x")
    one = ge.Model(i, ge.layers.Dense(1, name="out")(i))
    assert one.metrics_names == keras_names["one_before_compile"] == []
    one.compile("sgd", "mse", metrics=["mae"])
    assert one.metrics_names == ["loss", "mae"]
    logs = one.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == one.metrics_names
    assert set(logs) == set(keras_names["one_evaluate_keys"])
    a = ge.layers.Dense(1, name="a")(i)
    b = ge.layers.Dense(1, name="b")(i)
    two = ge.Model(i, [a, b])
    two.compile("sgd", ["mse", "mae"], metrics=[["mae"], ["mse"]])
    assert two.metrics_names == ["loss", "a_loss", "b_loss", "a_mae", "b_mse"]
    logs = two.evaluate(x, [y, y], verbose=0, return_dict=True)
    assert list(logs) == two.metrics_names
    assert set(logs) == set(keras_names["two_evaluate_keys"])
    assert len(two.evaluate(x, [y, y], verbose=0)) == len(two.metrics_names)
