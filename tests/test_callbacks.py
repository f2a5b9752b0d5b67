"""Callbacks against a fake model that has exactly the members the fit loop gives them, with
expected behaviour worked out by hand from Keras 3's callback semantics."""

from __future__ import annotations

import math
import re
import types
from typing import Any

import numpy as np
import pytest

import graphengine.training.progress as progress_module
from graphengine.training.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)


class FakeOptimizer:
    def __init__(self, learning_rate: float = 1.0) -> None:
        self._lr = learning_rate

    @property
    def learning_rate(self) -> float:
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._lr = float(value)


class FakeModel:
    """The model interface callbacks may use, and nothing more."""

    def __init__(self, learning_rate: float = 1.0) -> None:
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self.history: Any = None
        self._weights = [np.zeros((2, 2), "float32"), np.zeros(2, "float32")]
        self.saved: list[tuple[str, str]] = []

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self._weights]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self._weights = [np.array(w) for w in weights]

    def save(self, path: str) -> None:
        self.saved.append(("model", path))
        with open(path, "w") as f:
            f.write("model")

    def save_weights(self, path: str) -> None:
        self.saved.append(("weights", path))
        with open(path, "w") as f:
            f.write("weights")


def fit_like(
    callbacks: list[Callback],
    model: FakeModel,
    epoch_logs: list[dict],
    steps: int = 1,
    verbose: int = 0,
) -> int:
    """Drives the callbacks the way fit() does, one epoch per logs dict (its values also used as
    every batch's logs, minus val_ keys); changes the weights each epoch to `epoch`. Returns the
    number of epochs run."""
    cbs = CallbackList(
        callbacks,
        add_history=True,
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=len(epoch_logs),
        steps=steps,
    )
    model.stop_training = False
    cbs.on_train_begin()
    ran, logs = 0, {}
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch)
        model.set_weights([np.full((2, 2), epoch, "float32"), np.full(2, epoch, "float32")])
        for b in range(steps):
            cbs.on_train_batch_begin(b)
            cbs.on_train_batch_end(b, {k: v for k, v in logs.items() if not k.startswith("val_")})
        cbs.on_epoch_end(epoch, logs)
        ran += 1
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    return ran


def losses(*values: float, key: str = "val_loss") -> list[dict]:
    return [{key: v} for v in values]


class Recorder(Callback):
    def __init__(self, name: str = "r", calls: list | None = None) -> None:
        super().__init__()
        self.name, self.calls = name, calls if calls is not None else []

    def __getattribute__(self, attr: str) -> Any:
        if attr.startswith("on_") and not attr.startswith("on_batch"):

            def record(*args: Any) -> None:
                self.calls.append((self.name, attr, *args))

            return record
        return super().__getattribute__(attr)


# ---------------------------------------------------------------------------- CallbackList


def test_callback_list_dispatches_every_hook_in_order():
    calls: list = []
    cbs = CallbackList([Recorder("a", calls), Recorder("b", calls)])
    hooks_with_index = [
        "on_epoch_begin",
        "on_epoch_end",
        "on_train_batch_begin",
        "on_train_batch_end",
        "on_test_batch_begin",
        "on_test_batch_end",
        "on_predict_batch_begin",
        "on_predict_batch_end",
    ]
    for hook in hooks_with_index:
        getattr(cbs, hook)(3, {"loss": 1.0})
    for kind in ("train", "test", "predict"):
        getattr(cbs, f"on_{kind}_begin")()
        getattr(cbs, f"on_{kind}_end")({"loss": 2.0})
    expected = []
    for hook in hooks_with_index:
        expected += [(n, hook, 3, {"loss": 1.0}) for n in "ab"]
    for kind in ("train", "test", "predict"):
        expected += [(n, f"on_{kind}_begin", {}) for n in "ab"]
        expected += [(n, f"on_{kind}_end", {"loss": 2.0}) for n in "ab"]
    assert calls == expected


def test_callback_list_sets_model_and_params():
    model, cb = FakeModel(), Callback()
    cbs = CallbackList([cb], model=model, verbose=0, epochs=3, steps=2)
    assert cb.model is model and cbs.model is model
    assert cb.params == {"verbose": 0, "epochs": 3, "steps": 2}


