#!/usr/bin/env bash
# The CUDA backend on a real GPU, in one run of under 8 minutes, every result in one file:
#   1. the machine: GPU, driver, Python, Numba, numba-cuda, PyTorch;
#   2. every CUDA parity test (tests/cuda_parity*.py: each kernel against the CPU's, the mixed
#      Conv2D + MaxPool + BatchNorm + LSTM + Dense model in float32 and float64, the host copies
#      of a train step) on the device instead of the simulator;
#   3. benchmarks/gpu.py: the MLP, CNN, LSTM and GRU train steps, MLP inference and batch-1
#      latency next to PyTorch CUDA as ratios, each training process's peak memory by nvidia-smi,
#      and the CNN's and LSTM's plans kernel by kernel;
#   4. compute-sanitizer: memcheck over the kernel parity tests, racecheck over the kernels that
#      share memory in a block (matrix products, reductions, normalization, softmax);
#   5. nvidia-smi's peak memory over the whole run.
# Each part has its own time limit, so one that hangs or fails leaves the others' results.
#
# Usage (from anywhere): bash benchmarks/gpu_check.sh [RESULT_FILE]
# (On a lent GPU machine: the whole script as one command, with a limit of about 560 s.)
# RESULT_FILE defaults to $OUT/gpu_check.txt where OUT is set (the device tool), else
# ./gpu_check.txt; the whole pytest log goes beside it as gpu_tests.log.
# Needs python3 with numpy, numba, numba-cuda, pytest (pytest-xdist, pytest-timeout if there) and
# PyTorch with CUDA; it installs nothing (the GPU machines here reach no package index).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULT=${1:-${OUT:-.}/gpu_check.txt}
LOG=$(dirname "$RESULT")/gpu_tests.log
PY=${PYTHON:-python3}
START=$SECONDS

# graphengine importable as installed (kernels/ is the package graphengine_kernels), without pip
SITE=$(mktemp -d)
ln -s "$ROOT/graphengine" "$SITE/graphengine"
ln -s "$ROOT/kernels" "$SITE/graphengine_kernels"
export PYTHONPATH="$SITE:$ROOT:$ROOT/tests${PYTHONPATH:+:$PYTHONPATH}"
export NUMBA_CACHE_DIR="$SITE/numba-cache"  # shared by every part: each kernel compiles once
export GE_CUDA_GPU=1 PYTHONUNBUFFERED=1
unset NUMBA_ENABLE_CUDASIM

part() { echo; echo "== $1 (at $((SECONDS - START)) s)"; }

main() {
    part "machine"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    "$PY" - <<'EOF'
import platform, numpy, numba
print("python", platform.python_version(), "| numpy", numpy.__version__, "| numba", numba.__version__)
try:
    import numba_cuda
    print("numba-cuda", numba_cuda.__version__)
except ImportError:
    print("numba-cuda: not installed (Numba's built-in CUDA target)")
from numba import cuda
cuda.detect()
device = cuda.get_current_device()
print("numba sees", device.name.decode() if isinstance(device.name, bytes) else device.name,
      "compute capability", device.compute_capability)
try:
    import torch
    print("torch", torch.__version__, "| cuda", torch.version.cuda, "|", torch.cuda.get_device_name())
except Exception as e:  # noqa: BLE001 -- the table says what is missing
    print("torch: not usable:", e)
EOF
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$SITE/smi.csv" &
    SMI=$!

    part "CUDA parity tests on the GPU (limit 210 s)"
    local timeout_flag=""
    "$PY" -c "import pytest_timeout" 2>/dev/null && timeout_flag="--timeout=150"
    local workers=""
    "$PY" -c "import xdist" 2>/dev/null && workers="-n 8"
    # -v: a line per test as it ends, so a run stopped at the limit still says what passed
    timeout 210 "$PY" -m pytest tests/cuda_parity*.py -p no:cacheprovider -o addopts="" -v \
        $workers $timeout_flag -rfE --tb=short >"$LOG" 2>&1
    echo "pytest exit status $? (124: stopped at the limit)"
    echo "$(grep -c " PASSED" "$LOG") passed, $(grep -cE " (FAILED|ERROR)" "$LOG") failed or errors"
    grep -E "^(FAILED|ERROR) " "$LOG" | head -60
    tail -n 1 "$LOG"

    part "benchmarks/gpu.py: graphengine against PyTorch CUDA (limit 170 s)"
    timeout 170 "$PY" -m benchmarks.gpu --steps 30
    echo "benchmarks exit status $?"

    part "compute-sanitizer memcheck: the kernel parity tests (limit 50 s)"
    timeout 50 compute-sanitizer --tool memcheck --print-limit 20 "$PY" -m pytest \
        tests/cuda_parity.py -k "not mixed and not train_step and not weights_stay and not nonfinite" \
        -p no:cacheprovider -o addopts="" -q 2>&1 | grep -vE "^\s*$" | tail -n 25
    echo "memcheck exit status ${PIPESTATUS[0]}"

    part "compute-sanitizer racecheck: the kernels that share memory (limit 40 s)"
    timeout 40 compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 20 \
        "$PY" -m pytest tests/cuda_parity.py -k "reduce_softmax_matmul or normalization" \
        -p no:cacheprovider -o addopts="" -q 2>&1 | grep -vE "^\s*$" | tail -n 25
    echo "racecheck exit status ${PIPESTATUS[0]}"

    kill "$SMI" 2>/dev/null
    part "nvidia-smi"
    echo "peak GPU memory used over the whole run: $(sort -n "$SITE/smi.csv" | tail -n 1) MiB"
    echo "done in $((SECONDS - START)) s"
}

main 2>&1 | tee "$RESULT"
