"""Symbolic tensors, the values on graph edges, and the leaves a graph starts from.

A plain `SymbolicTensor` is produced by a `Node` or, with no node, is a model input placeholder;
`Variable` (a weight) and `Constant` are leaves that carry an array.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

Shape = tuple[int | None, ...]
# A string tensor (Keras's dtype "string") holds Python str in NumPy object arrays, on the host
STRING = "object"
_ids = itertools.count()
_graph_depth = 0


@contextmanager
def graph_mode() -> Iterator[None]:
    """Inside, ops on Variables and arrays build graph nodes instead of running eagerly."""
    global _graph_depth
    _graph_depth += 1
    try:
        yield
    finally:
        _graph_depth -= 1


def in_graph_mode() -> bool:
    return _graph_depth > 0


def format_shape(shape: Shape) -> str:
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


def _check_shape(shape: Any) -> Shape:
    """`shape` as ints and Nones; a size of 2.5 or -1 is an error here, where int() used to
    turn 2.5 into 2 without a word."""
    shape = tuple(shape)
    dims = tuple(None if d is None else int(d) for d in shape)
    if any(n is not None and (n != d or n < 0) for n, d in zip(dims, shape)):
        raise ValueError(
            f"tensor shape {tuple(shape)} must hold non-negative integers or None for each axis"
        )
    return dims


def dtype_name(dtype: Any) -> str:
    """The NumPy name of a tensor dtype, "string" (Keras's name) giving STRING."""
    return STRING if isinstance(dtype, str) and dtype == "string" else np.dtype(dtype).name


def as_strings(value: Any, what: str) -> np.ndarray:
    """`value` as an object array of Python str, or TypeError naming `what`: a string tensor
    takes str arrays (dtype '<U' or object holding str only), never numbers or None."""
    array = np.asarray(value)
    if array.dtype.kind == "U" or (
        array.dtype.kind == "O" and all(isinstance(v, str) for v in array.flat)
    ):
        return array.astype(object)
    raise TypeError(
        f"{what} takes strings (an array of Python str), received "
        + (f"dtype {array.dtype}" if array.dtype.kind != "O" else "objects that are not all str")
    )


class SymbolicTensor:
    """A tensor in a graph: static `.shape` (None where unknown, e.g. the batch) and `.dtype`."""

    __array_ufunc__ = None  # NumPy binary operators defer to ours (np_array + x -> x.__radd__)

    def __init__(
        self, shape: Shape, dtype: Any, node: Any = None, index: int = 0, name: str | None = None
    ) -> None:
        self.shape: Shape = _check_shape(shape)
        self.dtype: str = dtype_name(dtype)
        self.node = node
        self.index = index
        self.id = next(_ids)
        self.name = name or (f"{node.name}:{index}" if node is not None else f"tensor_{self.id}")
        self.layer_call: Any = None  # the layer call that returned this tensor (Keras's history)
        self.mask: SymbolicTensor | None = None  # 1.0 for time steps to keep (from mask_zero)

    @property
    def ndim(self) -> int:
        """The rank: len(shape), the batch axis included."""
        return len(self.shape)

    def __repr__(self) -> str:
        return (
            f"<SymbolicTensor name={self.name!r} shape={format_shape(self.shape)} "
            f"dtype={self.dtype}>"
        )

    def __hash__(self) -> int:
        return self.id

    def __eq__(self, other: object) -> bool:
        return self is other

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError(
            f"{self.name} is a symbolic tensor: it has no value until the graph runs. "
            "Use ge.ops functions on it, or a Lambda layer."
        )

    def __bool__(self) -> bool:
        raise TypeError(
            f"{self.name} is symbolic: its truth value is unknown when the graph is built"
        )

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(f"{self.name} is symbolic and cannot be iterated; index it instead")

    def _ops(self) -> Any:
        from graphengine.ops import api

        return api

    def __add__(self, o: Any) -> Any:
        return self._ops().add(self, o)

    def __radd__(self, o: Any) -> Any:
        return self._ops().add(o, self)

    def __sub__(self, o: Any) -> Any:
        return self._ops().subtract(self, o)

    def __rsub__(self, o: Any) -> Any:
        return self._ops().subtract(o, self)

    def __mul__(self, o: Any) -> Any:
        return self._ops().multiply(self, o)

    def __rmul__(self, o: Any) -> Any:
        return self._ops().multiply(o, self)

    def __truediv__(self, o: Any) -> Any:
        return self._ops().divide(self, o)

    def __rtruediv__(self, o: Any) -> Any:
        return self._ops().divide(o, self)

    def __matmul__(self, o: Any) -> Any:
        return self._ops().matmul(self, o)

    def __rmatmul__(self, o: Any) -> Any:
        return self._ops().matmul(o, self)

    def __neg__(self) -> Any:
        return self._ops().negative(self)

    def __abs__(self) -> Any:
        return self._ops().abs(self)

    def __getitem__(self, key: Any) -> Any:
        return self._ops().getitem(self, key)

    def __pow__(self, p: Any) -> Any:
        # ** 2 and ** 0.5 stay square and sqrt, as NumPy's `**` computes them: correctly
        # rounded on every device (CUDA's pow need not be), one kernel, and a one-op gradient
        # where power's rule builds where / equal / log nodes
        if _is_scalar(p) and p == 2:
            return self._ops().square(self)
        if _is_scalar(p) and p == 0.5:
            return self._ops().sqrt(self)
        return self._ops().power(self, p)

    def __rpow__(self, o: Any) -> Any:
        return self._ops().power(o, self)

    # `==` and `!=` stay identity: tensors are dict keys and set members throughout the graph
    # and plan code (Keras's KerasTensor keeps the default __eq__ too). Values compare with
    # ge.ops.equal / not_equal.
    def __gt__(self, o: Any) -> Any:
        return self._ops().greater(self, o)

    def __ge__(self, o: Any) -> Any:
        return self._ops().greater_equal(self, o)

    def __lt__(self, o: Any) -> Any:
        return self._ops().less(self, o)

    def __le__(self, o: Any) -> Any:
        return self._ops().less_equal(self, o)


def _is_scalar(p: Any) -> bool:
    """Whether `p` is a real Python or NumPy number (not a bool, array or tensor)."""
    return isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool)


