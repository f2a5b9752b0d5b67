"""Bad inputs get clear errors, never silent wrong answers: class-id targets out of range,
Input shapes, set_weights / assign values, eager layer inputs and fit/evaluate arguments."""

import numpy as np
import pytest

import graphengine as ge

N_CLASSES = 4
X = np.linspace(-1.0, 1.0, 15, dtype=np.float32).reshape(5, 3)
GOOD = np.array([0, 1, 2, 3, 1])


def classifier(loss="sparse_categorical_crossentropy", metrics=None):
    ge.utils.set_random_seed(0)
    model = ge.Sequential(
        [ge.Input((3,), name="x"), ge.layers.Dense(N_CLASSES, name="probs")], name="clf"
    )
    model.compile(ge.optimizers.SGD(0.1), loss, metrics=metrics)
    return model


def with_label(value, at=2):
    labels = GOOD.astype(np.float64 if isinstance(value, float) else np.int64)
    labels[at] = value
    return labels


BAD_LABELS = [
    (N_CLASSES, r"holds label 4 at index 2, outside \[0, 4\)"),
    (-1, r"holds label -1 at index 2, outside \[0, 4\)"),
    (float("nan"), r"holds label nan at index 2, not an integer class id in \[0, 4\)"),
    (2.5, r"holds label 2.5 at index 2, not an integer class id in \[0, 4\)"),
]
CALLS = {
    "fit": lambda m, y: m.fit(X, y, batch_size=2, verbose=0),
    "evaluate": lambda m, y: m.evaluate(X, y, verbose=0),
    "train_on_batch": lambda m, y: m.train_on_batch(X, y),
    "test_on_batch": lambda m, y: m.test_on_batch(X, y),
}


# -- class ids --------------------------------------------------------------------------------
@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("label, message", BAD_LABELS, ids=["classes", "-1", "nan", "2.5"])
def test_bad_class_ids_raise_in_every_training_call(call, label, message):
    model = classifier()
    before = model.get_weights()
    where = r"Model 'clf': target 0 \('probs'\) "
    with pytest.raises(ValueError, match=where + message + " for sparse_categorical_crossentropy"):
        CALLS[call](model, with_label(label))
    for a, b in zip(before, model.get_weights()):  # checked before any step ran
        np.testing.assert_array_equal(a, b)


def test_bad_class_ids_raise_in_validation_data_and_with_a_trailing_axis():
    model = classifier()
    with pytest.raises(ValueError, match=r"holds label 4 at index 2, outside \[0, 4\)"):
        model.fit(X, GOOD, validation_data=(X, with_label(4)), verbose=0)
    with pytest.raises(ValueError, match=r"holds label -1 at index \(3, 0\), outside \[0, 4\)"):
        model.fit(X, with_label(-1, at=3)[:, None], verbose=0)


def test_sparse_loss_function_and_sparse_metrics_check_their_targets():
    model = classifier(loss=ge.losses.sparse_categorical_crossentropy)
    with pytest.raises(ValueError, match=r"label 4 .* for sparse_categorical_crossentropy on 4"):
        model.train_on_batch(X, with_label(4))

    def mean_square(y_true, y_pred):  # ignores the targets: only the metric reads them
        return ge.ops.mean(ge.ops.square(y_pred), axis=-1)

    for metric in ("accuracy", "sparse_categorical_accuracy"):
        model = classifier(loss=mean_square, metrics=[metric])
        with pytest.raises(ValueError, match=rf"label -1 at index 2, .* for {metric}\b.* on 4"):
            model.evaluate(X, with_label(-1), verbose=0)


def test_eager_loss_and_metric_calls_check_class_ids():
    probs = np.full((2, 3), 1.0 / 3.0, np.float32)
    loss = ge.losses.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match=r"y_true holds label 3 at index 1, outside \[0, 3\)"):
        loss(np.array([0, 3]), probs)
    with pytest.raises(ValueError, match=r"label nan at index 0, not an integer class id"):
        ge.losses.sparse_categorical_crossentropy(np.array([np.nan, 1.0]), probs)
    with pytest.raises(ValueError, match=r"label -2 at index 1, .* sparse_categorical_accuracy"):
        ge.metrics.sparse_categorical_accuracy(np.array([1, -2]), probs)
    assert float(loss(np.array([0, 2]), probs)) == pytest.approx(np.log(3.0), rel=1e-6)