def test_callback_list_adds_history_and_progbar_once():
    model = FakeModel()
    cbs = CallbackList([Callback()], add_history=True, add_progbar=True, model=model, verbose=0)
    kinds = [type(c) for c in cbs.callbacks]
    assert kinds == [Callback, History, ProgbarLogger]
    assert model.history is cbs.callbacks[1]
    mine = History()
    cbs = CallbackList([mine, ProgbarLogger()], add_history=True, add_progbar=True, model=model)
    assert len(cbs.callbacks) == 2 and model.history is mine
    assert [type(c) for c in CallbackList([Callback()]).callbacks] == [Callback]


def test_callback_list_flattens_nested_and_appends():
    a, b, c = Callback(), Callback(), Callback()
    cbs = CallbackList([a, [b, (c,)]])
    assert cbs.callbacks == [a, b, c]
    d = Callback()
    cbs.append(d)
    assert cbs.callbacks[-1] is d


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match=r"callbacks\[1\] is a str, expected a graphengine Call"):
        CallbackList([Callback(), "early_stopping"])


def test_callback_list_end_without_begin_raises():
    cbs = CallbackList([Callback()])
    with pytest.raises(ValueError, match="on_train_end called without its matching"):
        cbs.on_train_end()


def test_callback_list_pythonifies_logs_and_shares_one_copy():
    seen: list[dict] = []

    class Adder(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = 1.0

    class Reader(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(dict(logs))

    caller_logs = {
        "val_loss": np.float32(0.5),
        "loss": np.float64(0.25),
        "name": "x",
        "nested": {"a_loss": np.array(2.0)},
        "vec": np.arange(2),
    }
    CallbackList([Adder(), Reader()]).on_epoch_end(0, caller_logs)
    (logs,) = seen
    # Sorted, a nested dict's entries taking its place (as Keras's pythonify_logs).
    assert list(logs) == ["loss", "name", "a_loss", "val_loss", "vec", "extra"]
    assert type(logs["val_loss"]) is float and logs["val_loss"] == 0.5
    assert type(logs["a_loss"]) is float and logs["name"] == "x"
    np.testing.assert_array_equal(logs["vec"], [0, 1])
    assert logs["extra"] == 1.0 and "extra" not in caller_logs


def test_train_batch_hooks_forward_to_legacy_batch_hooks():
    calls = []

    class Legacy(Callback):
        def on_batch_begin(self, batch, logs=None):
            calls.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            calls.append(("end", batch, logs))

    cbs = CallbackList([Legacy()])
    cbs.on_train_batch_begin(0)
    cbs.on_train_batch_end(0, {"loss": 1.0})
    cbs.on_test_batch_end(0, {"loss": 1.0})  # test batches do not reach the legacy alias
    assert calls == [("begin", 0), ("end", 0, {"loss": 1.0})]


# ---------------------------------------------------------------------------- History


def test_history_records_every_epoch():
    model = FakeModel()
    logs = [{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5, "val_loss": 1.5}]
    fit_like([], model, logs)
    assert isinstance(model.history, History)
    assert model.history.epoch == [0, 1]
    assert model.history.history == {"loss": [1.0, 0.5], "val_loss": [2.0, 1.5]}
    assert model.history.params == {"verbose": 0, "epochs": 2, "steps": 1}


def test_history_epoch_resets_on_train_begin():
    model, history = FakeModel(), History()
    fit_like([history], model, losses(1.0, 2.0))
    fit_like([history], model, losses(3.0))
    assert history.epoch == [0]
    assert history.history["val_loss"] == [1.0, 2.0, 3.0]  # as Keras: the dict keeps growing


# ---------------------------------------------------------------------------- EarlyStopping


# The wait counts the current epoch before comparing with patience, so 0 and 1 agree (as Keras).
@pytest.mark.parametrize(
    "patience, epochs_run, stopped_epoch", [(0, 4, 3), (1, 4, 3), (2, 5, 4), (3, 6, 5), (5, 6, 0)]
)
def test_early_stopping_patience(patience, epochs_run, stopped_epoch):
    model = FakeModel()
    es = EarlyStopping(patience=patience)
    assert fit_like([es], model, losses(1.0, 0.9, 0.8, 0.85, 0.84, 0.83)) == epochs_run
    assert es.stopped_epoch == stopped_epoch
    assert model.stop_training is (stopped_epoch > 0)
    assert es.best == 0.8


def test_early_stopping_min_delta():
    values = losses(1.0, 0.95, 0.92, 0.9)
    assert fit_like([EarlyStopping(patience=1)], FakeModel(), values) == 4
    assert fit_like([EarlyStopping(patience=1, min_delta=0.1)], FakeModel(), values) == 2
    # min_delta is an absolute change: a negative value means the same as its magnitude.
    assert fit_like([EarlyStopping(patience=1, min_delta=-0.1)], FakeModel(), values) == 2


@pytest.mark.parametrize(
    "monitor, mode, expected_epochs",
    [
        ("val_accuracy", "auto", 3),
        ("val_accuracy", "max", 3),
        ("val_accuracy", "min", 2),
        ("loss", "auto", 2),
        ("val_my_score", "max", 3),
    ],
)
def test_early_stopping_mode(monitor, mode, expected_epochs):
    values = losses(0.5, 0.6, 0.55, 0.7, key=monitor)
    es = EarlyStopping(monitor=monitor, mode=mode)
    assert fit_like([es], FakeModel(), values) == expected_epochs


def test_early_stopping_bad_mode_raises():
    with pytest.raises(ValueError, match=r"EarlyStopping: mode='bogus' is unknown"):
        EarlyStopping(mode="bogus")


def test_auto_mode_unknown_metric_raises():
    es = EarlyStopping(monitor="val_my_score")
    with pytest.raises(ValueError, match=r"monitor='val_my_score' but cannot tell whether"):
        fit_like([es], FakeModel(), losses(1.0, key="val_my_score"))


def test_early_stopping_baseline():
    flat = losses(0.9, 0.9, 0.9, 0.9)
    assert fit_like([EarlyStopping(patience=2)], FakeModel(), flat) == 3
    # Never beating the baseline, the wait is never reset: stop `patience` epochs after the start.
    assert fit_like([EarlyStopping(patience=2, baseline=0.5)], FakeModel(), flat) == 2
    below = losses(0.4, 0.4, 0.4, 0.4)
    assert fit_like([EarlyStopping(patience=2, baseline=0.5)], FakeModel(), below) == 3
    # mode max: 0.6 does not beat a baseline of 0.7.
    acc = losses(0.6, 0.6, 0.6, 0.6, key="val_accuracy")
    es = EarlyStopping(monitor="val_accuracy", patience=2, baseline=0.7)
    assert fit_like([es], FakeModel(), acc) == 2


def test_early_stopping_restore_best_weights():
    model = FakeModel()
    es = EarlyStopping(patience=2, restore_best_weights=True)
    assert fit_like([es], model, losses(1.0, 0.5, 0.7, 0.8, 0.1)) == 4
    assert es.best_epoch == 1
    np.testing.assert_array_equal(model.get_weights()[0], np.full((2, 2), 1.0))
    # Restored even when training runs to the end without stopping.
    model = FakeModel()
    fit_like([EarlyStopping(patience=10, restore_best_weights=True)], model, losses(1.0, 0.2, 0.7))
    np.testing.assert_array_equal(model.get_weights()[1], np.full(2, 1.0))
    # Without the flag the last weights stay.
    model = FakeModel()
    fit_like([EarlyStopping(patience=2)], model, losses(1.0, 0.5, 0.7, 0.8))
    np.testing.assert_array_equal(model.get_weights()[1], np.full(2, 3.0))


def test_early_stopping_start_from_epoch():
    rising = losses(1.0, 2.0, 3.0, 4.0, 5.0)
    assert fit_like([EarlyStopping()], FakeModel(), rising) == 2
    assert fit_like([EarlyStopping(start_from_epoch=2)], FakeModel(), rising) == 4


def test_early_stopping_reusable_across_fits():
    es = EarlyStopping(patience=0)
    assert fit_like([es], FakeModel(), losses(0.1, 0.2)) == 2
    # A stale best (0.1) would stop this run at its second epoch.
    assert fit_like([es], FakeModel(), losses(1.0, 0.9, 0.8)) == 3


def test_early_stopping_missing_monitor_warns():
    es = EarlyStopping(monitor="val_loss")
    with pytest.warns(
        UserWarning,
        match=r"`val_loss` which is not available\. "
        r"Available metrics are: accuracy,loss",
    ):
        n = fit_like([es], FakeModel(), [{"loss": 1.0, "accuracy": 0.5}] * 3)
    assert n == 3


def test_early_stopping_verbose_messages(capsys):
    fit_like(
        [EarlyStopping(patience=1, verbose=1, restore_best_weights=True)],
        FakeModel(),
        losses(1.0, 0.5, 0.7, 0.8),
    )
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


# ---------------------------------------------------------------------------- ModelCheckpoint


def test_checkpoint_formats_epoch_and_logs(tmp_path):
    model = FakeModel()
    path = tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.gez"
    fit_like([ModelCheckpoint(path)], model, losses(0.5, 0.25, 0.75))
    names = ["ckpt-01-0.50.gez", "ckpt-02-0.25.gez", "ckpt-03-0.75.gez"]
    assert model.saved == [("model", str(tmp_path / n)) for n in names]
    assert sorted(p.name for p in tmp_path.iterdir()) == names


def test_checkpoint_save_weights_only(tmp_path):
    model = FakeModel()
    fit_like(
        [ModelCheckpoint(str(tmp_path / "w{epoch}.npz"), save_weights_only=True)],
        model,
        losses(0.5, 0.4),
    )
    assert model.saved == [
        ("weights", str(tmp_path / "w1.npz")),
        ("weights", str(tmp_path / "w2.npz")),
    ]


def test_checkpoint_save_best_only(tmp_path):
    model = FakeModel()
    cb = ModelCheckpoint(str(tmp_path / "e{epoch}.gez"), save_best_only=True)
    fit_like([cb], model, losses(0.5, 0.6, 0.4, 0.4, 0.3))
    assert [p for _, p in model.saved] == [str(tmp_path / f"e{i}.gez") for i in (1, 3, 5)]
    assert cb.best == 0.3


def test_checkpoint_save_best_only_mode_max_and_threshold(tmp_path):
    model = FakeModel()
    cb = ModelCheckpoint(
        str(tmp_path / "best.gez"),
        monitor="val_accuracy",
        save_best_only=True,
        initial_value_threshold=0.55,
    )
    fit_like([cb], model, losses(0.5, 0.6, 0.58, 0.7, key="val_accuracy"))
    assert [p for _, p in model.saved] == [str(tmp_path / "best.gez")] * 2
    assert cb.best == 0.7


def test_checkpoint_save_best_only_missing_monitor_saves_with_warning(tmp_path):
    model = FakeModel()
    cb = ModelCheckpoint(str(tmp_path / "m.gez"), save_best_only=True)
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        fit_like([cb], model, [{"loss": 1.0}])
    assert len(model.saved) == 1


def test_checkpoint_batch_frequency(tmp_path):
    model = FakeModel()
    cb = ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.gez"), save_freq=2)
    fit_like([cb], model, losses(0.5, 0.4), steps=5)
    # Batches 2 and 4 of epoch 1, then the count carries over: batch 1 of epoch 2, then 3 and 5.
    names = ["e1-b2", "e1-b4", "e2-b1", "e2-b3", "e2-b5"]
    assert [p for _, p in model.saved] == [str(tmp_path / f"{n}.gez") for n in names]


def test_checkpoint_creates_directory(tmp_path):
    model = FakeModel()
    fit_like([ModelCheckpoint(str(tmp_path / "runs" / "a" / "m{epoch}.gez"))], model, losses(0.5))
    assert (tmp_path / "runs" / "a" / "m1.gez").read_text() == "model"


def test_checkpoint_verbose(tmp_path, capsys):
    cb = ModelCheckpoint(str(tmp_path / "m.gez"), save_best_only=True, verbose=1)
    fit_like([cb], FakeModel(), losses(0.5, 0.6))
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from None to 0.50000, saving model to" in out
    assert "Epoch 2: val_loss did not improve from 0.50000" in out


def test_checkpoint_missing_format_key_raises(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "m-{val_acc:.2f}.gez"))
    with pytest.raises(KeyError, match=r"Failed to format this callback filepath.*val_acc"):
        fit_like([cb], FakeModel(), losses(0.5))


@pytest.mark.parametrize("save_freq", ["batch", 0, -3, 2.5, True])
def test_checkpoint_bad_save_freq_raises(save_freq):
    with pytest.raises(ValueError, match=r"ModelCheckpoint: unrecognized save_freq="):
        ModelCheckpoint("m.gez", save_freq=save_freq)


def test_checkpoint_directory_filepath_raises(tmp_path):
    with pytest.raises(IsADirectoryError, match="non-directory filepath"):
        fit_like([ModelCheckpoint(str(tmp_path))], FakeModel(), losses(0.5))


def test_checkpoint_bad_mode_raises():
    with pytest.raises(ValueError, match=r"ModelCheckpoint: mode='maximum' is unknown"):
        ModelCheckpoint("m.gez", mode="maximum")


# ---------------------------------------------------------------------------- LearningRateScheduler


def test_lr_scheduler_sets_rate_each_epoch_and_logs_it():
    model = FakeModel(learning_rate=0.8)
    seen = []

    class Probe(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(self.model.optimizer.learning_rate)

    sched = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch > 0 else lr)
    fit_like([sched, Probe()], model, losses(1.0, 1.0, 1.0))
    assert seen == [0.8, 0.4, 0.2]
    assert model.history.history["learning_rate"] == [0.8, 0.4, 0.2]


def test_lr_scheduler_legacy_one_argument_schedule():
    model = FakeModel()
    fit_like([LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))], model, losses(1, 1, 1, 1))
    assert model.optimizer.learning_rate == pytest.approx(0.025)


