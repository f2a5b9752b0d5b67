"""Sequential as Keras 3 has it (issue 20): pop(), build(input_shape), a model or an InputLayer
first in the stack (`Sequential([base, Dense(1)])`, `Sequential(pretrained.layers[:-1] + [...])`,
the GAN's `add(G); add(D)`), and the summary of a Sequential not yet built."""

import re

import numpy as np
import pytest

import graphengine as ge

L = ge.layers


def _dense(units, name, **kw):
    return L.Dense(units, name=name, **kw)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_pop_removes_the_last_layer_and_rebuilds():
    ge.utils.set_random_seed(0)
    a, b = _dense(4, "pop_a", input_shape=(3,)), _dense(2, "pop_b")
    seq = ge.Sequential([a, b])
    assert seq.outputs[0].shape == (None, 2)
    assert seq.pop() is b
    assert seq.layers == [a] and seq.outputs[0].shape == (None, 4)
    assert len(seq.weights) == 2
    x = _rand(5, 3)
    np.testing.assert_allclose(
        seq.predict(x, verbose=0), x @ a.get_weights()[0] + a.get_weights()[1], rtol=1e-5
    )
    seq.add(_dense(1, "pop_c"))  # a new head on the same stack
    assert seq.outputs[0].shape == (None, 1) and seq(x).shape == (5, 1)
    seq.pop()
    seq.pop()
    assert seq.layers == [] and not seq.built
    with pytest.raises(IndexError, match=r"Sequential '.*'\.pop: the model has no layers"):
        seq.pop()


def test_build_with_an_input_shape_as_keras():
    seq = ge.Sequential([_dense(4, "bld_a"), _dense(2, "bld_b")])
    assert not seq.built
    seq.build((None, 3))
    assert seq.built and seq.inputs[0].shape == (None, 3) and seq.count_params() == 16 + 10
    with pytest.raises(ValueError, match=r"cannot be built because it has no layers"):
        ge.Sequential().build((None, 3))
    fixed = ge.Sequential([ge.Input((3,)), _dense(2, "bld_c")])
    with pytest.raises(ValueError, match=r"configured to use input shape \(None, 3\).*\(None, 4\)"):
        fixed.build((None, 4))
    with pytest.raises(ValueError, match=r"input_shape=\(None, '3'\) has the entry '3'"):
        ge.Sequential([_dense(2, "bld_d")]).build((None, "3"))


def test_a_built_model_first_lends_its_input_shape():
    ge.utils.set_random_seed(1)
    base = ge.Sequential(
        [ge.Input((5,)), _dense(3, "lend_b1", activation="relu")], name="lend_base"
    )
    head = _dense(1, "lend_head")
    seq = ge.Sequential([base, head])
    assert seq.built and seq.inputs[0].shape == (None, 5) and seq.layers == [base, head]
    x = _rand(4, 5)
    np.testing.assert_allclose(
        seq.predict(x, verbose=0), head(base.predict(x, verbose=0)), rtol=1e-5
    )
    assert {w.id for w in base.weights} <= {w.id for w in seq.weights}  # shared, not copied


def test_pretrained_layers_with_their_input_layer_start_a_new_stack():
    ge.utils.set_random_seed(2)
    x = ge.Input((6,), name="pre_in")
    h = _dense(4, "pre_hidden", activation="tanh")(x)
    pretrained = ge.Model(x, _dense(3, "pre_out")(h))
    layers = pretrained.layers
    assert isinstance(layers[0], L.InputLayer)
    new = ge.Sequential(layers[:-1] + [_dense(2, "pre_new_head")])
    assert new.inputs[0].shape == (None, 6) and new.outputs[0].shape == (None, 2)
    assert [layer.name for layer in new.layers] == ["pre_hidden", "pre_new_head"]
    data = _rand(3, 6)
    hidden = ge.Model(pretrained.input, pretrained.get_layer("pre_hidden").output).predict(
        data, verbose=0
    )
    w, b = new.layers[-1].get_weights()
    np.testing.assert_allclose(new.predict(data, verbose=0), hidden @ w + b, rtol=1e-5)
    with pytest.raises(
        ValueError, match=r"an input \(ge.Input or InputLayer .*\) can only come first"
    ):
        new.add(layers[0])


def test_the_gan_pattern_trains_the_generator_through_a_frozen_discriminator():
    ge.utils.set_random_seed(3)
    generator = ge.Sequential([ge.Input((2,)), _dense(4, "gan_g")], name="gan_generator")
    discriminator = ge.Sequential(
        [ge.Input((4,)), _dense(1, "gan_d", activation="sigmoid")], name="gan_discriminator"
    )
    discriminator.trainable = False
    gan = ge.Sequential()
    gan.add(generator)
    gan.add(discriminator)
    assert gan.outputs[0].shape == (None, 1)
    gan.compile(optimizer="sgd", loss="binary_crossentropy")
    g0, d0 = generator.get_weights(), discriminator.get_weights()
    gan.train_on_batch(_rand(8, 2), np.ones((8, 1)))
    assert all(not np.array_equal(a, b) for a, b in zip(g0, generator.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(d0, discriminator.get_weights()))


def test_layer_names_in_a_stack_are_unique():
    seq = ge.Sequential([_dense(2, "twin", input_shape=(3,))])
    with pytest.raises(ValueError, match=r"unique names.*'twin' is already the name"):
        seq.add(_dense(2, "twin"))
    with pytest.raises(TypeError, match=r"expects a Layer or a ge.Input, got int"):
        seq.add(3)


# What Keras 3.15 prints for `keras.Sequential([Dense(4), Dense(2, name="out")]).summary()`
# (generated offline with keras on the torch backend; the text is Keras's own). Column widths
# are compared loosely: rich fits them to the terminal its own way.
KERAS_UNBUILT_SUMMARY = """\
Model: "unbuilt"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense (Dense)                   │ ?                      │   0 (unbuilt) │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ out (Dense)                     │ ?                      │   0 (unbuilt) │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 0 (0.00 B)
 Trainable params: 0 (0.00 B)
 Non-trainable params: 0 (0.00 B)"""


def _loose(text):
    return re.sub(r"[━─ ]+", " ", text)


def test_an_unbuilt_sequential_summary_is_keras_table():
    seq = ge.Sequential([L.Dense(4, name="dense"), L.Dense(2, name="out")], name="unbuilt")
    printed = []
    seq.summary(print_fn=printed.append)
    assert len(printed) == 1 and _loose(printed[0]) == _loose(KERAS_UNBUILT_SUMMARY)
    seq.build((None, 3))
    seq.summary(print_fn=printed.append)
    assert "│ dense (Dense) │ (None, 4) │ 16 │" in _loose(printed[-1])
    assert "Total params: 26 (104.00 B)" in printed[-1]


def test_a_stack_with_a_model_first_saves_and_loads(tmp_path):
    ge.utils.set_random_seed(4)
    base = ge.Sequential([ge.Input((3,)), _dense(4, "sv_b", activation="relu")], name="sv_base")
    seq = ge.Sequential([base, _dense(2, "sv_head")], name="sv_outer")
    path = str(tmp_path / "m.gez")
    seq.save(path)
    loaded = ge.models.load_model(path)
    x = _rand(3, 3)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), seq.predict(x, verbose=0))
    assert [type(layer).__name__ for layer in loaded.layers] == ["Sequential", "Dense"]
