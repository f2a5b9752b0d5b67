"""The scale rows (issue 25): how a train step's cost grows with the batch and the model, in
GFLOP/s against this machine's measured fp32 peak, next to PyTorch eager (2 threads).

Rows: the machine's fp32 peak (benchmarks/peak.py: a Numba FMA loop on 1 and 2 threads) and
NumPy's BLAS on a 1024^3 sgemm; the MLP 784-256-256-10 (Adam) and benchmarks/cnn_train_step.py's
CNN at batch 1 to 1024 (a curve); a residual CNN (32x32x3, batch 64, three stages of
Conv2D-BatchNormalization-ReLU blocks with Add skips, GlobalAveragePooling2D, Dense 10);
LSTM(512) over 200 steps, batch 32, 64 features.
FLOPs count the products only (multiply-add = 2), times 3 for a train step (forward, dx, dw).

Run: python -m benchmarks scale [--only mlp,cnn,resnet,lstm] [--seconds 0.6] [--ops NAME]
--ops times every step of one row's training plan on its own (cnn_train_step.py's op_times):
mlp1024, cnn1024, resnet or lstm. The frameworks take turns as run.py's `interleaved`; each
point times about --seconds of steps per framework (at least 3 steps), so one run stays short.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import graphengine as ge  # noqa: E402
from benchmarks import cnn_train_step, peak, run  # noqa: E402
from benchmarks.cnn_train_step import op_times  # noqa: E402

BATCHES = (1, 4, 16, 64, 256, 1024)
LSTM_BATCH, LSTM_STEPS, LSTM_FEATURES, LSTM_UNITS = 32, 200, 64, 512
RES_BATCH, RES_STAGES = 64, (16, 32, 64)  # channels of the three stages (32, 16, 8 pixels)


def _seconds(fn: Callable) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# -- the workloads: each returns (graphengine step, PyTorch step or None, flops per step) -------
def mlp(batch: int) -> tuple[Callable, Callable | None, float]:
    return run.mlp(True, batch)


def cnn(batch: int) -> tuple[Callable, Callable | None, float]:
    rng = np.random.default_rng(0)
    x = rng.random((batch, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    ge.utils.set_random_seed(0)
    model = cnn_train_step.graphengine_model()
    flops = 3 * 2 * batch * (26 * 26 * 9 * 32 + 11 * 11 * 9 * 32 * 64 + 1600 * 128 + 1280)
    ge_step = lambda: model.train_on_batch(x, y)  # noqa: E731
    ge_step.model = model
    return ge_step, cnn_train_step.torch_step(x, y), flops


def _res_convs() -> list[tuple[int, int, int, int]]:
    """(pixels per side of the output, kernel, in channels, out channels) of every convolution."""
    convs, size, cin = [(32, 3, 3, RES_STAGES[0])], 32, RES_STAGES[0]
    for i, ch in enumerate(RES_STAGES):
        if i:  # a strided 3x3 conv into the stage, a strided 1x1 projection on the skip
            size //= 2
            convs += [(size, 3, cin, ch), (size, 1, cin, ch)]
        convs += [(size, 3, ch, ch), (size, 3, ch, ch)]
        cin = ch
    return convs


def resnet_model() -> ge.Model:
    L = ge.layers

    def conv_bn(h, ch: int, k: int = 3, strides: int = 1, relu: bool = True):
        h = L.Conv2D(ch, k, strides=strides, padding="same", use_bias=False)(h)
        h = L.BatchNormalization()(h)
        return L.ReLU()(h) if relu else h

    x = ge.Input(shape=(32, 32, 3))
    h = conv_bn(x, RES_STAGES[0])
    for i, ch in enumerate(RES_STAGES):
        skip = h
        if i:
            skip = conv_bn(h, ch, 1, 2, relu=False)
            h = conv_bn(h, ch, strides=2)
        h = conv_bn(h, ch)
        h = L.ReLU()(L.Add()([conv_bn(h, ch, relu=False), skip]))
    model = ge.Model(x, L.Dense(10)(L.GlobalAveragePooling2D()(h)), name="resnet")
    model.compile(
        optimizer=ge.optimizers.Adam(learning_rate=1e-3),
        loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def resnet_torch(x: np.ndarray, y: np.ndarray):
    """A closure running one PyTorch training step of the same network, or None without torch."""
    torch = run._torch()
    if torch is None:
        return None
    torch.manual_seed(0)
    nn = torch.nn

    def conv_bn(cin: int, ch: int, k: int = 3, stride: int = 1, relu: bool = True):
        layers = [nn.Conv2d(cin, ch, k, stride, k // 2, bias=False), nn.BatchNorm2d(ch, 1e-3)]
        return nn.Sequential(*layers, *([nn.ReLU()] if relu else []))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem, blocks, cin = conv_bn(3, RES_STAGES[0]), [], RES_STAGES[0]
            for i, ch in enumerate(RES_STAGES):
                skip = conv_bn(cin, ch, 1, 2, relu=False) if i else nn.Identity()
                first = conv_bn(cin, ch, stride=2) if i else nn.Identity()
                body = nn.Sequential(conv_bn(ch, ch), conv_bn(ch, ch, relu=False))
                blocks.append(nn.ModuleList([skip, first, body]))
                cin = ch
            self.blocks, self.head = nn.ModuleList(blocks), nn.Linear(cin, 10)

        def forward(self, h):
            h = self.stem(h)
            for skip, first, body in self.blocks:
                h = torch.relu(body(first(h)) + skip(h))
            return self.head(h.mean((2, 3)))

    return _torch_step(torch, Net(), torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), y)


def _torch_step(torch, net, xt, y: np.ndarray) -> Callable:
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn, yt = torch.nn.CrossEntropyLoss(), torch.from_numpy(y.astype(np.int64))

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def resnet() -> tuple[Callable, Callable | None, float]:
    rng = np.random.default_rng(0)
    x = rng.random((RES_BATCH, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, RES_BATCH)
    ge.utils.set_random_seed(0)
    model = resnet_model()
    macs = sum(s * s * k * k * cin * cout for s, k, cin, cout in _res_convs()) + 64 * 10
    ge_step = lambda: model.train_on_batch(x, y)  # noqa: E731
    ge_step.model = model
    return ge_step, resnet_torch(x, y), 3 * 2 * RES_BATCH * macs


def lstm() -> tuple[Callable, Callable | None, float]:
    rng = np.random.default_rng(0)
    shape = (LSTM_BATCH, LSTM_STEPS, LSTM_FEATURES)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 10, LSTM_BATCH)
    ge.utils.set_random_seed(0)
    inp = ge.Input(shape=shape[1:])
    model = ge.Model(inp, ge.layers.Dense(10)(ge.layers.LSTM(LSTM_UNITS)(inp)), name="lstm512")
    model.compile(
        optimizer=ge.optimizers.Adam(learning_rate=1e-3),
        loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    ge_step = lambda: model.train_on_batch(x, y)  # noqa: E731
    ge_step.model = model
    flops = 3 * 2 * LSTM_BATCH * LSTM_STEPS * 4 * LSTM_UNITS * (LSTM_FEATURES + LSTM_UNITS)
    torch = run._torch()
    if torch is None:
        return ge_step, None, flops
    torch.manual_seed(0)
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(LSTM_FEATURES, LSTM_UNITS, batch_first=True)
            self.head = nn.Linear(LSTM_UNITS, 10)

        def forward(self, h):
            return self.head(self.rnn(h)[0][:, -1])

    return ge_step, _torch_step(torch, Net(), torch.from_numpy(x), y), flops


def rows(only: set[str]) -> list[tuple[str, Callable]]:
    out = []
    for name, label, make in (("mlp", "MLP 784-256-256-10 train", mlp), ("cnn", "CNN train", cnn)):
        if not only or name in only:
            out += [(f"{label}, batch {b}", lambda m=make, b=b: m(b)) for b in BATCHES]
    if not only or "resnet" in only:
        out.append((f"residual CNN train, 32x32x3 batch {RES_BATCH}", resnet))
    if not only or "lstm" in only:
        title = f"LSTM({LSTM_UNITS}) train, batch {LSTM_BATCH} T{LSTM_STEPS} F{LSTM_FEATURES}"
        out.append((title, lstm))
    return out


def measure(ge_step: Callable, pt_step: Callable | None, seconds: float):
    """Medians of both, interleaved, with about `seconds` of timed steps per framework."""
    one = min(_seconds(ge_step) for _ in range(2))
    steps = max(3, min(60, int(seconds / max(one, 1e-5))))
    return run.interleaved(ge_step, pt_step, steps, block=max(1, min(10, steps // 3)), warmup=1)


def row(title: str, make: Callable, seconds: float, top: float, gemm: float) -> str:
    """One table line: graphengine's median, samples/s, GFLOP/s against the peak `top` and the sgemm
    rate, PyTorch's median and the ratio, and the 1-minute load average after the row."""
    ge_step, pt_step, flops = make()
    ge_s, pt_s = measure(ge_step, pt_step, seconds)
    batch = int(title.split("batch ")[1].split()[0])
    gflops = flops / ge_s / 1e9
    pt = f"{pt_s * 1e3:8.2f}ms {ge_s / pt_s:6.2f}" if pt_s else f"{'-':>10s} {'-':>6s}"
    return (
        f"{title:48s} {ge_s * 1e3:9.2f}ms {batch / ge_s:10.0f} {gflops:8.1f}"
        f" {100 * gflops / top:5.1f}% {100 * gflops / gemm:5.1f}% {pt} {os.getloadavg()[0]:5.2f}"
    )


