"""The benchmark table: each workload timed as a median over many steps after warm-up, next to
the same model in PyTorch CPU (2 threads), with the ratio graphengine / PyTorch.

Run: python -m benchmarks [--steps 100] [--only mlp_train,cnn_train] (or python benchmarks/run.py);
with no arguments the compiled anchors, the scale rows and the contention rows follow
(benchmarks/__main__.py).

The frameworks take turns in blocks of a few steps, so a slow spell of a shared machine hits
both alike: absolute times drift, the ratio measured in one run holds. After the timing table,
the peak memory of the MLP and CNN training steps next to PyTorch's (how: benchmarks/memory.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Callable

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import graphengine as ge  # noqa: E402
from benchmarks import cnn_train_step, memory, rnn_train_step  # noqa: E402
from benchmarks import transformer_train_step  # noqa: E402
from benchmarks import mobilenet_block  # noqa: E402
from benchmarks import gnn_train_step  # noqa: E402

PEAK_GFLOPS = 200.0  # 2 cores x AVX2 FMA on this machine, measured


def _torch() -> object | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    return torch


# -- workloads: each returns (graphengine step, PyTorch step or None, flops per step) ----------
def mlp(
    train: bool, batch: int = 128, device: str = "cpu"
) -> tuple[Callable, Callable | None, float]:
    rng = np.random.default_rng(0)
    x = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    ge.utils.set_random_seed(0)
    model = ge.Sequential(
        [
            ge.Input((784,)),
            ge.layers.Dense(256, activation="relu"),
            ge.layers.Dense(256, activation="relu"),
            ge.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
        device=device,
    )
    flops = 2 * batch * (784 * 256 + 256 * 256 + 256 * 10) * (3 if train else 1)
    ge_step = (lambda: model.train_on_batch(x, y)) if train else (lambda: model.predict_on_batch(x))
    ge_step.model, ge_step.batch = model, (x, y)  # for the memory report and the anchors
    torch = _torch()
    if torch is None:
        return ge_step, None, flops
    nn = torch.nn
    net = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    ).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def pt_train() -> float:  # the batch from host memory and the loss back, as graphengine
        opt.zero_grad()
        loss = loss_fn(net(xt.to(device)), yt.to(device))
        loss.backward()
        opt.step()
        return loss.item()

    def pt_infer() -> None:
        with torch.no_grad():
            net(xt.to(device)).cpu().numpy()

    pt_train.net, pt_train.opt = net, opt
    return ge_step, pt_train if train else pt_infer, flops


def latency(device: str = "cpu") -> tuple[Callable, Callable | None, float]:
    """Dense(16)-relu-Dense(1) on one sample: framework overhead."""
    x = np.random.default_rng(0).random((1, 8), dtype=np.float32)
    model = ge.Sequential(
        [ge.Input((8,)), ge.layers.Dense(16, activation="relu"), ge.layers.Dense(1)]
    )
    if device != "cpu":
        model.compile(device=device)
    ge_step = lambda: model.predict_on_batch(x)  # noqa: E731
    ge_step.model, ge_step.batch = model, (x, None)  # for benchmarks/anchors.py
    torch = _torch()
    if torch is None:
        return ge_step, None, 0.0
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    net.to(device)
    xt = torch.from_numpy(x)

    def pt() -> None:
        with torch.no_grad():
            net(xt.to(device)).cpu().numpy()

    return ge_step, pt, 0.0


def cnn(device: str = "cpu") -> tuple[Callable, Callable | None, float]:
    rng = np.random.default_rng(0)
    x = rng.random((64, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    ge.utils.set_random_seed(0)
    model = cnn_train_step.graphengine_model(device)
    flops = 3 * 2 * 64 * (26 * 26 * 9 * 32 + 11 * 11 * 9 * 32 * 64 + 1600 * 128 + 1280)
    ge_step = lambda: model.train_on_batch(x, y)  # noqa: E731
    ge_step.model, ge_step.batch = model, (x, y)
    return ge_step, cnn_train_step.torch_step(x, y, device), flops


def rnn(cell: str, device: str = "cpu") -> tuple[Callable, Callable | None, float]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 50, 32)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    ge.utils.set_random_seed(0)
    model = rnn_train_step.graphengine_model(cell, device)
    gates = 4 if cell == "lstm" else 3
    flops = 3 * 2 * 64 * 50 * gates * 128 * (32 + 128)
    ge_step = lambda: model.train_on_batch(x, y)  # noqa: E731
    ge_step.model, ge_step.batch = model, (x, y)  # for benchmarks/anchors.py
    return ge_step, rnn_train_step.torch_step(cell, x, y, device), flops


WORKLOADS = {
    "mlp_train": ("MLP 784-256-256-10 train step, batch 128", lambda: mlp(True), 1.0),
    "mlp_infer": ("MLP 784-256-256-10 inference, batch 128", lambda: mlp(False), 1.0),
    "cnn_train": ("CNN train step, batch 64", cnn, 1.0),
    "mobilenet_train": ("MobileNet block train step, batch 32", mobilenet_block.workload, 1.0),
    "transformer_train": (
        "Transformer encoder block train step, (32, 64, 128)",
        transformer_train_step.workload,
        1.0,
    ),
    "lstm_train": ("LSTM(128) train step, (64, 50, 32)", lambda: rnn("lstm"), 1.0),
    "gru_train": ("GRU(128) train step, (64, 50, 32)", lambda: rnn("gru"), 1.0),
    "gcn_train": ("GCN 2-layer train step, 10k nodes 100k edges", gnn_train_step.gcn, 1.0),
    "gat_train": ("GAT layer train step, 10k nodes 100k edges", gnn_train_step.gat, 1.0),
    "latency": ("Dense(16)-relu-Dense(1) inference, batch 1", latency, 0.5),
}


MEMORY = ("mlp_train", "cnn_train")  # workloads whose training step's peak memory is reported


def interleaved(
    ge_step: Callable,
    pt_step: Callable | None,
    steps: int,
    block: int = 10,
    warmup: int = 10,
) -> tuple[float, float | None]:
    """Medians (seconds) of both, taking turns in blocks after a warm-up. Each framework keeps
    its own threading defaults; a pause between turns lets the other's idle threads (OpenMP
    spins for a while after its work, BLAS too) go to sleep before the timed steps."""
    for _ in range(warmup):
        ge_step()
        if pt_step is not None:
            pt_step()
    ge_times, pt_times = [], []
    while len(ge_times) < steps:
        for step, times in ((ge_step, ge_times), (pt_step, pt_times)):
            if step is None:
                continue
            time.sleep(0.3)
            for _ in range(block):
                t = time.perf_counter()
                step()
                times.append(time.perf_counter() - t)
    return float(np.median(ge_times)), (float(np.median(pt_times)) if pt_times else None)


COLD_START = """
import time; t = time.perf_counter()
import numpy as np, graphengine as ge
m = ge.Sequential([ge.Input((64,)), ge.layers.Dense(64, activation="relu"),
                   ge.layers.Dense(10, activation="softmax")])