@pytest.mark.parametrize("bad", [1, "0.1", None])
def test_lr_scheduler_non_float_raises(bad):
    with pytest.raises(ValueError, match="output of the `schedule` function should be a float"):
        fit_like([LearningRateScheduler(lambda epoch, lr: bad)], FakeModel(), losses(1.0))


def test_lr_scheduler_accepts_numpy_floats():
    model = FakeModel()
    fit_like([LearningRateScheduler(lambda e, lr: np.float32(0.5))], model, losses(1.0))
    assert model.optimizer.learning_rate == 0.5


def test_lr_scheduler_optimizer_without_rate_raises():
    model = FakeModel()
    model.optimizer = object()
    with pytest.raises(ValueError, match='Optimizer must have a "learning_rate" attribute'):
        fit_like([LearningRateScheduler(lambda e, lr: lr)], model, losses(1.0))


def test_lr_scheduler_verbose(capsys):
    fit_like([LearningRateScheduler(lambda e, lr: 0.5, verbose=1)], FakeModel(), losses(1.0))
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.5." in capsys.readouterr().out


# ---------------------------------------------------------------------------- ReduceLROnPlateau


def lr_trace(cb: ReduceLROnPlateau, values: list[float], lr: float = 1.0) -> list[float]:
    model = FakeModel(learning_rate=lr)
    fit_like([cb], model, losses(*values))
    return model.history.history["learning_rate"]  # the rate each epoch started with


