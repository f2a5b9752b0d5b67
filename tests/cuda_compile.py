"""Compiles every CUDA kernel that the simulator runs of the parity tests launched, with the
argument types they were launched with, for a real GPU: Numba's CUDA compiler to PTX (NVVM), then
ptxas to machine code with its resource counts. No GPU is needed, only numba-cuda and the CUDA
compiler libraries (in the `test` extra). The simulator runs kernels as Python and accepts what
the compiler refuses; this finds those kernels, and kernels whose registers or shared memory do
not fit the block they are launched with.

    python tests/cuda_compile.py LAUNCHES.json [...]   (written by tests/cuda_launches.py)

Prints a line per failure (a kernel that does not compile, does not fit its block, took a host
array, or was never launched) and exits 1 when there is any."""

import glob
import importlib
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from numba import cuda
from numba.core import types
from numba.cuda import dispatcher as cuda_dispatcher
from numba.cuda.dispatcher import CUDADispatcher

import graphengine_kernels.cuda
from graphengine_kernels.cuda import launch

sys.path.insert(0, os.path.dirname(__file__))
from cuda_launches import kernel_key  # noqa: E402

CC = (9, 0)  # Hopper (the H100 and H200 the project's GPU checks run on)
THREADS_PER_BLOCK = 1024
REGISTERS_PER_BLOCK = 65536
STATIC_SHARED_BYTES = 48 * 1024


class _Hopper:
    """The current device as a device function's compilation asks for it (its compute
    capability), where no GPU or driver is there to ask."""

    compute_capability = CC


def dispatchers():
    """{kernel_key: dispatcher} for every @cuda.jit kernel (not device function) reachable from the
    modules of graphengine_kernels.cuda: module globals and the dicts, tuples and lists in them."""
    found = {}

    def visit(value, depth):
        if isinstance(value, CUDADispatcher):
            if not value.targetoptions.get("device"):
                found[kernel_key(value.py_func)] = value
        elif depth < 3 and isinstance(value, dict):
            for v in value.values():
                visit(v, depth + 1)
        elif depth < 3 and isinstance(value, (tuple, list)):
            for v in value:
                visit(v, depth + 1)

    package = graphengine_kernels.cuda
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            visit(value, 0)
    return found


def numba_type(spec):
    """The Numba type for a JSON spec of tests/cuda_launches.py."""
    kind = spec[0]
    if kind == "array":
        return types.Array(getattr(types, spec[1]), spec[2], spec[3])
    if kind == "tuple":
        return types.BaseTuple.from_types([numba_type(s) for s in spec[1]])
    if kind == "namedtuple":
        module, name = spec[1].split(":")
        cls = importlib.import_module(module)
        for part in name.split("."):
            cls = getattr(cls, part)
        return types.BaseTuple.from_types([numba_type(s) for s in spec[2]], cls)
    return {"none": types.none, "bool": types.boolean}.get(spec[1]) or getattr(types, spec[1])


def ptxas():
    """The ptxas of the nvidia-cuda-nvcc wheel or of a CUDA toolkit on PATH, or None."""
    try:
        import nvidia.cuda_nvcc

        path = os.path.join(list(nvidia.cuda_nvcc.__path__)[0], "bin", "ptxas")
        if os.path.exists(path):
            return path
    except ImportError:
        pass
    return shutil.which("ptxas")


def resources(ptx, tool):
    """[(entry, registers, static shared bytes)] that ptxas reports for a module's kernels."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "k.ptx")
        with open(src, "w") as f:
            f.write(ptx)
        proc = subprocess.run(
            [tool, f"-arch=sm_{CC[0]}{CC[1]}", "-v", src, "-o", os.path.join(tmp, "k.cubin")],
            capture_output=True,
            text=True,
        )
    if proc.returncode:
        raise RuntimeError(f"ptxas: {proc.stderr.strip()[-2000:]}")
    out, entry = [], None
    for line in proc.stderr.splitlines():
        m = re.search(r"Compiling entry function '(\S+)'", line)
        if m:
            entry = m.group(1)
        m = re.search(r"Used (\d+) registers.*?(?:(\d+) bytes smem)?$", line)
        if m and entry:
            shared = re.search(r"(\d+) bytes smem", line)
            out.append((entry, int(m.group(1)), int(shared.group(1)) if shared else 0))
    return out


def block_threads(recorded):
    """Threads per block the kernel launches with on a real GPU: the simulator's recorded block
    scaled from the simulator's sizes to the device's (launch.py picks both)."""
    sim = {16: launch.THREADS, 4: launch.TILE}
    return int(np.prod([sim.get(d, d) for d in recorded]))


def compile_kernel(pyfunc, argtypes, threads, options=None):
    """None when the kernel compiles for CC to machine code whose registers and static shared
    memory fit a block of `threads`; else what went wrong."""
    if threads > THREADS_PER_BLOCK:
        return f"a block of {threads} threads exceeds {THREADS_PER_BLOCK}"
    current = cuda_dispatcher.get_current_device
    cuda_dispatcher.get_current_device = _Hopper  # device functions compile for CC too
    try:
        ptx, _ = cuda.compile_ptx(pyfunc, argtypes, cc=CC, **(options or {}))
    except Exception as e:  # the compiler's own message names the line it refused
        return f"does not compile: {type(e).__name__}: {str(e)[:1500]}"
    finally:
        cuda_dispatcher.get_current_device = current
    tool = ptxas()
    if tool is None:
        return None
    try:
        used = resources(ptx, tool)
    except RuntimeError as e:
        return str(e)
    for _entry, registers, shared in used:
        if registers * threads > REGISTERS_PER_BLOCK:
            return (
                f"{registers} registers x {threads} threads exceed a block's {REGISTERS_PER_BLOCK}"
            )
        if shared > STATIC_SHARED_BYTES:
            return f"{shared} bytes of static shared memory exceed {STATIC_SHARED_BYTES}"
    return None


def compile_one(job):
    key, signature, block = job
    dispatcher = dispatchers()[key]
    argtypes = tuple(numba_type(s) for s in json.loads(signature))
    options = {k: v for k, v in dispatcher.targetoptions.items() if k in ("fastmath", "lineinfo")}
    failure = compile_kernel(dispatcher.py_func, argtypes, block_threads(block), options)
    return failure and f"{key} {signature}: {failure}"


def main(paths):
    launches = {}
    for path in paths:
        for name in glob.glob(path) or [path]:
            with open(name) as f:
                for key, entry in json.load(f).items():
                    merged = launches.setdefault(key, {"signatures": {}, "host_arguments": []})
                    merged["signatures"].update(entry["signatures"])
                    merged["host_arguments"] += entry["host_arguments"]
    known = dispatchers()
    failures = [f"{key}: launched but not found in graphengine_kernels.cuda" for key in launches
                if key not in known]  # fmt: skip
    failures += [f"{key}: host array arguments, copied at every launch: {entry['host_arguments']}"
                 for key, entry in launches.items() if entry["host_arguments"]]  # fmt: skip
    jobs = [(key, sig, block) for key, entry in sorted(launches.items()) if key in known
            for sig, block in entry["signatures"].items()]  # fmt: skip
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        failures += [f for f in pool.map(compile_one, jobs) if f]
    never = sorted(set(known) - set(launches))
    machine = "machine code" if ptxas() else "PTX (no ptxas here)"
    print(f"{len(jobs)} signatures of {len(launches)} kernels compiled to sm_{CC[0]}{CC[1]} "
          f"{machine}; {len(never)} kernels never launched")  # fmt: skip
    failures += [f"{key}: not launched by the parity tests, so never compiled" for key in never]
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
