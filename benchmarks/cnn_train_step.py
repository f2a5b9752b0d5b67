"""One CNN training step, graphengine next to PyTorch (CPU), on the same model and batch.

Model: Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2, Flatten, Dense 128 relu,
Dense 10 (logits); input 28x28x1, batch 64, Adam(1e-3), sparse categorical cross-entropy from
logits. graphengine runs `model.train_on_batch`; PyTorch runs zero_grad / forward / backward /
step with torch.set_num_threads(2) (and is skipped when torch is not installed).

Run: python benchmarks/cnn_train_step.py [--steps 300] [--warmup 20] [--block 5]
                                         [--profile | --ops]
--profile prints cProfile's top functions over graphengine's steps; --ops times every step of
the compiled training plan on its own (median per kernel call), which says where the time goes.

The two frameworks take turns in blocks of `block` steps, so a slow spell of a shared machine
hits both alike; each median is over all of that framework's timed steps.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from typing import Callable

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import graphengine as ge  # noqa: E402

BATCH, CLASSES = 64, 10


def graphengine_model(device: str = "cpu") -> ge.Model:
    L = ge.layers
    x = ge.Input(shape=(28, 28, 1))
    h = L.Conv2D(32, 3, activation="relu")(x)
    h = L.MaxPooling2D(2)(h)
    h = L.Conv2D(64, 3, activation="relu")(h)
    h = L.MaxPooling2D(2)(h)
    h = L.Flatten()(h)
    h = L.Dense(128, activation="relu")(h)
    model = ge.Model(x, L.Dense(CLASSES)(h), name="cnn")
    model.compile(
        optimizer=ge.optimizers.Adam(learning_rate=1e-3),
        loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
        device=device,
    )
    return model


def torch_step(x: np.ndarray, y: np.ndarray, device: str = "cpu"):
    """A closure running one PyTorch training step of the same model, or None without torch.
    On "cuda" each step copies the batch from host memory, as graphengine's does."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, CLASSES),
    )  # fmt: skip
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW, PyTorch's own
    yt = torch.from_numpy(y.astype(np.int64))

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(xt.to(device)), yt.to(device))
        loss.backward()
        opt.step()
        return loss.item()

    step.net, step.opt = model, opt  # for benchmarks/memory.py
    return step


def timed(step, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return times


def op_times(model: ge.Model, repeats: int, sync: Callable[[], None] = lambda: None) -> None:
    """Median wall time of every step of the training plan, run one at a time, largest first;
    `sync` waits for a device's queued work after each."""
    plan = max(model._plans.plans(), key=lambda p: len(p.steps))  # the training plan
    k, ctx = plan.device.kernels, plan.ctx
    times: list[list[float]] = [[] for _ in plan.steps]
    for _ in range(repeats):
        for i, (forward, ins, outs) in enumerate(plan.steps):
            t = time.perf_counter()
            forward(k, ins, outs, ctx)
            sync()
            times[i].append(time.perf_counter() - t)
    rows = []
    for (forward, _, outs), ts in zip(plan.steps, times):
        op = getattr(forward, "__self__", None)
        name = op.name if op is not None else "optimizer update"
        rows.append((1e3 * float(np.median(ts)), name, [tuple(o.shape) for o in outs[:1]]))
    total = sum(r[0] for r in rows)
    for ms, name, shapes in sorted(rows, reverse=True)[:20]:
        print(f"{ms:8.3f} ms {100 * ms / total:5.1f}%  {name:32s} {shapes}")
    print(f"{total:8.3f} ms in {len(rows)} steps")


def compare(
    ge_step: Callable,
    pt_step: Callable | None,
    steps: int,
    block: int,
    anchor: str = "PyTorch",
    missing: str = "PyTorch is not installed: no comparison",
    pause: float = 0.0,
) -> None:
    """Times both in turns of `block` steps (after a `pause`, so the other's idle threads go
    to sleep first) until `steps` of graphengine's, and prints the medians and their ratio."""
    ge_times: list[float] = []
    pt_times: list[float] = []
    while len(ge_times) < steps:
        time.sleep(pause)
        ge_times += timed(ge_step, block)
        if pt_step is not None:
            time.sleep(pause)
            pt_times += timed(pt_step, block)
    ge_ms = 1e3 * float(np.median(ge_times))
    print(f"graphengine train_on_batch: median {ge_ms:.2f} ms over {len(ge_times)} steps")
    if pt_step is None:
        print(missing)
        return
    pt_ms = 1e3 * float(np.median(pt_times))
    print(f"{anchor + ' (2 threads)':26s}: median {pt_ms:.2f} ms over {len(pt_times)} steps")
    print(f"ratio graphengine / {anchor}: {ge_ms / pt_ms:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per framework")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--block", type=int, default=5, help="steps per turn")
    parser.add_argument("--profile", action="store_true", help="cProfile graphengine's steps")
    parser.add_argument("--ops", action="store_true", help="time each step of the plan")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, CLASSES, BATCH)
    ge.utils.set_random_seed(0)
    model = graphengine_model()

    def ge_step() -> float:
        return model.train_on_batch(x, y)

    pt_step = torch_step(x, y)
    timed(ge_step, args.warmup)  # compiles the plan (and loads the cached kernels)
    if pt_step is not None:
        timed(pt_step, args.warmup)

    if args.ops:
        op_times(model, args.steps)
        return
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(timed, ge_step, args.steps)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())
        return

    compare(ge_step, pt_step, args.steps, args.block)


if __name__ == "__main__":
    main()
