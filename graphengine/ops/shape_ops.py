"""Shape primitives: reshape, transpose, broadcast, sum-to (un-broadcast), basic indexing,
concatenate and split, pad; a constant shaped like a tensor (zeros_like) and the identity that
stops gradients. Ops that undo another's shape read a reference tensor's shape only."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine.graph.tensor import Shape, format_shape
from graphengine.ops.base import Kernels, Op, RunContext, Spec, normalize_axis, result_dtype


def _prod(dims: Any) -> int:
    return int(np.prod(dims, dtype=np.int64))


class Reshape(Op, serializable=True):
    """out = x reshaped to `shape`, whose entries are sizes, one -1 (inferred) or None: the
    input's dim on axis `copy[i]` (default i), as for the batch. With a second input instead of
    `shape`, that input's shape is used."""

    name = "reshape"

    def __init__(self, shape: tuple | None = None, copy: tuple | None = None) -> None:
        self.shape = shape
        self.copy = copy
        self.shape_only = (1,) if shape is None else ()

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        if self.shape is None:
            return [(shapes[1], dtypes[0])]
        src = shapes[0]
        copy = self.copy or tuple(range(len(self.shape)))
        target = [src[copy[i]] if d is None else d for i, d in enumerate(self.shape)]
        if target.count(-1) > 1:
            raise ValueError(f"reshape: at most one -1 in shape {self.shape}")
        known_src = None if None in src else _prod(src)
        if -1 in target:
            rest = [d for d in target if d != -1]
            if known_src is not None and None not in rest:
                if _prod(rest) == 0 or known_src % _prod(rest):
                    raise ValueError(
                        f"reshape: cannot reshape {format_shape(src)} into "
                        f"{format_shape(self.shape)}"
                    )
                target[target.index(-1)] = known_src // _prod(rest)
            else:
                target[target.index(-1)] = self._infer_with_unknown(src, target)
        elif known_src is not None and None not in target and _prod(target) != known_src:
            raise ValueError(
                f"reshape: cannot reshape {format_shape(src)} ({known_src} elements) "
                f"into {format_shape(tuple(target))} ({_prod(target)} elements)"
            )
        elif None in target and src.count(None) == target.count(None):
            # the unknown dims are carried over (the batch): the known ones must hold as much
            src_known = _prod([d for d in src if d is not None])
            tgt_known = _prod([d for d in target if d is not None])
            if src_known != tgt_known:
                raise ValueError(
                    f"reshape: cannot reshape {format_shape(src)} into "
                    f"{format_shape(tuple(target))}: {src_known} elements per sample against "
                    f"{tgt_known}"
                )
        return [(tuple(target), dtypes[0])]

    @staticmethod
    def _infer_with_unknown(src: Shape, target: list) -> int | None:
        """-1 with an unknown dim on each side: cancel matching unknowns (the batch), else None."""
        src_known = [d for d in src if d is not None]
        tgt_known = [d for d in target if d not in (None, -1)]
        if src.count(None) == target.count(None):
            if _prod(src_known) % max(_prod(tgt_known), 1):
                raise ValueError(
                    f"reshape: cannot reshape {format_shape(src)} into "
                    f"{format_shape(tuple(target))}"
                )
            return _prod(src_known) // max(_prod(tgt_known), 1)
        return None

    def is_view(self, in_shapes: list[tuple], out_shape: tuple, training: bool = False) -> bool:
        return True

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.copy(ins[0], outs[0])


