"""A pytest plugin for the simulator runs of the CUDA parity tests: it records every kernel launch
(which kernel, the Numba types of its arguments, whether an argument was a host array) and writes
them as JSON to the file that GE_CUDA_LAUNCHES names (one per pytest-xdist worker, the worker's
name appended), for tests/cuda_compile.py to compile each kernel for a real GPU. The simulator
runs kernels as Python, so it accepts code that Numba's CUDA compiler refuses; the recording lets
the compiler see the same kernels with the same types.

Loaded with `-p cuda_launches` (tests/ on the path), in a process with NUMBA_ENABLE_CUDASIM=1."""

import json
import os
import traceback

import numpy as np
from numba import typeof
from numba.core import types

_SEEN = {}


def kernel_key(fn):
    """(module, qualname, closure) naming a kernel alike in the simulator and for the compiler:
    kernels made by a factory (one per dtype, one per activation) differ in their closure."""
    cells = []
    for cell in fn.__closure__ or ():
        value = cell.cell_contents
        inner = getattr(value, "py_func", getattr(value, "fn", value))
        if callable(inner) and hasattr(inner, "__qualname__"):
            cells.append(f"{inner.__module__}.{inner.__qualname__}")
        elif isinstance(value, (int, float, str, bool, types.Type, np.dtype)):
            cells.append(repr(value))
        else:
            cells.append(type(value).__name__)
    return f"{fn.__module__}:{fn.__qualname__}:{'|'.join(cells)}"


def numba_type(value):
    """The type Numba's CUDA dispatcher gives `value`, as JSON: ["array", dtype, ndim, layout],
    ["tuple", [items]], ["namedtuple", "module:class", [items]] or ["scalar", name]. A simulated
    device array, or a host array that the launch copies, types as the array it holds, writable."""
    ary = getattr(value, "_ary", value)
    if isinstance(ary, np.ndarray):
        t = typeof(ary)
        return ["array", str(t.dtype), t.ndim, t.layout]
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        cls = type(value)
        return [
            "namedtuple",
            f"{cls.__module__}:{cls.__qualname__}",
            [numba_type(v) for v in value],
        ]
    if isinstance(value, tuple):
        return ["tuple", [numba_type(v) for v in value]]
    return ["scalar", str(typeof(value))]


def pytest_configure(config):
    """Wraps the simulator's kernel launch to record each one (at the first test, not at import:
    tests/cuda_compile.py imports kernel_key from here without the simulator)."""
    from numba.cuda.simulator import kernel as sim

    launch = sim.FakeCUDAKernel.__call__

    def recording_launch(self, *args):
        if not self._device and not sim._kernel_context:
            key = kernel_key(self.fn)
            sig = json.dumps([numba_type(a) for a in args])
            host = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.ndim > 0]
            entry = _SEEN.setdefault(key, {"signatures": {}, "host_arguments": []})
            entry["signatures"][sig] = list(map(int, self.block_dim))
            if host and len(entry["host_arguments"]) < 5:
                frames = traceback.extract_stack()[-6:-1]  # who launched it with a host array
                where = [f"{os.path.basename(f.filename)}:{f.lineno} {f.name}" for f in frames]
                entry["host_arguments"].append({"arguments": host, "launched from": where})
        return launch(self, *args)

    sim.FakeCUDAKernel.__call__ = recording_launch


def pytest_sessionfinish(session):
    path = os.environ.get("GE_CUDA_LAUNCHES")
    if path and _SEEN:
        worker = os.environ.get("PYTEST_XDIST_WORKER")  # one file per worker: path.gw0, ...
        with open(f"{path}.{worker}" if worker else path, "w") as f:
            json.dump(_SEEN, f, indent=1, sort_keys=True)
