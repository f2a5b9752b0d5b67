"""The adversarial run: bad inputs, crafted files, faults, load and numerics against the public
API, each case judged by what a user gets. Prints one row per category: cases tried, correct
answers, clear errors (ValueError / TypeError), silent wrong results, memory blow-ups and
crashes or hangs (any other exception, a killed or stuck process). The last three must be 0.

Run: python -m benchmarks.robustness   (about two minutes; memory and kill cases run in child
processes, so a blow-up or a hang is measured, not suffered)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import warnings
import zipfile
from collections import Counter, defaultdict
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import graphengine as ge  # noqa: E402

L = ge.layers
CLEAR, CORRECT, WRONG, MEMORY, CRASH = (
    "clear error",
    "correct",
    "silent wrong",
    "memory blow-up",
    "crash/hang",
)
MEMORY_LIMIT_MB = 200  # peak growth of a child process over its baseline
results: dict[str, Counter] = defaultdict(Counter)
failures: list[str] = []


def record(category: str, name: str, outcome: str) -> None:
    results[category][outcome] += 1
    if outcome in (WRONG, MEMORY, CRASH):
        failures.append(f"{category}: {name}: {outcome}")


def expect_error(category: str, name: str, fn: Callable[[], Any]) -> None:
    """The case must raise a ValueError or TypeError; returning anything is a wrong answer."""
    try:
        fn()
    except (ValueError, TypeError):
        record(category, name, CLEAR)
    except Exception as e:  # noqa: BLE001 -- any other type is the defect measured
        record(category, f"{name} ({type(e).__name__}: {e})", CRASH)
    else:
        record(category, name, WRONG)


def expect_true(category: str, name: str, fn: Callable[[], bool]) -> None:
    """The case returns whether the answer is right; a clear error also counts as safe."""
    try:
        ok = fn()
    except (ValueError, TypeError):
        record(category, name, CLEAR)
    except Exception as e:  # noqa: BLE001
        record(category, f"{name} ({type(e).__name__}: {e})", CRASH)
    else:
        record(category, name, CORRECT if ok else WRONG)


def child(category: str, name: str, code: str, timeout: float = 120.0) -> None:
    """Runs `code` in a fresh interpreter; it prints 'ok', 'clear' or 'wrong' last. Its peak
    memory over the interpreter's baseline (graphengine imported) is checked too."""
    script = textwrap.dedent(
        """
        import resource, sys
        import numpy as np
        import graphengine as ge
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        def report(verdict):
            grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
            print(verdict, grown)
        """
    ) + textwrap.dedent(code)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        record(category, f"{name} (timed out)", CRASH)
        return
    last = proc.stdout.strip().splitlines()[-1:] or [""]
    verdict, _, grown = last[0].partition(" ")
    if verdict not in ("ok", "clear", "wrong"):
        record(category, f"{name} (exit {proc.returncode}: {proc.stderr[-300:]})", CRASH)
    elif float(grown) > MEMORY_LIMIT_MB:
        record(category, f"{name} (+{float(grown):.0f} MB)", MEMORY)
    else:
        record(category, name, {"ok": CORRECT, "clear": CLEAR, "wrong": WRONG}[verdict])


# -- threads ---------------------------------------------------------------------------------
def _models() -> dict[str, tuple[ge.Model, tuple]]:
    x = ge.Input((16,))
    mlp = ge.Model(x, L.Dense(10, activation="softmax")(L.Dense(128, activation="relu")(x)))
    cnn = ge.Sequential(
        [ge.Input((8, 8, 2)), L.Conv2D(8, 3, activation="relu"), L.Flatten(), L.Dense(4)]
    )
    rnn = ge.Sequential([ge.Input((6, 4)), L.LSTM(16), L.Dense(3)])
    return {"mlp": (mlp, (16,)), "cnn": (cnn, (8, 8, 2)), "lstm": (rnn, (6, 4))}


def threads() -> None:
    rng = np.random.default_rng(0)
    for model_name, (model, shape) in _models().items():
        data = [rng.normal(size=(32,) + shape).astype(np.float32) for _ in range(4)]
        cot = np.ones_like(model(data[0]))
        calls = {
            "predict": lambda d, m=model: m.predict(d, batch_size=8, verbose=0),
            "call": lambda d, m=model: m(d),
            "predict_on_batch": lambda d, m=model: m.predict_on_batch(d),
            "vjp": lambda d, m=model, c=cot: m.vjp(d, c)[1][0],
        }
        for call_name, fn in calls.items():
            serial = [fn(d) for d in data]

            def work(i: int, fn: Callable, serial: list, data: list, wrong: list) -> None:
                for _ in range(25):
                    if not np.array_equal(fn(data[i]), serial[i]):
                        wrong.append(i)

            def run(fn: Callable = fn, serial: list = serial, data: list = data) -> bool:
                wrong: list = []
                ts = [
                    threading.Thread(target=work, args=(i, fn, serial, data, wrong))
                    for i in range(4)
                ]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                return not wrong

            expect_true("concurrent calls", f"{model_name} {call_name}", run)


