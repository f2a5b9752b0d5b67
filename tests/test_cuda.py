"""The CUDA backend: kernel parity with the CPU and a mixed model trained on both, run in Numba's
CUDA simulator in a subprocess (NUMBA_ENABLE_CUDASIM is read once per process, so the rest of the
suite keeps the CPU Numba); every kernel those tests launched compiled for a GPU; and the clear
error where no GPU and no simulator exist."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphengine as ge
from graphengine.runtime import devices

ROOT = Path(__file__).resolve().parent.parent
# the parity tests of every kernel family: tests/cuda_parity.py and one cuda_parity_<family>.py
# per family added since
PARITY_FILES = sorted(str(p) for p in (ROOT / "tests").glob("cuda_parity*.py"))


def test_cuda_kernels_match_cpu_in_the_simulator_and_compile_for_a_gpu(tmp_path):
    """The parity tests in the simulator, recording every kernel launch (tests/cuda_launches.py);
    then every launched kernel compiled, with the types it was launched with, to a GPU's machine
    code (tests/cuda_compile.py), which the simulator's Python execution does not check."""
    launches = tmp_path / "launches.json"  # one file per pytest-xdist worker: launches.json.gw0...
    tests = ROOT / "tests"
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=f"{ROOT}{os.pathsep}{tests}",
               GE_CUDA_LAUNCHES=str(launches))  # fmt: skip
    env.pop("GE_CUDA_GPU", None)
    pytest_args = [*PARITY_FILES, "-p", "no:cacheprovider", "-p", "cuda_launches"]
    out = _passes([sys.executable, "-m", "pytest", *pytest_args], env)
    ran = re.search(r"\b(\d+) passed", out)
    assert ran and "failed" not in out and "skipped" not in out, out

    env.pop("NUMBA_ENABLE_CUDASIM")
    out = _passes([sys.executable, str(tests / "cuda_compile.py"), f"{launches}*"], env)
    kernels = re.search(r"signatures of (\d+) kernels compiled to sm_90 machine code", out)
    assert kernels and int(kernels.group(1)) > 150, out


def _passes(command, env):
    """The standard output of `command`, run in the repository, which must exit 0."""
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return proc.stdout


def test_cuda_without_gpu_or_simulator_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setattr(devices, "_cuda_available", lambda: False)
    monkeypatch.setattr(devices, "_cache", {})
    with pytest.raises(RuntimeError, match=r"pip install -e \.\[cuda\].*NUMBA_ENABLE_CUDASIM=1"):
        devices.get_device("cuda")
    with pytest.raises(RuntimeError, match="NVIDIA GPU"):
        with ge.device("cuda"):
            pass
    model = ge.Sequential([ge.layers.Dense(1, input_dim=2)])
    with pytest.raises(RuntimeError, match="numba-cuda"):
        model.compile(optimizer="sgd", loss="mse", device="cuda")


def test_cuda_availability_check_without_simulator(monkeypatch):
    """On this machine (no GPU) the real check answers False instead of raising."""
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    assert devices._cuda_available() in (True, False)


def test_the_gpu_compile_check_refuses_what_only_the_simulator_runs():
    """tests/cuda_compile.py on kernels the simulator runs as Python but a GPU cannot: an index
    from CUDA's math.floor, which returns a float (the affine sampler's bug, found so), and a
    shared array beyond a block's 48 KiB, a block beyond 1024 threads; the corrected kernel
    passes."""
    import math

    from cuda_compile import compile_kernel
    from numba import cuda, float64, types

    def floor_index(x, out):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = x[math.floor(i * 0.5)]

    def int_index(x, out):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = x[int(math.floor(i * 0.5))]

    def big_shared(x, out):
        s = cuda.shared.array(8192, float64)  # 64 KiB
        s[cuda.threadIdx.x] = x[cuda.threadIdx.x]
        cuda.syncthreads()
        out[cuda.threadIdx.x] = s[8191 - cuda.threadIdx.x]

    vector = types.Array(types.float64, 1, "C")
    failure = compile_kernel(floor_index, (vector, vector), 256)
    assert failure and re.search(r"does not compile: TypingError.*getitem", failure, re.S), failure
    assert compile_kernel(int_index, (vector, vector), 256) is None
    assert "2048 threads exceeds 1024" in compile_kernel(int_index, (vector, vector), 2048)
    failure = compile_kernel(big_shared, (vector, vector), 256)
    assert failure and re.search(r"shared", failure), failure


def test_small_grids_launch_without_numba_performance_warnings():
    """The kernels size their grids to the work (grid-stride loops): a small model's launches
    must not each warn of low occupancy. Configuring a launch needs no GPU."""
    import warnings

    from graphengine_kernels.cuda import launch
    from graphengine_kernels.cuda.elementwise import fill_kernel

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        launch.elementwise(fill_kernel, 10)
        fill_kernel[1, 32]


def test_the_float32_matrix_product_sums_in_float32():
    """The GEMM's float32 kernel accumulates in float32, as BLAS and cuBLAS do: a float64 sum
    (the literal 0.0 types as float64) would run every multiply-add at the GPU's float64 rate,
    1/2 of float32's on an H100 and 1/64 on most other GPUs. Read off the PTX: no GPU needed."""
    from cuda_compile import CC
    from numba import cuda, types

    from graphengine_kernels.cuda.matmul import _GEMM

    kernel = _GEMM[np.dtype(np.float32)]
    m = types.Array(types.float32, 2, "C")
    ptx, _ = cuda.compile_ptx(kernel.py_func, (m, m, types.boolean, types.boolean, m), cc=CC)
    assert re.search(r"\bfma\.rn\.f32\b", ptx)
    assert not re.search(r"\b(fma\.rn|add|mul)\.f64\b", ptx), "float64 arithmetic in the sum"