class Transpose(Op, serializable=True):
    """out = x.transpose(perm)."""

    name = "transpose"

    def __init__(self, perm: tuple[int, ...]) -> None:
        self.perm = perm

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        if sorted(self.perm) != list(range(len(shapes[0]))):
            raise ValueError(
                f"transpose: perm {self.perm} is not a permutation of the axes of "
                f"{format_shape(shapes[0])}"
            )
        return [(tuple(shapes[0][p] for p in self.perm), dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.transpose(ins[0], self.perm, outs[0])


class BroadcastTo(Op, serializable=True):
    """out = x broadcast to `shape` (None entries keep the input's aligned dim)."""

    name = "broadcast_to"

    def __init__(self, shape: tuple) -> None:
        self.shape = shape

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        src = shapes[0]
        lead = len(self.shape) - len(src)
        if lead < 0:
            raise ValueError(f"broadcast_to: cannot broadcast {format_shape(src)} to {self.shape}")
        out = []
        for i, d in enumerate(self.shape):
            s = src[i - lead] if i >= lead else 1
            if d is None:
                d = s
            elif s not in (1, None, d):
                raise ValueError(
                    f"broadcast_to: cannot broadcast {format_shape(src)} to {self.shape}"
                )
            out.append(d)
        return [(tuple(out), dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.broadcast_to(ins[0], outs[0])


class SumTo(Op):
    """out = x summed down to the shape of a reference (inputs x, ref; ref shape only): the
    gradient of any broadcast."""

    name = "sum_to"
    shape_only = (1,)

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[1], dtypes[0])]

    def is_view(self, in_shapes: list[tuple], out_shape: tuple, training: bool = False) -> bool:
        return tuple(in_shapes[0]) == tuple(out_shape)

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.sum_to(ins[0], outs[0])


def _index_shape(shape: Shape, key: tuple) -> Shape:
    out, axis = [], 0
    for item in key:
        if item is None:
            out.append(1)
            continue
        if axis >= len(shape):
            raise ValueError(
                f"getitem: too many indices for a tensor of shape {format_shape(shape)}"
            )
        dim = shape[axis]
        if isinstance(item, slice):
            out.append(None if dim is None else len(range(*item.indices(dim))))
        elif dim is not None and not -dim <= item < dim:
            raise ValueError(f"getitem: index {item} is out of range for axis {axis} of size {dim}")
        axis += 1
    return tuple(out) + tuple(shape[axis:])


def normalize_key(key: Any, ndim: int) -> tuple:
    key = key if isinstance(key, tuple) else (key,)
    if any(k is Ellipsis for k in key):
        i = key.index(Ellipsis)
        n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
        key = key[:i] + (slice(None),) * (ndim - n_real) + key[i + 1 :]
    for k in key:
        if not (k is None or isinstance(k, (slice, int, np.integer))):
            raise TypeError(f"only ints, slices, None and ... index symbolic tensors, got {k!r}")
    return tuple(int(k) if isinstance(k, np.integer) else k for k in key)


class GetItem(Op, serializable=True):
    """out = x[key], basic indexing (ints, slices, None)."""

    name = "getitem"

    def __init__(self, key: tuple) -> None:
        self.key = key

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(_index_shape(shapes[0], self.key), dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.getitem(ins[0], self.key, outs[0])


class GetItemGrad(Op):
    """dx = zeros shaped like x with dx[key] = dy (inputs dy, x; x shape only)."""

    name = "getitem_grad"
    shape_only = (1,)

    def __init__(self, forward_op: GetItem) -> None:
        self.key = forward_op.key

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[1], dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.getitem_backward(ins[0], self.key, outs[0])


class Concatenate(Op, serializable=True):
    """out = concatenation of the inputs along `axis`; other dims must agree."""

    name = "concatenate"

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            raise ValueError(
                "concatenate: inputs must have the same rank, got shapes "
                + ", ".join(format_shape(s) for s in shapes)
            )
        axis = normalize_axis(self.axis, len(shapes[0]))
        out = list(shapes[0])
        for i, s in enumerate(shapes[1:], 1):
            for d in range(len(s)):
                if d == axis:
                    out[d] = None if out[d] is None or s[d] is None else out[d] + s[d]
                elif out[d] is None:
                    out[d] = s[d]
                elif s[d] is not None and s[d] != out[d]:
                    raise ValueError(
                        f"concatenate on axis {self.axis}: input {i} has shape {format_shape(s)} "
                        f"but input 0 has shape {format_shape(shapes[0])}; all dimensions except "
                        f"the concatenation axis must match"
                    )
        return [(tuple(out), result_dtype(dtypes))]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.concatenate(ins, self.axis % outs[0].ndim, outs[0])


class Split(Op):
    """outs[i] = consecutive pieces of x along `axis`, sized like refs[i] (inputs x, *refs;
    refs shape only): the gradient of concatenate."""

    name = "split"

    def __init__(self, axis: int, n: int) -> None:
        self.axis = axis
        self.shape_only = tuple(range(1, n + 1))

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(s, dtypes[0]) for s in shapes[1:]]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.split(ins[0], self.axis % ins[0].ndim, outs)


def split_sizes(n: int, indices_or_sections: int | tuple[int, ...], opname: str) -> list[int]:
    """The piece sizes np.split gives an axis of size n: n // sections each (which must divide
    n), or the gaps between the split points (clipped to [0, n], negative ones counted from the
    end; they must not decrease, as the pieces tile the axis)."""
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ValueError(
                f"{opname}: an axis of size {n} does not split into {indices_or_sections} equal "
                f"sections (indices_or_sections={indices_or_sections})"
            )
        return [n // indices_or_sections] * indices_or_sections
    points = [min(max(p + n if p < 0 else p, 0), n) for p in indices_or_sections]
    edges = [0] + points + [n]
    if any(b < a for a, b in zip(edges, edges[1:])):
        raise ValueError(
            f"{opname}: indices_or_sections={list(indices_or_sections)} must not decrease "
            f"(on an axis of size {n} they fall at {points})"
        )
    return [b - a for a, b in zip(edges, edges[1:])]


class SplitSections(Op, serializable=True):
    """outs = np.split(x, indices_or_sections, axis): consecutive pieces along `axis`."""

    name = "split"

    def __init__(self, indices_or_sections: int | tuple[int, ...], axis: int) -> None:
        self.indices_or_sections = indices_or_sections
        self.axis = axis

    @property
    def n_outputs(self) -> int:
        n = self.indices_or_sections
        return n if isinstance(n, int) else len(n) + 1

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        shape = list(shapes[0])
        axis = normalize_axis(self.axis, len(shape), "split: axis")
        n = shape[axis]
        sizes = (
            [None] * self.n_outputs
            if n is None
            else split_sizes(n, self.indices_or_sections, self.name)
        )
        return [(tuple(shape[:axis] + [d] + shape[axis + 1 :]), dtypes[0]) for d in sizes]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.split(ins[0], self.axis % ins[0].ndim, outs)


class Pad(Op, serializable=True):
    """out = np.pad(x, pad_width, mode, constant_values); pad_width one (before, after) per
    axis; modes "constant", "edge", "reflect", "symmetric", "wrap" (NumPy's meanings)."""

    name = "pad"

    def __init__(self, pad_width: tuple, mode: str = "constant", constant_values: float = 0.0):
        self.pad_width = tuple(tuple(int(v) for v in p) for p in pad_width)
        self.mode = mode
        self.constant_values = float(constant_values)

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        shape = shapes[0]
        if len(self.pad_width) != len(shape):
            raise ValueError(
                f"pad: pad_width has {len(self.pad_width)} (before, after) pairs for a tensor "
                f"of rank {len(shape)} (shape {format_shape(shape)})"
            )
        for axis, ((b, a), n) in enumerate(zip(self.pad_width, shape)):
            if n == 0 and b + a and self.mode != "constant":
                raise ValueError(
                    f"pad: mode={self.mode!r} cannot pad axis {axis} of size 0 "
                    f"(shape {format_shape(shape)})"
                )
        out = tuple(None if n is None else n + b + a for (b, a), n in zip(self.pad_width, shape))
        return [(out, dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.pad_forward(ins[0], self.pad_width, self.mode, self.constant_values, outs[0])


class PadGrad(Op):
    """dx from inputs (dy, x; x shape only): each element of dy added to the element of x it
    was read from (a reflected or wrapped x element collects several)."""

    name = "pad_grad"
    shape_only = (1,)

    def __init__(self, forward_op: Pad) -> None:
        self.pad_width = forward_op.pad_width
        self.mode = forward_op.mode

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[1], dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.pad_backward(ins[0], self.pad_width, self.mode, outs[0])


class FullLike(Op, serializable=True):
    """out = `value` everywhere, shaped like x (read for its shape only), of `dtype` (None: x's):
    zeros_like / ones_like, which must not be x * 0 (NaN where x is infinite)."""

    name = "full_like"
    shape_only = (0,)

    def __init__(self, value: float, dtype: str | None = None) -> None:
        self.value = value
        self.dtype = None if dtype is None else np.dtype(dtype).name

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], self.dtype or dtypes[0])]

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.fill(self.value, outs[0])


class StopGradient(Op, serializable=True):
    """out = x; no gradient flows back through it (a view in a plan: nothing runs)."""

    name = "stop_gradient"

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        return [(shapes[0], dtypes[0])]

    def is_view(self, in_shapes: list[tuple], out_shape: tuple, training: bool = False) -> bool:
        return True

    def forward(self, k: Kernels, ins: list, outs: list, ctx: RunContext) -> None:
        k.copy(ins[0], outs[0])
