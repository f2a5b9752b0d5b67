"""benchmarks/gpu.py, the GPU table that benchmarks/gpu_check.sh runs on a GPU, run here with both
frameworks on the CPU (`--device cpu`): the table, the memory processes and the plan's kernel
times must all come out, so the script is known to run before GPU time is spent on it."""

import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import gpu

ROOT = Path(__file__).resolve().parent.parent


def test_the_gpu_table_runs_every_part_on_the_cpu():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.gpu",
            "--device",
            "cpu",
            "--steps",
            "2",
            "--only",
            "mlp_train,lstm_train",
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert re.search(r"MLP 784-256-256-10 train step, batch 128 +\d+\.\d+ms", out), out
    assert re.search(r"LSTM\(128\) train step.*ms.*<= 2", out), out
    memory = out.split("peak GPU memory", 1)[1]
    assert len(re.findall(r"train step.*\b(ran|\d+MiB)\s+(ran|\d+MiB|-)\n", memory)) == 2, out
    assert re.search(r"lstm_sequence\s", out) and "steps\n" in out, out  # the plan, op by op


def test_memory_sampler_takes_the_peak_over_the_start(monkeypatch):
    levels = iter([100, 100, 160, 130] + [120] * 100)
    monkeypatch.setattr(gpu.shutil, "which", lambda tool: "/bin/nvidia-smi")
    monkeypatch.setattr(gpu.MemorySampler, "read", lambda self: next(levels))
    with gpu.MemorySampler() as sampler:
        deadline = time.monotonic() + 5
        while sampler.peak < 160 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert sampler.base == 100 and sampler.peak == 160
