"""Our models as Keras 3 configs (config.json of a `.keras` archive): the layer configs we keep
in Keras's names and arguments, wrapped as Keras's serialize_keras_object wraps them (module,
class_name, config, registered_name), dtypes as DTypePolicy, functional graphs as Keras's
layers with inbound_nodes. Layers Keras lacks, and ops outside any layer, raise."""

from __future__ import annotations

from typing import Any

from graphengine import common
from graphengine.graph.node import LayerCall
from graphengine.graph.tensor import STRING, SymbolicTensor
from graphengine.layers.core import InputLayer
from graphengine.layers.serialization import layer_classes
from graphengine.training.keras_weights import is_functional, model_classes
from graphengine.tree import map_tensors, pack_like

# Our layers with no Keras 3 class of the same name and arguments.
NOT_IN_KERAS = frozenset(
    {
        "GATConv",
        "GINConv",
        "GraphConv",
        "SAGEConv",
        "GlobalGraphMaxPool",
        "GlobalGraphMeanPool",
        "GlobalGraphSumPool",
        "RReLU",
    }
)


def _policy(dtype: str) -> dict[str, Any]:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}  # fmt: skip


def _object(module: str, class_name: str, config: Any, registered: Any = None) -> dict:
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": registered}  # fmt: skip


def _value(key: str, value: Any, owner: str) -> Any:
    """One config value as Keras writes it."""
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [_value(key, v, owner) for v in value]
    if not isinstance(value, dict):
        return value
    if "registered" in value or "shared_id" in value:
        raise ValueError(
            f"{owner}: argument '{key}' is a registered object or a layer shared elsewhere, "
            "which a .keras file cannot name for Keras; save the model as .gez"
        )
    name = value.get("class_name")
    if name is None or "config" not in value:
        return {k: _value(k, v, owner) for k, v in value.items()}
    if key.endswith("_initializer"):
        return _object("keras.initializers", name, value["config"])
    if key.endswith("_regularizer"):
        return _object("keras.regularizers", name, value["config"])
    if name in layer_classes():  # a wrapped layer or cell (Bidirectional, RNN, TimeDistributed)
        return _layer_object(name, value["config"], owner)
    raise ValueError(f"{owner}: argument '{key}' = {value!r:.100} has no Keras form")


def _layer_object(name: str, config: dict[str, Any], owner: str) -> dict[str, Any]:
    if name in NOT_IN_KERAS:
        raise ValueError(f"{owner} holds a {name}, which Keras lacks: save the model as .gez")
    out = {k: _value(k, v, owner) for k, v in config.items() if k != "input_shape"}
    if isinstance(out.get("dtype"), str) and name != "InputLayer":
        out["dtype"] = _policy(out["dtype"])
    return _object("keras.layers", name, out)


def layer_entry(layer: Any) -> dict[str, Any]:
    """serialize_keras_object's entry for a layer or model."""
    owner = f"Layer '{layer.name}' ({type(layer).__name__})"
    model, sequential = model_classes()
    if isinstance(layer, sequential):
        return _object("keras", "Sequential", sequential_config(layer))
    if isinstance(layer, model):
        if not is_functional(layer):
            raise ValueError(
                f"Model '{layer.name}' ({type(layer).__name__}) is subclassed: a .keras file "
                "holds functional and Sequential models only; save it as .gez"
            )
        return _object(
            "keras.src.models.functional", "Functional", functional_config(layer), "Functional"
        )
    name = type(layer).__name__
    if name in layer_classes() and layer_classes()[name] is type(layer):
        return _layer_object(name, layer.get_config(), owner)
    registered = common.registered_name(type(layer))
    if registered is None:
        raise ValueError(
            f"{owner} is not a built-in layer: register its class with "
            "@ge.saving.register_keras_serializable() to save it"
        )
    config = {k: _value(k, v, owner) for k, v in layer.get_config().items()}
    return _object(type(layer).__module__, name, config, registered)


def sequential_config(model: Any) -> dict[str, Any]:
    layers = [layer_entry(layer) for layer in model.layers]
    config: dict[str, Any] = {"name": model.name, "trainable": model.trainable,
                              "dtype": _policy(model.dtype)}  # fmt: skip
    if model._input is not None:
        first = model._input.layer_call.layer
        layers.insert(0, layer_entry(first))
        config["build_input_shape"] = list(model._input.shape)
    config["layers"] = layers
    return config


def functional_config(model: Any) -> dict[str, Any]:
    """Keras's functional config: the layers in Keras's order, each with the calls of it in
    this model (inbound_nodes), tensors named by [layer, call, output]."""
    calls: dict[int, list[LayerCall]] = {}
    for site in model._sites:
        if not isinstance(site, LayerCall):
            raise ValueError(
                f"Model '{model.name}': op '{site.op.name}' stands outside any layer, which a "
                ".keras file cannot hold; call it inside a layer, or save the model as .gez"
            )
        calls.setdefault(id(site.layer), []).append(site)

    def history(t: SymbolicTensor, own: bool = False) -> list[Any]:
        site = t.layer_call
        node = calls[id(site.layer)].index(site)
        if own and is_functional(site.layer):
            node += 1  # Keras counts a functional model's construction node first
        return [site.layer.name, node, site.outputs.index(t)]

    def tensor(t: SymbolicTensor) -> dict[str, Any]:
        return {"class_name": "__keras_tensor__", "config": {
            "shape": list(t.shape), "dtype": "string" if t.dtype == STRING else t.dtype,
            "keras_history": history(t)}}  # fmt: skip

    layers = []
    for layer in model.layers:
        entry = layer_entry(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [_node(site, tensor) for site in calls.get(id(layer), [])]
        entry["inbound_nodes"] = [n for n in entry["inbound_nodes"] if n is not None]
        layers.append(entry)

    def refs(struct: Any, flat: list) -> Any:
        leaves = [history(t, own=True) for t in flat]
        return leaves[0] if len(leaves) == 1 else _lists(pack_like(struct, leaves))

    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": refs(model._inputs_struct, model.inputs),
            "output_layers": refs(model._outputs_struct, model.outputs)}  # fmt: skip


def _node(site: LayerCall, tensor: Any) -> dict[str, Any] | None:
    if isinstance(site.layer, InputLayer) or not site.inputs:
        return None
    args = pack_like(site.input_struct, [tensor(t) for t in site.inputs[: site.n_args]])
    kwargs = map_tensors(site.kwargs, tensor)
    return {"args": [_lists(args)], "kwargs": _lists(kwargs)}


def _lists(value: Any) -> Any:
    """Tuples as lists, as JSON writes them (Keras's nodes and refs read lists)."""
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    if isinstance(value, dict) and value.get("class_name") != "__keras_tensor__":
        return {k: _lists(v) for k, v in value.items()}
    return value


def keras_config(model: Any) -> dict[str, Any]:
    """config.json of a .keras archive for `model` (a functional or Sequential model)."""
    if not isinstance(model, model_classes()[0]):
        raise TypeError(f"a .keras file holds a model, received {type(model).__name__}")
    return layer_entry(model)