def test_reduce_lr_factor_and_patience():
    model = FakeModel()
    fit_like([ReduceLROnPlateau(factor=0.5, patience=2)], model, losses(*[1.0] * 5))
    assert model.history.history["learning_rate"] == [1.0, 1.0, 1.0, 0.5, 0.5]
    assert model.optimizer.learning_rate == 0.25


def test_reduce_lr_resets_wait_on_improvement():
    model = FakeModel()
    fit_like([ReduceLROnPlateau(factor=0.5, patience=2)], model, losses(1.0, 1.0, 0.5, 0.5, 0.5))
    assert model.optimizer.learning_rate == 0.5


def test_reduce_lr_cooldown():
    model = FakeModel()
    fit_like([ReduceLROnPlateau(factor=0.5, patience=1)], model, losses(*[1.0] * 4))
    assert model.optimizer.learning_rate == 0.125
    model = FakeModel()
    fit_like([ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2)], model, losses(*[1.0] * 4))
    assert model.optimizer.learning_rate == 0.25


def test_reduce_lr_min_lr():
    model = FakeModel()
    fit_like([ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.05)], model, losses(*[1.0] * 5))
    assert model.history.history["learning_rate"] == pytest.approx([1.0, 1.0, 0.1, 0.05, 0.05])
    assert model.optimizer.learning_rate == 0.05


