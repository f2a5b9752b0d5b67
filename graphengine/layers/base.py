"""The Layer base class: weights, building, symbolic and eager calls, configs.

Subclasses follow Keras: `__init__` stores hyperparameters, `build(input_shape)` adds weights,
`call(inputs)` is written with ge.ops, `get_config` returns the constructor arguments.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from contextvars import ContextVar
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from graphengine import common, initializers, regularizers
from graphengine.graph.node import LayerCall, current_call, layer_call_scope
from graphengine.graph.tensor import SymbolicTensor, Variable, format_shape, graph_mode
from graphengine.ops.base import is_symbolic
from graphengine.tree import flatten, pack_like, shape_of, tensor_leaves

_BASE_KWARGS = (
    "name",
    "dtype",
    "trainable",
    "input_shape",
    "input_dim",
    "batch_size",
    "activity_regularizer",
)


class WeightAllowance:
    """How many more weight elements layers may create (while a file's model is rebuilt): a
    small config asking for a huge layer fails before the allocation, not after."""

    def __init__(self, elements: int, error: Callable[[str], Exception], source: str) -> None:
        self.left, self.error, self.source = elements, error, source

    def take(self, layer: str, name: str, shape: tuple) -> None:
        elements = math.prod(max(d, 0) for d in shape)
        if elements > self.left:
            raise self.error(
                f"layer '{layer}' asks for weight '{name}' of shape {shape} ({elements} "
                f"elements), but {self.source} hold only {self.left} more"
            )
        self.left -= elements


_ALLOWANCE: ContextVar[WeightAllowance | None] = ContextVar("weight_allowance", default=None)


@contextlib.contextmanager
def weight_allowance(
    elements: int, error: Callable[[str], Exception], source: str
) -> Iterator[None]:
    """Within the block, `add_weight` calls (of any layer) may create `elements` in all (what
    `source` holds); one asking for more raises `error(message)` before allocating anything."""
    token = _ALLOWANCE.set(WeightAllowance(elements, error, source))
    try:
        yield
    finally:
        _ALLOWANCE.reset(token)


class InputSpec:
    """What a layer accepts: rank bounds and fixed sizes on some axes; checked at every call."""

    def __init__(
        self,
        ndim: int | None = None,
        min_ndim: int | None = None,
        axes: dict[int, int] | None = None,
        dtype_kind: str | None = None,
    ) -> None:
        self.ndim, self.min_ndim, self.axes, self.dtype_kind = (
            ndim,
            min_ndim,
            axes or {},
            dtype_kind,
        )

    def check(self, layer: Layer, index: int, shape: tuple, dtype: str) -> None:
        """Raises a ValueError (rank, sizes) or TypeError (dtype kind) naming the layer, the
        input index, what was expected and the shape received."""
        where = f"Input {index} of layer '{layer.name}' ({type(layer).__name__}) is incompatible"
        if self.ndim is not None and len(shape) != self.ndim:
            raise ValueError(
                f"{where}: expected ndim={self.ndim}, received shape {format_shape(shape)} "
                f"(ndim={len(shape)})"
            )
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            raise ValueError(
                f"{where}: expected min_ndim={self.min_ndim}, received shape "
                f"{format_shape(shape)} (ndim={len(shape)})"
            )
        for axis, size in self.axes.items():
            if shape[axis] is not None and shape[axis] != size:
                raise ValueError(
                    f"{where}: expected axis {axis} of the input shape to have value "
                    f"{size}, received shape {format_shape(shape)}"
                )
        if self.dtype_kind and np.dtype(dtype).kind not in self.dtype_kind:
            raise TypeError(
                f"{where}: expected an input of kind {self.dtype_kind!r}, received dtype {dtype}"
            )


class SymbolicTraining:
    """The `training` a subclassed model's `call` receives while it is traced: the flag is
    decided each time the model runs (fit trains, predict infers), so it can be passed on to
    layers (`self.dropout(x, training=training)`) but not branched on in Python, where one
    trace would silently fix one branch for both."""

    def __bool__(self) -> bool:
        raise TypeError(
            "`training` inside a traced call() is symbolic: graphengine traces call() once and "
            "decides training when the model runs. Pass it on to layers "
            "(layer(x, training=training)) instead of branching on it in Python"
        )

    def __repr__(self) -> str:
        return "<symbolic training flag>"


TRACING = SymbolicTraining()


def _nested_values(value: Any) -> list:
    """`value` itself, or the items of a list, tuple or dict (one level: how layers are kept)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, dict):
        return list(value.values())
    return [value]


