"""The GPU table: the CPU table's MLP, CNN, LSTM and GRU training steps, MLP inference and batch-1
latency with `compile(device="cuda")`, next to the same models in PyTorch CUDA, as ratios; then
each training step's peak GPU memory by nvidia-smi, each framework in a process of its own; then
where the time of graphengine's CNN and LSTM steps goes, kernel by kernel.

Both frameworks take their batch from host memory every step and hand the loss (or the
predictions) back to it, so every timed step includes its copies and ends synchronised.

Run: python -m benchmarks.gpu [--steps 50] [--only cnn_train,lstm_train] [--no-memory] [--no-ops]
benchmarks/gpu_check.sh runs it on a GPU. `--device cpu` runs the same script with both
frameworks on the CPU (how tests/test_benchmarks_gpu.py checks it where there is no GPU).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import Callable

import numpy as np
from numba import cuda

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import graphengine as ge  # noqa: E402
from benchmarks import cnn_train_step, run  # noqa: E402

# name: (title, builder(device) -> (graphengine step, PyTorch step or None, flops), target ratio)
WORKLOADS = {
    "mlp_train": (
        "MLP 784-256-256-10 train step, batch 128",
        lambda d: run.mlp(True, device=d),
        "",
    ),
    "mlp_infer": (
        "MLP 784-256-256-10 inference, batch 128",
        lambda d: run.mlp(False, device=d),
        "",
    ),
    "cnn_train": ("CNN train step, batch 64", run.cnn, "<= 2"),
    "lstm_train": ("LSTM(128) train step, (64, 50, 32)", lambda d: run.rnn("lstm", d), "<= 2"),
    "gru_train": ("GRU(128) train step, (64, 50, 32)", lambda d: run.rnn("gru", d), ""),
    "latency": ("Dense(16)-relu-Dense(1) inference, batch 1", run.latency, ""),
}
TRAIN = ("mlp_train", "cnn_train", "lstm_train", "gru_train")
OPS = ("cnn_train", "lstm_train")  # the steps whose kernels are timed one by one
MEMORY_STEPS = 10


def synchronize(device: str) -> None:
    """Waits for the device's queued work (both frameworks queue on the same GPU)."""
    if device == "cuda":
        cuda.synchronize()


def table(names: list[str], device: str, steps: int) -> None:
    print(f"{'workload':46s} {'graphengine':>12s} {'PyTorch':>10s} {'ratio':>6s} {'target':>7s}")
    for name in names:
        title, make, target = WORKLOADS[name]
        ge_step, pt_step, _ = make(device)
        if name == "latency":  # short calls: more of them, in longer turns
            ge_s, pt_s = run.interleaved(ge_step, pt_step, 10 * steps, block=50)
        else:
            ge_s, pt_s = run.interleaved(ge_step, pt_step, steps)
        ratio = f"{ge_s / pt_s:6.2f}" if pt_s else "     -"
        pt = f"{pt_s * 1e3:8.3f}ms" if pt_s else "         -"
        print(f"{title:46s} {ge_s * 1e3:10.3f}ms {pt} {ratio} {target:>7s}", flush=True)


class MemorySampler:
    """The GPU's used memory (MiB, nvidia-smi) sampled every 0.1 s from a thread: the peak while
    running, less the level when it started."""

    def __init__(self) -> None:
        self.tool = shutil.which("nvidia-smi")
        self.peak = 0
        self._stop = threading.Event()
        self.base = self.read()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def read(self) -> int:
        if self.tool is None:
            return 0
        out = subprocess.run(
            [self.tool, "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
        )
        return int(out.stdout.split()[0]) if out.returncode == 0 and out.stdout.strip() else 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.read())
            self._stop.wait(0.1)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.read())


def memory(names: list[str], device: str) -> None:
    """Each framework's training steps in a process of their own (the CUDA context and every
    library each loads count), nvidia-smi's peak less the GPU's level before it started."""
    names = [n for n in names if n in TRAIN]
    if not names:
        return
    if shutil.which("nvidia-smi") is None:
        print("\npeak GPU memory: nvidia-smi is not on this machine, not measured")
    else:
        print(
            f"\n{'peak GPU memory of a training process':46s} {'graphengine':>12s} {'PyTorch':>10s}"
        )
    for name in names:
        peaks = []
        for framework in ("graphengine", "pytorch"):
            if framework == "pytorch" and importlib.util.find_spec("torch") is None:
                peaks.append("-")
                continue
            command = [sys.executable, "-m", "benchmarks.gpu", "--device", device]
            with MemorySampler() as sampler:
                proc = subprocess.run(
                    command + ["--memory-of", framework, "--only", name],
                    capture_output=True,
                    text=True,
                    cwd=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                )
            if proc.returncode:
                raise RuntimeError(f"{name} ({framework}): {proc.stderr[-3000:]}")
            peaks.append(f"{sampler.peak - sampler.base:8d}MiB" if sampler.tool else "ran")
        print(f"{WORKLOADS[name][0]:46s} {peaks[0]:>12s} {peaks[1]:>10s}", flush=True)