def test_reduce_lr_min_delta():
    tiny_gains = [1.0, 1.0 - 5e-5, 1.0 - 1e-4 + 1e-6, 0.9]
    model = FakeModel()
    fit_like([ReduceLROnPlateau(factor=0.5, patience=2)], model, losses(*tiny_gains))
    assert model.optimizer.learning_rate == 0.5  # the 5e-5 steps do not count as improvements
    model = FakeModel()
    fit_like([ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0)], model, losses(*tiny_gains))
    assert model.optimizer.learning_rate == 1.0


def test_reduce_lr_mode_max():
    model = FakeModel()
    cb = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1)
    fit_like([cb], model, losses(0.5, 0.6, 0.7, key="val_accuracy"))
    assert model.optimizer.learning_rate == 1.0
    model = FakeModel()
    cb = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1, mode="min")
    fit_like([cb], model, losses(0.5, 0.6, 0.7, key="val_accuracy"))
    assert model.optimizer.learning_rate == 0.25


def test_reduce_lr_bad_factor_raises():
    with pytest.raises(ValueError, match=r"factor >= 1.0. Received factor=1.5"):
        ReduceLROnPlateau(factor=1.5)


def test_reduce_lr_bad_mode_raises():
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: mode='up' is unknown"):
        ReduceLROnPlateau(mode="up")


