"""The primitive-op protocol and `apply`, which either records a graph node or runs eagerly.

An op states its output shapes and dtypes (`infer`, also used with concrete shapes when a plan
is compiled) and how it runs (`forward`, kernel calls on a backend module writing into `outs`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphengine.graph.node import Node
from graphengine.graph.tensor import (
    Constant,
    Shape,
    SymbolicTensor,
    Variable,
    format_shape,
    in_graph_mode,
)

Spec = tuple[Shape, str]


class RunContext:
    """What a running step may need beyond its arrays: the training flag and a generator."""

    def __init__(self, training: bool = False, rng: np.random.Generator | None = None) -> None:
        self.training = training
        self.rng = rng if rng is not None else np.random.default_rng()


EAGER = RunContext(training=False)


class Op:
    """A primitive: shape inference plus kernel calls. Its gradient rule is in autodiff/rules."""

    name = "op"
    shape_only: tuple[int, ...] = ()  # inputs read for their shape only (None in `forward`)
    broadcasts = False  # whether inputs of different shapes are broadcast against each other
    host_code = False  # whether forward hands its input arrays to user code (a Lambda's fn)

    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        raise NotImplementedError

    def forward(self, k: Any, ins: list[Any], outs: list[Any], ctx: RunContext) -> None:
        raise NotImplementedError

    def is_view(self, in_shapes: list[tuple], out_shape: tuple, training: bool = False) -> bool:
        """Whether, for these concrete shapes and the plan's training flag, output 0 is input 0's
        data unchanged (a reshape; dropout at inference), so a plan can hand out a view instead
        of running the op. Any other outputs still get buffers, which nothing writes."""
        return False

    def value_inputs(self, inputs: Sequence[SymbolicTensor]) -> list[SymbolicTensor]:
        return [t for i, t in enumerate(inputs) if i not in self.shape_only]

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (read from the attributes of the same names)."""
        from graphengine.utils import parameter_names

        return {p: getattr(self, p) for p in parameter_names(type(self).__init__)}

    def attrs(self) -> dict[str, Any]:
        """Hyperparameters, for pictures and summaries."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.attrs().items())})"


def is_symbolic(x: Any) -> bool:
    return isinstance(x, SymbolicTensor) and not isinstance(x, Variable)


def as_tensor(x: Any) -> SymbolicTensor:
    if isinstance(x, SymbolicTensor):
        return x
    return Constant(np.asarray(x))


def as_array(x: Any) -> np.ndarray:
    if isinstance(x, Variable):
        return x.value
    if isinstance(x, Constant):
        return x.value
    return np.asarray(x, order="C")  # keeps 0-d arrays 0-d, unlike ascontiguousarray


def apply(op: Op, *inputs: Any) -> Any:
    """Applies `op`: a graph node when any input is symbolic (or in graph mode), else runs now
    on the CPU kernels and returns arrays. One output is returned bare, several as a list."""
    if in_graph_mode() or any(is_symbolic(x) for x in inputs):
        tensors = [as_tensor(x) for x in inputs]
        specs = op.infer([t.shape for t in tensors], [t.dtype for t in tensors])
        outputs = Node(op, tensors, specs).outputs
    else:
        import kernels.cpu

        arrays = [as_array(x) for x in inputs]
        specs = op.infer([a.shape for a in arrays], [a.dtype.name for a in arrays])
        outputs = [np.empty(shape, dtype) for shape, dtype in specs]
        ins = [None if i in op.shape_only else a for i, a in enumerate(arrays)]
        op.forward(kernels.cpu, ins, outputs, EAGER)
    return outputs[0] if len(outputs) == 1 else outputs


def normalize_axis(axis: int, ndim: int, what: str = "axis") -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what}={axis} is out of range for a tensor of rank {ndim}")
    return axis % ndim


def broadcast_shapes(a: Shape, b: Shape, opname: str) -> Shape:
    """NumPy broadcasting with None (unknown) dims: None meets n as n, unless n is 1."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        elif x is None or y is None:
            out.append(y if x is None else x)
        else:
            raise ValueError(
                f"{opname}: shapes {format_shape(a)} and {format_shape(b)} cannot be "
                "broadcast together"
            )
    return tuple(reversed(out))


def float_dtype(dtype: str) -> str:
    """The dtype a float-valued op returns for an input of `dtype` (ints promote to float32)."""
    return dtype if np.dtype(dtype).kind == "f" else "float32"


def result_dtype(dtypes: Sequence[str]) -> str:
    """NumPy promotion, except that integers meeting floats take the float's dtype (as Keras)."""
    floats = [d for d in dtypes if np.dtype(d).kind == "f"]
    return np.result_type(*(floats or dtypes)).name
