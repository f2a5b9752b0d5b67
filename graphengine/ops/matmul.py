"""Matrix products: batched `matmul` (NumPy semantics, rank >= 2), the fused `Dense` and its
input gradient, and the Dense weight gradient `matmul_at_b`, which contracts every leading axis
without a batched intermediate. Dense's bias and activation gradients are ops/bias.py's."""

from __future__ import annotations

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops import bias
from graphengine.ops.base import Kernels, Op, RunContext, Spec, broadcast_shapes, result_dtype


class Matmul(Op, serializable=True):
    """out (..., M, N) = a (..., M, K) @ b (..., K, N), batch axes broadcast."""

    broadcasts = True

    name = "matmul"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        a, b = shapes
        if len(a) < 2 or len(b) < 2:
            raise ValueError(
                f"matmul needs rank >= 2 operands, got shapes {format_shape(a)} and "
                f"{format_shape(b)}"
            )
        if a[-1] is not None and b[-2] is not None and a[-1] != b[-2]:
            raise ValueError(
                f"matmul: inner dimensions differ: {format_shape(a)} @ {format_shape(b)} "
                f"({a[-1]} != {b[-2]})"
            )
        batch = broadcast_shapes(a[:-2], b[:-2], "matmul")
        return [(batch + (a[-2], b[-1]), result_dtype(dtypes))]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.matmul(ins[0], ins[1], outs[0])


class MatmulAtB(Op):
    """out (K, N) = a.T @ g with a (..., K) and g (..., N) flattened over their leading axes."""

    name = "matmul_at_b"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [((shapes[0][-1], shapes[1][-1]), result_dtype(dtypes))]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        a, g = ins
        k.matmul_at_b(a.reshape(-1, a.shape[-1]), g.reshape(-1, g.shape[-1]), outs[0])


class Dense(Op):
    """y (..., N) = act(x (..., K) @ kernel (K, N) + bias (N,)) in one step: the product through
    BLAS, then bias and activation in one pass over its output (the bias pass, which the
    convolutions share: ops/bias.py), or for tiny products all of it in one Numba loop; `act`
    is an activation the bias pass fuses (activations.fused_names(BIAS))."""

    name = "dense"

    def __init__(self, activation: str = "linear", use_bias: bool = True) -> None:
        bias.check_fused(type(self).__name__, activation)
        self.activation, self.use_bias = activation, use_bias

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        x, w = shapes[0], shapes[1]
        if len(w) != 2 or (x[-1] is not None and x[-1] != w[0]):
            raise ValueError(
                f"dense: input {format_shape(x)} does not fit kernel {format_shape(w)}"
            )
        return [(tuple(x[:-1]) + (w[1],), result_dtype(dtypes))]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        x, w, y = ins[0], ins[1], outs[0]
        if x.ndim != 2:  # rank > 2: every leading axis is a row of the product
            x, y = x.reshape(-1, x.shape[-1]), y.reshape(-1, w.shape[1])
        k.dense_forward(x, w, ins[2] if self.use_bias else None, self.activation, y)


class DenseBackwardInput(Op):
    """dx (..., K) = dz (..., N) @ kernel.T from inputs (dz, kernel, x), x for its shape only."""

    name = "dense_backward_input"
    shape_only = (2,)

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[2], dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        dz, w = ins[0], ins[1]
        k.matmul_a_bt(dz.reshape(-1, w.shape[1]), w, outs[0].reshape(-1, w.shape[0]))