def test_reduce_lr_missing_monitor_warns():
    with pytest.warns(
        UserWarning,
        match=r"`val_loss` which is not available\. Available metrics "
        r"are: loss,learning_rate",
    ):
        fit_like([ReduceLROnPlateau()], FakeModel(), [{"loss": 1.0}])


def test_reduce_lr_verbose(capsys):
    fit_like([ReduceLROnPlateau(factor=0.5, patience=1, verbose=1)], FakeModel(), losses(1, 1))
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.5." in capsys.readouterr().out


# ---------------------------------------------------------------------------- TerminateOnNaN


@pytest.mark.parametrize(
    "loss, stops", [(math.nan, True), (math.inf, True), (-math.inf, True), (1.0, False)]
)
def test_terminate_on_nan(loss, stops, capsys):
    model = FakeModel()
    cbs = CallbackList([TerminateOnNaN()], model=model)
    cbs.on_train_batch_end(0, {"loss": 0.5})
    assert not model.stop_training
    cbs.on_train_batch_end(3, {"loss": np.float32(loss)})
    assert model.stop_training is stops
    assert ("Batch 3: Invalid loss, terminating training" in capsys.readouterr().out) is stops


def test_terminate_on_nan_ignores_logs_without_loss():
    model = FakeModel()
    CallbackList([TerminateOnNaN()], model=model).on_train_batch_end(0, {"accuracy": math.nan})
    assert not model.stop_training


def test_terminate_on_nan_raise_error():
    cbs = CallbackList([TerminateOnNaN(raise_error=True)], model=FakeModel())
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 2"):
        cbs.on_train_batch_end(2, {"loss": math.nan})


def test_terminate_on_nan_stops_fit_loop():
    model = FakeModel()
    n = fit_like([TerminateOnNaN()], model, [{"loss": 1.0}, {"loss": math.nan}, {"loss": 1.0}])
    assert n == 2


# ---------------------------------------------------------------------------- CSVLogger


def read_csv(path) -> str:
    with open(path, newline="") as f:
        return f.read()


def test_csv_logger_contents(tmp_path):
    path = tmp_path / "log.csv"
    logs = [
        {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.25, "val_accuracy": 0.25},
        {"loss": 0.75, "accuracy": 0.625, "val_loss": 1.0, "val_accuracy": 0.5},
    ]
    fit_like([CSVLogger(path)], FakeModel(), logs)
    assert read_csv(path) == (
        "epoch,accuracy,loss,val_accuracy,val_loss\r\n"
        "0,0.5,1.0,0.25,1.25\r\n"
        "1,0.625,0.75,0.5,1.0\r\n"
    )


def test_csv_logger_adds_val_columns_when_absent(tmp_path):
    path = tmp_path / "log.csv"
    fit_like([CSVLogger(str(path))], FakeModel(), [{"loss": 1.0}, {"loss": 0.5}])
    assert read_csv(path) == "epoch,loss,val_loss\r\n0,1.0,NA\r\n1,0.5,NA\r\n"


def test_csv_logger_separator_and_iterables(tmp_path):
    path = tmp_path / "log.tsv"
    cb = CSVLogger(path, separator="\t")
    cb.set_model(FakeModel())
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": 0.5, "probs": np.array([0.25, 0.75]), "note": "ok"})
    cb.on_train_end()
    header, row = read_csv(path).splitlines()
    assert header == "epoch\tloss\tnote\tprobs\tval_loss\tval_note\tval_probs"
    assert row == '0\t0.5\tok\t"""[0.25, 0.75]"""\tNA\tNA\tNA'


