"""The graph around layers and models, as Keras 3 has it (issue 20, graph access): layer.input /
layer.output (the first call's tensors), get_input_at / get_output_at for a shared layer's
calls, model.input / model.output, get_layer(name=None, index=None), and the feature-extraction
idiom `ge.Model(base.input, base.get_layer(name).output)`, also on a loaded model."""

import numpy as np
import pytest

import graphengine as ge

L = ge.layers


def _base():
    ge.utils.set_random_seed(0)
    x = ge.Input((6,), name="pixels")
    h = L.Dense(5, activation="relu", name="block1")(x)
    h = L.Dense(4, activation="tanh", name="block2")(h)
    return ge.Model(x, L.Dense(3, name="head")(h), name="base")


def test_a_layer_knows_the_tensors_of_its_first_call():
    x = ge.Input((4,))
    dense = L.Dense(3)
    y = dense(x)
    assert dense.input is x and dense.output is y
    assert dense.get_input_at(0) is x and dense.get_output_at(0) is y


def test_a_shared_layer_has_one_input_and_output_per_call():
    a, b = ge.Input((4,)), ge.Input((4,))
    shared = L.Dense(2)
    ya, yb = shared(a), shared(b)
    assert shared.input is a and shared.output is ya  # the first call, as Keras 3
    assert shared.get_input_at(1) is b and shared.get_output_at(1) is yb
    with pytest.raises(ValueError, match=r"output at node 2, but layer '.*' has only 2 inbound"):
        shared.get_output_at(2)
    with pytest.raises(TypeError, match=r"node_index must be an integer, received node_index='1'"):
        shared.get_input_at("1")


def test_a_merge_layer_gives_its_inputs_as_it_was_given_them():
    a, b = ge.Input((4,)), ge.Input((4,))
    add = L.Add()
    add([a, b])
    assert add.input == [a, b]


def test_a_layer_never_called_has_no_output():
    with pytest.raises(AttributeError, match=r"Layer 'lonely' has never been called .* output"):
        _ = L.Dense(2, name="lonely").output
    dense = L.Dense(2, name="eager_only")
    dense(np.ones((1, 3), "float32"))  # an eager call makes no graph
    with pytest.raises(AttributeError, match=r"'eager_only' has never been called .* input"):
        _ = dense.input


def test_model_input_and_output_are_its_own_tensors():
    base = _base()
    assert base.input is base.inputs[0] and base.output is base.outputs[0]
    assert base.layers[0].output is base.input and base.layers[0].input is base.input
    a, b = ge.Input((3,), name="a"), ge.Input((3,), name="b")
    two = ge.Model([a, b], [L.Add()([a, b]), L.Subtract()([a, b])])
    assert two.input == [a, b] and len(two.output) == 2
    named = ge.Model({"a": a, "b": b}, L.Multiply()([a, b]))
    assert named.input == {"a": a, "b": b}


def test_get_layer_by_name_or_index_as_keras():
    base = _base()
    assert base.get_layer("block2") is base.get_layer(index=2)
    assert base.get_layer(index=-1).name == "head"
    with pytest.raises(ValueError, match=r"give either a layer name or a layer index, not both"):
        base.get_layer("head", 1)
    with pytest.raises(ValueError, match=r"not neither"):
        base.get_layer()
    with pytest.raises(ValueError, match=r"index 9, but the model has only 4 layers"):
        base.get_layer(index=9)
    with pytest.raises(ValueError, match=r"index must be an integer >= -4, received index=-5"):
        base.get_layer(index=-5)
    with pytest.raises(TypeError, match=r"get_layer: index must be an integer, received"):
        base.get_layer(index=1.0)
    with pytest.raises(ValueError, match=r"no layer named 'block9'; layers: pixels, block1"):
        base.get_layer("block9")
    seq = ge.Sequential([ge.Input((3,)), L.Dense(2, name="first"), L.Dense(1)])
    assert seq.get_layer(index=0).name == "first"  # a Sequential lists no input layer
    assert seq.input is seq.inputs[0] and seq.output is seq.outputs[0]


def test_an_unbuilt_sequential_has_no_input_yet():
    seq = ge.Sequential([L.Dense(2)], name="later")
    with pytest.raises(AttributeError, match=r"Model 'later' has no graph yet .* input"):
        _ = seq.input


def _features(model, x):
    """block2's output computed by hand from the model's weights."""
    w1, b1 = model.get_layer("block1").get_weights()
    w2, b2 = model.get_layer("block2").get_weights()
    return np.tanh(np.maximum(x @ w1 + b1, 0) @ w2 + b2)


@pytest.mark.parametrize("loaded", [False, True], ids=["built", "loaded"])
def test_feature_extraction_from_a_model(loaded, tmp_path):
    base = _base()
    if loaded:
        base.save(tmp_path / "base.gez")
        base = ge.models.load_model(tmp_path / "base.gez")
    extractor = ge.Model(base.input, base.get_layer("block2").output)
    x = np.random.default_rng(1).standard_normal((7, 6)).astype("float32")
    np.testing.assert_allclose(extractor.predict(x, verbose=0), _features(base, x), rtol=1e-5,
                               atol=1e-6)  # fmt: skip
    # the transfer-learning step: the extractor's layers are the base's (shared weights)
    assert extractor.get_layer("block1") is base.get_layer("block1")
    for layer in extractor.layers:
        layer.trainable = False
    head = ge.Model(extractor.input, L.Dense(2, name="new_head")(extractor.output))
    assert len(head.trainable_weights) == 2
    head.compile("adam", ge.losses.SparseCategoricalCrossentropy(from_logits=True))
    frozen = [w.copy() for w in base.get_layer("block1").get_weights()]
    head.fit(x, np.arange(7) % 2, epochs=2, verbose=0)
    for w, before in zip(base.get_layer("block1").get_weights(), frozen):
        np.testing.assert_array_equal(w, before)