# -- NaN and inf ------------------------------------------------------------------------------
def nonfinite() -> None:
    x = np.array([[np.nan, 1.0, -np.inf, np.inf], [0.5, -2.0, 3.0, 1e30]], np.float32)
    for act in ("relu", "tanh", "sigmoid", "elu", "selu", "softplus", "gelu", "swish", "softmax"):
        for family in ("dense", "conv1d", "conv2d"):

            def same(act: str = act, family: str = family) -> bool:
                data, make = {
                    "dense": (x, lambda a: L.Dense(3, activation=a)),
                    "conv1d": (x.reshape(1, 4, 2), lambda a: L.Conv1D(3, 2, activation=a)),
                    "conv2d": (x.reshape(1, 2, 2, 2), lambda a: L.Conv2D(3, 1, activation=a)),
                }[family]
                inp = ge.Input(data.shape[1:])
                fused, plain = make(act), make(None)
                fused_model = ge.Model(inp, fused(inp))
                plain_model = ge.Model(inp, L.Activation(act)(plain(inp)))
                plain.set_weights(fused.get_weights())
                a, b = fused_model(data), plain_model(data)
                return a.tobytes() == b.tobytes()

            expect_true("NaN and inf", f"{family} {act} fused = standalone", same)
    for cell in (L.SimpleRNN, L.LSTM, L.GRU):

        def propagates(cell: Any = cell) -> bool:
            m = ge.Sequential([ge.Input((3, 2)), cell(4)])
            out = m(np.array([[[np.nan, 0], [0, 0], [0, 0]]], np.float32))
            return bool(np.isnan(out).all())

        expect_true("NaN and inf", f"{cell.__name__} keeps NaN", propagates)

    def nan_loss_stops() -> bool:
        m = ge.Sequential([ge.Input((4,)), L.Dense(8, activation="relu"), L.Dense(1)])
        m.compile("sgd", "mse")
        h = m.fit(
            np.full((8, 4), np.nan, np.float32),
            np.zeros((8, 1)),
            epochs=3,
            batch_size=4,
            verbose=0,
            callbacks=[ge.callbacks.TerminateOnNaN()],
        )
        return len(h.history["loss"]) == 1 and np.isnan(h.history["loss"][0])

    expect_true("NaN and inf", "NaN batch: NaN loss, TerminateOnNaN stops", nan_loss_stops)


# -- labels -----------------------------------------------------------------------------------
def labels() -> None:
    x = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    for bad in (10, -1, np.nan, 2.5, 1e9):
        for how in ("fit", "evaluate", "train_on_batch", "test_on_batch"):
            for metrics in ([], ["sparse_categorical_accuracy"]):

                def run(bad: Any = bad, how: str = how, metrics: list = metrics) -> None:
                    m = ge.Sequential([ge.Input((4,)), L.Dense(10, activation="softmax")])
                    m.compile("sgd", "sparse_categorical_crossentropy", metrics=metrics)
                    y = np.arange(8, dtype=np.float64) % 10
                    y[5] = bad
                    kwargs = {"verbose": 0} if how in ("fit", "evaluate") else {}
                    getattr(m, how)(x, y, **kwargs)

                name = f"{how} label {bad}" + (" with a metric" if metrics else "")
                expect_error("out-of-range labels", name, run)


# -- predict ----------------------------------------------------------------------------------
def predict_rows() -> None:
    data = np.arange(40, dtype=np.float32).reshape(10, 4)
    x = ge.Input((4,))
    cases = {
        "reshape(-1, 8)": ge.Model(x, ge.ops.reshape(x, (-1, 8))),
        "drop rows": ge.Sequential([ge.Input((4,)), L.Lambda(lambda a: a[::2])]),
        "one row": ge.Sequential([ge.Input((4,)), L.Lambda(lambda a: a[:1])]),
        "double rows": ge.Model(x, ge.ops.reshape(x, (-1, 2))),
    }
    for name, model in cases.items():
        for batch_size in (3, 4, 10, 32):

            def same(model: ge.Model = model, batch_size: int = batch_size) -> bool:
                got = model.predict(data, batch_size=batch_size, verbose=0)
                want = model(data)
                return got.shape == want.shape and np.array_equal(got, want)

            expect_true("predict batch mismatch", f"{name} batch_size={batch_size}", same)


