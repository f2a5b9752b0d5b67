"""Models rebuilt from Keras's configs: Keras 3's config.json and the `model_config` of Keras's
HDF5 files. Layer configs translate into our layers' (the same names and arguments); class names
are looked up among our built-in layers and the registered classes only, so nothing in a config
is executed: a Lambda, a custom object nobody registered or a Keras layer we lack is a
ValueError naming the layer and what to do."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine import common
from graphengine.layers.base import _BASE_KWARGS, check_dtype
from graphengine.layers.core import Input, InputLayer
from graphengine.layers.serialization import layer_classes
from graphengine.training.keras_weights import is_functional, model_classes
from graphengine.tree import flatten

# Keras arguments our layers lack, with the value that makes each a no-op there (ANY: no effect
# on what a loaded model computes). Another value raises: it would compute something else.
ANY, _MISSING = object(), object()
NEUTRAL: dict[str, Any] = {
    "quantization_config": None,
    "lora_rank": None,
    "lora_alpha": None,
    "renorm": False,
    "renorm_clipping": None,
    "renorm_momentum": ANY,
    "synchronized": False,
    "rms_scaling": False,
    "sliding_window": None,
    "data_format": "channels_last",
    "sparse": False,
    "ragged": False,
    "optional": False,
    "input_axes": None,
    "output_axes": None,
    "implementation": ANY,
    "time_major": False,
    "groups": 1,
    "seed": None,
    "oov_method": "floormod",  # StringLookup's config carries IndexLookup's (Keras 3.15)
    "salt": None,
}
FUNCTIONAL = ("Functional", "Model")
CODE = ("Lambda", "TFOpLambda", "SlicingOpLambda")
SAFE_MODE = (
    "nothing from the file is executed (as Keras's safe_mode=True); register a graphengine "
    "class or function for it with @ge.saving.register_keras_serializable() or pass "
    "custom_objects={...} to load_model"
)


class NotYet(Exception):
    """A node's inputs are not computed yet (Keras's loader retries it later)."""


def _is_keras_module(module: Any) -> bool:
    return module is None or (isinstance(module, str) and module.split(".")[0] == "keras")


# -- values ----------------------------------------------------------------------------------------
def translate(value: Any, owner: str) -> Any:
    """A config value in our form: dtype policies as dtype names, Keras's tuples and arrays
    as such, initializer / regularizer dicts as {"class_name", "config"}, nested layers as
    layer objects; objects that would need code from the file raise."""
    if isinstance(value, list):
        return [translate(v, owner) for v in value]
    if not isinstance(value, dict):
        return value
    name, config, module = value.get("class_name"), value.get("config"), value.get("module")
    if name is None:
        return {k: translate(v, owner) for k, v in value.items()}
    if name == "__tuple__":
        return tuple(translate(v, owner) for v in config["value"])
    if name == "__numpy__":
        return np.asarray(config["value"], dtype=_plain(config["dtype"], owner))
    if name in ("DTypePolicy", "FloatDTypePolicy", "Policy"):
        return check_dtype(config["name"], owner)
    if name in ("__lambda__", "__bytes__") or "function_type" in value:
        raise ValueError(f"{owner} holds Python code ({name}), which is never loaded: {SAFE_MODE}")
    if name == "function":
        return _function(value, owner)
    kind = module.split(".")[-1] if isinstance(module, str) else None
    if kind == "constraints":
        raise ValueError(f"{owner}: Keras constraint {name} is not supported by graphengine")
    if kind not in ("initializers", "regularizers") and (
        "inbound_nodes" in value or name in layer_classes() or name in CODE
    ):
        return layer_from_keras(value)
    if not _is_keras_module(module):
        return _registered(value, owner)
    return {"class_name": name, "config": _plain_config(config, owner)}


def _plain(dtype: Any, owner: str) -> np.dtype:
    found = np.dtype(str(dtype))
    if found.kind not in "biuf":
        raise ValueError(f"{owner}: array of dtype {dtype!r} is not a plain numeric array")
    return found


def _plain_config(config: Any, owner: str) -> dict[str, Any]:
    """An initializer's or regularizer's config without the keys Keras added at their no-op
    values (VarianceScaling's input_axes / output_axes)."""
    if not isinstance(config, dict):
        raise ValueError(f"{owner}: expected a config dict, received {config!r:.100}")
    return {
        k: translate(v, owner)
        for k, v in config.items()
        if not (k in ("input_axes", "output_axes") and v is None)
    }


def _function(value: dict[str, Any], owner: str) -> Any:
    """A function a config names: Keras's built-in activations by name, others registered."""
    if _is_keras_module(value.get("module")) and isinstance(value.get("config"), str):
        return value["config"]
    return _registered(value, owner)


def _registered(value: dict[str, Any], owner: str) -> Any:
    for key in (value.get("registered_name"), value.get("class_name")):
        if isinstance(key, str):
            try:
                return common.registered(key)
            except ValueError:
                continue
    raise ValueError(
        f"{owner} names the custom object {value.get('class_name')!r} (module "
        f"{value.get('module')!r}), which is not registered: {SAFE_MODE}"
    )


# -- layers ----------------------------------------------------------------------------------------
def layer_from_keras(entry: Any) -> Any:
    """The layer (or model) of one Keras layer entry {"class_name", "config", ...}."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ValueError(
            f"a layer entry of the config is not {{'class_name', 'config'}}: {entry!r:.200}"
        )
    name, config = entry.get("class_name"), entry["config"]
    owner = f"Layer '{config.get('name', entry.get('name'))}' ({name})"
    if name in CODE:
        raise ValueError(f"{owner} holds Python code, which is never loaded: {SAFE_MODE}")
    if entry.get("registered_name") == "Functional" or name in FUNCTIONAL:
        return functional_from_keras(config)
    if name == "Sequential":
        return sequential_from_keras(config)
    cls = _layer_class(entry, owner)
    arguments = {k: translate(v, f"{owner} argument '{k}'") for k, v in config.items()}
    if cls is InputLayer:
        arguments = _input_arguments(arguments)
    arguments = _known_arguments(cls, arguments, owner)
    try:
        return cls.from_config(arguments)
    except (TypeError, ValueError, KeyError) as e:
        raise ValueError(f"{owner} cannot be rebuilt from its Keras config: {e}") from e


def _layer_class(entry: dict[str, Any], owner: str) -> type:
    name, registered = entry.get("class_name"), entry.get("registered_name")
    builtin = _is_keras_module(entry.get("module")) and registered in (None, name)
    if builtin and name in layer_classes():
        return layer_classes()[name]
    if builtin and isinstance(entry.get("module"), str):  # Keras 2 entries have no module
        raise ValueError(f"{owner}: graphengine has no layer for Keras's {name}; {SAFE_MODE}")
    found = _registered(entry, owner)
    if not isinstance(found, type):
        raise ValueError(f"{owner}: the registered {name!r} is not a layer class")
    return found


def _input_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Keras 2's InputLayer says batch_input_shape for Keras 3's batch_shape."""
    if "batch_input_shape" in arguments:
        arguments["batch_shape"] = arguments.pop("batch_input_shape")
    return arguments


def _known_arguments(cls: type, arguments: dict[str, Any], owner: str) -> dict[str, Any]:
    """The arguments `cls` takes; Keras's extra ones dropped at their no-op values. A
    registered class of the user's gets them all, as Keras would give them."""
    if cls.__module__.split(".")[0] != "graphengine":
        return arguments
    known = {
        p
        for c in cls.__mro__
        if "__init__" in vars(c)
        for p in common.parameter_names(vars(c)["__init__"])
    }
    kept = {}
    for key, value in arguments.items():
        neutral = None if key.endswith("_constraint") else NEUTRAL.get(key, _MISSING)
        if key in known or key in _BASE_KWARGS:
            kept[key] = value
        elif neutral is _MISSING:
            raise ValueError(f"{owner}: Keras argument {key!r} is not supported by graphengine")
        elif neutral is not ANY and neutral != value:
            raise ValueError(
                f"{owner}: Keras argument {key}={value!r} is not supported by graphengine "
                f"(only {key}={neutral!r})"
            )
    return kept


# -- models ----------------------------------------------------------------------------------------
def sequential_from_keras(config: dict[str, Any]) -> Any:
    entries = config.get("layers")
    if not isinstance(entries, list):
        raise ValueError(f"Sequential {config.get('name')!r}: 'layers' is not a list")
    shape = _first_input_shape(entries, config)
    layers = [layer_from_keras(e) for e in entries]
    stack: list[Any] = []
    if layers and isinstance(layers[0], InputLayer):
        stack.append(layers.pop(0).output)
    elif shape is not None:
        stack.append(Input(batch_shape=tuple(shape)))
    model = model_classes()[1](stack + layers, name=config.get("name"))
    model.trainable = bool(config.get("trainable", True))
    return model


def _first_input_shape(entries: list, config: dict[str, Any]) -> Any:
    """Keras 2: batch_input_shape on the first layer; else Keras's build_input_shape."""
    first = entries[0].get("config") if entries and isinstance(entries[0], dict) else None
    shape = first.pop("batch_input_shape", None) if isinstance(first, dict) else None
    return shape if shape is not None else config.get("build_input_shape")


def functional_from_keras(config: dict[str, Any]) -> Any:
    """The graph Keras's functional config describes, rebuilt as Keras's loader does: every
    layer created, then each node called once its inputs exist, in the order of the layers."""
    entries = config.get("layers")
    if not isinstance(entries, list):
        raise ValueError(f"Functional {config.get('name')!r}: 'layers' is not a list")
    created: dict[str, Any] = {}
    calls: dict[str, list[list[Any]]] = {}
    pending: dict[str, list[Any]] = {}
    for entry in entries:
        layer = layer_from_keras(entry)
        name = entry.get("name", getattr(layer, "name", None))
        created[name], calls[name] = layer, []
        if isinstance(layer, InputLayer):
            calls[name].append([layer.output])
        pending[name] = list(entry.get("inbound_nodes") or [])
    _run_nodes(created, calls, pending)

    def tensor(ref: Any) -> Any:
        layer_name, node, index = ref
        if is_functional(created.get(layer_name)):
            node -= 1  # Keras counts a functional model's own construction node first
        return _output(calls, layer_name, node, index)

    inputs, outputs = (
        _map_refs(config.get(key), tensor) for key in ("input_layers", "output_layers")
    )
    model = model_classes()[0](inputs, outputs, name=config.get("name"))
    model.trainable = bool(config.get("trainable", True))
    return model


def _run_nodes(created: dict, calls: dict, pending: dict) -> None:
    while any(pending.values()):
        progressed = False
        for name, nodes in pending.items():
            while nodes:
                try:
                    args, kwargs = _node_arguments(nodes[0], calls)
                except NotYet:
                    break
                result = created[name](*args, **kwargs)
                calls[name].append(flatten(result))
                nodes.pop(0)
                progressed = True
        if not progressed:
            stuck = sorted(k for k, v in pending.items() if v)
            raise ValueError(
                f"the functional config's graph has loops or disconnected nodes: layers {stuck} "
                "wait for inputs that are never computed"
            )


def _output(calls: dict, name: Any, node: Any, index: Any) -> Any:
    if name not in calls:
        raise ValueError(f"a node refers to layer {name!r}, which the config does not define")
    if not (type(node) is int and type(index) is int and node >= 0 and index >= 0):
        raise ValueError(f"a node refers to call {node!r} output {index!r} of layer {name!r}")
    if node >= len(calls[name]):
        raise NotYet
    outputs = calls[name][node]
    if index >= len(outputs):
        raise ValueError(
            f"a node refers to output {index} of layer {name!r}, which has {len(outputs)}"
        )
    return outputs[index]


def _node_arguments(node: Any, calls: dict) -> tuple[list, dict]:
    """(args, kwargs) of one inbound node: Keras 3's {"args", "kwargs"} with tensors as
    "__keras_tensor__" entries, or Keras 2's list of [layer, node, tensor, kwargs]."""
    if isinstance(node, list):
        tensors = [_output(calls, *ref[:3]) for ref in node]
        kwargs = node[0][3] if node and len(node[0]) > 3 else {}
        return [tensors[0] if len(tensors) == 1 else tensors], dict(kwargs)

    def leaf(value: Any) -> Any:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            return _output(calls, *value["config"]["keras_history"])
        if isinstance(value, dict) and value.get("class_name") == "__tuple__":
            return tuple(leaf(v) for v in value["config"]["value"])
        if isinstance(value, dict):
            return {k: leaf(v) for k, v in value.items()}
        if isinstance(value, list):
            return [leaf(v) for v in value]
        return value

    kwargs = {k: v for k, v in leaf(node.get("kwargs") or {}).items() if v is not None}
    return list(leaf(node.get("args") or [])), kwargs


def _map_refs(refs: Any, tensor: Any) -> Any:
    if isinstance(refs, list) and len(refs) == 3 and isinstance(refs[0], str):
        return tensor(refs)
    if isinstance(refs, dict):
        return {k: _map_refs(v, tensor) for k, v in refs.items()}
    if isinstance(refs, list):
        mapped = [_map_refs(v, tensor) for v in refs]
        return mapped[0] if len(mapped) == 1 else mapped
    raise ValueError(f"input_layers / output_layers hold {refs!r:.100}, not [layer, node, tensor]")
