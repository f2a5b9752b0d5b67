"""Where the CUDA parity tests (tests/cuda_parity*.py) run: in Numba's CUDA simulator, as
tests/test_cuda.py runs them (NUMBA_ENABLE_CUDASIM=1, tiny shapes, in a subprocess since the
simulator is process-global), or on a real GPU, as benchmarks/gpu_check.sh runs them
(GE_CUDA_GPU=1). Every parity file imports this first; run any other way they stop here."""

import os

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
GPU = os.environ.get("GE_CUDA_GPU") == "1"
assert SIMULATOR != GPU, (
    "run the CUDA parity tests through tests/test_cuda.py (the simulator) or "
    "benchmarks/gpu_check.sh (a GPU): set exactly one of NUMBA_ENABLE_CUDASIM=1 and GE_CUDA_GPU=1"
)
