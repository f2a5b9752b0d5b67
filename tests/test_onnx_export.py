"""model.export(path, format="onnx"): the exported graph runs to our predictions in onnxruntime
(outputs recorded offline by tests/onnx_reference/generate.py) and in onnx's own NumPy
ReferenceEvaluator; the bytes are deterministic; what cannot be exported raises."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import graphengine as ge
from onnx_reference.cases import CASES, build, randomize

onnx = pytest.importorskip("onnx")
from onnx.reference import ReferenceEvaluator  # noqa: E402

L = ge.layers
HERE = os.path.dirname(os.path.abspath(__file__))
RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture(scope="module")
def recorded() -> dict[str, np.ndarray]:
    with np.load(os.path.join(HERE, "onnx_reference", "onnx.npz"), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def predict(model: ge.Model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    out = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    return out if isinstance(out, list) else [out]


def reference_run(path: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    feeds = {i.name: x for i, x in zip(proto.graph.input, inputs)}
    return ReferenceEvaluator(proto).run(None, feeds)


@pytest.mark.parametrize("name", list(CASES))
def test_onnxruntime_and_the_reference_evaluator_agree_with_our_predictions(
    name, recorded, tmp_path
):
    model, inputs = build(name)
    for i, x in enumerate(inputs):  # the same seeded inputs onnxruntime ran
        np.testing.assert_array_equal(x, recorded[f"{name}/x{i}"])
    ours = predict(model, inputs)
    ort = [recorded[f"{name}/y{i}"] for i in range(len(ours))]
    assert f"{name}/y{len(ours)}" not in recorded
    for a, b in zip(ours, ort):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    path = str(tmp_path / f"{name}.onnx")
    model.export(path, format="onnx", verbose=False)
    if CASES[name][1]:  # the ReferenceEvaluator runs sigmoid / tanh recurrent gates only
        for a, b in zip(reference_run(path, inputs), ort):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def test_the_batch_axis_is_dynamic_and_names_come_from_the_model(tmp_path):
    model, inputs = build("mlp")
    path = str(tmp_path / "mlp.onnx")
    model.export(path, verbose=False)
    graph = onnx.load(path).graph
    assert [i.name for i in graph.input] == ["features"]
    assert [o.name for o in graph.output] == ["probs"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 6
    one = [inputs[0][:1]]
    np.testing.assert_allclose(reference_run(path, one)[0], predict(model, one)[0], rtol=RTOL)


def test_export_is_deterministic_and_prints_where_it_wrote(tmp_path, capsys):
    model, _ = build("cnn")
    a, b = str(tmp_path / "a.onnx"), str(tmp_path / "b.onnx")
    model.export(a)
    assert f"to {a}" in capsys.readouterr().out
    model.export(b, verbose=False)
    assert capsys.readouterr().out == ""
    assert open(a, "rb").read() == open(b, "rb").read()
    ops = [n.op_type for n in onnx.load(a).graph.node]
    assert ops.count("Transpose") == 2  # one into channels-first, one out: the chain cancels


def test_lstm_with_initial_states_and_returned_states(tmp_path):
    x = ge.Input((4, 3), name="x")
    h0, c0 = ge.Input((2,), name="h0"), ge.Input((2,), name="c0")
    y, h, c = L.LSTM(2, return_state=True, return_sequences=True)(x, initial_state=[h0, c0])
    model = ge.Model([x, h0, c0], [y, h, c])
    rng = np.random.default_rng(3)
    inputs = [rng.normal(size=s).astype("float32") for s in [(2, 4, 3), (2, 2), (2, 2)]]
    path = str(tmp_path / "lstm.onnx")
    model.export(path, verbose=False)
    for a, b in zip(reference_run(path, inputs), predict(model, inputs)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def test_grouped_strided_conv_permute_bidirectional_and_indexing(tmp_path):
    x = ge.Input((7, 7, 4), name="image")
    h = L.Conv2D(4, 3, strides=2, padding="same", groups=2, activation="relu6")(x)
    h = L.Reshape((16, 4))(L.Permute((2, 1, 3))(h))
    s = ge.Input((5, 3), name="sequence")
    r = L.Bidirectional(L.LSTM(2, return_sequences=True))(s)  # reversed back by x[:, ::-1]
    r = L.GlobalAveragePooling1D()(r)
    picked = L.Lambda(lambda t: t[:, None, -1, 1:3:2])(h)  # an int, a stride, a new axis
    outputs = [L.Softmax()(L.Dense(3)(L.Flatten()(h))), L.Dense(3, activation="step")(r), picked]
    model = ge.Model([x, s], outputs)
    randomize(model, 3)
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(2, 7, 7, 4)).astype("float32")]
    inputs.append(rng.normal(size=(2, 5, 3)).astype("float32"))
    path = str(tmp_path / "more.onnx")
    model.export(path, verbose=False)
    for a, b in zip(reference_run(path, inputs), predict(model, inputs)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def test_a_nested_model_exports_flat(tmp_path):
    inner = ge.Sequential([ge.Input((3,)), L.Dense(4, activation="relu"), L.Dense(2)])
    x = ge.Input((3,), name="x")
    model = ge.Model(x, L.Activation("sigmoid")(inner(x)))
    xs = [np.random.default_rng(1).normal(size=(5, 3)).astype("float32")]
    path = str(tmp_path / "nested.onnx")
    model.export(path, verbose=False)
    np.testing.assert_allclose(reference_run(path, xs)[0], predict(model, xs)[0], rtol=RTOL)


def test_an_op_without_a_mapping_names_the_layer_and_the_op(tmp_path):
    x = ge.Input((4, 4, 2))
    model = ge.Model(x, L.Conv2DTranspose(2, 3, name="upsample")(x))
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match=r"layer 'upsample' runs op .*ConvTranspose.*no ONNX"):
        model.export(str(path))
    assert path.read_bytes() == b"old"  # nothing written


def test_training_only_settings_raise():
    x = ge.Input((4,))
    model = ge.Model(x, L.Dropout(0.5, name="drop")(x, training=True))
    with pytest.raises(ValueError, match=r"layer 'drop' .*training=True"):
        model.export("unused.onnx")
    seq, mask = ge.Input((3, 2)), ge.Input((3,), dtype="bool")
    masked = L.LSTM(2, name="masked_lstm")(seq, mask=mask)
    with pytest.raises(ValueError, match=r"layer 'masked_lstm' .*with a mask"):
        ge.Model([seq, mask], masked).export("unused.onnx")


def test_a_format_other_than_onnx_raises():
    model, _ = build("merges")
    with pytest.raises(ValueError, match=r"format='tf_saved_model' .*supported format is 'onnx'"):
        model.export("m", format="tf_saved_model")


def test_a_bad_path_raises(tmp_path):
    model, _ = build("merges")
    with pytest.raises(FileNotFoundError):
        model.export(str(tmp_path / "no" / "such" / "dir" / "m.onnx"), verbose=False)
    with pytest.raises(TypeError, match=r"export needs a file path, received int"):
        model.export(3)


def test_without_onnx_the_error_names_the_extra(monkeypatch):
    model, _ = build("merges")
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"graphengine\[onnx\]"):
        model.export("unused.onnx")
