"""Model and layer configs as JSON-safe data, and models rebuilt from them. Only registered
classes and functions are ever looked up by name: nothing in a config is executed."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine import utils
from graphengine.graph.node import LayerCall
from graphengine.graph.tensor import Constant, SymbolicTensor, Variable
from graphengine.layers.base import flatten, map_tensors, pack_like
from graphengine.ops.base import apply
from graphengine.ops.elementwise import Binary, Cast, Compare, Unary
from graphengine.ops.indexing import Gather, OneHot
from graphengine.ops.matmul import Matmul
from graphengine.ops.reduce import Reduce, Softmax
from graphengine.ops.shape import BroadcastTo, Concatenate, GetItem, Reshape, Transpose

FORMAT_VERSION = 1
# the ops that ge.ops functions make, which may stand outside layers in a saved graph
OPS = {
    cls.__name__: cls
    for cls in (
        Binary,
        Compare,
        Cast,
        Unary,
        Gather,
        OneHot,
        Matmul,
        Reduce,
        Softmax,
        Reshape,
        Transpose,
        BroadcastTo,
        GetItem,
        Concatenate,
    )
}


def encode(value: Any) -> Any:
    """JSON-safe form of configs holding tuples, slices and NumPy scalars."""
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, slice):
        return {"__slice__": [value.start, value.stop, value.step]}
    if isinstance(value, np.generic):
        return value.item()
    if value is Ellipsis:
        return {"__ellipsis__": True}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(decode(v) for v in value["__tuple__"])
        if "__slice__" in value:
            return slice(*value["__slice__"])
        if "__ellipsis__" in value:
            return Ellipsis
        return {k: decode(v) for k, v in value.items()}
    return value


def layer_classes() -> dict[str, type]:
    from graphengine import layers
    from graphengine.training.model import Model, Sequential

    classes = {name: getattr(layers, name) for name in layers.__all__}
    classes.update({"Functional": Model, "Model": Model, "Sequential": Sequential})
    return classes


def serialize_layer(layer: Any) -> dict[str, Any]:
    name = type(layer).__name__
    if name == "Model":
        name = "Functional"
    if name not in layer_classes():
        name = utils.registered_name(type(layer))
        if name is None:
            raise ValueError(
                f"Layer '{layer.name}' is a {type(layer).__name__}, which is not a "
                "built-in layer: register the class with "
                "@ge.utils.register_serializable() to save it"
            )
        return {"class_name": name, "registered": True, "config": encode(layer.get_config())}
    return {"class_name": name, "config": encode(layer.get_config())}


def deserialize_layer(config: dict[str, Any]) -> Any:
    name = config.get("class_name")
    cls = utils.registered(name) if config.get("registered") else layer_classes().get(name)
    if cls is None:
        raise ValueError(f"unknown layer class {name!r} in the saved config")
    return cls.from_config(decode(config["config"]))


def functional_config(model: Any) -> dict[str, Any]:
    """The graph of call sites in order: each a layer call or a bare op, its arguments as
    references {"ref": [site, output]} to earlier sites; Constants (the 1 of `x + 1`) inline."""
    index = {site.id: i for i, site in enumerate(model._sites)}

    def ref(t: Any) -> Any:
        if isinstance(t, Variable):
            raise ValueError(
                f"Model '{model.name}': an op outside any layer reads weight "
                f"'{t.path}'; such models cannot be saved"
            )
        if isinstance(t, Constant):
            return {"const": t.value.tolist(), "dtype": t.dtype}
        site = t.layer_call or t.node
        return {"ref": [index[site.id], site.outputs.index(t)]}

    sites, layers, seen = [], [], set()
    for site in model._sites:
        if isinstance(site, LayerCall):
            if id(site.layer) not in seen:
                seen.add(id(site.layer))
                layers.append(serialize_layer(site.layer))
            args = [ref(t) for t in site.inputs[: site.n_args]]
            refs = pack_like(site.input_struct, args) if site.inputs else None
            kwargs = map_tensors(site.kwargs, ref)
            sites.append({"layer": site.layer.name, "args": encode(refs), "kwargs": encode(kwargs)})
        else:
            sites.append(
                {
                    "op": type(site.op).__name__,
                    "config": encode(site.op.get_config()),
                    "inputs": [ref(t) for t in site.inputs],
                }
            )
    return {
        "name": model.name,
        "layers": layers,
        "sites": sites,
        "inputs": encode(pack_like(model._inputs_struct, [ref(t) for t in model.inputs])),
        "outputs": encode(pack_like(model._outputs_struct, [ref(t) for t in model.outputs])),
    }


def functional_from_config(config: dict[str, Any]) -> Any:
    from graphengine.training.model import Model

    layers = {}
    for cfg in config["layers"]:
        layer = deserialize_layer(cfg)
        layers[decode(cfg["config"]).get("name", layer.name)] = layer
    outputs: list[list[SymbolicTensor]] = []

    def resolve(r: Any) -> Any:
        if isinstance(r, dict) and "ref" in r:
            site, out = r["ref"]
            return outputs[site][out]
        if isinstance(r, dict) and "const" in r:
            return Constant(np.asarray(r["const"], dtype=r["dtype"]))
        if isinstance(r, dict):
            return {k: resolve(v) for k, v in r.items()}
        if isinstance(r, (list, tuple)):
            return type(r)(resolve(v) for v in r)
        return r

    for site in config["sites"]:
        if "layer" in site:
            layer = layers[site["layer"]]
            if site["args"] is None:
                outputs.append([layer.output])  # an InputLayer
                continue
            result = layer(resolve(decode(site["args"])), **resolve(decode(site["kwargs"])))
        else:
            op_cls = OPS.get(site["op"])
            if op_cls is None:
                raise ValueError(f"unknown op {site['op']!r} in the saved config")
            result = apply(op_cls(**decode(site["config"])), *[resolve(r) for r in site["inputs"]])
        outputs.append(flatten(result) if isinstance(result, (list, tuple, dict)) else [result])
    return Model(
        resolve(decode(config["inputs"])), resolve(decode(config["outputs"])), name=config["name"]
    )


def sequential_config(model: Any) -> dict[str, Any]:
    first = model._input.layer_call.layer.get_config() if model._input is not None else None
    return {
        "name": model.name,
        "input": first,
        "layers": [serialize_layer(layer) for layer in model._stack],
    }


def sequential_from_config(config: dict[str, Any]) -> Any:
    from graphengine.layers.core import Input
    from graphengine.training.model import Sequential

    stack = [Input(**decode(config["input"]))] if config.get("input") else []
    return Sequential(stack + [deserialize_layer(c) for c in config["layers"]], name=config["name"])
