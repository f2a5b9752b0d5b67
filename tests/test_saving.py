"""Saving and loading: exact round trips (architecture, weights, compile settings, optimizer
state), atomic writes, and clear errors for corrupt, foreign, truncated or malicious files."""

import io
import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphengine as ge


@ge.utils.register_serializable("double_tanh")
def double_tanh(t):
    return ge.ops.tanh(t) * 2.0


def rich_model():
    """Two dict inputs, a shared layer, a nested model, a registered Lambda, and bare ops with
    constants and slicing outside any layer."""
    a, b = ge.Input((6,), name="a"), ge.Input((6,), name="b")
    shared = ge.layers.Dense(5, activation="relu", kernel_regularizer="l2", name="shared")
    inner_in = ge.Input((5,))
    inner = ge.Model(inner_in, ge.layers.Dense(4, activation="tanh")(inner_in), name="inner")
    ha, hb = inner(shared(a)), inner(shared(b))
    mixed = ge.layers.Lambda(double_tanh, name="lam")(ha) * 0.5 + hb[:, 1:3][:, 0:1]
    out1 = ge.layers.Dense(3, activation="softmax", name="cls")(
        ge.layers.Concatenate()([ha, mixed])
    )
    out2 = ge.layers.Dense(1, name="reg")(hb)
    return ge.Model({"a": a, "b": b}, {"cls": out1, "reg": out2}, name="rich")


def data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = {
        "a": rng.standard_normal((n, 6)).astype("float32"),
        "b": rng.standard_normal((n, 6)).astype("float32"),
    }
    y = {"cls": rng.integers(0, 3, n), "reg": rng.standard_normal((n, 1)).astype("float32")}
    return x, y


def compiled_rich():
    ge.utils.set_random_seed(3)
    model = rich_model()
    model.compile(
        optimizer=ge.optimizers.Adam(learning_rate=0.01, clipnorm=1.0),
        loss={"cls": "sparse_categorical_crossentropy", "reg": "huber"},
        loss_weights={"cls": 1.0, "reg": 0.3},
        metrics={"cls": ["accuracy"]},
    )
    return model


def test_round_trip_is_exact_and_training_continues(tmp_path):
    x, y = data()
    model = compiled_rich()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    path = tmp_path / "rich.gez"
    model.save(path)
    loaded = ge.models.load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    for a, b in zip(model.predict(x, verbose=0).values(), loaded.predict(x, verbose=0).values()):
        np.testing.assert_array_equal(a, b)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 8
    h1 = model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    h2 = loaded.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert h1.history == h2.history
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sequential_round_trip_and_config(tmp_path):
    model = ge.Sequential(
        [ge.layers.Dense(4, input_dim=3, activation="elu"), ge.layers.Dense(2)], name="seq"
    )
    path = tmp_path / "seq.gez"
    model.save(path)
    loaded = ge.models.load_model(path)
    assert isinstance(loaded, ge.Sequential) and loaded.name == "seq"
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(model(x), loaded(x))
    assert ge.Sequential.from_config(model.get_config()).get_config() == model.get_config()


def test_weights_only(tmp_path):
    model = compiled_rich()
    path = tmp_path / "w.gez"
    model.save_weights(path)
    fresh = rich_model()
    fresh.load_weights(path)
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="holds only weights"):
        ge.models.load_model(path)
    other = ge.Sequential([ge.layers.Dense(3, input_dim=6)])
    with pytest.raises(ValueError, match=r"holds 8 weights but model .* has 2"):
        other.load_weights(path)


def test_weight_shape_mismatch_names_the_weight(tmp_path):
    path = tmp_path / "w.gez"
    ge.Sequential([ge.layers.Dense(3, input_dim=4, name="d")]).save_weights(path)
    other = ge.Sequential([ge.layers.Dense(3, input_dim=5, name="d")])
    before = other.get_weights()
    with pytest.raises(
        ValueError,
        match=r"weight 'd/kernel' .* shape \(5, 3\), the file holds "
        r"shape \(4, 3\)",
    ):
        other.load_weights(path)
    for a, b in zip(before, other.get_weights()):  # nothing was half-loaded
        np.testing.assert_array_equal(a, b)


def test_unregistered_lambda_is_refused_at_save(tmp_path):
    x = ge.Input((2,))
    model = ge.Model(x, ge.layers.Lambda(lambda t: t * 3.0, name="anon")(x))
    with pytest.raises(ValueError, match="Lambda 'anon'.*register_serializable"):
        model.save(tmp_path / "m.gez")
    assert os.listdir(tmp_path) == []


