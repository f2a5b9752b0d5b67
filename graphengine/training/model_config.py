"""Functional and Sequential configs (call sites over layer configs, see
graphengine.layers.serialization) and compile settings as JSON-safe data, and models rebuilt
from them. Only registered classes and functions are ever looked up by name: nothing in a
config is executed."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np

from graphengine import common
from graphengine.graph.node import LayerCall
from graphengine.graph.tensor import Constant, SymbolicTensor, Variable
from graphengine.layers.core import Input
from graphengine.layers.serialization import (
    decode,
    deserialize_layer,
    encode,
    loading,
    saving,
    serialize_layer,
)
from graphengine.ops.base import SERIALIZABLE_OPS, apply
from graphengine.training import losses, optimizers
from graphengine.training import metrics as metrics_module
from graphengine.tree import flatten, map_tensors, pack_like


def functional_config(model: Any) -> dict[str, Any]:
    """The graph of call sites in order: each a layer call or a bare op, its arguments as
    references {"ref": [site, output]} to earlier sites; Constants (the 1 of `x + 1`) inline."""
    with saving():
        return _functional_config(model)


def _functional_config(model: Any) -> dict[str, Any]:
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
            _check_serializable(model, site.op)
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


def _check_serializable(model: Any, op: Any) -> None:
    """An op outside any layer is saved by its class name: only the ops of ge.ops may be, as
    only those a load constructs (SERIALIZABLE_OPS), so any other fails here, not at load."""
    if SERIALIZABLE_OPS.get(type(op).__name__) is not type(op):
        raise ValueError(
            f"Model '{model.name}' cannot be saved: op '{op.name}' ({type(op).__name__}) stands "
            "outside any layer and is not one a saved config may name (the ops of ge.ops); "
            "call it inside a layer"
        )


def functional_from_config(cls: type, config: dict[str, Any]) -> Any:
    """A `cls` (Model) of the graph `functional_config` describes."""
    with loading():
        return _functional_from_config(cls, config)


def _functional_from_config(cls: type, config: dict[str, Any]) -> Any:
    layers = {}
    for cfg in config["layers"]:
        layer = deserialize_layer(cfg)
        layers[cfg["config"].get("name", layer.name) if "config" in cfg else layer.name] = layer
    outputs: list[list[SymbolicTensor]] = []

    def resolve(r: Any) -> Any:
        if isinstance(r, dict) and "ref" in r:
            site, out = r["ref"]
            if not (type(site) is int and 0 <= site < len(outputs)):
                raise ValueError(f"a call site refers to site {site!r} before it is computed")
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
            op_cls = SERIALIZABLE_OPS.get(site["op"])
            if op_cls is None:
                raise ValueError(
                    f"unknown op {site['op']!r} in the saved config; a config may name only "
                    f"the ops of ge.ops: {', '.join(sorted(SERIALIZABLE_OPS))}"
                )
            result = apply(op_cls(**decode(site["config"])), *[resolve(r) for r in site["inputs"]])
        outputs.append(flatten(result) if isinstance(result, (list, tuple, dict)) else [result])
    return cls(
        resolve(decode(config["inputs"])), resolve(decode(config["outputs"])), name=config["name"]
    )


def sequential_config(model: Any) -> dict[str, Any]:
    first = model._input.layer_call.layer.get_config() if model._input is not None else None
    with saving():
        layers = [serialize_layer(layer) for layer in model._stack]
    return {"name": model.name, "input": first, "layers": layers}


def sequential_from_config(cls: type, config: dict[str, Any]) -> Any:
    """A `cls` (Sequential) of the stack `sequential_config` describes."""
    stack = [Input(**decode(config["input"]))] if config.get("input") else []
    with loading():
        layers = [deserialize_layer(c) for c in config["layers"]]
    return cls(stack + layers, name=config["name"])


# -- JSON ----------------------------------------------------------------------------------------
def model_to_json(model: Any, **kwargs: Any) -> str:
    """`model.to_json(**kwargs)`: the config a saved file holds for the model (serialize_layer's,
    no weights) as JSON text; `kwargs` go to json.dumps, as in Keras."""
    return json.dumps(encode(serialize_layer(model)), **kwargs)


def model_from_json(json_string: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    """The model (uncompiled, new weights) of `model_to_json`'s text. Names are looked up in
    the built-in classes, the registry and `custom_objects` only: nothing in the text runs.
    Malformed text raises ValueError."""
    if not isinstance(json_string, (str, bytes, bytearray)):
        raise TypeError(
            f"model_from_json() expects JSON text (str), received {type(json_string).__name__}"
        )
    try:
        config = json.loads(json_string)
    except json.JSONDecodeError as e:
        raise ValueError(f"model_from_json(): the text is not JSON ({e})") from None
    if not (isinstance(config, dict) and "class_name" in config and "config" in config):
        raise ValueError(
            "model_from_json(): expected the text of model.to_json(), an object with "
            f"'class_name' and 'config', received {type(config).__name__}"
            + (f" with keys {sorted(config)}" if isinstance(config, dict) else "")
        )
    scope = common.custom_object_scope(custom_objects)
    try:
        with scope:
            return deserialize_layer(decode(config))
    except (TypeError, LookupError, AttributeError, RuntimeError) as e:  # RecursionError too
        raise ValueError(
            f"model_from_json(): the config is malformed ({type(e).__name__}: {e})"
        ) from e


# -- compile settings --------------------------------------------------------------------------
def compile_config(model: Any) -> dict[str, Any] | None:
    """A compiled model's optimizer, losses, metrics and device; None (with a warning) when a
    loss or metric is an unregistered function."""
    if not getattr(model, "compiled", False):
        return None
    try:
        losses = [None if f is None else _serialize_loss(f) for f in model._loss_fns]
        metrics, weighted = (
            [[_serialize_metric(m) for m in ids] for ids in per_output]
            for per_output in (model._metric_ids, model._weighted_metric_ids)
        )
    except ValueError as e:
        warnings.warn(
            f"Model '{model.name}' is saved without its compile settings: {e}", stacklevel=3
        )
        return None
    return {
        "optimizer": optimizers.serialize(model.optimizer),
        "loss": losses,
        "metrics": metrics,
        "weighted_metrics": weighted,
        "loss_weights": model._loss_weights,
        "device": model.device_name,
    }


def _serialize_loss(loss: Any) -> dict[str, Any]:
    fn = getattr(loss, "custom_fn", None)
    if fn is None:
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    name = common.registered_name(fn)
    if name is None:
        raise ValueError(
            f"the custom loss {fn!r} is not registered (@ge.utils.register_serializable())"
        )
    return {"registered": name}


def _serialize_metric(metric: Any) -> Any:
    """A name as given; a built-in metric object as its class name and config (its state is
    not kept, as in Keras); a registered function or class by its registered name."""
    if isinstance(metric, str):
        return metric
    cls = type(metric)
    builtin = getattr(metrics_module, cls.__name__, None) is cls
    wrapper = cls is metrics_module.MeanMetricWrapper  # its config holds a function
    if isinstance(metric, metrics_module.Metric) and builtin and not wrapper:
        return {"class_name": cls.__name__, "config": metric.get_config()}
    name = common.registered_name(metric)
    if name is None:
        raise ValueError(f"the metric {metric!r} is not registered")
    return {"registered": name}


def compile_arguments(settings: dict[str, Any]) -> dict[str, Any]:
    """The `model.compile` keyword arguments that `compile_config` describes."""

    def loss(entry: Any) -> Any:
        if entry is None:
            return None
        if "registered" in entry:
            return common.registered(entry["registered"])
        return losses.get(entry)

    def metric(entry: Any) -> Any:
        if isinstance(entry, dict) and "class_name" in entry:
            return metrics_module.get(entry)
        return common.registered(entry["registered"]) if isinstance(entry, dict) else entry

    return {
        "optimizer": optimizers.deserialize(settings["optimizer"]),
        "loss": [loss(e) for e in settings["loss"]],
        "loss_weights": settings["loss_weights"],
        "metrics": [[metric(m) for m in ids] for ids in settings["metrics"]],
        "weighted_metrics": [
            [metric(m) for m in ids] for ids in settings.get("weighted_metrics") or []
        ]
        or None,
        "device": settings.get("device"),
    }