def reference_loss(model, labels):
    logits = X @ model.get_weights()[0] + model.get_weights()[1]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return -np.mean(np.log(probs[np.arange(len(labels)), labels]))


def test_valid_class_ids_train_as_before():
    """Integer ids, integral floats and a trailing axis of 1 give the same loss and step."""
    runs = []
    for labels in (GOOD, GOOD.astype(np.float32), GOOD[:, None], GOOD.astype(np.uint8)):
        model = classifier(loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True))
        expected = reference_loss(model, GOOD)
        assert model.test_on_batch(X, labels) == pytest.approx(expected, rel=1e-5)
        model.fit(X, labels, batch_size=2, epochs=2, shuffle=False, verbose=0)
        runs.append(model.get_weights())
    for weights in runs[1:]:
        for a, b in zip(runs[0], weights):
            np.testing.assert_array_equal(a, b)


# -- Input shapes -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"shape": (-1, 3)}, ValueError, r"shape=\(-1, 3\) has the negative entry -1"),
        ({"shape": (2.5,)}, ValueError, r"shape=\(2.5,\) has the entry 2.5 of type float"),
        ({"shape": (True, 2)}, ValueError, r"shape=\(True, 2\) has the entry True of type bool"),
        ({"shape": "ab"}, ValueError, r"shape='ab' is not a shape"),
        ({"shape": 2.0}, ValueError, r"shape=2.0 is not a shape"),
        ({"shape": (3,), "batch_size": 2.5}, TypeError, r"batch_size must be an integer"),
        ({"shape": (3,), "batch_size": -2}, ValueError, r"batch_size must be an integer >= 0"),
        ({"batch_shape": (None, 1.5)}, ValueError, r"batch_shape=\(None, 1.5\) has the entry"),
        (
            {"batch_shape": (None, 3), "shape": (3,)},
            ValueError,
            r"give either batch_shape or shape",
        ),
    ],
)
def test_input_rejects_bad_shapes(kwargs, error, message):
    with pytest.raises(error, match=r"Input 'in': " + message):
        ge.Input(name="in", **kwargs)


def test_input_accepts_numpy_integers_and_none():
    assert ge.Input(shape=np.int64(3)).shape == (None, 3)
    x = ge.Input(shape=(np.int32(2), None), batch_size=np.int64(4))
    assert x.shape == (4, 2, None) and all(type(d) in (int, type(None)) for d in x.shape)


def test_symbolic_tensor_shapes_are_never_truncated():
    with pytest.raises(ValueError, match=r"tensor shape \(None, 2.5\) must hold non-negative"):
        ge.SymbolicTensor((None, 2.5), "float32")
    with pytest.raises(ValueError, match=r"tensor shape \(-1,\) must hold non-negative"):
        ge.SymbolicTensor((-1,), "float32")


# -- weights ----------------------------------------------------------------------------------
def built_dense():
    layer = ge.layers.Dense(2, name="d")
    layer(np.ones((1, 2), np.float32))
    return layer


@pytest.mark.parametrize(
    "kernel, dtype",
    [
        (np.array([[None, None], [None, None]]), "object"),
        (np.ones((2, 2)) * (1 + 2j), "complex128"),
        (np.array([["1", "2"], ["3", "4"]]), "<U1"),
    ],
    ids=["none", "complex", "string"],
)
def test_set_weights_refuses_values_that_are_not_real_numbers(kernel, dtype):
    layer = built_dense()
    before = layer.get_weights()
    message = (
        rf"Layer 'd' weight 0 \('d/kernel'\) holds float32 values, but set_weights received "
        rf"an array of dtype {dtype}"
    )
    with pytest.raises(TypeError, match=message):
        layer.set_weights([kernel, np.zeros(2)])
    model = ge.Sequential([ge.Input((2,)), layer], name="m")
    with pytest.raises(TypeError, match=message.replace("Layer 'd'", "Layer 'm'")):
        model.set_weights([kernel, np.zeros(2)])
    for a, b in zip(before, layer.get_weights()):  # nothing was copied
        np.testing.assert_array_equal(a, b)