# -- memory ------------------------------------------------------------------------------------
def plan_memory() -> None:
    child(
        "plan cache growth",
        "2000 batch sizes",
        """
        x = ge.Input((256,))
        m = ge.Model(x, ge.layers.Dense(10)(ge.layers.Dense(512, activation="relu")(x)))
        for n in range(1, 2001):
            m(np.ones((n, 256), np.float32))
        report("ok")
        """,
        timeout=600,
    )
    child(
        "plan cache growth",
        "500 LSTM sequence lengths",
        """
        m = ge.Sequential([ge.Input((None, 16)), ge.layers.LSTM(32)])
        for t in range(1, 501):
            m(np.ones((8, t, 16), np.float32))
        report("ok")
        """,
        timeout=600,
    )


# -- files ------------------------------------------------------------------------------------
def killed_saves(tmp: str) -> None:
    target = os.path.join(tmp, "killed.gez")
    code = f"""
        import graphengine as ge, numpy as np
        m = ge.Sequential([ge.Input((64,)), ge.layers.Dense(2048), ge.layers.Dense(64)])
        print("ready", flush=True)
        while True:
            m.save({target!r})
    """
    for i in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True
        )
        proc.stdout.readline()
        threading.Event().wait(0.05 + 0.02 * i)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    m = ge.Sequential([ge.Input((64,)), L.Dense(2048), L.Dense(64)])
    m.save(target)
    leftovers = [f for f in os.listdir(tmp) if f != "killed.gez"]
    expect_true("killed saves", "20 kill -9, then a save", lambda: not leftovers)
    expect_true("killed saves", "target loads", lambda: ge.models.load_model(target) is not None)


def file_modes(tmp: str) -> None:
    m = ge.Sequential([ge.Input((2,)), L.Dense(1)])

    def umask() -> bool:
        old = os.umask(0o022)
        try:
            path = os.path.join(tmp, "mode.gez")
            m.save(path)
            return (os.stat(path).st_mode & 0o777) == 0o644
        finally:
            os.umask(old)

    def keeps_mode() -> bool:
        path = os.path.join(tmp, "kept.gez")
        m.save(path)
        os.chmod(path, 0o640)
        m.save(path)
        return (os.stat(path).st_mode & 0o777) == 0o640

    def symlink() -> bool:
        real, link = os.path.join(tmp, "real.gez"), os.path.join(tmp, "link.gez")
        m.save(real)
        os.symlink(real, link)
        m.save(link)
        return os.path.islink(link) and ge.models.load_model(link) is not None

    for name, fn in (("umask 022", umask), ("existing mode", keeps_mode), ("symlink", symlink)):
        expect_true("file modes", name, fn)