m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
m.train_on_batch(np.zeros((32, 64), "float32"), np.zeros(32, "int64"))
print(time.perf_counter() - t)
"""


def cold_start() -> tuple[float, float]:
    """Seconds from a fresh interpreter to one trained step: with an empty Numba cache (a copy
    of the package in a temporary folder) and with the warm cache of this checkout."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

    def run(cwd: str) -> float:
        env = dict(os.environ, PYTHONPATH=cwd)
        out = subprocess.run(
            [sys.executable, "-c", COLD_START],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return float(out.stdout.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory() as tmp:
        # kernels/ is imported as graphengine_kernels (pyproject.toml's package-dir)
        for folder, package in (("graphengine", "graphengine"), ("kernels", "graphengine_kernels")):
            dest = os.path.join(tmp, package)
            subprocess.run(["cp", "-r", os.path.join(root, folder), dest], check=True)
        subprocess.run(
            ["find", tmp, "-name", "__pycache__", "-prune", "-exec", "rm", "-rf", "{}", "+"],
            check=True,
        )
        cold = run(tmp)
    run(root)  # make sure this checkout's cache is warm
    return cold, run(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="timed steps per framework")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    args = parser.parse_args()
    names = [n for n in WORKLOADS if not args.only or n in args.only.split(",")]
    print(
        f"{'workload':46s} {'graphengine':>12s} {'PyTorch':>10s} {'ratio':>6s} {'target':>7s}"
        f" {'GFLOP/s':>8s}"
    )
    trained = {}
    for name in names:
        title, make, target = WORKLOADS[name]
        ge_step, pt_step, flops = make()
        if name in MEMORY:
            trained[name] = (ge_step, pt_step)
        if name == "latency":  # 2000 calls of ~0.05 ms: turns of 100 keep the pauses short
            ge_s, pt_s = interleaved(ge_step, pt_step, 2000, block=100)
        else:
            ge_s, pt_s = interleaved(ge_step, pt_step, args.steps)
        ratio = f"{ge_s / pt_s:6.2f}" if pt_s else "     -"
        gflops = f"{flops / ge_s / 1e9:8.1f}" if flops else "        "
        pt = f"{pt_s * 1e3:8.3f}ms" if pt_s else "         -"
        print(
            f"{title:46s} {ge_s * 1e3:10.3f}ms {pt} {ratio} {'<= ' + str(target):>7s} {gflops}",
            flush=True,
        )
    if trained:
        print(
            f"\n{'peak memory of a training step':46s} {'graphengine':>12s} {'PyTorch':>10s} "
            f"{'ratio':>6s}   (see benchmarks/memory.py)"
        )
        for name, (ge_step, pt_step) in trained.items():
            ge_bytes = memory.graphengine_step(ge_step.model, ge_step)
            pt_bytes = memory.torch_step(pt_step.net, pt_step.opt, pt_step) if pt_step else None
            print(memory.report(WORKLOADS[name][0], ge_bytes, pt_bytes), flush=True)
    if not args.only or "cold_start" in args.only:
        cold, warm = cold_start()
        print(
            f"{'cold start to first trained step':46s} empty cache {cold:.2f} s, warm cache "
            f"{warm:.2f} s (target < 3 s warm)"
        )
    print(f"(fp32 peak of this machine: about {PEAK_GFLOPS:.0f} GFLOP/s)")


if __name__ == "__main__":
    main()
