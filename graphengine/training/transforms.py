"""`ge.value_and_grad(fn, variables)`: the gradient work of a custom training step as compiled
plans. `fn`, written with layers, models and ge.ops on its arguments, is traced symbolically
once per input signature (structure, per-sample shapes, dtypes) into a forward graph and the
backward graph of its scalar result; each call then runs one plan on the batch's arrays."""

from __future__ import annotations

import inspect
import threading
import warnings
from collections import OrderedDict
from typing import Any, Callable, Sequence

import numpy as np

from graphengine import common
from graphengine.autodiff.backward import gradients
from graphengine.graph.node import recording_calls
from graphengine.graph.tensor import Constant, SymbolicTensor, Variable, format_shape, graph_mode
from graphengine.ops.base import RunContext, extent_size
from graphengine.runtime.cache import PlanCache
from graphengine.runtime.devices import get_device
from graphengine.runtime.plan import Plan, extent_feeds, forward_order
from graphengine.training import data
from graphengine.tree import flatten, pack_like


class Trace:
    """One traced signature: the placeholders, the value, the aux outputs and the gradients."""

    def __init__(
        self, feeds: list, value: SymbolicTensor, aux: Any, grads: list, struct: Any
    ) -> None:
        self.feeds, self.value, self.aux, self.grads, self.struct = feeds, value, aux, grads, struct
        self.aux_leaves = [] if aux is None else flatten(aux)
        self.targets = [value] + self.aux_leaves + [g for g in grads if g is not None]
        # the arguments whose values size an output axis (graph ids: Op.extent_input)
        self.extent_feeds = extent_feeds(forward_order(feeds, self.targets), feeds)


class ValueAndGrad:
    """What `ge.value_and_grad` returns: call it with arrays as you would call `fn`."""

    def __init__(
        self, fn: Callable[..., Any], variables: Sequence[Any], has_aux: bool = False
    ) -> None:
        if not callable(fn):
            raise TypeError(f"value_and_grad: fn must be callable, received {type(fn).__name__}")
        if isinstance(variables, Variable):
            variables = [variables]
        self.variables = list(variables)
        for i, v in enumerate(self.variables):
            if not isinstance(v, Variable):
                raise TypeError(
                    f"value_and_grad: variables[{i}] is a {type(v).__name__}, not a weight; "
                    "give weights such as model.trainable_weights"
                )
        self.fn, self.has_aux = fn, bool(has_aux)
        self.name = getattr(fn, "__name__", type(fn).__name__)
        floats = [v.dtype for v in self.variables if np.dtype(v.dtype).kind == "f"]
        self._float = floats[0] if floats else "float32"  # what float data is fed as
        self._traces: dict[tuple, Trace] = {}
        self._plans = PlanCache()
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> tuple[Any, list[np.ndarray]]:
        """`(value, grads)`, or `((value, aux), grads)` with has_aux: the value a NumPy scalar,
        aux as `fn` nests it (arrays), grads one array per variable (zeros where the value does
        not depend on the variable)."""
        device = get_device(None)
        if device.name != "cpu":
            raise NotImplementedError(
                f"value_and_grad({self.name}) runs on the CPU; under ge.device({device.name!r}) "
                "the weights live on the device, where a custom step cannot update them yet"
            )
        args = data.leaf_arrays(args, f"value_and_grad({self.name}): argument")
        arrays = [self._array(a, i) for i, a in enumerate(flatten(args))]
        signature = (
            _structure_key(args),
            tuple((a.shape[1:] if a.ndim else None, a.dtype.name) for a in arrays),
        )
        with self._lock:
            trace = self._traces.get(signature)
            if trace is None:
                trace = self._traces[signature] = self._trace(args, arrays)
        sizes = tuple(
            extent_size(arrays[i], f"value_and_grad({self.name}): argument {i}")
            for i in trace.extent_feeds
        )
        key = (device.name, tuple(a.shape for a in arrays), id(trace), sizes)
        extents = dict(zip([trace.feeds[i] for i in trace.extent_feeds], sizes))

        def build() -> Plan:
            rng = np.random.default_rng(common.rng().integers(2**63))
            shapes = [a.shape for a in arrays]
            return Plan(trace.feeds, trace.targets, shapes, device, RunContext(rng=rng), extents)

        with self._plans.lend(key, build) as plan:
            outs = [plan.device.to_host(b) for b in plan.run(arrays)]
        value = outs[0][()]
        n_aux = len(trace.aux_leaves)
        aux = pack_like(trace.aux, outs[1 : 1 + n_aux]) if n_aux else trace.aux
        found = iter(outs[1 + n_aux :])
        grads = [
            next(found) if g is not None else np.zeros(v.shape, v.dtype)
            for g, v in zip(trace.grads, self.variables)
        ]
        return ((value, aux) if self.has_aux else value), grads

    def _array(self, a: Any, i: int) -> np.ndarray:
        if a.dtype.kind not in "biuf":
            raise TypeError(
                f"value_and_grad({self.name}): argument {i} must be numeric, received dtype "
                f"{a.dtype}"
            )
        return np.ascontiguousarray(a, self._float if a.dtype.kind == "f" else a.dtype)

    def _trace(self, args: Any, arrays: list[np.ndarray]) -> Trace:
        feeds = [
            SymbolicTensor((None,) + a.shape[1:] if a.ndim else (), a.dtype.name, name=f"arg{i}")
            for i, a in enumerate(arrays)
        ]
        with graph_mode(), recording_calls():
            result = self.fn(*pack_like(args, feeds))
        value, aux = result, None
        if self.has_aux:
            if not (isinstance(result, (tuple, list)) and len(result) == 2):
                raise TypeError(
                    f"value_and_grad({self.name}, has_aux=True): fn must return (value, aux), "
                    f"received {type(result).__name__}"
                )
            value, aux = result
            for t in flatten(aux):
                if not isinstance(t, SymbolicTensor):
                    raise TypeError(
                        f"value_and_grad({self.name}): aux holds a {type(t).__name__}; it may "
                        "hold only tensors computed from fn's arguments"
                    )
        if not isinstance(value, SymbolicTensor):
            raise TypeError(
                f"value_and_grad({self.name}): fn returned a {type(value).__name__}, not a "
                "tensor of its arguments: write fn with layers, models and ge.ops called on its "
                "arguments (model.predict, NumPy or float() inside fn leave the graph)"
            )
        if value.shape != () or np.dtype(value.dtype).kind != "f":
            raise ValueError(
                f"value_and_grad({self.name}): fn must return a float scalar (a loss), received "
                f"a {value.dtype} tensor of shape {format_shape(value.shape)}"
            )
        seed = Constant(np.ones((), value.dtype))
        grads = gradients([value], [seed], self.variables)
        return Trace(feeds, value, aux, grads, args)


