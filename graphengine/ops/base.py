"""The primitive-op protocol and `apply`, which either records a graph node or runs eagerly.

An op states its output shapes and dtypes (`infer`, also used with concrete shapes when a plan
is compiled) and how it runs (`forward`, kernel calls on a backend module writing into `outs`).
"""

from __future__ import annotations

import abc
from typing import Any, Callable, Protocol, Sequence

import numpy as np

import graphengine_kernels.cpu
from graphengine.common import parameter_names
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


class Kernels(Protocol):
    """The kernel backend an op's `forward` calls: the module graphengine_kernels.cpu or
    graphengine_kernels.cuda, whose functions write into the `out` arrays they are given (NumPy
    arrays on the CPU, Numba device arrays on CUDA).

    Spelled out are the members that are not one op family's: the backend's name and the data
    movement every family leans on (copy, cast, host round trips). The family kernels (about 120:
    `conv3d_forward`, `relu_backward`, ...) are typed through `__getattr__` instead of copied here,
    because their one source of truth is graphengine_kernels.cpu, several names are built at run
    time (f"{kind}_forward"), and a third copy of their signatures would drift. Tests keep it
    honest: graphengine_kernels.cuda exports exactly graphengine_kernels.cpu's names
    (tests/test_registries.py) with the same parameters (tests/cuda_parity.py), every kernel an op's
    code names exists, and the members below have graphengine_kernels.cpu's parameters
    (tests/test_registries.py).
    """

    NAME: str

    def copy(self, x: Any, out: Any) -> None: ...

    def cast(self, x: Any, out: Any) -> None: ...

    def fill(self, value: float, out: Any) -> None: ...

    def to_host(self, x: Any) -> np.ndarray: ...

    def from_host(self, value: np.ndarray, out: Any) -> None: ...

    def __getattr__(self, name: str) -> Callable[..., Any]: ...


# class name -> the ops a saved functional graph may name (see Op.__init_subclass__)
SERIALIZABLE_OPS: dict[str, type[Op]] = {}


class RunContext:
    """What a running step may need beyond its arrays: the training flag and a generator."""

    def __init__(self, training: bool = False, rng: np.random.Generator | None = None) -> None:
        self.training = training
        self.rng = rng if rng is not None else np.random.default_rng()


EAGER = RunContext(training=False)