OPS = {"mlp1024": lambda: mlp(1024), "cnn1024": lambda: cnn(1024), "resnet": resnet, "lstm": lstm}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated: mlp, cnn, resnet, lstm")
    parser.add_argument("--seconds", type=float, default=0.6, help="timed seconds per point")
    parser.add_argument(
        "--ops", default="", choices=["", *OPS], help="time each step of this row's plan"
    )
    args = parser.parse_args(argv)
    if args.ops:
        ge_step = OPS[args.ops]()[0]
        for _ in range(3):
            ge_step()
        op_times(ge_step.model, 5)
        return
    m = peak.measure()
    top = max(m["fma2"], m["gemm"])  # the peak: sgemm can beat the loop on a busy machine
    print(
        f"fp32 peak (Numba FMA loop): {m['fma1']:.1f} GFLOP/s on 1 thread, {m['fma2']:.1f} on 2;"
        f" NumPy sgemm 1024^3 (2 threads): {m['gemm']:.1f} GFLOP/s"
        f" ({100 * m['gemm'] / m['fma2']:.0f}% of the loop's)"
    )
    print(
        f"{'workload':48s} {'graphengine':>11s} {'samples/s':>10s} {'GFLOP/s':>8s} {'%peak':>6s}"
        f" {'%gemm':>6s} {'PyTorch':>10s} {'ratio':>6s} {'load':>5s}"
    )
    for title, make in rows(set(filter(None, args.only.split(",")))):
        print(row(title, make, args.seconds, top, m["gemm"]), flush=True)
    again = peak.measure()
    print(
        f"at the end: FMA loop {again['fma1']:.1f} / {again['fma2']:.1f} GFLOP/s, sgemm "
        f"{again['gemm']:.1f} GFLOP/s (the columns use the first; load: the 1-minute load "
        "average after each row, above ~0.5 when another process is busy)"
    )


if __name__ == "__main__":
    main()