def test_csv_logger_append(tmp_path):
    path = tmp_path / "log.csv"
    fit_like([CSVLogger(path)], FakeModel(), losses(1.0, key="loss"))
    fit_like([CSVLogger(path, append=True)], FakeModel(), losses(0.5, key="loss"))
    assert read_csv(path) == "epoch,loss,val_loss\r\n0,1.0,NA\r\n0,0.5,NA\r\n"
    # append=False overwrites; append=True on an empty file writes the header.
    fit_like([CSVLogger(path)], FakeModel(), losses(0.25, key="loss"))
    assert read_csv(path) == "epoch,loss,val_loss\r\n0,0.25,NA\r\n"
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    fit_like([CSVLogger(empty, append=True)], FakeModel(), losses(2.0, key="loss"))
    assert read_csv(empty) == "epoch,loss,val_loss\r\n0,2.0,NA\r\n"


def test_csv_logger_closes_file(tmp_path):
    cb = CSVLogger(tmp_path / "log.csv")
    fit_like([cb], FakeModel(), losses(1.0))
    assert cb.csv_file.closed


# ---------------------------------------------------------------------------- ProgbarLogger
# (captured stdout is no terminal, so verbose=1 prints each frame as whole lines; the terminal's
# redraw, the widths and the notebook are tests/test_progress_and_summary.py's)


@pytest.fixture
def clock(monkeypatch):
    """The progress bar's perf_counter, moved on only by `clock.t += ...`: the tests take 2 ms a
    batch, so the time per step always prints as 2ms/step."""
    fake = types.SimpleNamespace(t=0.0)
    fake.perf_counter = lambda: fake.t
    monkeypatch.setattr(progress_module, "time", fake)
    monkeypatch.setenv("COLUMNS", "200")  # one line a frame
    return fake


def run_progbar(
    verbose: int, epochs: int = 2, steps: int | None = 3, interval: float = 0.0, clock: Any = None
) -> None:
    model = FakeModel()
    bar = ProgbarLogger()
    bar.interval = interval
    cbs = CallbackList([bar], model=model, verbose=verbose, epochs=epochs, steps=steps)
    cbs.on_train_begin()
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        for b in range(3):
            cbs.on_train_batch_begin(b)
            if clock is not None:
                clock.t += 0.002
            cbs.on_train_batch_end(b, {"loss": 0.9 - 0.2 * b - epoch / 10, "accuracy": 0.25})
        # Validation inside fit must stay silent.
        cbs.on_test_begin()
        cbs.on_test_batch_end(0, {"loss": 123.0})
        cbs.on_test_end({"loss": 123.0})
        cbs.on_epoch_end(
            epoch,
            {"loss": 0.5 - epoch / 10, "accuracy": 0.25, "val_loss": 0.7, "val_accuracy": 0.00002},
        )
    cbs.on_train_end()


STEP_TIME = "2ms/step"


@pytest.mark.parametrize(
    "seconds, text",
    [(2.4, "2s/step"), (1.0, "1s/step"), (0.0031, "3ms/step"), (4e-6, "4us/step"), (0, "0s/step")],
)
def test_progbar_step_time_units(seconds, text):
    assert progress_module.format_step_time(seconds) == text


def test_progbar_verbose_1_shows_bar_per_epoch(capsys, clock):
    run_progbar(verbose=1, clock=clock)
    lines = capsys.readouterr().out.split("\n")
    assert "loss: 123" not in "\n".join(lines)
    assert lines[-1] == "" and [i for i, line in enumerate(lines) if "Epoch" in line] == [0, 5]
    for i in range(2):
        epoch = lines[5 * i : 5 * i + 5]
        assert epoch[0] == f"Epoch {i + 1}/2"
        # The running logs of each batch (the ETA while running; logs come sorted, as Keras's),
        # then the epoch's logs with the validation metrics (the elapsed time).
        assert re.fullmatch(
            rf"1/3 ━{{6}}─{{14}} 0s {STEP_TIME} - accuracy: 0\.2500 - loss: 0\.{9 - i}000",
            epoch[1],
        )
        assert epoch[2].startswith("2/3 ━━━━━━━━━━━━━───────")
        assert epoch[3].endswith(f" - loss: 0.{5 - i}000")  # the last batch's own frame
        assert re.fullmatch(
            rf"3/3 ━{{20}} 0s {STEP_TIME} - accuracy: 0\.2500 - loss: 0\.{5 - i}000 - "
            r"val_accuracy: 2\.0000e-05 - val_loss: 0\.7000",
            epoch[4],
        )