class Variable(SymbolicTensor):
    """A weight: a leaf holding an array that the plan reads in place and optimizers update."""

    def __init__(
        self,
        value: np.ndarray,
        name: str,
        trainable: bool = True,
        regularizer: Any = None,
        path: str | None = None,
    ) -> None:
        value = np.asarray(value, order="C")
        super().__init__(value.shape, value.dtype, name=name)
        self._value = value
        # device name -> (device, mirror array, device.version when host and mirror last agreed)
        self._mirrors: dict[str, list] = {}
        self.trainable = trainable
        self.regularizer = regularizer
        self.path = path or name

    @property
    def value(self) -> np.ndarray:
        """The host array, first copied back from a device mirror that a training plan may have
        updated since the last sync."""
        for entry in self._mirrors.values():
            device, mirror, synced = entry
            if device.version != synced:
                self._value[...] = device.to_host(mirror)
                entry[2] = device.version
        return self._value

    def on_device(self, device: Any) -> Any:
        """The array that plans on `device` read and update in place: `.value` on the host, a
        mirror (made on first use) on a device with its own memory."""
        if not device.resident:
            return self.value
        entry = self._mirrors.get(device.name)
        if entry is None:
            entry = self._mirrors[device.name] = [device, device.to_device(self.value), 0]
            entry[2] = device.version
        return entry[1]

    def numpy(self) -> np.ndarray:
        """A copy of the weight's current value."""
        return self.value.copy()

    def assign(self, value: Any) -> None:
        """Copies `value` into the variable in place, so compiled plans see it."""
        value = self.check_value(value, f"Variable '{self.path}'", "assign")
        # through .value: a newer device copy is read first, so the host copy is current
        np.copyto(self.value, value, casting="unsafe")
        self.push()

    def check_value(self, value: Any, owner: str, what: str) -> np.ndarray:
        """`value` as an array this variable can take without losing anything: real numbers
        (bool, integer, float; integral ones for an integer variable) of its shape. None,
        objects, strings and complex numbers raise TypeError naming `owner`, instead of
        turning into NaN or dropping imaginary parts in the copy."""
        array = np.asarray(value)
        kind = array.dtype.kind
        if kind not in "biuf":
            got = "None" if value is None else f"an array of dtype {array.dtype}"
            raise TypeError(
                f"{owner} holds {self.dtype} values, but {what} received {got}; give real "
                "numbers (a bool, integer or float array)"
            )
        if array.shape != self.shape:
            raise ValueError(
                f"{owner} has shape {format_shape(self.shape)}, but {what} received an array "
                f"of shape {format_shape(array.shape)}"
            )
        if kind == "f" and np.dtype(self.dtype).kind in "iu":
            if not np.all(np.isfinite(array) & (array == np.round(array))):
                raise ValueError(
                    f"{owner} holds {self.dtype} values, but {what} received non-integral "
                    f"or non-finite floats"
                )
        return array

    def push(self) -> None:
        """Copies the host array into every device mirror (after a write to the host copy)."""
        for entry in self._mirrors.values():
            device, mirror, _ = entry
            device.copy_in(mirror, self._value)
            entry[2] = device.version

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.value if dtype is None else self.value.astype(dtype)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        inputs = tuple(i.value if isinstance(i, Variable) else i for i in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __repr__(self) -> str:
        return (
            f"<Variable path={self.path!r} shape={format_shape(self.shape)} "
            f"dtype={self.dtype} trainable={self.trainable}>"
        )


class Constant(SymbolicTensor):
    """A leaf holding a fixed array (a Python scalar or array used inside a graph)."""

    def __init__(self, value: np.ndarray) -> None:
        self.value = np.asarray(value, order="C")
        super().__init__(self.value.shape, self.value.dtype, name=None)
        self.name = f"const_{self.id}"