def test_assign_refuses_none_complex_and_lossy_values():
    layer = built_dense()
    with pytest.raises(TypeError, match=r"Variable 'd/bias' .* assign received None"):
        layer.bias.assign(None)
    with pytest.raises(TypeError, match=r"Variable 'd/bias' .* dtype complex128"):
        layer.bias.assign(np.array([1j, 2.0]))
    with pytest.raises(ValueError, match=r"'d/bias' has shape \(2,\), but assign received .*\(3,"):
        layer.bias.assign(np.zeros(3))
    counter = ge.Variable(np.zeros(2, np.int32), name="counter")
    with pytest.raises(ValueError, match=r"'counter' holds int32 values, .* non-integral"):
        counter.assign(np.array([1.5, 2.0]))
    counter.assign(np.array([1.0, 2.0]))
    layer.bias.assign(np.array([True, False]))
    np.testing.assert_array_equal(counter.numpy(), [1, 2])
    np.testing.assert_array_equal(layer.bias.numpy(), [1.0, 0.0])


# -- eager layer calls ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, dtype",
    [
        (np.array([[1.0, None]], dtype=object), "object"),
        (np.ones((1, 2), complex), "complex128"),
        (np.array([["a", "b"]]), "<U1"),
    ],
    ids=["object", "complex", "string"],
)
def test_eager_layer_calls_refuse_non_real_inputs(value, dtype):
    layer = built_dense()
    with pytest.raises(TypeError, match=rf"Input 0 of layer 'd' \(Dense\) has dtype {dtype}"):
        layer(value)
    concat = ge.layers.Concatenate(name="cat")
    with pytest.raises(TypeError, match=r"Input 1 of layer 'cat' \(Concatenate\) has dtype"):
        concat([np.ones((1, 2)), value])


# -- fit / evaluate / predict arguments -------------------------------------------------------
FIT_ARGUMENTS = [
    ({"epochs": 2.5}, TypeError, r"fit\(\): epochs must be an integer, received epochs=2.5"),
    ({"epochs": True}, TypeError, r"epochs must be an integer, received epochs=True of type"),
    ({"epochs": -1}, ValueError, r"fit\(\): epochs must be an integer >= 0, received epochs=-1"),
    ({"initial_epoch": 0.5}, TypeError, r"initial_epoch must be an integer, received"),
    ({"validation_freq": 0}, ValueError, r"validation_freq must be an integer >= 1"),
    ({"validation_freq": 1.5}, TypeError, r"validation_freq must be an integer"),
    ({"batch_size": True}, TypeError, r"batch_size must be a positive integer, received batch"),
    ({"batch_size": 2.0}, TypeError, r"batch_size must be a positive integer, .* float"),
    ({"validation_batch_size": 0.5}, TypeError, r"validation_batch_size must be a positive"),
    ({"validation_split": "0.2"}, TypeError, r"validation_split must be a number in \[0, 1\)"),
    ({"verbose": "loud"}, ValueError, r"verbose must be 'auto', 0, 1 or 2, received verbose="),
    ({"verbose": 3}, ValueError, r"verbose must be 'auto', 0, 1 or 2, received verbose=3"),
]


@pytest.mark.parametrize("kwargs, error, message", FIT_ARGUMENTS)
def test_fit_arguments_are_checked(kwargs, error, message):
    model = classifier()
    with pytest.raises(error, match=message):
        model.fit(X, GOOD, **{"verbose": 0, **kwargs})


def test_evaluate_and_predict_arguments_are_checked_and_numpy_integers_pass():
    model = classifier()
    with pytest.raises(TypeError, match=r"batch_size must be a positive integer, .*2.5"):
        model.evaluate(X, GOOD, batch_size=2.5, verbose=0)
    with pytest.raises(ValueError, match=r"verbose must be 'auto', 0, 1 or 2"):
        model.evaluate(X, GOOD, verbose=-1)
    with pytest.raises(TypeError, match=r"batch_size must be a positive integer"):
        model.predict(X, batch_size=np.float32(2), verbose=0)
    history = model.fit(
        X,
        GOOD,
        batch_size=np.int64(2),
        epochs=np.int32(2),
        validation_freq=np.int64(1),
        validation_split=np.float32(0.4),
        verbose=False,
    )
    assert len(history.history["loss"]) == 2 and "val_loss" in history.history