def test_loading_an_unknown_registered_name_is_refused(tmp_path):
    path = tmp_path / "m.gez"
    x = ge.Input((2,))
    ge.Model(x, ge.layers.Lambda(double_tanh)(x)).save(path)
    forged = tmp_path / "forged.gez"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(forged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                data = data.replace(b'"double_tanh"', b'"os.system"')
            dst.writestr(item, data)
    with pytest.raises(ValueError, match="'os.system' is not registered"):
        ge.models.load_model(forged)


class Payload:
    """Unpickling this would create a file: proof that loading ran code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_payload_in_every_array_is_not_run(tmp_path):
    model = compiled_rich()
    x, y = data()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "m.gez"
    model.save(path)
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.gez"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            data_bytes = src.read(item)
            if item.filename.endswith(".npy"):
                buf = io.BytesIO()
                np.save(buf, np.array([Payload(str(marker))], dtype=object), allow_pickle=True)
                data_bytes = buf.getvalue()
            dst.writestr(item, data_bytes)
    with pytest.raises(ValueError, match="cannot be read as a plain array"):
        ge.models.load_model(evil)
    with pytest.raises(ValueError, match="cannot be read as a plain array"):
        rich_model().load_weights(evil)
    assert not marker.exists()


def test_truncated_foreign_and_corrupt_files(tmp_path):
    path = tmp_path / "m.gez"
    compiled_rich().save(path)
    raw = path.read_bytes()
    truncated = tmp_path / "truncated.gez"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="not a zip archive"):
        ge.models.load_model(truncated)
    text = tmp_path / "notes.gez"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a graphengine file"):
        ge.models.load_model(text)
    with pytest.raises(ValueError, match=r"'.*notes.txt' has no supported suffix.*\.gez"):
        ge.models.load_model(tmp_path / "notes.txt")  # the suffix picks the format (API.md)
    foreign = tmp_path / "foreign.gez"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("readme.md", "hi")
    with pytest.raises(ValueError, match="has no config.json"):
        ge.models.load_model(foreign)
    other = tmp_path / "other.gez"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("config.json", json.dumps({"format": "keras"}))
    with pytest.raises(ValueError, match="not a graphengine file"):
        ge.models.load_model(other)
    newer = tmp_path / "newer.gez"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(newer, "w") as dst:
        for item in src.infolist():
            content = src.read(item)
            if item.filename == "config.json":
                cfg = json.loads(content)
                cfg["version"] = 99
                content = json.dumps(cfg).encode()
            dst.writestr(item, content)
    with pytest.raises(ValueError, match="format version 99"):
        ge.models.load_model(newer)
    missing = tmp_path / "missing.gez"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(missing, "w") as dst:
        for item in src.infolist():
            if item.filename != "weights/00003.npy":
                dst.writestr(item, src.read(item))
    with pytest.raises(ValueError, match="incomplete: weights/00003.npy is missing"):
        ge.models.load_model(missing)


def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.gez"
    model = ge.Sequential([ge.layers.Dense(3, input_dim=2)])
    model.save(path)
    good = path.read_bytes()
    calls = {"n": 0}
    real = np.lib.format.write_array

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    model.set_weights([w + 1 for w in model.get_weights()])
    with pytest.raises(OSError, match="No space left"):
        model.save(path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["m.gez"]  # no stray temporary file
    monkeypatch.undo()
    np.testing.assert_array_equal(ge.models.load_model(path).get_weights()[1], np.zeros(3))


def test_model_checkpoint_writes_loadable_files(tmp_path):
    x, y = data(32)
    model = compiled_rich()
    target = tmp_path / "best.gez"
    model.fit(
        x,
        y,
        epochs=3,
        batch_size=8,
        verbose=0,
        validation_split=0.25,
        callbacks=[ge.callbacks.ModelCheckpoint(str(target), save_best_only=True)],
    )
    loaded = ge.models.load_model(target)
    assert loaded.evaluate(x, y, verbose=0)[0] == pytest.approx(
        model.evaluate(x, y, verbose=0)[0], rel=0.5
    )
    weights_path = tmp_path / "w-{epoch:02d}.gez"
    model.fit(
        x,
        y,
        epochs=2,
        verbose=0,
        callbacks=[
            ge.callbacks.ModelCheckpoint(str(weights_path), monitor="loss", save_weights_only=True)
        ],
    )
    assert sorted(os.listdir(tmp_path)) == ["best.gez", "w-01.gez", "w-02.gez"]


def test_float16_is_rejected_explicitly_and_float64_data_is_cast():
    with pytest.raises(TypeError, match="dtype float16 is not supported"):
        ge.Input((3,), dtype="float16")
    with pytest.raises(TypeError, match="dtype complex64 is not supported"):
        ge.layers.Dense(2, dtype="complex64")
    model = ge.Sequential([ge.layers.Dense(2, input_dim=3)])
    out = model.predict(np.ones((2, 3), "float64"), verbose=0)
    assert out.dtype == np.float32
    out16 = model.predict(np.ones((2, 3), "float16"), verbose=0)
    np.testing.assert_array_equal(out, out16)


ACTIVATIONS = st.sampled_from(["relu", "tanh", "sigmoid", "linear", "gelu", "softplus"])


@st.composite
def stacks(draw):
    n_in = draw(st.integers(1, 5))
    rank = draw(st.integers(2, 3))
    shape = (n_in,) if rank == 2 else (draw(st.integers(1, 3)), n_in)
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["dense", "act", "relu", "softmax"]))
        if kind == "dense":
            layers.append(
                ge.layers.Dense(
                    draw(st.integers(1, 4)),
                    activation=draw(ACTIVATIONS),
                    use_bias=draw(st.booleans()),
                )
            )
        elif kind == "act":
            layers.append(ge.layers.Activation(draw(ACTIVATIONS)))
        elif kind == "relu":
            layers.append(ge.layers.ReLU(max_value=draw(st.sampled_from([None, 1.0, 6.0]))))
        else:
            layers.append(ge.layers.Softmax())
    return shape, layers, draw(st.integers(1, 4))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stacks())
def test_property_shapes_agree_and_round_trips_are_exact(tmp_path, case):
    shape, layers, batch = case
    x = ge.Input(shape)
    y = x
    for layer in layers:
        y = layer(y)
    model = ge.Model(x, y)
    data_in = np.random.default_rng(batch).standard_normal((batch,) + shape).astype("float32")
    out = model(data_in)
    assert out.shape == (batch,) + y.shape[1:]
    path = tmp_path / "p.gez"
    model.save(path)
    np.testing.assert_array_equal(ge.models.load_model(path)(data_in), out)
