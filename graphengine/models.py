"""`ge.models`: the model classes, `load_model` / `save_model`, `model_from_json`, and
`clone_model` (Keras 3's: the same architecture on new layers, so new weights)."""

from __future__ import annotations

from typing import Any, Callable

from graphengine import common
from graphengine.graph.node import LayerCall
from graphengine.graph.tensor import SymbolicTensor
from graphengine.layers.core import Input
from graphengine.saving import load_model, save_model
from graphengine.training import metrics, optimizers
from graphengine.training.model import Model, Sequential
from graphengine.training.model_config import model_from_json
from graphengine.tree import flatten, pack_like

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]


def clone_model(
    model: Model,
    input_tensors: Any = None,
    clone_function: Callable[[Any], Any] | None = None,
    call_function: Callable[..., Any] | None = None,
    recursive: bool = False,
) -> Model:
    """A model of `model`'s architecture on new layers: `clone_function(layer)` makes each one
    (default `type(layer).from_config(layer.get_config())`: fresh weights from the
    initializers), a layer shared in `model` is cloned once and shared in the clone, and Inputs
    are always new. Functional models: `input_tensors` (structured as `model.input`) replace the
    Inputs, `call_function(layer, args, **kwargs)` replaces each layer call. A Sequential stays
    Sequential; a compiled model's clone is compiled alike (a fresh optimizer). `recursive=True`
    clones nested models with clone_model, as Keras 3."""
    if not isinstance(model, Model):
        raise TypeError(
            f"clone_model() expects a ge.Model or ge.Sequential, received {type(model).__name__}"
        )
    if clone_function is not None and not callable(clone_function):
        raise TypeError(f"clone_model(): clone_function must be callable, got {clone_function!r}")
    if call_function is not None and not callable(call_function):
        raise TypeError(f"clone_model(): call_function must be callable, got {call_function!r}")
    clone = _cloner(clone_function, call_function, recursive, {})
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError(
                f"clone_model(): call_function applies to functional models only; Sequential "
                f"'{model.name}' lists its layers rather than calling them"
            )
        new = _clone_sequential(model, clone, input_tensors)
    elif _is_functional(model) and (
        type(model).get_config is Model.get_config or clone_function or input_tensors
    ):
        new = _clone_functional(model, clone, call_function, input_tensors)
    else:
        if clone_function is not None or input_tensors is not None or call_function is not None:
            raise ValueError(
                f"clone_model(): clone_function, input_tensors and call_function apply to "
                f"functional and Sequential models, not to {type(model).__name__} "
                f"'{model.name}'; it is cloned by from_config(get_config()) alone"
            )
        new = type(model).from_config(model.get_config())
    if getattr(model, "compiled", False):
        _compile_like(new, model)
    return new


def _is_functional(model: Model) -> bool:
    """A graph of call sites that Model.call runs (not a subclass with a call of its own)."""
    return bool(model.built) and hasattr(model, "_sites") and type(model).call is Model.call


def _cloner(
    clone_function: Callable | None, call_function: Callable | None, recursive: bool, cache: dict
) -> Callable[[Any], Any]:
    """clone_function with each layer cloned once (shared layers stay shared), nested models
    through clone_model when `recursive`."""

    def clone(layer: Any) -> Any:
        if id(layer) not in cache:
            if recursive and isinstance(layer, Model):
                cache[id(layer)] = clone_model(
                    layer,
                    clone_function=clone_function,
                    call_function=None if isinstance(layer, Sequential) else call_function,
                    recursive=True,
                )
            elif clone_function is not None:
                cache[id(layer)] = clone_function(layer)
            else:
                cache[id(layer)] = type(layer).from_config(layer.get_config())
        return cache[id(layer)]

    return clone


def _clone_sequential(model: Sequential, clone: Callable, input_tensors: Any) -> Sequential:
    layers = [clone(layer) for layer in model.layers]
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError(
                    f"clone_model(): Sequential '{model.name}' has one input, but "
                    f"input_tensors holds {len(input_tensors)}"
                )
            input_tensors = input_tensors[0]
        if not _is_input(input_tensors):
            raise ValueError(
                f"clone_model(): input_tensors of Sequential '{model.name}' must be a ge.Input "
                f"tensor, received {input_tensors!r}"
            )
        layers = [input_tensors] + layers
    elif model._input is not None:
        layers = [Input(**model._input.layer_call.layer.get_config())] + layers
    new = Sequential(layers, name=model.name)
    new.trainable = model.trainable
    return new


def _is_input(t: Any) -> bool:
    return isinstance(t, SymbolicTensor) and t.layer_call is not None and not t.layer_call.inputs


def _clone_functional(
    model: Model, clone: Callable, call_function: Callable | None, input_tensors: Any
) -> Model:
    """Runs model's call sites in order on new inputs, as Model.call does, each layer replaced
    by its clone and each call by call_function when given."""
    if input_tensors is None:
        input_tensors = pack_like(model._inputs_struct, [_new_input(t) for t in model.inputs])
    else:
        _check_input_tensors(model, input_tensors)

    def call_site(site: LayerCall, args: Any, kwargs: dict[str, Any]) -> Any:
        layer = clone(site.layer)
        return call_function(layer, args, **kwargs) if call_function else layer(args, **kwargs)

    outputs = model._replay(flatten(input_tensors), call_site)
    params = common.parameter_names(type(model).__init__)
    cls = type(model) if params[:2] == ["inputs", "outputs"] else Model
    return cls(input_tensors, outputs, name=model.name)


def _new_input(t: SymbolicTensor) -> SymbolicTensor:
    if _is_input(t):
        return Input(**t.layer_call.layer.get_config())
    return Input(batch_shape=t.shape, dtype=t.dtype, name=t.name)


def _check_input_tensors(model: Model, input_tensors: Any) -> None:
    flat = flatten(input_tensors)
    bad = [t for t in flat if not isinstance(t, SymbolicTensor)]
    if bad:
        raise ValueError(
            f"clone_model(): every entry of input_tensors must be a symbolic tensor (ge.Input), "
            f"received {type(bad[0]).__name__}"
        )
    struct = model._inputs_struct
    same = len(flat) == len(model.inputs) and (
        not isinstance(struct, dict)
        or (isinstance(input_tensors, dict) and set(input_tensors) == set(struct))
    )
    if not same:
        raise ValueError(
            f"clone_model(): input_tensors must have the structure of model '{model.name}''s "
            f"inputs ({len(model.inputs)}: {', '.join(model.input_names)}), received "
            f"{len(flat)} tensor(s) as a {type(input_tensors).__name__}"
        )


def _compile_like(new: Model, model: Model) -> None:
    """As Keras's compile_from_config(get_compile_config()): the same losses, weights, metrics
    and device, and a new optimizer of the same configuration (no shared state)."""
    new.compile(
        optimizer=optimizers.deserialize(optimizers.serialize(model.optimizer)),
        loss=list(model._loss_fns),
        loss_weights=list(model._loss_weights),
        metrics=[[_fresh(m) for m in ids] for ids in model._metric_ids],
        weighted_metrics=[[_fresh(m) for m in ids] for ids in model._weighted_metric_ids],
        device=model.device_name,
        distributed=model.distributed,
    )


def _fresh(metric: Any) -> Any:
    """A new metric object of the same configuration (no shared state), or the name as given."""
    if isinstance(metric, metrics.Metric):
        return type(metric).from_config(metric.get_config())
    return metric
