"""compile / fit / evaluate / predict: whole runs against Keras 3 (tests/keras_reference/
training.*), frozen layers, multi-output models, progress output, and data errors."""

import json
import os

import numpy as np
import pytest

import graphengine as ge

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
with open(os.path.join(REF, "training.json")) as f:
    CASES = json.load(f)


@pytest.fixture(scope="module")
def arrays():
    with np.load(os.path.join(REF, "training.npz"), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def build(name):
    if name in ("mlp_classifier", "mlp_classifier_frozen"):
        model = ge.Sequential(
            [
                ge.Input((4,)),
                ge.layers.Dense(5, activation="relu"),
                ge.layers.Dense(3, activation="softmax"),
            ]
        )
        model.layers[0].trainable = name == "mlp_classifier"
        return model
    if name.startswith("mlp_regressor"):
        reg = ge.regularizers.L2(0.01) if name.endswith("l2") else None
        return ge.Sequential(
            [
                ge.Input((3,)),
                ge.layers.Dense(4, activation="tanh", kernel_regularizer=reg),
                ge.layers.Dense(1),
            ]
        )
    if name == "masked_tagger":
        return ge.Sequential(
            [
                ge.Input((5,), dtype="int32"),
                ge.layers.Embedding(6, 3, mask_zero=True),
                ge.layers.LSTM(4, return_sequences=True),
                ge.layers.Dense(3, activation="softmax"),
            ]
        )
    x = ge.Input((4,), name="x")
    h = ge.layers.Dense(6, activation="relu", name="trunk")(x)
    a = ge.layers.Dense(1, name="score")(h)
    b = ge.layers.Dense(3, activation="softmax", name="label")(h)
    return ge.Model(x, {"score": a, "label": b})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_fit_matches_keras(case, arrays):
    cid = case["id"]
    model = build(case["build"])
    model.set_weights([arrays[f"{cid}/w_init{j}"] for j in range(case["n_weights"])])
    name, kwargs = case["optimizer"]
    model.compile(
        optimizer=getattr(ge.optimizers, name)(**kwargs),
        loss=case["loss"],
        loss_weights=case.get("loss_weights"),
        metrics=case["metrics"],
    )
    if f"{cid}/y" in arrays:
        y = arrays[f"{cid}/y"]
    else:
        y = {"score": arrays[f"{cid}/y_score"], "label": arrays[f"{cid}/y_label"]}
    history = model.fit(arrays[f"{cid}/x"], y, shuffle=False, verbose=0, **case["fit"])
    assert sorted(history.history) == sorted(case["history"])
    for key, values in case["history"].items():
        np.testing.assert_allclose(
            history.history[key], values, rtol=2e-5, atol=1e-6, err_msg=f"{cid}: history['{key}']"
        )
    for j, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(
            w, arrays[f"{cid}/w_final{j}"], rtol=1e-4, atol=1e-5, err_msg=f"{cid}: weight {j}"
        )


def digits_mlp(hidden=32):
    model = ge.Sequential(
        [
            ge.Input((64,)),
            ge.layers.Dense(hidden, activation="relu"),
            ge.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def digits():
    (x, y), (xt, yt) = ge.datasets.load_digits()
    return x.reshape(len(x), -1), y, xt.reshape(len(xt), -1), yt


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_output_masks_weight_the_loss_and_metrics(reduction):
    """As Keras (losses.loss.apply_mask, MeanMetricWrapper): masked entries of an output count
    0; 'sum_over_batch_size' averages over the kept ones (0 for a batch with none); metrics are
    means over the kept entries."""
    model = ge.Sequential(
        [
            ge.Input((4,), dtype="int32"),
            ge.layers.Embedding(5, 2, mask_zero=True),
            ge.layers.Dense(3),
        ]
    )
    loss = ge.losses.MeanSquaredError(reduction=reduction)
    model.compile(optimizer="sgd", loss=loss, metrics=["mae"])
    x = np.array([[1, 2, 0, 0], [3, 0, 0, 0], [0, 0, 0, 0], [4, 4, 1, 2]], dtype=np.int32)
    y = np.random.default_rng(0).standard_normal((4, 4, 3)).astype(np.float32)
    pred = model.predict(x, verbose=0)
    keep = (x != 0).astype(np.float64)
    squares, absolute = ((pred - y) ** 2).mean(-1), np.abs(pred - y).mean(-1)
    mae = (absolute * keep).sum() / keep.sum()
    expected = {"sum_over_batch_size": (squares * keep).sum() / keep.sum()}
    expected["sum"] = expected["none"] = (squares * keep).sum()  # 'none': the trainer sums
    got = model.evaluate(x, y, batch_size=4, verbose=0)
    np.testing.assert_allclose(got, [expected[reduction], mae], rtol=1e-5)
    if reduction == "sum_over_batch_size":  # a batch of padding only: 0, not 0 / 0
        assert model.evaluate(x[2:3], y[2:3], verbose=0) == [0.0, 0.0]


def test_digits_mlp_learns(digits):
    x, y, xt, yt = digits
    ge.utils.set_random_seed(1)
    model = digits_mlp()
    history = model.fit(x, y, batch_size=32, epochs=12, verbose=0, validation_data=(xt, yt))
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    loss, accuracy = model.evaluate(xt, yt, verbose=0)
    assert accuracy > 0.9
    assert loss == pytest.approx(history.history["val_loss"][-1], rel=1e-6)
    probs = model.predict(xt, batch_size=50, verbose=0)
    assert probs.shape == (len(xt), 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(probs.argmax(axis=1) == yt) == pytest.approx(accuracy)


def test_same_seed_same_run(digits):
    x, y, _, _ = digits
    runs = []
    for _ in range(2):
        ge.utils.set_random_seed(7)
        model = digits_mlp(8)
        model.fit(x[:200], y[:200], batch_size=32, epochs=2, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_frozen_layer_gets_no_update_and_head_trains(digits):
    x, y, _, _ = digits
    base = digits_mlp(16)
    base.fit(x[:256], y[:256], epochs=1, verbose=0)
    trunk = base.layers[0]
    trunk.trainable = False
    inp = ge.Input((64,))
    head = ge.layers.Dense(10, activation="softmax")
    model = ge.Model(inp, head(trunk(inp)))
    model.compile(optimizer=ge.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    frozen = trunk.get_weights()
    head_before = head.get_weights()
    model.fit(x[:256], y[:256], epochs=2, batch_size=32, verbose=0)
    for a, b in zip(frozen, trunk.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(head_before[0], head.get_weights()[0])
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2


def test_train_on_batch_and_test_on_batch_return_loss_and_metrics(digits):
    x, y, _, _ = digits
    ge.utils.set_random_seed(0)
    model = digits_mlp(8)
    before = model.test_on_batch(x[:32], y[:32])
    loss, acc = model.train_on_batch(x[:32], y[:32])
    assert loss == pytest.approx(before[0]) and 0.0 <= acc <= 1.0
    after = model.test_on_batch(x[:32], y[:32], return_dict=True)
    assert set(after) == {"loss", "accuracy"} and after["loss"] < before[0]
    out = model.predict_on_batch(x[:5])
    np.testing.assert_allclose(out, model(x[:5]))


def test_multi_output_with_lists_and_dicts():
    inp_a, inp_b = ge.Input((3,), name="a"), ge.Input((2,), name="b")
    h = ge.layers.Concatenate()([inp_a, inp_b])
    out1 = ge.layers.Dense(1, name="reg")(h)
    out2 = ge.layers.Dense(2, activation="softmax", name="cls")(h)
    model = ge.Model({"a": inp_a, "b": inp_b}, [out1, out2])
    model.compile(
        optimizer="sgd",
        loss=["mse", "sparse_categorical_crossentropy"],
        loss_weights=[1.0, 0.5],
        metrics=[[], ["accuracy"]],
    )
    rng = np.random.default_rng(0)
    xs = {"a": rng.standard_normal((10, 3)), "b": rng.standard_normal((10, 2))}
    ys = [rng.standard_normal((10, 1)), rng.integers(0, 2, 10)]
    history = model.fit(xs, ys, batch_size=5, epochs=2, verbose=0)
    assert sorted(history.history) == ["cls_accuracy", "cls_loss", "loss", "reg_loss"]
    logs = model.evaluate(xs, {"reg": ys[0], "cls": ys[1]}, return_dict=True, verbose=0)
    assert logs["loss"] == pytest.approx(logs["reg_loss"] + 0.5 * logs["cls_loss"], rel=1e-5)
    reg, cls = model.predict(xs, verbose=0)
    assert reg.shape == (10, 1) and cls.shape == (10, 2)


def test_custom_loss_and_learning_rate_set_between_fits():
    def half_squared(y_true, y_pred):
        return ge.ops.mean(ge.ops.square(y_pred - y_true), axis=-1) * 0.5

    model = ge.Sequential([ge.Input((2,)), ge.layers.Dense(1)])
    model.compile(optimizer=ge.optimizers.SGD(learning_rate=0.1), loss=half_squared)
    x = np.ones((4, 2), "float32")
    model.fit(x, np.zeros((4, 1)), verbose=0, batch_size=4)
    model.optimizer.learning_rate = 0.0
    frozen = model.get_weights()
    model.fit(x, np.zeros((4, 1)), verbose=0, batch_size=4)
    for a, b in zip(frozen, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_callbacks_run_in_fit(digits, tmp_path):
    x, y, xt, yt = digits
    ge.utils.set_random_seed(0)
    model = digits_mlp(8)
    log = tmp_path / "log.csv"
    stop = ge.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    history = model.fit(
        x[:128], y[:128], epochs=5, verbose=0, callbacks=[stop, ge.callbacks.CSVLogger(str(log))]
    )
    assert len(history.epoch) == 2  # no epoch improves by 10: stop after the patience runs out
    rows = log.read_text().splitlines()
    # Keras adds val_ columns (filled with NA) when the first epoch has no validation
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(rows) == 3
    assert rows[1].startswith("0,") and rows[1].endswith(",NA,NA")


def test_verbose_output(digits, capsys):
    x, y, _, _ = digits
    model = digits_mlp(4)
    model.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)
    model.evaluate(x[:64], y[:64], verbose=0)
    model.predict(x[:64], verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x[:64], y[:64], epochs=2, batch_size=32, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[::2] == ["Epoch 1/2", "Epoch 2/2"] and len(lines) == 4 and "loss:" in lines[3]


def test_compile_errors():
    model = ge.Sequential([ge.Input((2,)), ge.layers.Dense(1)])
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="Unknown loss 'msee'"):
        model.compile(loss="msee")
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'"):
        model.compile(loss="mse", metrics=["acuracy"])
    with pytest.raises(TypeError, match="did you mean 'loss_weights'"):
        model.compile(loss="mse", loss_weight=[1.0])
    with pytest.raises(ValueError, match=r"loss has 2 entries but model .* has 1 outputs"):
        model.compile(loss=["mse", "mae"])
    with pytest.raises(RuntimeError, match="must be compiled before fit"):
        model.fit(np.ones((2, 2)), np.ones((2, 1)))


def test_data_errors_name_the_input_and_shapes():
    model = ge.Sequential([ge.Input((3,), name="features"), ge.layers.Dense(2, name="out")])
    model.compile(loss="mse")
    with pytest.raises(
        ValueError,
        match=r"input 0 \('features'\) expects shape \(None, 3\), "
        r"received an array of shape \(4, 5\)",
    ):
        model.fit(np.ones((4, 5)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"expects shape \(None, 3\), received .* \(4, 3, 2\)"):
        model.predict(np.ones((4, 3, 2)))  # (4, 3, 1) loses its last axis, as in Keras 3
    with pytest.raises(
        ValueError,
        match=r"same number of samples.*input 0 \('features'\): 4, "
        r"target 0 \('out'\): 3",
    ):
        model.fit(np.ones((4, 3)), np.ones((3, 2)))
    with pytest.raises(TypeError, match=r"input 0 \('features'\) must be numeric"):
        model.fit(np.array([["a", "b", "c"]]), np.ones((1, 2)))
    with pytest.raises(TypeError, match=r"target 0 \('out'\) must be numeric"):
        model.fit(np.ones((1, 3)), np.array([["a", "b"]]))
    with pytest.raises(
        ValueError,
        match=r"targets for output 'out' have shape \(None, 5\) but "
        r"the output has shape \(None, 2\)",
    ):
        model.fit(np.ones((4, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)), batch_size=0)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\)"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)), validation_split=1.5)
    empty = r"expected non-empty data, but input 0 \('features'\) has 0 samples \(shape \(0, 3\)\)"
    with pytest.raises(ValueError, match=empty):
        model.fit(np.ones((0, 3)), np.ones((0, 2)))
    with pytest.raises(ValueError, match=empty):
        model.evaluate(np.ones((0, 3)), np.ones((0, 2)))
    with pytest.raises(ValueError, match=empty):
        model.predict(np.ones((0, 3)))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_terminate_on_nan_stops_at_the_first_non_finite_loss():
    model = ge.Sequential([ge.Input((2,)), ge.layers.Dense(1)])
    model.compile(optimizer=ge.optimizers.SGD(learning_rate=1e30), loss="mse")
    x = np.ones((64, 2), "float32") * 1e10
    history = model.fit(
        x,
        np.zeros((64, 1)),
        batch_size=8,
        epochs=5,
        verbose=0,
        callbacks=[ge.callbacks.TerminateOnNaN()],
    )
    assert len(history.epoch) == 1  # stopped inside the first epoch
    assert not np.isfinite(history.history["loss"][0])


def test_repeated_predict_calls_take_the_fast_path_and_stay_exact():
    """predict_on_batch and eager calls that repeat the last call's signature skip validation
    and the plan lookup; results stay fresh arrays and follow weights, shapes and dtypes."""
    ge.utils.set_random_seed(0)
    model = ge.Sequential(
        [ge.Input((8,), name="features"), ge.layers.Dense(16, activation="relu"),
         ge.layers.Dense(1)]
    )  # fmt: skip
    rng = np.random.default_rng(0)
    x = rng.random((1, 8), dtype=np.float32)
    w = model.get_weights()
    expected = np.maximum(x @ w[0] + w[1], 0) @ w[2] + w[3]
    first = model.predict_on_batch(x)
    checks = []
    model._prepared = lambda a, check=model._prepared: checks.append(a) or check(a)
    second = model.predict_on_batch(x)
    assert checks == []  # the repeated call skipped the checks
    np.testing.assert_allclose(second, expected, rtol=1e-6)
    np.testing.assert_array_equal(first, second)
    assert first is not second and not np.shares_memory(first, second)
    second += 1.0  # the caller owns the result: the next call is unaffected
    np.testing.assert_array_equal(model.predict_on_batch(x), first)
    np.testing.assert_array_equal(model(x), first)  # eager calls share the path
    # another shape, a float64 copy, a strided view, new weights: each one exact
    x4 = rng.random((4, 8))
    np.testing.assert_allclose(model(x4), model.predict(x4, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x.astype(np.float64)), first, rtol=1e-6)
    assert len(checks) == 1  # a new dtype is checked again
    wide = rng.random((1, 16), dtype=np.float32)
    for _ in range(2):
        np.testing.assert_allclose(model(wide[:, ::2]), model(wide[:, ::2].copy()), rtol=1e-6)
    model.set_weights([a * 2 for a in w])
    np.testing.assert_allclose(
        model.predict_on_batch(x),
        np.maximum(x @ (2 * w[0]) + 2 * w[1], 0) @ (2 * w[2]) + 2 * w[3],
        rtol=1e-5,
    )
    # bad input after a fast call still gets the checks' errors
    with pytest.raises(ValueError, match=r"input 0 \('features'\) expects shape \(None, 8\), "
                       r"received an array of shape \(1, 9\)"):  # fmt: skip
        model.predict_on_batch(np.ones((1, 9), np.float32))
    with pytest.raises(TypeError, match=r"input 0 \('features'\) must be numeric"):
        model(np.array([list("abcdefgh")]))
    with pytest.raises(ValueError, match="x is required"):
        model.predict_on_batch(None)


def test_fast_path_keeps_training_flag_and_input_lists_apart():
    """A list of arrays given to a one-input model, and training=True, never reuse the plan
    of another signature."""
    model = ge.Sequential([ge.Input((3,)), ge.layers.Dropout(0.5)])
    rows = [np.ones(3, np.float32), np.ones(3, np.float32)]
    for _ in range(2):
        with pytest.raises(ValueError, match=r"expects 1 input .* a list of 2 entries holding"):
            model.predict_on_batch(rows)  # Keras 3: a list lists one entry per input
        np.testing.assert_array_equal(model(np.ones((2, 3), np.float32)), np.ones((2, 3)))
        dropped = model(np.ones((2, 3), np.float32), training=True)
        assert set(np.unique(dropped)) <= {0.0, 2.0} and (dropped == 0).any()
    model.compile(loss="mse")  # a new compile forgets the plans and the fast path with them
    assert model._last_forward is None
    np.testing.assert_array_equal(model(np.ones((2, 3), np.float32)), np.ones((2, 3)))


def test_large_inputs_are_read_in_place_and_never_changed():
    """A plan reads a large, contiguous input of its feed's dtype in place (no copy-in) for one
    run, and puts its own buffer back afterwards, also when a step raises; views of the input
    and Lambda bodies (user code) keep the copy."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 256), dtype=np.float32)  # 64 KiB: lent
    model = ge.Sequential([ge.Input((256,)), ge.layers.Dense(4)])
    w, b = model.get_weights()
    np.testing.assert_allclose(model.predict_on_batch(x), x @ w + b, rtol=1e-5)
    plan = model._plans.plans()[-1]
    ins = plan.steps[0][1]
    assert plan._lendable[0] == [(ins, 0)] and ins[0] is plan.feed_buffers[0]  # restored
    ids = rng.integers(0, 10, (8, 1024))  # int64, 64 KiB
    emb = ge.Sequential([ge.Input((1024,), dtype="int64"), ge.layers.Embedding(10, 2)])
    table = emb.get_weights()[0]
    np.testing.assert_array_equal(emb.predict_on_batch(ids), table[ids])
    bad = ids.copy()
    bad[3, 5] = 10
    with pytest.raises(ValueError, match=r"index 10 is out of range \[0, 10\)"):
        emb.predict_on_batch(bad)
    feed = emb._plans.plans()[-1].feed_buffers[0]
    assert all(ins[j] is feed for ins, j in emb._plans.plans()[-1]._lendable[0])
    np.testing.assert_array_equal(emb.predict_on_batch(ids), table[ids])
    # a Lambda that writes into its argument, and a reshape view: the caller's array is copied
    doubled = ge.Sequential(
        [ge.Input((256,)), ge.layers.Lambda(lambda a: np.multiply(a, 2, out=a))]
    )
    before = x.copy()
    np.testing.assert_allclose(doubled.predict_on_batch(x), 2 * before)
    np.testing.assert_array_equal(x, before)
    assert doubled._plans.plans()[-1]._lendable == [None]
    flat = ge.Sequential([ge.Input((16, 16)), ge.layers.Flatten(), ge.layers.Dense(3)])
    x3 = x.reshape(64, 16, 16)
    kernel, bias = flat.get_weights()
    np.testing.assert_allclose(flat(x3), x @ kernel + bias, rtol=1e-5)
    assert flat._plans.plans()[-1]._lendable == [None]


def test_model_provides_what_the_trainer_uses():
    """Trainer reaches the model only through TrainableModel: Model must have every member."""
    from graphengine.training.trainer import TrainableModel

    model = ge.Sequential([ge.Input((2,)), ge.layers.Dense(1)])
    members = set(TrainableModel.__annotations__) | {
        name for name, value in vars(TrainableModel).items() if callable(value)
    }
    members -= {n for n in members if n.startswith("__")}
    assert len(members) > 15
    assert [m for m in sorted(members) if not hasattr(model, m)] == []
