"""One transformer encoder block's training step, graphengine next to PyTorch (CPU).

Model: input (64, 128) per sample, MultiHeadAttention (4 heads, key_dim 32) self-attention,
residual + LayerNormalization, Dense(512, relu) -> Dense(128), residual + LayerNormalization,
then GlobalAveragePooling1D and Dense(10) logits; batch 32, Adam(1e-3), sparse categorical
cross-entropy from logits. PyTorch runs the same block (nn.MultiheadAttention, need_weights
False) with torch.set_num_threads(2), and is skipped when torch is not installed.

Run: python benchmarks/transformer_train_step.py [--steps 200] [--warmup 20] [--block 5]
                                                 [--profile | --ops]
The frameworks take turns in blocks, as benchmarks/cnn_train_step.py (whose --ops and
--profile this shares): --ops times every step of the compiled training plan on its own.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import graphengine as ge  # noqa: E402
from benchmarks.cnn_train_step import compare, op_times, timed  # noqa: E402

BATCH, STEPS, D_MODEL, HEADS, D_FF, CLASSES = 32, 64, 128, 4, 512, 10


def graphengine_model() -> ge.Model:
    L = ge.layers
    x = ge.Input(shape=(STEPS, D_MODEL))
    a = L.MultiHeadAttention(HEADS, D_MODEL // HEADS)(x, x)
    h = L.LayerNormalization()(L.Add()([x, a]))
    f = L.Dense(D_MODEL)(L.Dense(D_FF, activation="relu")(h))
    h = L.LayerNormalization()(L.Add()([h, f]))
    out = L.Dense(CLASSES)(L.GlobalAveragePooling1D()(h))
    model = ge.Model(x, out, name="transformer_block")
    model.compile(
        optimizer=ge.optimizers.Adam(learning_rate=1e-3),
        loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def flops() -> float:
    """Multiply-adds x 2 of the forward pass, times 3 for a training step."""
    tokens = BATCH * STEPS
    dense = tokens * (4 * D_MODEL * D_MODEL + 2 * D_MODEL * D_FF)
    attention = 2 * BATCH * HEADS * STEPS * STEPS * (D_MODEL // HEADS)
    return 3.0 * 2 * (dense + attention)


def torch_step(x: np.ndarray, y: np.ndarray):
    """A closure running one PyTorch training step of the same block, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    torch.manual_seed(0)
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = nn.MultiheadAttention(D_MODEL, HEADS, batch_first=True)
            self.ln1, self.ln2 = nn.LayerNorm(D_MODEL, eps=1e-3), nn.LayerNorm(D_MODEL, eps=1e-3)
            self.ff = nn.Sequential(nn.Linear(D_MODEL, D_FF), nn.ReLU(), nn.Linear(D_FF, D_MODEL))
            self.head = nn.Linear(D_MODEL, CLASSES)

        def forward(self, x):
            h = self.ln1(x + self.mha(x, x, x, need_weights=False)[0])
            h = self.ln2(h + self.ff(h))
            return self.head(h.mean(dim=1))

    model = Block()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    step.net, step.opt = model, opt
    return step


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, STEPS, D_MODEL)).astype(np.float32)
    return x, rng.integers(0, CLASSES, BATCH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="timed steps per framework")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--block", type=int, default=5, help="steps per turn")
    parser.add_argument("--profile", action="store_true", help="cProfile graphengine's steps")
    parser.add_argument("--ops", action="store_true", help="time each step of the plan")
    args = parser.parse_args()

    x, y = data()
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


def workload():
    """(graphengine step, PyTorch step or None, flops) for benchmarks/run.py's table."""
    x, y = data()
    ge.utils.set_random_seed(0)
    model = graphengine_model()
    ge_step = lambda: model.train_on_batch(x, y)  # noqa: E731
    ge_step.model = model
    return ge_step, torch_step(x, y), flops()