def _structure_key(args: Any) -> Any:
    """The nesting of `args` (container types and dict keys), leaves left out."""
    if isinstance(args, dict):
        return ("dict", tuple((k, _structure_key(args[k])) for k in sorted(args)))
    if isinstance(args, (list, tuple)):
        return (type(args).__name__, tuple(_structure_key(a) for a in args))
    return None


# Steps made by value_and_grad, so that writing `ge.value_and_grad(self.loss_fn, weights)` inside
# a train_step traces once, not every batch: keyed by the function (a bound method by its
# function and object) and the variables; entries hold them, so no key is reused while cached.
_STEPS: OrderedDict[tuple, ValueAndGrad] = OrderedDict()
_STEPS_SIZE = 64
_STEPS_LOCK = threading.Lock()
_RETRACES: dict[Any, int] = {}  # code object -> traces by steps made anew (closures)
RETRACE_WARNING = 4


def _fn_key(fn: Callable[..., Any]) -> tuple:
    if inspect.ismethod(fn):
        return (id(fn.__func__), id(fn.__self__))
    return (id(fn),)


def value_and_grad(
    fn: Callable[..., Any], variables: Sequence[Any], has_aux: bool = False
) -> ValueAndGrad:
    """`step = ge.value_and_grad(fn, variables)`; `loss, grads = step(x, y)`: the value of `fn`
    (a scalar loss) and its gradients with respect to `variables` (e.g. model.trainable_weights),
    in JAX's spirit. `fn` is traced once per input signature and compiled, so calling `step` per
    batch runs compiled plans as fit does. The same function (or bound method) with the same
    variables gives the same step, so the call may sit inside train_step; a lambda or closure
    made anew each batch is a new function and traces anew (a warning says so): define it once.
    With `has_aux=True`, fn returns `(loss, aux)` and step returns `((loss, aux), grads)`."""
    variables = [variables] if isinstance(variables, Variable) else list(variables)
    key = (_fn_key(fn), tuple(id(v) for v in variables), bool(has_aux))
    with _STEPS_LOCK:
        step = _STEPS.get(key)
        if step is not None and _same(step, fn, variables):
            _STEPS.move_to_end(key)
            return step
    step = ValueAndGrad(fn, variables, has_aux)
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    with _STEPS_LOCK:
        _STEPS[key] = step
        while len(_STEPS) > _STEPS_SIZE:
            _STEPS.popitem(last=False)
        if code is not None and not inspect.ismethod(fn):
            _RETRACES[code] = _RETRACES.get(code, 0) + 1
            if _RETRACES[code] == RETRACE_WARNING:
                warnings.warn(
                    f"value_and_grad: function {step.name!r} ({code.co_filename}:"
                    f"{code.co_firstlineno}) was given anew {RETRACE_WARNING} times, and each new "
                    "function object is traced and compiled again; define it once (a method, or "
                    "a function made in __init__ / compile) and reuse it",
                    stacklevel=2,
                )
    return step


def _same(step: ValueAndGrad, fn: Callable[..., Any], variables: list) -> bool:
    """Whether a cached step is for exactly this function and these variables (by identity)."""
    if inspect.ismethod(fn):
        same_fn = inspect.ismethod(step.fn) and (
            step.fn.__func__ is fn.__func__ and step.fn.__self__ is fn.__self__
        )
    else:
        same_fn = step.fn is fn
    return same_fn and all(a is b for a, b in zip(step.variables, variables))