def test_progbar_eta_and_first_step_left_out(capsys, clock):
    bar = progress_module.Progbar(target=100, interval=0.0)
    clock.t = 5.0  # the first step (compilation) is slow
    bar.update(1)
    clock.t = 5.5  # then 0.1 s a step
    bar.update(6)
    clock.t = 5.6
    bar.update(7)
    clock.t = 4000.0
    bar.update(8)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"  1/100 ─{20} 8:15 5s/step", lines[0])  # 99 steps at 5 s
    assert re.fullmatch(r"  6/100 ━─{19} 9s 100ms/step", lines[1])
    assert lines[2].endswith(" 9s 100ms/step")
    assert lines[3].endswith(" 14:35:05 571s/step")  # 92 steps at 3995 / 7 s


def test_progbar_verbose_1_unknown_steps(capsys, clock):
    run_progbar(verbose=1, epochs=1, steps=None, clock=clock)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "      1/Unknown 0s 2ms/step - accuracy: 0.2500 - loss: 0.9000"
    assert re.match(rf"3/3 ━{{20}} 0s {STEP_TIME} - accuracy: 0\.2500 - loss: 0\.5000", lines[-1])


def test_progbar_verbose_2_one_line_per_epoch(capsys, clock):
    run_progbar(verbose=2, epochs=3, clock=clock)
    lines = capsys.readouterr().out.splitlines()
    assert lines[::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"] and len(lines) == 6
    for i, line in enumerate(lines[1::2]):
        assert re.fullmatch(
            rf"3/3 - 0s - {STEP_TIME} - accuracy: 0\.2500 - loss: 0\.{5 - i}000 - "
            r"val_accuracy: 2\.0000e-05 - val_loss: 0\.7000",
            line,
        )


def test_progbar_verbose_0_prints_nothing(capsys):
    run_progbar(verbose=0)
    fit_like([], FakeModel(), losses(1.0, 2.0), verbose=0)
    assert capsys.readouterr() == ("", "")


def test_fit_like_loop_adds_progbar_when_verbose(capsys):
    fit_like([], FakeModel(), losses(1.0, 2.0), steps=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/2", "2/2", "Epoch 2/2", "2/2"]


@pytest.mark.parametrize("verbose", [1, 2])
def test_progbar_evaluate_and_predict(verbose, capsys, clock):
    bar = ProgbarLogger()
    bar.interval = 0.0
    cbs = CallbackList([bar], model=FakeModel(), verbose=verbose, steps=2)
    cbs.on_test_begin()
    for b in range(2):
        clock.t += 0.002
        cbs.on_test_batch_end(b, {"loss": 0.5})
    cbs.on_test_end({"loss": 0.25})
    cbs.on_predict_begin()
    for b in range(2):
        clock.t += 0.002
        cbs.on_predict_batch_end(b, {"outputs": [np.zeros((4, 3)), np.zeros((4, 1))]})
    cbs.on_predict_end()
    out = capsys.readouterr().out
    assert "outputs" not in out and "Epoch" not in out
    lines = out.splitlines()
    if verbose == 1:  # each batch's frame, then the last one with the logs evaluate returns
        assert len(lines) == 6
        assert lines[2] == f"2/2 ━━━━━━━━━━━━━━━━━━━━ 0s {STEP_TIME} - loss: 0.2500"
        assert lines[5] == f"2/2 ━━━━━━━━━━━━━━━━━━━━ 0s {STEP_TIME}"
    else:
        assert lines == [f"2/2 - 0s - {STEP_TIME} - loss: 0.2500", f"2/2 - 0s - {STEP_TIME}"]


def test_progbar_throttles_redraws(capsys):
    run_progbar(verbose=1, epochs=1, interval=60.0)
    frames = [line for line in capsys.readouterr().out.splitlines() if "/3" in line]
    assert len(frames) == 2  # the opening frame and the final one, not one per batch
    assert "loss: 0.5000" in frames[-1]


def test_progbar_rejects_unknown_verbose():
    with pytest.raises(ValueError, match=r"verbose must be 'auto', 0, 1 or 2, received "):
        CallbackList([ProgbarLogger()], model=FakeModel(), verbose="loud", epochs=1, steps=1)
