"""`model.export(path, format="onnx")`: the model's inference graph (dropout off, BatchNorm on its
moving statistics) as an ONNX model, one converter per primitive op (training/onnx_ops.py), the
weights as initializers, the batch axis dynamic ("batch"); written atomically (io/atomic.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from graphengine.graph.tensor import Constant, SymbolicTensor, Variable
from graphengine.io.atomic import atomic_write_file

if TYPE_CHECKING:
    from onnx import ModelProto

OPSET = 17
FORMATS = ("onnx",)


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as e:
        raise ImportError(
            "ONNX export needs the onnx package: pip install 'graphengine[onnx]' (or onnx)"
        ) from e
    return onnx


class Builder:
    """The ONNX graph under construction: nodes, initializers and unique value names, and what
    each graph tensor became (an ONNX name, or an array for weights and folded constants)."""

    def __init__(self, onnx: Any) -> None:
        self.onnx = onnx
        self.nodes: list = []
        self.initializers: list = []
        self.values: dict[SymbolicTensor, Any] = {}
        self.nchw: dict[str, str] = {}  # a channels-last value -> its channels-first twin
        self._taken: set[str] = set()
        self.set_dtype("float32")

    def set_dtype(self, dtype: Any) -> None:
        """The float type of the node being converted (float32 for integer results): what
        `scalar` makes and `elem` names."""
        self.dtype = np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype("float32")
        self.elem = self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)

    def scalar(self, value: float) -> np.ndarray:
        return np.array(value, self.dtype)

    def fresh(self, hint: str) -> str:
        """A value name not used before, `hint` itself when free."""
        name, i = hint, 1
        while name in self._taken:
            name, i = f"{hint}_{i}", i + 1
        self._taken.add(name)
        return name

    def const(self, array: Any, hint: str) -> str:
        """A new initializer holding `array`; its name."""
        name = self.fresh(hint)
        array = np.ascontiguousarray(array)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def add(self, op_type: str, inputs: list[Any], hint: str, n_out: int = 1, **attrs: Any) -> Any:
        """Appends one node; arrays among `inputs` become initializers, "" stays an absent
        optional input. Returns its output name (a list of them when n_out > 1)."""
        names = [x if isinstance(x, str) else self.const(x, f"{hint}/const") for x in inputs]
        outs = [self.fresh(f"{hint}/{op_type}" + (f":{i}" if i else "")) for i in range(n_out)]
        self.nodes.append(
            self.onnx.helper.make_node(
                op_type, names, outs, name=self.fresh(f"{hint}#node"), **attrs
            )
        )
        return outs if n_out > 1 else outs[0]

    def name(self, t: SymbolicTensor, hint: str) -> str:
        """The ONNX name of graph tensor `t` (an array it holds becomes an initializer, once)."""
        value = self.values[t]
        if not isinstance(value, str):
            value = self.values[t] = self.const(value, hint)
        return value

    def array(self, t: SymbolicTensor) -> np.ndarray | None:
        """The value of `t` when known at export (a weight or folded constant), else None."""
        value = self.values.get(t)
        return None if isinstance(value, str) else value


def leaf_value(t: SymbolicTensor) -> np.ndarray | None:
    if isinstance(t, Variable):
        return t.numpy()
    if isinstance(t, Constant):
        return np.array(t.value)
    return None


def check_format(model: Any, filepath: Any, format: str) -> None:
    if format not in FORMATS:
        raise ValueError(
            f"Model '{model.name}': export format={format!r} is not supported; the supported "
            f"format is 'onnx'"
        )
    if not isinstance(filepath, (str, bytes)) and not hasattr(filepath, "__fspath__"):
        raise TypeError(
            f"Model '{model.name}': export needs a file path, received {type(filepath).__name__}"
        )


def export_model(model: Any, filepath: Any, format: str = "onnx", verbose: bool = True) -> None:
    """Writes `model`'s inference graph to `filepath` as ONNX (see the module docstring)."""
    check_format(model, filepath, format)
    proto = to_onnx(model)
    data = proto.SerializeToString(deterministic=True)
    atomic_write_file(filepath, lambda f: f.write(data))
    if verbose:
        print(f"Saved ONNX model '{model.name}' to {filepath} (opset {OPSET})")


def to_onnx(model: Any) -> ModelProto:
    """The ONNX ModelProto of `model` (checked by onnx.checker)."""
    onnx = _onnx()
    from graphengine.training import onnx_ops, onnx_recurrent  # noqa: F401 (registers)

    model._require_graph()
    b = Builder(onnx)
    out_names = _unique(model.output_names, model.input_names)
    b._taken.update(out_names)
    for t, name in zip(model.inputs, model.input_names):
        b.values[t] = b.fresh(name)
    for node in model._forward_order:
        for t in node.inputs:
            if t not in b.values:
                b.values[t] = leaf_value(t)
        onnx_ops.convert(b, node)
    for t, name in zip(model.outputs, out_names):
        if b.values.get(t) is None:
            b.values[t] = leaf_value(t)  # an output that is a weight or constant
        b.nodes.append(
            onnx.helper.make_node("Identity", [b.name(t, name)], [name], name=b.fresh(f"{name}#"))
        )
    inputs = [_value_info(onnx, t, name) for t, name in zip(model.inputs, model.input_names)]
    outputs = [_value_info(onnx, t, name) for t, name in zip(model.outputs, out_names)]
    nodes = _live(b.nodes, out_names)
    used = {i for n in nodes for i in n.input}
    inits = [i for i in b.initializers if i.name in used]
    graph = onnx.helper.make_graph(nodes, model.name, inputs, outputs, inits)
    proto = onnx.helper.make_model(
        graph,
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        producer_name="graphengine",
        producer_version=_version(),
    )
    proto.ir_version = 8  # what opset 17 needs: readable by older runtimes too
    onnx.checker.check_model(proto)
    return proto


def _unique(names: list[str], taken: list[str]) -> list[str]:
    """Output names, renamed where one equals an input's (ONNX values have one producer)."""
    seen, out = set(taken), []
    for n in names:
        name, i = n, 1
        while name in seen:
            name, i = f"{n}_{i}", i + 1
        seen.add(name)
        out.append(name)
    return out


def _value_info(onnx: Any, t: SymbolicTensor, name: str) -> Any:
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype))
    shape = ["batch" if i == 0 and d is None else d for i, d in enumerate(t.shape)]
    return onnx.helper.make_tensor_value_info(name, elem, shape)


def _live(nodes: list, outputs: list[str]) -> list:
    """`nodes` less those no output depends on (transposes a channels-first chain made idle)."""
    needed, keep = set(outputs), []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    return keep[::-1]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("graphengine")
    except PackageNotFoundError:
        return "0"