def memory_child(framework: str, name: str, device: str) -> None:
    """--memory-of: MEMORY_STEPS training steps of one framework alone. graphengine's process
    hides torch (so none of PyTorch's CUDA libraries load there)."""
    if framework == "graphengine":
        sys.modules["torch"] = None  # import torch raises ImportError: the builders skip it
    ge_step, pt_step, _ = WORKLOADS[name][1](device)
    step = ge_step if framework == "graphengine" else pt_step
    if step is None:
        raise SystemExit(f"{framework} is not installed")
    for _ in range(MEMORY_STEPS):
        step()
    synchronize(device)
    print(f"{framework} {name}: {MEMORY_STEPS} steps")


def launches_per_call(step: Callable[[], object]) -> int:
    """Kernel launches one call of `step` makes (numba-cuda's dispatcher, counted)."""
    from numba.cuda.dispatcher import CUDADispatcher

    count, call = [0], CUDADispatcher.call

    def counted(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        count[0] += 1
        return call(self, *args, **kwargs)

    CUDADispatcher.call = counted
    try:
        step()
    finally:
        CUDADispatcher.call = call
    return count[0]


@cuda.jit
def _one_array(a):
    if cuda.grid(1) < 0:
        a[0] = 0


@cuda.jit
def _many_arrays(arrays):
    if cuda.grid(1) < 0:
        arrays[0][0] = 0


def launch_overhead(repeats: int = 2000) -> None:
    """Microseconds per launch of an empty-bodied kernel, from the host's side (launches queue
    without waiting): taking one array, and taking a tuple of 20 (as the recurrent step kernels
    take their saved tensors)."""
    a = cuda.device_array(256, np.float32)
    arrays = tuple(cuda.device_array(256, np.float32) for _ in range(20))
    print("\nkernel launch overhead (host side, empty kernel):")
    for title, kernel, args in (
        ("1 array", _one_array, (a,)),
        ("20 arrays", _many_arrays, (arrays,)),
    ):
        kernel[1, 32](*args)  # compiles
        cuda.synchronize()
        t = time.perf_counter()
        for _ in range(repeats):
            kernel[1, 32](*args)
        queued = time.perf_counter() - t
        cuda.synchronize()
        print(f"  {title:10s} {queued / repeats * 1e6:6.1f} us a launch")


def ops(names: list[str], device: str) -> None:
    """Where each training step's time goes: its kernel launches, then every step of its
    compiled plan timed alone, synchronised after each (cnn_train_step.op_times)."""
    if device == "cuda":
        launch_overhead()
    for name in (n for n in names if n in OPS):
        ge_step, _, _ = WORKLOADS[name][1](device)
        for _ in range(3):  # compiles the plan and warms the kernels
            ge_step()
        print(f"\n{WORKLOADS[name][0]}: graphengine's plan, step by step", flush=True)
        if device == "cuda":
            print(f"{launches_per_call(ge_step)} kernel launches a step")
        cnn_train_step.op_times(ge_step.model, 20, sync=lambda: synchronize(device))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=50, help="timed steps per framework")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--no-memory", action="store_true", help="skip the memory rows")
    parser.add_argument("--no-ops", action="store_true", help="skip the kernel-by-kernel times")
    parser.add_argument("--memory-of", choices=["graphengine", "pytorch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [n for n in WORKLOADS if not args.only or n in args.only.split(",")]
    if args.memory_of:
        memory_child(args.memory_of, names[0], args.device)
        return
    t = time.perf_counter()
    table(names, args.device, args.steps)
    if not args.no_memory:
        memory(names, args.device)
    if not args.no_ops:
        ops(names, args.device)
    print(
        f"\n({time.perf_counter() - t:.0f} s; graphengine {ge.__version__}, device {args.device})"
    )


if __name__ == "__main__":
    main()