class Op(abc.ABC):
    """A primitive: shape inference plus kernel calls. Its gradient rule is in autodiff/rules.

    `class Binary(Op, serializable=True)` opts an op in to being named by a saved functional
    graph (graphengine/training/model_config.py constructs it from its config on load); other
    ops never can be. Only the ops ge.ops functions build opt in: not backward ops (internal),
    and never an op that runs user code (`host_code`), which a file must not be able to make.
    """

    name = "op"
    shape_only: tuple[int, ...] = ()  # inputs read for their shape only (None in `forward`)
    broadcasts = False  # whether inputs of different shapes are broadcast against each other
    host_code = False  # whether forward hands its input arrays to user code (a Lambda's fn)
    # (output, input) pairs, in order of preference: the output may take the input's buffer
    # where the input dies at this op (same shape and dtype, no other tensor in the buffer), as
    # an elementwise kernel that reads each element before writing it allows
    in_place: tuple[tuple[int, int], ...] = ()
    extent_input: int | None = None
    """The index of an integer input whose values size axis 0 of each output that `infer` leaves
    None for concrete input shapes: max(values) + 1, 0 for no values (`num_segments=None`, as
    Keras's segment ops). Set it only where the size depends on values. That input must be a model
    input, a constant or an array (`apply` refuses one computed in the graph); eager `apply`, the
    plan and the model's run paths read the size from its values (see `extent_size`)."""
    mixes_rows = False
    """Whether the op relates rows of its input 0 to each other by index (segment ops, `take`
    along axis 0, the graph layers' ops), so that a model holding it where input 0 carries data
    cannot cut that data into batches: it runs each data set whole (training/whole_batch.py)."""

    def __init_subclass__(cls, serializable: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not serializable:
            return
        if cls.host_code:
            raise TypeError(
                f"{cls.__name__} runs user code (host_code=True), so it cannot be named by a "
                "saved config: loading a file must never construct it"
            )
        other = SERIALIZABLE_OPS.get(cls.__name__)
        if other is not None and _qualname(other) != _qualname(cls):  # not a module reload
            raise TypeError(
                f"two ops a saved config may name are called {cls.__name__!r}: "
                f"{_qualname(other)} and {_qualname(cls)}; rename one"
            )
        SERIALIZABLE_OPS[cls.__name__] = cls

    @abc.abstractmethod
    def infer(self, shapes: list[Shape], dtypes: list[str]) -> list[Spec]:
        """The (shape, dtype) of each output for these input shapes (None: unknown) and dtypes."""

    @abc.abstractmethod
    def forward(self, k: Kernels, ins: list[Any], outs: list[Any], ctx: RunContext) -> None:
        """Runs the op on backend `k`: kernel calls reading `ins`, writing `outs`."""

    def is_view(self, in_shapes: list[tuple], out_shape: tuple, training: bool = False) -> bool:
        """Whether, for these concrete shapes and the plan's training flag, output 0 is input 0's
        data unchanged (a reshape; dropout at inference), so a plan can hand out a view instead
        of running the op. Any other outputs still get buffers, which nothing writes."""
        return False

    def value_inputs(self, inputs: Sequence[SymbolicTensor]) -> list[SymbolicTensor]:
        return [t for i, t in enumerate(inputs) if i not in self.shape_only]

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (read from the attributes of the same names)."""
        return {p: getattr(self, p) for p in parameter_names(type(self).__init__)}

    def attrs(self) -> dict[str, Any]:
        """Hyperparameters, for pictures and summaries."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.attrs().items())})"


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


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
        if op.extent_input is not None:
            _check_extent_source(op, tensors[op.extent_input])
        specs = op.infer([t.shape for t in tensors], [t.dtype for t in tensors])
        outputs = Node(op, tensors, specs).outputs
    else:
        arrays = [as_array(x) for x in inputs]
        specs = op.infer([a.shape for a in arrays], [a.dtype.name for a in arrays])
        if op.extent_input is not None:
            what = f"{op.name}: input {op.extent_input}"
            specs = with_extent(specs, extent_size(arrays[op.extent_input], what))
        outputs = [np.empty(shape, dtype) for shape, dtype in specs]
        ins = [None if i in op.shape_only else a for i, a in enumerate(arrays)]
        op.forward(graphengine_kernels.cpu, ins, outputs, EAGER)
    return outputs[0] if len(outputs) == 1 else outputs


def extent_size(ids: np.ndarray, what: str) -> int:
    """max(ids) + 1, 0 for no ids: the axis-0 size an op's `extent_input` gives its outputs (one
    pass over the ids each batch). TypeError for ids that are not integers, ValueError for a
    negative id, each starting with `what`."""
    if ids.dtype.kind not in "iu":
        raise TypeError(
            f"{what} must hold integer ids (they size an output as max(id) + 1), received dtype "
            f"{ids.dtype}"
        )
    if ids.size == 0:
        return 0
    if ids.dtype.kind == "i":
        low = ids.min()
        if low < 0:
            raise ValueError(
                f"{what} holds a negative id ({low}); ids size an output as max(id) + 1 and "
                "must be >= 0"
            )
    return int(ids.max()) + 1


def with_extent(specs: list[Spec], size: int) -> list[Spec]:
    """`specs` with the unknown (None) axis 0 of each output set to `size`."""
    return [((size,) + tuple(s[1:]), d) if s and s[0] is None else (s, d) for s, d in specs]


def _check_extent_source(op: Op, t: SymbolicTensor) -> None:
    """The values sizing an op's output (its `extent_input`) must be known before the graph runs:
    a model input, whose values every run path reads, or a constant."""
    if isinstance(t, Constant) or (t.node is None and not isinstance(t, Variable)):
        return
    source = "a weight" if isinstance(t, Variable) else f"computed in the graph (by {t.node.name})"
    raise ValueError(
        f"{op.name}: input {op.extent_input} ('{t.name}') sizes the output from its values "
        f"(max(id) + 1), so it must be a model input (ge.Input), a constant or an array; it is "
        f"{source}. Feed those ids as a model input, or give the size (num_segments=...)"
    )


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
