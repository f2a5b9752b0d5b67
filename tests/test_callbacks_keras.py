"""LambdaCallback, BackupAndRestore and TensorBoard in real fits, against Keras 3's semantics:
the hooks' arguments, a resumed fit ending where an uninterrupted one does, and event files read
back record by record (TFRecord framing, checksums, Event protos)."""

from __future__ import annotations

import glob
import json
import os
import re
import struct
import sys
import zipfile

import numpy as np
import pytest

import graphengine as ge
from graphengine.training.callbacks import (
    BackupAndRestore,
    Callback,
    LambdaCallback,
    LearningRateScheduler,
    TensorBoard,
)

L = ge.layers
BATCHES = 3  # per epoch: 12 samples in batches of 4


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(12, 3)).astype("float32"), rng.normal(size=(12, 2)).astype("float32")


def small_model(seed: int = 0, learning_rate: float = 0.01) -> ge.Model:
    ge.utils.set_random_seed(seed)
    x = ge.Input(shape=(3,), name="x")
    h = L.Dense(4, activation="tanh", name="hidden")(x)
    out = L.Dense(2, name="out")(h)
    model = ge.Model(x, out, name="small")
    model.compile(optimizer=ge.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    return model


def fit(model: ge.Model, callbacks: list, epochs: int = 2, **kwargs) -> ge.callbacks.History:
    x, y = data()
    return model.fit(
        x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks, **kwargs
    )


class Interrupt(Callback):
    """Raises at the start of epoch `at`: an interruption escaping fit."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise RuntimeError(f"interrupted at epoch {epoch}")


def assert_arrays_equal(got: list, want: list) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


# -- LambdaCallback ---------------------------------------------------------------------------
def test_lambda_callback_calls_every_hook_with_keras_arguments():
    calls = []

    def epoch_hook(name):
        def hook(epoch, logs, /):  # positional, as Keras calls the epoch hooks
            calls.append((name, epoch, dict(logs or {})))

        return hook

    def batch_hook(name):
        def hook(batch, logs=None):
            calls.append((name, batch, dict(logs or {})))

        return hook

    def begin_end(name):
        return lambda logs: calls.append((name, dict(logs or {})))

    cb = LambdaCallback(
        on_epoch_begin=epoch_hook("epoch_begin"),
        on_epoch_end=epoch_hook("epoch_end"),
        on_train_begin=begin_end("train_begin"),
        on_train_end=begin_end("train_end"),
        on_train_batch_begin=batch_hook("train_batch_begin"),
        on_train_batch_end=batch_hook("train_batch_end"),
        on_predict_begin=begin_end("predict_begin"),
        on_predict_batch_end=batch_hook("predict_batch_end"),
        on_predict_end=begin_end("predict_end"),
    )
    model = small_model()
    history = fit(model, [cb], epochs=2)
    names = [c[0] for c in calls]
    per_epoch = ["epoch_begin"] + ["train_batch_begin", "train_batch_end"] * BATCHES
    assert names == ["train_begin"] + (per_epoch + ["epoch_end"]) * 2 + ["train_end"]
    assert [c[1] for c in calls if c[0] == "epoch_begin"] == [0, 1]
    assert [c[1] for c in calls if c[0] == "train_batch_end"] == [0, 1, 2] * 2
    assert all(c[2] == {} for c in calls if c[0] == "train_batch_begin")
    assert all(set(c[2]) == {"loss"} for c in calls if c[0] == "train_batch_end")
    ends = [c for c in calls if c[0] == "epoch_end"]
    assert [c[2]["loss"] for c in ends] == history.history["loss"]
    # the last batch's running mean is the epoch's loss
    last_batches = [c for c in calls if c[0] == "train_batch_end" and c[1] == BATCHES - 1]
    assert [c[2]["loss"] for c in last_batches] == history.history["loss"]

    calls.clear()
    x, _ = data()
    out = model.predict(x, batch_size=8, verbose=0, callbacks=[cb])
    assert [c[0] for c in calls] == [
        "predict_begin",
        "predict_batch_end",
        "predict_batch_end",
        "predict_end",
    ]
    np.testing.assert_array_equal(np.concatenate([c[2]["outputs"][0] for c in calls[1:3]]), out)


def test_lambda_callback_test_hooks_by_keyword():
    calls = []
    cb = LambdaCallback(
        on_test_begin=lambda logs: calls.append("test_begin"),
        on_test_batch_begin=lambda batch, logs: calls.append(("batch", batch)),
        on_test_end=lambda logs: calls.append(("test_end", logs["loss"])),
    )
    x, y = data()
    model = small_model()
    loss = model.evaluate(x, y, batch_size=6, verbose=0, callbacks=[cb])
    assert calls == ["test_begin", ("batch", 0), ("batch", 1), ("test_end", loss)]


def test_lambda_callback_legacy_batch_hook_runs_for_train_batches():
    seen = []
    fit(small_model(), [LambdaCallback(on_batch_end=lambda batch, logs: seen.append(batch))])
    assert seen == [0, 1, 2] * 2


def test_lambda_callback_unknown_hook_raises():
    with pytest.raises(TypeError, match="on_epoch_ends.*did you mean 'on_epoch_end'"):
        LambdaCallback(on_epoch_ends=print)


def test_lambda_callback_non_callable_raises():
    with pytest.raises(TypeError, match="on_train_end must be a function.*on_train_end=3"):
        LambdaCallback(on_train_end=3)
    with pytest.raises(TypeError, match="on_test_end must be a function"):
        LambdaCallback(on_test_end="print")


# -- BackupAndRestore -------------------------------------------------------------------------
def backup_config(path) -> dict:
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json"))


@pytest.mark.parametrize("bad", [None, ""])
def test_backup_dir_is_required(bad):
    with pytest.raises(ValueError, match=f"a backup_dir is required, received backup_dir={bad!r}"):
        BackupAndRestore(bad)


@pytest.mark.parametrize("bad", [b"dir", 3])
def test_backup_dir_must_be_a_path(bad):
    with pytest.raises(TypeError, match="backup_dir must be a directory path"):
        BackupAndRestore(bad)


@pytest.mark.parametrize("bad", ["batch", 0, -2, 1.5, False, True])
def test_backup_bad_save_freq_raises(tmp_path, bad):
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore(tmp_path, save_freq=bad)


def test_backup_written_every_epoch_and_deleted_at_the_end(tmp_path):
    backup_dir = tmp_path / "backup"
    backup = BackupAndRestore(backup_dir)
    latest = backup_dir / "latest.gez"
    seen = []

    def check(epoch, logs):
        config = backup_config(latest)
        seen.append((config["backup"]["epoch"], config["backup"]["batch"]))
        assert config["kind"] == "weights"

    model = small_model()
    fit(model, [backup, LambdaCallback(on_epoch_end=check)], epochs=3)
    assert seen == [(1, 0), (2, 0), (3, 0)]
    assert not backup_dir.exists()


def test_backup_kept_without_delete_checkpoint_and_loadable_as_weights(tmp_path):
    backup = BackupAndRestore(tmp_path, delete_checkpoint=False)
    model = small_model()
    fit(model, [backup], epochs=2)
    path = tmp_path / "latest.gez"
    config = backup_config(path)
    assert config["backup"] == {"epoch": 2, "batch": 0, "learning_rate": 0.01}
    assert config["optimizer_variables"] == len(model.optimizer.variables)
    other = small_model(seed=5)
    other.load_weights(str(path))  # the format of save_weights
    assert_arrays_equal(other.get_weights(), model.get_weights())


def test_backup_delete_leaves_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    fit(small_model(), [BackupAndRestore(tmp_path)])
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_backup_every_n_batches_records_epoch_and_batch(tmp_path):
    backup = BackupAndRestore(tmp_path, save_freq=2, delete_checkpoint=False)
    saved = []

    def check(batch, logs):
        path = tmp_path / "latest.gez"
        if path.exists():
            state = backup_config(path)["backup"]
            saved.append((state["epoch"], state["batch"]))

    fit(small_model(), [backup, LambdaCallback(on_train_batch_end=check)], epochs=2)
    # batches 2, 4 and 6 of the fit: epoch 0 batch 1, epoch 1 batch 0, epoch 1 batch 2
    assert list(dict.fromkeys(saved)) == [(0, 1), (1, 0), (1, 2)]


def interrupted_fit(backup: BackupAndRestore, at: int, extra: list = ()) -> dict:
    """Fits a fresh model until epoch `at` begins and raises; returns the weights, optimizer
    variables and rate at the end of each epoch."""
    states = {}

    def record(epoch, logs):
        opt = model.optimizer
        states[epoch] = (model.get_weights(), opt.get_weights(), opt.learning_rate)

    model = small_model()
    callbacks = [*extra, backup, LambdaCallback(on_epoch_end=record), Interrupt(at)]
    with pytest.raises(RuntimeError, match=f"interrupted at epoch {at}"):
        fit(model, callbacks, epochs=5)
    return states


def restore_into(backup: BackupAndRestore, model: ge.Model) -> None:
    """What fit does first: set the model, then on_train_begin."""
    backup.set_model(model)
    backup.on_train_begin()


def test_backup_restores_weights_optimizer_and_epoch(tmp_path):
    backup = BackupAndRestore(tmp_path)
    states = interrupted_fit(backup, at=2)
    assert (tmp_path / "latest.gez").exists()  # an interruption keeps the backup
    fresh = small_model(seed=3)  # another process: another init, an unbuilt optimizer
    assert not fresh.optimizer.built
    restore_into(backup, fresh)
    weights, opt_weights, _ = states[1]
    assert_arrays_equal(fresh.get_weights(), weights)
    assert_arrays_equal(fresh.optimizer.get_weights(), opt_weights)
    assert fresh.optimizer.iterations == 2 * BATCHES
    assert fresh._initial_epoch == 2


def test_backup_restores_a_changed_learning_rate(tmp_path):
    backup = BackupAndRestore(tmp_path)
    schedule = LearningRateScheduler(lambda epoch, lr: 0.01 / (epoch + 1))
    states = interrupted_fit(backup, at=2, extra=[schedule])
    fresh = small_model(seed=3)
    restore_into(backup, fresh)
    assert fresh.optimizer.learning_rate == states[1][2] == 0.005


def test_backup_without_a_backup_leaves_the_model_alone(tmp_path):
    model = small_model()
    before = model.get_weights()
    restore_into(BackupAndRestore(tmp_path / "none"), model)
    assert_arrays_equal(model.get_weights(), before)
    assert not hasattr(model, "_initial_epoch")


def test_backup_unbuilt_model_raises(tmp_path):
    backup = BackupAndRestore(tmp_path)
    with pytest.raises(ValueError, match="must be built before fit"):
        restore_into(backup, ge.Sequential([L.Dense(2)]))


@pytest.mark.parametrize("same_model", [True, False])
def test_backup_resumed_fit_ends_as_an_uninterrupted_one(tmp_path, same_model):
    """Needs fit to start at model._initial_epoch (Trainer._epochs)."""
    full = small_model()
    fit(full, [], epochs=4)
    backup = BackupAndRestore(tmp_path / "backup")
    model = small_model()
    with pytest.raises(RuntimeError, match="interrupted at epoch 2"):
        fit(model, [backup, Interrupt(2)], epochs=4)
    if not same_model:
        model = small_model(seed=9)
    history = fit(model, [backup], epochs=4)
    assert history.epoch == [2, 3]
    np.testing.assert_allclose(history.history["loss"], full.history.history["loss"][2:], 1e-6)
    for got, want in zip(model.get_weights(), full.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert model.optimizer.iterations == full.optimizer.iterations == 4 * BATCHES
    for got, want in zip(model.optimizer.get_weights(), full.optimizer.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert not (tmp_path / "backup").exists()
    assert not hasattr(model, "_initial_epoch")


def test_backup_mid_epoch_records_the_epoch_in_progress_after_a_resume(tmp_path):
    latest = tmp_path / "latest.gez"
    interrupted_fit(BackupAndRestore(tmp_path, save_freq=1), at=2)
    assert backup_config(latest)["backup"]["epoch"] == 1  # saved at epoch 1's last batch
    # another process: a new callback and model; the fit restarts epoch 1 (as Keras) and its
    # batch backups name epoch 1, not the 0 Keras's callback would write before an epoch end
    epochs = []
    record = LambdaCallback(on_epoch_begin=lambda epoch, logs: epochs.append(epoch))
    backup = BackupAndRestore(tmp_path, save_freq=1)
    with pytest.raises(RuntimeError, match="interrupted at epoch 2"):
        fit(small_model(seed=3), [backup, record, Interrupt(2)], epochs=5)
    assert epochs == [1, 2]
    assert backup_config(latest)["backup"] == {"epoch": 1, "batch": 2, "learning_rate": 0.01}


def test_backup_corrupt_file_raises_naming_it(tmp_path):
    backup = BackupAndRestore(tmp_path)
    interrupted_fit(backup, at=1)
    latest = tmp_path / "latest.gez"
    latest.write_bytes(latest.read_bytes()[:100])  # truncated
    model = small_model(seed=3)
    before = model.get_weights()
    with pytest.raises(ValueError, match=re.escape(str(latest))):
        restore_into(backup, model)
    assert_arrays_equal(model.get_weights(), before)
    latest.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match=re.escape(str(latest)) + ".*not a graphengine file"):
        restore_into(backup, model)


def test_backup_never_unpickles(tmp_path):
    backup = BackupAndRestore(tmp_path)
    interrupted_fit(backup, at=1)
    latest = tmp_path / "latest.gez"
    with zipfile.ZipFile(latest) as z:
        members = {name: z.read(name) for name in z.namelist()}
    evil = tmp_path / "evil.npy"
    np.save(evil, np.array([print], dtype=object), allow_pickle=True)
    members["weights/00000.npy"] = evil.read_bytes()
    with zipfile.ZipFile(latest, "w") as z:
        for name, raw in members.items():
            z.writestr(name, raw)
    with pytest.raises(ValueError, match="weights/00000.npy.*never unpickles"):
        restore_into(backup, small_model(seed=3))


def test_backup_of_another_architecture_raises(tmp_path):
    backup = BackupAndRestore(tmp_path)
    interrupted_fit(backup, at=1)
    x = ge.Input(shape=(3,))
    other = ge.Model(x, L.Dense(2)(L.Dense(5)(x)))
    other.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=r"latest\.gez.*has shape \(3, 5\).*\(3, 4\)"):
        restore_into(backup, other)


def test_backup_metadata_checked(tmp_path):
    backup = BackupAndRestore(tmp_path)
    interrupted_fit(backup, at=1)
    latest = tmp_path / "latest.gez"
    with zipfile.ZipFile(latest) as z:
        members = {name: z.read(name) for name in z.namelist()}
    config = json.loads(members["config.json"])
    config["backup"]["epoch"] = -1
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(latest, "w") as z:
        for name, raw in members.items():
            z.writestr(name, raw)
    with pytest.raises(ValueError, match="latest.gez.*epoch is -1"):
        restore_into(backup, small_model(seed=3))


def test_backup_double_checkpoint_falls_back_to_the_previous(tmp_path):
    backup = BackupAndRestore(tmp_path, double_checkpoint=True)
    states = interrupted_fit(backup, at=3)
    latest, prev = tmp_path / "latest.gez", tmp_path / "latest.gez.bkp"
    assert backup_config(latest)["backup"]["epoch"] == 3
    assert backup_config(prev)["backup"]["epoch"] == 2
    latest.write_bytes(latest.read_bytes()[:-40])
    fresh = small_model(seed=3)
    with pytest.warns(UserWarning, match="restoring the previous backup"):
        restore_into(backup, fresh)
    assert fresh._initial_epoch == 2
    assert_arrays_equal(fresh.get_weights(), states[1][0])
    assert_arrays_equal(fresh.optimizer.get_weights(), states[1][1])
    # the good backup is the latest again
    assert backup_config(latest)["backup"]["epoch"] == 2 and not prev.exists()


def test_backup_crash_between_keeping_and_writing_restores_the_previous(tmp_path):
    backup = BackupAndRestore(tmp_path, double_checkpoint=True)
    states = interrupted_fit(backup, at=2)
    latest, prev = tmp_path / "latest.gez", tmp_path / "latest.gez.bkp"
    os.replace(latest, prev)  # the latest moved aside, the new one never written
    fresh = small_model(seed=3)
    restore_into(backup, fresh)
    assert fresh._initial_epoch == 2
    assert_arrays_equal(fresh.get_weights(), states[1][0])
    assert latest.exists() and not prev.exists()


# -- TensorBoard: reading event files ---------------------------------------------------------
# tensorboardX is optional for users (graphengine[tensorboard]) but part of graphengine[test]:
# the tests need it and fail without it
from tensorboardX.crc32c import crc32c  # noqa: E402
from tensorboardX.proto.event_pb2 import Event  # noqa: E402
from tensorboardX.proto.graph_pb2 import GraphDef  # noqa: E402


def masked_crc(data: bytes) -> int:
    """TFRecord's checksum: CRC-32C rotated right by 15 bits, plus a constant."""
    x = crc32c(data) & 0xFFFFFFFF
    return (((x >> 15) | (x << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(run_dir) -> list[list[Event]]:
    """Each event file of a run (oldest first) as its Events, the framing checked: 8-byte
    little-endian length, its masked CRC, the data, the data's masked CRC."""
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    files = []
    for path in sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))):
        raw, pos, events = open(path, "rb").read(), 0, []
        while pos < len(raw):
            header = raw[pos : pos + 8]
            (length,) = struct.unpack("<Q", header)
            assert struct.unpack("<I", raw[pos + 8 : pos + 12])[0] == masked_crc(header)
            body = raw[pos + 12 : pos + 12 + length]
            assert struct.unpack("<I", raw[pos + 12 + length : pos + 16 + length])[0] == (
                masked_crc(body)
            )
            events.append(Event.FromString(body))
            pos += 16 + length
        assert events[0].file_version == "brain.Event:2"
        files.append(events)
    return files


def summaries(events: list[Event]) -> dict[str, list[tuple[int, object]]]:
    """tag -> [(step, value)] in file order: simple_value, histo or image."""
    out: dict[str, list] = {}
    for event in events:
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            item = value.simple_value if kind == "simple_value" else getattr(value, kind)
            out.setdefault(value.tag, []).append((event.step, item))
    return out


def scalars(events: list[Event], tag: str) -> tuple[list[int], list[float]]:
    pairs = summaries(events)[tag]
    return [s for s, _ in pairs], [v for _, v in pairs]


def f32(values) -> list[float]:
    """Event files hold float32 scalars."""
    return [float(np.float32(v)) for v in values]


# -- TensorBoard ------------------------------------------------------------------------------
def test_tensorboard_requires_tensorboardx(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=re.escape("pip install graphengine[tensorboard]")):
        TensorBoard()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"profile_batch": 2}, ValueError, "profile_batch=2"),
        ({"profile_batch": (1, 3)}, ValueError, "profiling is not available"),
        ({"profile_batch": "1,3"}, ValueError, "profile_batch='1,3'"),
        ({"embeddings_freq": 1}, NotImplementedError, "embeddings_freq=1"),
        ({"update_freq": "epochs"}, ValueError, "update_freq='epochs'"),
        ({"update_freq": 0}, ValueError, "update_freq must be an integer >= 1"),
        ({"update_freq": 2.5}, TypeError, "update_freq must be an integer"),
        ({"histogram_freq": -1}, ValueError, "histogram_freq must be an integer >= 0"),
    ],
)
def test_tensorboard_bad_arguments_raise(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        TensorBoard(tmp_path, **kwargs)


def test_tensorboard_defaults_are_keras():
    tb = TensorBoard()
    assert (tb.log_dir, tb.histogram_freq, tb.write_graph, tb.write_images) == (
        "logs",
        0,
        True,
        False,
    )
    assert (tb.write_steps_per_second, tb.update_freq, tb.embeddings_freq) == (False, "epoch", 0)
    assert TensorBoard(update_freq="batch").update_freq == 1


def test_tensorboard_epoch_scalars_equal_the_history(tmp_path):
    model = small_model()
    x, y = data()
    history = fit(
        model, [TensorBoard(tmp_path, write_graph=False)], epochs=3, validation_data=(x[:5], y[:5])
    )
    (train,) = read_events(tmp_path / "train")
    (val,) = read_events(tmp_path / "validation")
    steps, losses = scalars(train, "epoch_loss")
    assert steps == [0, 1, 2] and losses == f32(history.history["loss"])
    assert scalars(train, "epoch_learning_rate") == ([0, 1, 2], f32([0.01] * 3))
    steps, val_losses = scalars(val, "epoch_loss")
    assert steps == [0, 1, 2] and val_losses == f32(history.history["val_loss"])
    assert not any(tag.startswith("val_") for tag in summaries(val))
    assert not any(tag.startswith("batch_") for tag in summaries(train))
    assert not any(e.graph_def for e in train)


def test_tensorboard_validation_writes_evaluation_vs_iterations(tmp_path):
    """fit's validation runs the on_test_* hooks (as Keras's evaluate inside fit does)."""
    model = small_model()
    x, y = data()
    history = fit(model, [TensorBoard(tmp_path)], epochs=2, validation_data=(x[:5], y[:5]))
    (val,) = read_events(tmp_path / "validation")
    steps, values = scalars(val, "evaluation_loss_vs_iterations")
    assert steps == [BATCHES, 2 * BATCHES] and values == f32(history.history["val_loss"])


def test_tensorboard_evaluate_writes_evaluation_scalars(tmp_path):
    model = small_model()
    fit(model, [])
    x, y = data()
    loss = model.evaluate(x, y, verbose=0, callbacks=[TensorBoard(tmp_path)])
    (val,) = read_events(tmp_path / "validation")
    assert scalars(val, "evaluation_loss_vs_iterations") == ([2 * BATCHES], f32([loss]))
    assert not os.path.exists(tmp_path / "train")


@pytest.mark.parametrize("update_freq, steps", [(2, [2, 4, 6]), ("batch", [1, 2, 3, 4, 5, 6])])
def test_tensorboard_batch_scalars(tmp_path, update_freq, steps):
    batch_losses = []
    record = LambdaCallback(on_train_batch_end=lambda b, logs: batch_losses.append(logs["loss"]))
    tb = TensorBoard(tmp_path, update_freq=update_freq, write_steps_per_second=True)
    history = fit(small_model(), [record, tb], epochs=2)
    (train,) = read_events(tmp_path / "train")
    got_steps, values = scalars(train, "batch_loss")
    assert got_steps == steps
    assert values == f32([batch_losses[s - 1] for s in steps])
    rate_steps, rates = scalars(train, "batch_steps_per_second")
    assert rate_steps == steps and all(r > 0 for r in rates)
    assert scalars(train, "epoch_loss") == ([0, 1], f32(history.history["loss"]))
    steps_per_second = scalars(train, "epoch_steps_per_second")
    assert steps_per_second[0] == [0, 1] and all(r > 0 for r in steps_per_second[1])


def test_tensorboard_histograms_of_every_weight(tmp_path):
    model = small_model()
    fit(model, [TensorBoard(tmp_path, histogram_freq=2, write_graph=False)], epochs=3)
    (train,) = read_events(tmp_path / "train")
    found = summaries(train)
    tags = {f"{w.path}/histogram" for w in model.weights}
    assert tags == {"hidden/kernel/histogram", "hidden/bias/histogram"} | {
        "out/kernel/histogram",
        "out/bias/histogram",
    }
    assert tags <= set(found)
    for w in model.weights:
        pairs = found[f"{w.path}/histogram"]
        assert [s for s, _ in pairs] == [0, 2]
        histo, v = pairs[-1][1], np.asarray(w.value, np.float64).ravel()
        assert (histo.min, histo.max, histo.num) == (v.min(), v.max(), v.size)
        np.testing.assert_allclose([histo.sum, histo.sum_squares], [v.sum(), v @ v], rtol=1e-12)
        counts, edges = np.histogram(v, bins=30)
        assert list(histo.bucket) == counts.tolist()
        np.testing.assert_array_equal(histo.bucket_limit, edges[1:])


def test_tensorboard_nonfinite_weight_warns_and_skips(tmp_path):
    model = small_model()
    tb = TensorBoard(tmp_path, histogram_freq=1, write_graph=False)
    tb.set_model(model)
    weights = model.get_weights()
    weights[0][0, 0] = np.nan
    model.set_weights(weights)
    with pytest.warns(UserWarning, match="'hidden/kernel' holds NaN or infinite"):
        tb.on_epoch_end(0, {"loss": 1.0})
    tb.on_train_end()
    (train,) = read_events(tmp_path / "train")
    assert "hidden/kernel/histogram" not in summaries(train)
    assert "hidden/bias/histogram" in summaries(train)


def test_tensorboard_weight_images(tmp_path):
    model = small_model()
    tb = TensorBoard(tmp_path, histogram_freq=1, write_images=True, write_graph=False)
    fit(model, [tb], epochs=1)
    (train,) = read_events(tmp_path / "train")
    found = summaries(train)
    kernel = found["hidden/kernel/image"][0][1]  # (3, 4): one 3-high, 4-wide image
    assert (kernel.height, kernel.width) == (3, 4)
    bias = found["out/bias/image"][0][1]  # (2,): one column
    assert (bias.height, bias.width) == (2, 1)
    out_kernel = found["out/kernel/image"][0][1]  # (4, 2) is taller than wide: transposed
    assert (out_kernel.height, out_kernel.width) == (2, 4)


def graph_of(run_dir) -> GraphDef:
    (events,) = read_events(run_dir)
    graphs = [e.graph_def for e in events if e.graph_def]
    assert len(graphs) == 1
    return GraphDef.FromString(graphs[0])


def test_tensorboard_graph_holds_every_layer(tmp_path):
    inner = ge.Sequential([L.Dense(4, input_shape=(4,), name="in_a"), L.Dense(4, name="in_b")])
    x = ge.Input(shape=(3,), name="x")
    h = L.Dense(4, activation="relu", name="stem")(x)
    merged = L.Add(name="skip")([h, inner(h)])
    out = L.Dense(2, name="head")(merged)
    model = ge.Model(x, out)
    model.compile(optimizer="adam", loss="mse")
    fit(model, [TensorBoard(tmp_path)], epochs=1)
    nodes = {n.name: n for n in graph_of(tmp_path / "train").node}
    inside = f"{inner.name}/"
    inner_input = inside + inner._sites[0].name  # the nested model's InputLayer
    # every layer of the model, the nested model's opened into its name scope
    assert set(nodes) == {"x", "stem", inner_input, inside + "in_a", inside + "in_b"} | {
        "skip",
        "head",
    }
    assert {layer.name for layer in model.layers if layer is not inner} <= set(nodes)
    assert {inside + layer.name for layer in inner.layers} <= set(nodes)
    assert (nodes["stem"].op, nodes["skip"].op, nodes["head"].op) == ("Dense", "Add", "Dense")
    assert (nodes["x"].op, nodes[inner_input].op) == ("InputLayer", "InputLayer")
    assert list(nodes["x"].input) == []
    assert list(nodes["stem"].input) == ["x"]
    assert list(nodes[inside + "in_a"].input) == [inner_input]
    assert list(nodes[inner_input].input) == ["stem"]
    assert list(nodes["skip"].input) == ["stem", inside + "in_b"]
    assert list(nodes["head"].input) == ["skip"]
    shape = nodes["head"].attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [-1, 2]
    assert nodes["head"].attr["output_shape"].s == b"(None, 2)"
    assert nodes["head"].attr["dtype"].s == b"float32"
    assert nodes["head"].attr["params"].i == 4 * 2 + 2


def test_tensorboard_graph_names_outputs_and_ops(tmp_path):
    x = ge.Input(shape=(5, 3), name="seq")
    _, state_h, state_c = L.LSTM(4, return_state=True, name="lstm")(x)
    both = L.Concatenate(name="cat")([state_h, state_c])
    out = ge.ops.multiply(both, 2.0)
    model = ge.Model(x, out)
    tb = TensorBoard(tmp_path)
    tb.set_model(model)
    tb.on_train_begin()
    tb.on_train_end()
    nodes = {n.name: n for n in graph_of(tmp_path / "train").node}
    assert list(nodes["cat"].input) == ["lstm:1", "lstm:2"]
    assert len(nodes["lstm"].attr["_output_shapes"].list.shape) == 3
    (op,) = [n for n in nodes.values() if n.op == "Multiply"]
    assert list(op.input) == ["cat"]


def test_tensorboard_two_fits_write_two_files(tmp_path):
    model = small_model()
    tb = TensorBoard(tmp_path)
    first = fit(model, [tb], epochs=1).history["loss"]
    second = fit(model, [tb], epochs=1).history["loss"]
    files = read_events(tmp_path / "train")
    assert len(files) == 2  # same second, same host: still two files
    assert [scalars(events, "epoch_loss")[1] for events in files] == [f32(first), f32(second)]