def hostile_files(tmp: str) -> None:
    def zip_of(name: str, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> str:
        path = os.path.join(tmp, name)
        with zipfile.ZipFile(path, "w", method) as z:
            for member, data in members.items():
                z.writestr(member, data)
        return path

    good = os.path.join(tmp, "good.gez")
    ge.Sequential([ge.Input((3,)), L.Dense(2)]).save(good)
    with zipfile.ZipFile(good) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    raw = open(good, "rb").read()
    files = {
        "empty": b"",
        "random bytes": np.random.default_rng(0).bytes(4096),
        "truncated": raw[: len(raw) // 2],
        "text": b"hello",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = os.path.join(tmp, name.replace(" ", "_") + ".gez")
        open(paths[name], "wb").write(data)
    deep = "[" * 600 + "]" * 600
    variants = {
        "no config": {k: v for k, v in members.items() if k != "config.json"},
        "config not JSON": {**members, "config.json": b"{not json"},
        "config a list": {**members, "config.json": b"[1, 2]"},
        "config 600 deep": {**members, "config.json": deep.encode()},
        "config wrong types": {**members, "config.json": json.dumps({"config": 5}).encode()},
        "config null": {**members, "config.json": b"null"},
        "unknown layer": {
            **members,
            "config.json": json.dumps(config).replace('"Dense"', '"Evil"').encode(),
        },
        "weights missing": {k: v for k, v in members.items() if not k.endswith(".npy")},
        "weights not npy": {
            **{k: (b"garbage" if k.endswith(".npy") else v) for k, v in members.items()}
        },
        "weights pickled": {
            **{
                k: (_npy(np.array([object()], dtype=object)) if k.endswith(".npy") else v)
                for k, v in members.items()
            }
        },
        "weights wrong shape": {
            **{
                k: (_npy(np.zeros((7, 7), np.float32)) if k.endswith(".npy") else v)
                for k, v in members.items()
            }
        },
    }
    for name, content in variants.items():
        paths[name] = zip_of(name.replace(" ", "_") + ".gez", content)
    for name, path in paths.items():
        expect_error("malformed files", name, lambda path=path: ge.models.load_model(path))
    bomb = os.path.join(tmp, "bomb.gez")
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in members.items():
            z.writestr(k, v if not k.endswith(".npy") else _npy(np.zeros(300_000_000, np.uint8)))
    huge = json.dumps(config).replace('"units": 2', '"units": 2000000000')
    big_config = zip_of("big_config.gez", {**members, "config.json": b" " * 300_000_000 + b"{}"})
    huge_layer = zip_of("huge_layer.gez", {**members, "config.json": huge.encode()})
    for name, path in (
        ("zip bomb", bomb),
        ("300 MB config", big_config),
        ("Dense(2e9)", huge_layer),
    ):
        child(
            "loader memory",
            name,
            f"""
            try:
                ge.models.load_model({path!r})
            except ValueError:
                report("clear")
            else:
                report("wrong")
            """,
        )


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def nested_saves(tmp: str) -> None:
    rng = np.random.default_rng(0)
    for depth in (1, 2, 3):

        def roundtrip(depth: int = depth) -> bool:
            block = ge.Sequential([ge.Input((16,)), L.Dense(16)])
            enc: ge.Model = block
            for _ in range(depth):
                enc = ge.Sequential([ge.Input((16,)), enc])
            x = ge.Input((16,))
            m = ge.Model(x, block(enc(x)))
            path = os.path.join(tmp, f"nested{depth}.gez")
            m.save(path)
            try:  # the save went through: a file that then cannot be loaded is the defect
                loaded = ge.models.load_model(path)
            except ValueError:
                return False
            data = rng.normal(size=(3, 16)).astype(np.float32)
            return np.array_equal(loaded(data), m(data))

        expect_true("shared nested saves", f"depth {depth}", roundtrip)


# -- arguments --------------------------------------------------------------------------------
def arguments() -> None:
    m = ge.Sequential([ge.Input((3,)), L.Dense(2)])
    m.compile("sgd", "mse")
    x, y = np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)
    w = m.layers[0].get_weights()
    cases = {
        "Input(shape=(-1, 3))": lambda: ge.Input(shape=(-1, 3)),
        "Input(shape=(2.5,))": lambda: ge.Input(shape=(2.5,)),
        "Input(shape=(True,))": lambda: ge.Input(shape=(True,)),
        "set_weights None": lambda: m.layers[0].set_weights([None, w[1]]),
        "set_weights complex": lambda: m.layers[0].set_weights([w[0] + 1j, w[1]]),
        "set_weights strings": lambda: m.layers[0].set_weights([w[0].astype(str), w[1]]),
        "object input": lambda: L.Dense(2)(np.array([[object()] * 3], dtype=object)),
        "complex input": lambda: L.Dense(2)(np.ones((1, 3), np.complex64)),
        "string input": lambda: L.Dense(2)(np.array([["a", "b", "c"]])),
        "fit epochs=2.5": lambda: m.fit(x, y, epochs=2.5, verbose=0),
        "fit batch_size=0": lambda: m.fit(x, y, batch_size=0, verbose=0),
        "fit batch_size=2.0": lambda: m.fit(x, y, batch_size=2.0, verbose=0),
        "fit epochs='2'": lambda: m.fit(x, y, epochs="2", verbose=0),
        "fit validation_split=1.5": lambda: m.fit(x, y, validation_split=1.5, verbose=0),
        "predict on strings": lambda: m.predict(np.array([["a", "b", "c"]]), verbose=0),
    }
    for name, fn in cases.items():
        expect_error("bad arguments", name, fn)


def main() -> int:
    warnings.simplefilter("ignore")  # NumPy's "invalid value" for the NaN cases: expected here
    threads()
    nonfinite()
    labels()
    predict_rows()
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, "killed"))
        killed_saves(os.path.join(tmp, "killed"))
        file_modes(tmp)
        hostile_files(tmp)
        nested_saves(tmp)
    arguments()
    plan_memory()
    columns = [CORRECT, CLEAR, WRONG, MEMORY, CRASH]
    print(f"| category | cases | {' | '.join(columns)} |")
    print("|---|---:|" + "---:|" * len(columns))
    total: Counter = Counter()
    for category, counts in results.items():
        total.update(counts)
        cells = " | ".join(str(counts[c]) for c in columns)
        print(f"| {category} | {sum(counts.values())} | {cells} |")
    print(f"| all | {sum(total.values())} | {' | '.join(str(total[c]) for c in columns)} |")
    for line in failures:
        print("  ", line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
