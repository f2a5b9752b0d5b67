"""One recurrent training step, graphengine next to PyTorch (CPU), on the same model and batch.

Models: LSTM(128) or GRU(128) over (batch 64, 50 steps, 32 features), last output -> Dense(10)
(logits); Adam(1e-3), sparse categorical cross-entropy from logits. graphengine runs
`model.train_on_batch`; PyTorch runs zero_grad / forward / backward / step of nn.LSTM / nn.GRU
(batch_first) + nn.Linear with torch.set_num_threads(2) (skipped when torch is not installed).

Run: python benchmarks/rnn_train_step.py [--cells lstm gru] [--steps 30] [--rounds 5]
     [--profile]

The two frameworks alternate in short rounds, so a slow spell of a shared machine hits both;
the medians are over every timed step of every round.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import graphengine as ge  # noqa: E402

BATCH, STEPS, FEATURES, UNITS, CLASSES = 64, 50, 32, 128, 10


def graphengine_model(cell: str, device: str = "cpu") -> ge.Model:
    layer = {"lstm": ge.layers.LSTM, "gru": ge.layers.GRU}[cell]
    x = ge.Input(shape=(STEPS, FEATURES))
    model = ge.Model(x, ge.layers.Dense(CLASSES)(layer(UNITS)(x)), name=f"{cell}_classifier")
    model.compile(
        optimizer=ge.optimizers.Adam(learning_rate=1e-3),
        loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
        device=device,
    )
    return model


def torch_step(cell: str, x: np.ndarray, y: np.ndarray, device: str = "cpu"):
    """A closure running one PyTorch training step of the same model, or None without torch.
    On "cuda" each step copies the batch from host memory, as graphengine's does."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    torch.manual_seed(0)
    nn = torch.nn
    rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](FEATURES, UNITS, batch_first=True).to(device)
    head = nn.Linear(UNITS, CLASSES).to(device)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def step() -> float:
        opt.zero_grad()
        seq, _ = rnn(xt.to(device))
        loss = loss_fn(head(seq[:, -1]), yt.to(device))
        loss.backward()
        opt.step()
        return loss.item()

    return step


def timed(step, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return times


def compare(cell: str, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, STEPS, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH)
    ge.utils.set_random_seed(0)
    model = graphengine_model(cell)

    def ge_step() -> float:
        return model.train_on_batch(x, y)

    pt_step = torch_step(cell, x, y)
    timed(ge_step, args.warmup)  # compiles the plan (and loads the cached kernels)
    if pt_step is not None:
        timed(pt_step, args.warmup)

    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(timed, ge_step, args.steps * args.rounds)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
        print(f"== {cell}: cProfile of {args.steps * args.rounds} graphengine steps")
        print(out.getvalue())
        return

    ge_times: list[float] = []
    pt_times: list[float] = []
    for _ in range(args.rounds):
        ge_times += timed(ge_step, args.steps)
        if pt_step is not None:
            pt_times += timed(pt_step, args.steps)
    ge_ms = 1e3 * float(np.median(ge_times))
    print(f"{cell.upper()}({UNITS}), batch {BATCH}, {STEPS} steps, {FEATURES} features -> Dense")
    print(f"  graphengine train_on_batch : median {ge_ms:.2f} ms over {len(ge_times)} steps")
    if pt_step is None:
        print("  PyTorch is not installed: no comparison")
        return
    pt_ms = 1e3 * float(np.median(pt_times))
    print(f"  PyTorch (2 threads)        : median {pt_ms:.2f} ms over {len(pt_times)} steps")
    print(f"  ratio graphengine / PyTorch: {ge_ms / pt_ms:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=["lstm", "gru"])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    parser.add_argument("--profile", action="store_true", help="cProfile graphengine's steps")
    args = parser.parse_args()
    for cell in args.cells:
        compare(cell, args)


if __name__ == "__main__":
    main()
