"""One MobileNet-block training step, graphengine next to PyTorch (CPU), on the same model and
batch.

Model: DepthwiseConv2D 3x3 "same" + BatchNormalization + ReLU, pointwise Conv2D 1x1 64 +
BatchNormalization + ReLU (both convolutions without bias, as MobileNet), GlobalAveragePooling2D,
Dense 10 (logits); input 32x32x32, batch 32, Adam(1e-3), sparse categorical cross-entropy from
logits. PyTorch runs the same block with a groups=C convolution and torch.set_num_threads(2)
(and is skipped when torch is not installed).

Run: python benchmarks/mobilenet_block.py [--steps 300] [--warmup 20] [--block 5] [--ops]
--ops times every step of the compiled training plan on its own (cnn_train_step.py's op_times).
The two frameworks take turns in blocks of `block` steps, as benchmarks/cnn_train_step.py.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import graphengine as ge  # noqa: E402
from benchmarks.cnn_train_step import compare, op_times, timed  # noqa: E402

BATCH, SIZE, CHANNELS, POINTWISE, CLASSES = 32, 32, 32, 64, 10
# multiply-adds of the two convolutions, times 3 for a training step (forward, dx, dw)
FLOPS = 3 * 2 * BATCH * SIZE * SIZE * CHANNELS * (9 + POINTWISE)


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, SIZE, SIZE, CHANNELS), dtype=np.float32)
    return x, rng.integers(0, CLASSES, BATCH)


def graphengine_model() -> ge.Model:
    L = ge.layers
    x = ge.Input(shape=(SIZE, SIZE, CHANNELS))
    h = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    h = L.ReLU()(L.BatchNormalization()(h))
    h = L.Conv2D(POINTWISE, 1, use_bias=False)(h)
    h = L.ReLU()(L.BatchNormalization()(h))
    h = L.GlobalAveragePooling2D()(h)
    model = ge.Model(x, L.Dense(CLASSES)(h), name="mobilenet_block")
    model.compile(
        optimizer=ge.optimizers.Adam(learning_rate=1e-3),
        loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def torch_step(x: np.ndarray, y: np.ndarray):
    """A closure running one PyTorch training step of the same block, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1, groups=CHANNELS, bias=False),
        nn.BatchNorm2d(CHANNELS, eps=1e-3, momentum=0.01), nn.ReLU(),
        nn.Conv2d(CHANNELS, POINTWISE, 1, bias=False),
        nn.BatchNorm2d(POINTWISE, eps=1e-3, momentum=0.01), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(POINTWISE, CLASSES),
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW, PyTorch's own
    yt = torch.from_numpy(y.astype(np.int64))

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    step.net, step.opt = model, opt
    return step


def workload() -> tuple:
    """(graphengine step, PyTorch step or None, flops per step), for benchmarks/run.py's table."""
    x, y = data()
    ge.utils.set_random_seed(0)
    model = graphengine_model()
    ge_step = lambda: model.train_on_batch(x, y)  # noqa: E731
    ge_step.model = model
    return ge_step, torch_step(x, y), FLOPS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per framework")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--block", type=int, default=5, help="steps per turn")
    parser.add_argument("--ops", action="store_true", help="time each step of the plan")
    args = parser.parse_args()

    ge_step, pt_step, _ = workload()
    timed(ge_step, args.warmup)  # compiles the plan (and loads the cached kernels)
    if pt_step is not None:
        timed(pt_step, args.warmup)
    if args.ops:
        op_times(ge_step.model, args.steps)
        return

    compare(ge_step, pt_step, args.steps, args.block)


if __name__ == "__main__":
    main()
