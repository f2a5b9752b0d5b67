"""Denormals flushed to zero inside a kernel, as TensorFlow's and XLA's CPU kernels run (and so
Keras 3's numbers): `old = flush_denormals()` at a kernel's start sets the calling thread's
MXCSR flush-to-zero and denormals-are-zero bits, `restore(old)` at its end puts the caller's
back, so nothing outside the kernel sees the change.

Why: the optimizers' states decay geometrically (Adam's v by beta_2 each step, momentum by
its factor) and a gradient that goes quiet leaves them below float32's smallest normal
(1.2e-38). Arithmetic on such denormals takes a microcode assist: an Adam update of 266K
weights went from 0.14 to 2.6 ms, and an MLP train step from 1.3 to 3.1 ms after ~700 steps on
one batch (benchmarks/NOTES.md). With the bits set, values that small are 0 and cost nothing.

On other machines than x86-64 both are no-ops (arm64 handles denormals at full speed).
"""

import platform

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = []  # helpers for kernels, not kernels: not exported to the devices' kernel modules

_X86 = platform.machine().lower() in ("x86_64", "amd64")
_FLUSH = np.uint32(0x8040)  # MXCSR bits: flush-to-zero (15) and denormals-are-zero (6)
_I32 = ir.IntType(32)


def _mxcsr(builder, name, slot):
    fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    builder.call(fn, [builder.bitcast(slot, ir.IntType(8).as_pointer())])


@intrinsic
def _read(typingctx):
    def codegen(context, builder, signature, args):
        if not _X86:
            return ir.Constant(_I32, 0)
        slot = cgutils.alloca_once(builder, _I32)
        _mxcsr(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.load(slot)

    return types.uint32(), codegen


@intrinsic
def _write(typingctx, value):
    def codegen(context, builder, signature, args):
        if _X86:
            slot = cgutils.alloca_once(builder, _I32)
            builder.store(args[0], slot)
            _mxcsr(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.void(types.uint32), codegen


@njit(cache=True, inline="always")
def flush_denormals():
    """Sets flush-to-zero and denormals-are-zero on this thread; returns the setting before."""
    old = _read()
    _write(old | _FLUSH)
    return old


@njit(cache=True, inline="always")
def restore(old):
    """Puts back the setting flush_denormals returned."""
    _write(old)