class Layer:
    """The base class of every layer: a callable unit with weights.

    Calling a layer on SymbolicTensors (`ge.Input`, or another layer's output) records a layer
    call in the graph and returns its symbolic outputs, their shapes inferred at once (an
    impossible graph raises a ValueError naming the layer and the shapes); calling it on NumPy
    arrays runs it now and returns arrays. The layer is built (its weights made) on its first
    call, from its input's shape. A layer called twice shares its weights.

    Subclass it as in Keras: store hyperparameters in `__init__`, make weights in
    `build(input_shape)` with `self.add_weight(...)`, compute in `call(inputs)` with `ge.ops`
    (so it differentiates), and return the constructor arguments from `get_config()`.

    Example:

    >>> class Scale(ge.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")
    ...     def call(self, inputs):
    ...         return ge.ops.multiply(inputs, self.scale)
    >>> Scale()(np.ones((2, 3), "float32"))
    array([[1., 1., 1.],
           [1., 1., 1.]], dtype=float32)

    Args:
        name: The layer's name, unique in a model (default: the class name in snake case with
            a counter, e.g. "dense_2").
        dtype: The dtype of its weights and computations (default "float32"; "float64" for
            gradient checks). Mixed-precision policies are not supported.
        trainable: Whether its weights are updated by training (settable later).
        input_shape: The input shape without the batch axis, on the first layer of a
            Sequential (Keras 2's spelling; `input_dim=n` is `input_shape=(n,)`).
        input_dim: See `input_shape`.
        batch_size: A fixed batch size for that input (stateful recurrent layers need one).
        activity_regularizer: A regularizer of the layer's outputs, added to the loss.
    """

    supports_masking = False  # whether an input mask passes through unchanged

    def __init__(
        self,
        name: str | None = None,
        dtype: Any = None,
        trainable: bool = True,
        input_shape: Sequence[int | None] | None = None,
        input_dim: int | None = None,
        batch_size: int | None = None,
        activity_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        valid = {
            p
            for cls in type(self).__mro__
            if "__init__" in vars(cls)
            for p in common.parameter_names(vars(cls)["__init__"])
        } | set(_BASE_KWARGS)
        common.check_kwargs(type(self).__name__, kwargs, valid)
        self.name = name or common.unique_name(common.snake_case(type(self).__name__))
        self.dtype = check_dtype(dtype or "float32", type(self).__name__)
        self._trainable = trainable
        self._weights: list[Variable] = []
        self._layers: list[Layer] = []
        self._calls: list[LayerCall] = []
        self._eager_losses: list[float] = []  # what add_loss received in the last eager call
        self._in_eager_call = False
        self.built = False
        self.input_spec: InputSpec | list[InputSpec] | None = None
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None
        self._batch_size_arg = batch_size

    def __setattr__(self, key: str, value: Any) -> None:
        """Layers assigned to attributes (alone, or in a list, tuple or dict) are tracked as
        Keras tracks them: their weights count among this layer's, so they train and save."""
        found = [v for v in _nested_values(value) if isinstance(v, Layer) and v is not self]
        if found and key != "_layers":
            if "_layers" not in self.__dict__:
                raise RuntimeError(
                    f"{type(self).__name__}: a layer was assigned to self.{key} before "
                    "super().__init__() ran; call super().__init__() first in __init__"
                )
            self._layers.extend(v for v in found if all(v is not t for t in self._layers))
        super().__setattr__(key, value)

    # -- weights -------------------------------------------------------------------------------
    def add_weight(
        self,
        *args: Any,
        shape: Sequence[int] | None = None,
        initializer: Any = None,
        dtype: Any = None,
        trainable: bool = True,
        autocast: bool = True,
        regularizer: Any = None,
        constraint: Any = None,
        aggregation: str = "none",
        overwrite_with_gradient: bool = False,
        name: str | None = None,
    ) -> Variable:
        """A new weight of the layer, as Keras 3's `add_weight`: `shape` (default a scalar) and
        up to `initializer` and `dtype` may come positionally, everything else by keyword;
        `initializer` defaults to glorot_uniform for floats and zeros otherwise, `name` to
        "variable" (numbered within the layer). Constraints and overwrite_with_gradient are
        not supported and raise."""
        owner = f"Layer '{self.name}'.add_weight"
        if len(args) > 3:
            raise TypeError(f"{owner} takes at most 3 positional arguments, {len(args)} given")
        if args and isinstance(args[0], str):
            raise ValueError(
                f"{owner}: `name` must be passed as a keyword argument (Keras 3); received "
                f"add_weight({args[0]!r}, ...), use add_weight(shape=..., name={args[0]!r})"
            )
        given = dict(zip(("shape", "initializer", "dtype"), args))
        for key in given:
            if {"shape": shape, "initializer": initializer, "dtype": dtype}[key] is not None:
                raise ValueError(f"{owner}: `{key}` was passed both positionally and by keyword")
        shape = given.get("shape", shape)
        initializer = given.get("initializer", initializer)
        dtype = check_dtype(given.get("dtype", dtype) or self.dtype, owner)
        if constraint is not None or overwrite_with_gradient:
            raise NotImplementedError(
                f"{owner}: weight constraints and overwrite_with_gradient are not supported"
            )
        if aggregation not in ("none", "mean", "sum", "only_first_replica", None):
            raise ValueError(
                f"{owner}: aggregation must be one of 'none', 'mean', 'sum', "
                f"'only_first_replica'; received {aggregation!r}"
            )
        if name is None:
            taken = {w.name for w in self._weights}
            name = next(
                n
                for n in ("variable", *(f"variable_{i}" for i in range(1, len(taken) + 2)))
                if n not in taken
            )
        shape = common.check_shape(() if shape is None else shape, "shape", owner)
        if any(d is None for d in shape):
            raise ValueError(f"{owner}: weight '{name}' needs a fully known shape, got {shape}")
        if initializer is None:
            initializer = "glorot_uniform" if np.dtype(dtype).kind == "f" else "zeros"
        allowance = _ALLOWANCE.get()
        if allowance is not None:
            allowance.take(self.name, name, shape)
        value = initializers.get(initializer)(shape, dtype)
        var = Variable(
            value,
            name=name,
            trainable=trainable,
            regularizer=regularizers.get(regularizer),
            path=f"{self.name}/{name}",
        )
        self._weights.append(var)
        return var

    def add_loss(self, loss: Any) -> None:
        """Adds `ops.sum(loss)` to the training loss, from inside `call` (Keras 3): auxiliary
        losses and activity regularization of custom layers. The tensors must be computed in
        the call (from its inputs or the weights); an eager call records the values in
        `layer.losses` instead."""
        from graphengine.ops import api

        call = current_call()
        # a subclassed model's own call() while it is traced has no call of its own around it
        own = getattr(self, "_traced_losses", None) if call is None else None
        for x in flatten(loss):
            if isinstance(x, SymbolicTensor) and (call is not None or own is not None):
                x = api.cast(x, "float32") if np.dtype(x.dtype).kind != "f" else x
                (call.losses if call is not None else own).append(api.sum(x) if x.shape else x)
            elif not isinstance(x, SymbolicTensor) and call is None and self._in_eager_call:
                self._eager_losses.append(float(np.sum(np.asarray(x, dtype=np.float64))))
            else:
                raise ValueError(
                    f"Layer '{self.name}'.add_loss can only be called from inside the layer's "
                    f"call(), on a tensor computed there; received {type(x).__name__}"
                )

    @property
    def weights(self) -> list[Variable]:
        """Every weight of the layer and its sublayers (trainable first within each layer), once
        each; `get_weights()` returns their values in this order."""
        seen: dict[int, Variable] = {}
        for w in self._weights + [w for layer in self._layers for w in layer.weights]:
            seen.setdefault(w.id, w)
        return list(seen.values())

    @property
    def trainable(self) -> bool:
        """Whether training updates this layer's weights; setting it also sets its sublayers'
        (a frozen layer's weights move to `non_trainable_weights`)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def trainable_weights(self) -> list[Variable]:
        """The weights training updates ([] when the layer is frozen)."""
        if not self._trainable:
            return []
        own = [w for w in self._weights if w.trainable]
        seen = {w.id: w for w in own}
        for layer in self._layers:
            for w in layer.trainable_weights:
                seen.setdefault(w.id, w)
        return list(seen.values())

    @property
    def non_trainable_weights(self) -> list[Variable]:
        """The weights training does not update (moving statistics, frozen weights)."""
        trainable = {w.id for w in self.trainable_weights}
        return [w for w in self.weights if w.id not in trainable]

    def get_weights(self) -> list[np.ndarray]:
        """The weights' values as NumPy arrays (copies), in `weights` order (Keras's layouts,
        e.g. Dense: [kernel (in, units), bias (units,)])."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Copies arrays into the weights in `get_weights()` order, checking count, shapes and
        dtypes (real numbers only) of every array before changing any weight."""
        mine = self.weights
        if not self.built and not mine:
            raise ValueError(
                f"Layer '{self.name}' has not been built yet: call it on an input "
                "(or build it) before set_weights"
            )
        weights = list(weights)
        if len(weights) != len(mine):
            raise ValueError(
                f"Layer '{self.name}' expects {len(mine)} weights "
                f"({', '.join(w.path for w in mine)}), but set_weights received "
                f"{len(weights)}"
            )
        arrays = [
            var.check_value(a, f"Layer '{self.name}' weight {i} ('{var.path}')", "set_weights")
            for i, (var, a) in enumerate(zip(mine, weights))
        ]
        for var, a in zip(mine, arrays):
            var.assign(a)

    def count_params(self) -> int:
        """The number of scalars in the layer's weights; a ValueError before it is built."""
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' has not been built yet, so its weights do not "
                "exist: call it on an input first"
            )
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    @property
    def losses(self) -> list[float]:
        """The values `add_loss` received in the last eager call, then the current
        regularization penalties of this layer's weights."""
        return list(self._eager_losses) + [
            float(w.regularizer(w.value)) for w in self.weights if w.regularizer is not None
        ]

    # -- the graph around the layer (Keras's layer.input / layer.output) ------------------------
    @property
    def input(self) -> Any:
        """The input tensor(s) of the layer's first symbolic call, as it was given (Keras: a
        shared layer's later calls are get_input_at(i))."""
        return self.get_input_at(0)

    @property
    def output(self) -> Any:
        """The output tensor(s) of the layer's first symbolic call, as it returned them."""
        return self.get_output_at(0)

    def get_input_at(self, node_index: int) -> Any:
        """The input tensor(s) of the layer's call number `node_index` (0 = the first)."""
        return self._call_at(node_index, "input").input_struct

    def get_output_at(self, node_index: int) -> Any:
        """The output tensor(s) of the layer's call number `node_index` (0 = the first)."""
        return self._call_at(node_index, "output").output_struct

    def _call_at(self, node_index: int, what: str) -> LayerCall:
        if not self._calls:
            raise AttributeError(
                f"Layer '{self.name}' has never been called on symbolic inputs and thus has no "
                f"defined {what}"
            )
        node_index = common.check_int(node_index, "node_index", f"Layer '{self.name}'")
        if node_index >= len(self._calls):
            raise ValueError(
                f"Asked to get {what} at node {node_index}, but layer '{self.name}' has only "
                f"{len(self._calls)} inbound node{'s' if len(self._calls) != 1 else ''}"
            )
        return self._calls[node_index]

    # -- building and calling ------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Makes the layer's weights for inputs of `input_shape` (the batch axis included, None
        where unknown); called once, by the first call. Override it to `add_weight`."""
        self.built = True

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """The layer's computation, written with `ge.ops` on `inputs` (SymbolicTensors while
        the graph is built); override it. It may take `training` (a flag, or symbolic in a
        traced model) and `mask`."""
        raise NotImplementedError(f"{type(self).__name__}.call")

    def _check_inputs(self, flat: list) -> None:
        specs = self.input_spec
        if specs is None:
            return
        specs = specs if isinstance(specs, list) else [specs] * len(flat)
        for i, (spec, x) in enumerate(zip(specs, flat)):
            spec.check(
                self, i, tuple(x.shape), x.dtype if isinstance(x, SymbolicTensor) else x.dtype.name
            )

    def _maybe_build(self, inputs: Any) -> None:
        if not self.built:
            self.build(shape_of(inputs))
            self.built = True

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Applies the layer: on SymbolicTensors it records a call in the graph and returns the
        symbolic outputs (building the layer first, checking its input spec, passing masks on);
        on arrays it runs at once and returns arrays. Keyword arguments go to `call`."""
        flat = flatten(inputs)
        if not any(is_symbolic(x) for x in flat):
            return self._call_eager(inputs, *args, **kwargs)
        for i, x in enumerate(flat):
            if not isinstance(x, SymbolicTensor):
                raise TypeError(
                    f"Layer '{self.name}': input {i} is a {type(x).__name__}, but the "
                    "other inputs are symbolic; pass SymbolicTensors (ge.Input) only"
                )
        self._check_inputs(flat)
        if kwargs.get("training", None) is TRACING:  # decided at run time: no fixed flag
            kwargs = {k: v for k, v in kwargs.items() if k != "training"}
        # tensors given as keywords (mask=...) are inputs of the call too, after the positional
        call = LayerCall(self, flat, inputs, kwargs, tensor_leaves(kwargs))
        masks = pack_like(inputs, [x.mask for x in flat])
        call_kwargs = self._call_kwargs(kwargs)
        if any(x.mask is not None for x in flat) and "mask" not in call_kwargs:
            call_kwargs.update(self._call_kwargs({"mask": masks}))
        with layer_call_scope(call), graph_mode():
            try:
                self._maybe_build(inputs)
                outputs = self.call(self._autocast(inputs), *args, **call_kwargs)
                out_masks = self.compute_mask(inputs, masks)
            except ValueError as e:
                raise _named(e, self) from None
            outputs = pack_like(outputs, [self._fresh(t, flat) for t in flatten(outputs)])
            if self.activity_regularizer is not None:
                call.losses += [self.activity_regularizer(t) for t in flatten(outputs)]
        call.outputs, call.output_struct = flatten(outputs), outputs
        out_masks = flatten(out_masks) if isinstance(out_masks, (list, tuple)) else [out_masks]
        for i, t in enumerate(call.outputs):
            t.layer_call = call
            t.name = call.name if len(call.outputs) == 1 else f"{call.name}:{i}"
            t.mask = out_masks[i] if i < len(out_masks) else None
        return outputs

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The output's mask (a float tensor, 1 for steps to keep, as Keras's boolean masks):
        layers with `supports_masking` pass their input's mask on, others drop it."""
        if not self.supports_masking:
            return None
        return flatten(mask)[0] if isinstance(mask, (list, tuple, dict)) else mask

    def _call_eager(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        inputs = pack_like(inputs, self._eager_arrays(flatten(inputs)))
        self._check_inputs(flatten(inputs))
        self._eager_losses, self._in_eager_call = [], True
        try:  # errors name the layer, as on symbolic calls
            self._maybe_build(inputs)
            return self.call(self._autocast(inputs), *args, **self._call_kwargs(kwargs))
        except ValueError as e:
            raise _named(e, self) from None
        finally:
            self._in_eager_call = False

    def _eager_arrays(self, flat: list) -> list:
        """The leaves of an eager call as arrays (Variables stay as they are), each of real
        numbers: objects, strings and complex numbers raise here, naming the layer and the
        input, rather than deep inside a kernel."""
        arrays = [x if isinstance(x, Variable) else np.asarray(x) for x in flat]
        for i, a in enumerate(arrays):
            if np.dtype(a.dtype).kind not in "biuf":
                raise TypeError(
                    f"Input {i} of layer '{self.name}' ({type(self).__name__}) has dtype "
                    f"{a.dtype}; layers take real numbers (bool, integer or float arrays)"
                )
        return arrays

    def _call_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """`training=` and `mask=` reach `call` only if it takes them, as in Keras."""
        params = inspect.signature(self.call).parameters
        takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
        return {
            k: v
            for k, v in kwargs.items()
            if k not in ("training", "mask") or k in params or takes_any
        }

    def _autocast(self, inputs: Any) -> Any:
        """Float inputs are cast to the layer's dtype, as Keras's autocasting does."""
        from graphengine.ops import api

        def cast(x: Any) -> Any:
            kind = np.dtype(x.dtype).kind
            return api.cast(x, self.dtype) if kind == "f" and x.dtype != self.dtype else x

        return pack_like(inputs, [cast(x) for x in flatten(inputs)])

    @staticmethod
    def _fresh(t: Any, inputs: list) -> SymbolicTensor:
        """A layer that returns an input unchanged still gets an output tensor of its own."""
        from graphengine.ops import api

        return api.identity(t) if t.node is None or any(t is x for x in inputs) else t

    # -- config --------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The layer's constructor arguments as a JSON-friendly dict (Keras's config): what
        `from_config` rebuilds it from, with fresh weights. Override it in a layer of your own
        whose `__init__` takes arguments, adding them to `super().get_config()`."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self._input_shape_arg is not None:
            config["input_shape"] = list(self._input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """A new layer made from `get_config()`'s dict (weights fresh from the initializers)."""
        return cls(**config)

    def get_build_config(self) -> dict[str, Any] | None:
        """What a loaded layer needs to build before its weights are assigned, beyond its
        config (Keras 3's build config); None: building happens on the first call."""
        return None

    def build_from_config(self, config: dict[str, Any]) -> None:
        """Builds the layer from what `get_build_config` returned."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


SUPPORTED_DTYPES = ("float32", "float64", "int32", "int64", "uint8", "int8", "int16", "bool")


def check_dtype(dtype: Any, owner: str) -> str:
    """The dtype's name, or TypeError for what the kernels do not run (float16, complex...)."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"{owner}: {dtype!r} is not a dtype") from None
    if name not in SUPPORTED_DTYPES:
        raise TypeError(
            f"{owner}: dtype {name} is not supported; use float32 or float64 (or an "
            f"integer type for ids): {', '.join(SUPPORTED_DTYPES)}"
        )
    return name


def _named(error: ValueError, layer: Layer) -> ValueError:
    """Prefixes an error from inside a layer call with the layer, once."""
    msg = str(error)
    if f"'{layer.name}'" in msg:
        return error
    return type(error)(f"Layer '{layer.name}' ({type(layer).__name__}): {msg}")
