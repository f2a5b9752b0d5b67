"""Model (the functional API) and Sequential: a graph of layer calls that is itself a layer,
runs through compiled plans, and gives vector-Jacobian products through the backward graph."""

from __future__ import annotations

import inspect
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from graphengine import common
from graphengine.autodiff.backward import backward_digraph, gradients, is_differentiable
from graphengine.graph.graph import LayerGraph, layers_in_order
from graphengine.graph.node import LayerCall
from graphengine.graph.tensor import STRING, SymbolicTensor, as_strings, format_shape, graph_mode
from graphengine.layers.base import TRACING, InputSpec, Layer, check_dtype
from graphengine.layers.serialization import register_layer_class
from graphengine.ops.base import RunContext, apply, extent_size, is_symbolic
from graphengine.runtime.cache import PlanCache
from graphengine.runtime.devices import get_device
from graphengine.runtime.plan import Plan, concrete_specs, extent_feeds, forward_order
from graphengine.training import data, model_config, saving, whole_batch
from graphengine.training.trainer import Trainer
from graphengine.tree import flatten, map_tensors, pack_like

if TYPE_CHECKING:
    import networkx as nx


class Model(Trainer, Layer):
    """A model grouping layers into an object with training and inference features.

    There are two ways to instantiate a `Model`:

    1. With the "Functional API": start from `ge.Input`, chain layer calls to specify the
       model's forward pass, and create the model from inputs and outputs (each a tensor, a list
       or a dict):

       ```python
       inputs = ge.Input(shape=(37,))
       x = ge.layers.Dense(32, activation="relu")(inputs)
       outputs = ge.layers.Dense(5, activation="softmax")(x)
       model = ge.Model(inputs=inputs, outputs=outputs)
       ```

    2. By subclassing the `Model` class: define your layers in `__init__()` and the forward pass
       in `call(inputs, training=None)`:

       ```python
       class MyModel(ge.Model):
           def __init__(self, **kwargs):
               super().__init__(**kwargs)
               self.dense1 = ge.layers.Dense(32, activation="relu")
               self.dense2 = ge.layers.Dense(5, activation="softmax")

           def call(self, inputs, training=None):
               return self.dense2(self.dense1(inputs))
       ```

       A subclassed model is still a static graph: `call` is traced once on symbolic inputs, with
       the shapes of the first data (or of `model.build((None, 37))`), with `training` a symbolic
       flag that layers receive and Python may not branch on; the model then compiles, trains,
       prints its summary, plots and saves like a functional one.

    A model is compiled per input shape into a plan over preallocated buffers and runs on Numba
    kernels (CPU, or CUDA with `compile(device="cuda")`). Beyond Keras: `model.graph` (the forward
    graph, a networkx DiGraph), `model.backward_graph`, `model.vjp(x, dy)` (vector-Jacobian
    products), `model.profile(x, y)` and `model.export("m.onnx")`.

    Args:
        inputs: The model's input tensor(s) (`ge.Input`): a tensor, a list or a dict.
        outputs: The model's output tensor(s), computed from `inputs`: a tensor, a list or a dict.
        name: The model's name (default "functional", or the subclass's name in snake case).
        **kwargs: Standard layer keyword arguments (`trainable`, `dtype`).
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Model:
        model = super().__new__(cls)
        model._init_arguments = (args, kwargs)  # a subclass's config, unless it writes its own
        return model

    def __init__(
        self, inputs: Any = None, outputs: Any = None, name: str | None = None, **kwargs: Any
    ) -> None:
        if name is None:  # a subclass is named after its class, as Keras names it
            base = common.snake_case(type(self).__name__) if self._is_subclassed() else None
            name = common.unique_name(base or self._default_name())
        super().__init__(name=name, **kwargs)
        self._plans = PlanCache()
        # (input signature, training, device, plan key) of the last eager forward call
        self._last_forward: tuple | None = None
        self._vjp_programs: dict[tuple, tuple] = {}
        self._backward_graph: nx.DiGraph | None = None
        self.device_name: str | None = None
        # the inputs whose values size an output axis (graph ids), and what makes the model run
        # each data set whole (an op relating rows by index; None: batches as usual)
        self._extent_inputs: tuple[int, ...] = ()
        self._whole_batch: str | None = None
        if inputs is not None or outputs is not None:
            self._init_graph(inputs, outputs)

    @staticmethod
    def _default_name() -> str:
        return "functional"

    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        self._inputs_struct, self._outputs_struct = inputs, outputs
        self.inputs: list[SymbolicTensor] = flatten(inputs)
        self.outputs: list[SymbolicTensor] = flatten(outputs)
        self._layer_graph = LayerGraph(self.inputs, self.outputs, self.name)
        self._sites = self._layer_graph.ordered_sites()
        self._forward_order = forward_order(self.inputs, self.outputs)
        self._extent_inputs = extent_feeds(self._forward_order, self.inputs)
        self._whole_batch = whole_batch.row_mixer(self._forward_order, self.inputs)
        self._layers = layers_in_order(self._sites, self.outputs)
        self.input_spec = [
            InputSpec(
                ndim=len(t.shape),
                axes={i: d for i, d in enumerate(t.shape) if d is not None and i > 0},
            )
            for t in self.inputs
        ]
        self._forget_plans()
        self._vjp_programs.clear()
        self._backward_graph = None
        self.built = True
        self._finish_compile()  # a compile() made before the graph existed

    def _require_graph(self) -> None:
        if not self.built:
            if self._is_subclassed():
                raise ValueError(
                    f"Model '{self.name}' ({type(self).__name__}) has not been built yet: call "
                    "it on a batch of data, or build(input_shape), so that call() is traced"
                )
            raise ValueError(f"Model '{self.name}' has no graph yet")

    # -- subclassed models -----------------------------------------------------------------------
    def _is_subclassed(self) -> bool:
        """Whether a subclass wrote its own `call` (its graph comes from tracing it)."""
        return type(self).call is not Model.call

    def build(self, input_shape: Any = None) -> None:
        """Traces a subclassed model's `call` for inputs of `input_shape` (the batch axis
        included, as Keras's `model.build((None, 16))`; a list or dict of shapes for several
        inputs). A functional model is built by its constructor."""
        if self.built or not self._is_subclassed():
            return
        if input_shape is None:
            raise ValueError(
                f"Model '{self.name}'.build needs the input shape, e.g. build((None, 16))"
            )
        owner = f"Model '{self.name}'.build"

        def spec(shape: Any) -> InputSignature:
            return InputSignature(common.check_shape(shape, "input_shape", owner), self.dtype)

        if isinstance(input_shape, dict):
            self._trace({k: spec(v) for k, v in input_shape.items()})
        elif input_shape and all(isinstance(d, (list, tuple)) for d in input_shape):
            self._trace([spec(v) for v in input_shape])
        else:
            self._trace(spec(input_shape))

    def _build_from_data(self, x: Any) -> None:
        """A subclassed model not yet built traces `call` for the structure, shapes (batch axis
        free) and dtypes of its first data: floats in the model's dtype, integers as given."""
        if self.built or not self._is_subclassed() or x is None:
            return
        arrays = data.leaf_arrays(x, f"Model '{self.name}': input")
        self._trace(
            pack_like(
                arrays,
                [
                    InputSignature(a.shape, self.dtype if a.dtype.kind == "f" else a.dtype.name)
                    for a in flatten(arrays)
                ],
            )
        )

    def _trace(self, signature: Any) -> None:
        """Calls `call` on placeholders of `signature` (InputSignatures in the inputs' nesting)
        and keeps the graph it records. `training` is passed as a symbolic flag: layers decide
        it when the model runs."""
        from graphengine.layers.core import Input

        flat = flatten(signature)
        inputs = pack_like(
            signature,
            [Input(batch_shape=(None,) + tuple(s.shape[1:]), dtype=s.dtype) for s in flat],
        )
        takes = common.parameter_names(self.call)
        kwargs = {"training": TRACING} if "training" in takes else {}
        self._traced_losses = []  # what call() gives add_loss itself: terms of the training loss
        with graph_mode():
            try:
                outputs = self.call(inputs, **kwargs)
            except ValueError as e:
                raise ValueError(f"Model '{self.name}' ({type(self).__name__}).call: {e}") from None
        bad = [type(o).__name__ for o in flatten(outputs) if not isinstance(o, SymbolicTensor)]
        if bad or not flatten(outputs):
            raise TypeError(
                f"Model '{self.name}' ({type(self).__name__}).call must return tensors computed "
                f"from its inputs with layers and ge.ops; it returned {bad or 'nothing'}"
            )
        self._signature = signature
        self._init_graph(inputs, outputs)

    def get_build_config(self) -> dict[str, Any] | None:
        """What rebuilds a traced subclassed model on load: its input signature."""
        if not (self._is_subclassed() and self.built):
            return None
        return {
            "inputs": map_structure(
                lambda s: {"shape": list(s.shape), "dtype": s.dtype}, self._signature
            )
        }

    def build_from_config(self, config: dict[str, Any]) -> None:
        spec = config["inputs"]

        def leaf(entry: Any) -> bool:
            return isinstance(entry, dict) and set(entry) == {"shape", "dtype"}

        def signature(entry: Any) -> Any:
            if leaf(entry):
                shape = common.check_shape(entry["shape"], "shape", f"Model '{self.name}'")
                return InputSignature(shape, check_dtype(entry["dtype"], f"Model '{self.name}'"))
            if isinstance(entry, dict):
                return {k: signature(v) for k, v in entry.items()}
            if isinstance(entry, list):
                return [signature(v) for v in entry]
            raise ValueError(f"Model '{self.name}': build config entry {entry!r} is not a shape")

        self._trace(signature(spec))

    def _autocast(self, inputs: Any) -> Any:
        return inputs  # the model's layers cast for themselves

    # -- structure -----------------------------------------------------------------------------
    @property
    def graph(self) -> nx.DiGraph:
        """The forward graph: one node per layer call site, edges carrying tensors."""
        self._require_graph()
        return self._layer_graph.digraph

    @property
    def layers(self) -> list[Layer]:
        """The layers in Keras's order; a subclassed model lists the layers its call used, not
        the input layers its tracing made (as Keras lists the layers it tracks)."""
        if self._is_subclassed():
            from graphengine.layers.core import InputLayer

            return [layer for layer in self._layers if not isinstance(layer, InputLayer)]
        return list(self._layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called `name`, or the one at `index` in `model.layers` (Keras 3: exactly
        one of the two)."""
        layers = self.layers
        if (name is None) == (index is None):
            raise ValueError(
                f"Model '{self.name}'.get_layer: give either a layer name or a layer index, not "
                f"{'both' if name is not None else 'neither'}; received {name=}, {index=}"
            )
        if index is not None:
            owner = f"Model '{self.name}'.get_layer"
            index = common.check_int(index, "index", owner, minimum=-len(layers))
            if index >= len(layers):
                raise ValueError(
                    f"Model '{self.name}'.get_layer: asked for the layer at index {index}, but "
                    f"the model has only {len(layers)} layers"
                )
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"Model '{self.name}' has no layer named {name!r}; layers: "
            f"{', '.join(layer.name for layer in layers)}"
        )

    @property
    def input(self) -> Any:
        """The model's input tensor(s), as given to its constructor (one tensor for one input):
        with `output` and `get_layer(...).output`, the feature-extraction idiom
        `ge.Model(base.input, base.get_layer("block3").output)`."""
        return self._own_structure("input")

    @property
    def output(self) -> Any:
        """The model's output tensor(s), as given to its constructor (one tensor for one)."""
        return self._own_structure("output")

    def _own_structure(self, what: str) -> Any:
        if not self.built:
            raise AttributeError(
                f"Model '{self.name}' has no graph yet and thus no defined {what} (give it an "
                "Input, or call it on data first)"
            )
        struct = self._inputs_struct if what == "input" else self._outputs_struct
        flat = flatten(struct)
        return flat[0] if len(flat) == 1 else struct

    @property
    def input_names(self) -> list[str]:
        """The names of the model's Input tensors, in order."""
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        """The keys of a dict of outputs, else the names of the layers producing them."""
        if isinstance(self._outputs_struct, dict):
            return sorted(self._outputs_struct)  # the order of self.outputs (flatten sorts)
        return [t.layer_call.layer.name if t.layer_call else t.name for t in self.outputs]

    def summary(
        self,
        line_length: int | None = None,
        positions: Any = None,
        print_fn: Any = None,
        expand_nested: bool = False,
        show_trainable: bool = False,
    ) -> None:
        """Prints a string summary of the network: Keras's table of layers, output shapes,
        parameter counts and, for functional models, the layers each one is connected to; then
        the totals (trainable and non-trainable).

        Args:
            line_length: Total width of the table in characters (None: Keras's width, narrowed
                to fit the terminal).
            positions: Relative or absolute right edges of the columns (Keras's argument).
            print_fn: A function called with each line (default `print`).
            expand_nested: Whether to expand nested models into their layers.
            show_trainable: Whether to add a column saying whether each layer trains."""
        from graphengine.viz.summary import summary

        summary(
            self,
            line_length=line_length,
            positions=positions,
            print_fn=print_fn,
            expand_nested=expand_nested,
            show_trainable=show_trainable,
        )

    def to_dot(self, **kwargs: Any) -> str:
        """DOT text of the picture `ge.plot_model` draws (same keyword arguments)."""
        from graphengine.viz.plot import model_to_dot

        return model_to_dot(self, **kwargs)

    def profile(self, x: Any, y: Any = None, repeats: int = 5, expand_nested: bool = False) -> Any:
        """Times each step of one training step (inference without y) per layer; the result
        prints as a table and colours `ge.plot_model(..., profile=...)`."""
        from graphengine.viz.profile import profile_model

        return profile_model(self, x, y, repeats, expand_nested)

    # -- calling -------------------------------------------------------------------------------
    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """Re-applies every call site to new symbolic inputs (a model used as a layer)."""

        def call_site(site: LayerCall, args: Any, kwargs: dict[str, Any]) -> Any:
            if training is not None and "training" not in kwargs:
                kwargs["training"] = training  # the outer call's flag reaches every layer
            return site.layer(args, **kwargs)

        return self._replay(self._feed_list(inputs), call_site)

    def _replay(
        self, feeds: Sequence[Any], call_site: Callable[[LayerCall, Any, dict], Any]
    ) -> Any:
        """The graph applied again to `feeds` (one per model input, in `self.inputs` order):
        each layer call site through `call_site(site, args, kwargs)` (its tensors replaced by
        the new ones), each bare op applied again; the outputs nested as the model's."""
        values: dict[SymbolicTensor, Any] = dict(zip(self.inputs, feeds))
        for site in self._sites:
            if isinstance(site, LayerCall):
                if not site.inputs:
                    continue  # an InputLayer: its value is fed
                args = pack_like(site.input_struct, [values[t] for t in site.inputs[: site.n_args]])
                kwargs = map_tensors(site.kwargs, lambda t: values.get(t, t))
                out = flatten(call_site(site, args, kwargs))
                if len(out) != len(site.outputs):
                    raise ValueError(
                        f"Model '{self.name}': applied again, the call of layer "
                        f"'{site.layer.name}' gave {len(out)} outputs, the original call "
                        f"{len(site.outputs)}"
                    )
            else:
                out = flatten(apply(site.op, *[values.get(t, t) for t in site.inputs]))
            values.update(zip(site.outputs, out))
        return pack_like(self._outputs_struct, [values[t] for t in self.outputs])

    def __call__(self, inputs: Any, *args: Any, training: Any = None, **kwargs: Any) -> Any:
        """On arrays: runs the model now (through its compiled plan) and returns NumPy arrays,
        in training mode only with `training=True`. On SymbolicTensors: calls the model as a
        layer inside another model (nested models), its weights shared."""
        if type(inputs) is not np.ndarray and any(is_symbolic(x) for x in flatten(inputs)):
            if training is not None:  # a fixed flag for this call's layers (Keras semantics)
                kwargs["training"] = training
            return super().__call__(inputs, *args, **kwargs)
        outputs = self._forward(inputs, bool(training), self._checked)  # may build the model
        return pack_like(self._outputs_struct, outputs)

    def _checked(self, inputs: Any) -> list[np.ndarray]:
        """`inputs` of an eager call, flattened and validated (shapes, numeric dtypes), taken as
        fit takes them (training/data.py: pandas, nested lists, a rank off by a last axis of 1)."""
        return data.input_arrays(self, inputs)

    def _feed_list(self, inputs: Any) -> list:
        """Inputs as a flat list in `self.inputs` order (from one array, a list or a dict)."""
        return match_structure(inputs, self._inputs_struct, self.input_names, self.name, "input")

    def _check_arrays(
        self,
        arrays: Sequence[Any],
        tensors: Sequence[SymbolicTensor],
        what: str = "input",
        samples: bool = False,
    ) -> list[np.ndarray]:
        """The arrays, checked against the tensors' dtypes and shapes; with `samples` (a data
        set for fit, evaluate, predict) the first axis counts samples, so a fixed batch size
        (a stateful model's) is checked per batch, not here."""
        skip = 1 if samples else 0
        checked = []
        for i, (a, t) in enumerate(zip(arrays, tensors)):
            a = np.asarray(a)
            if t.dtype == STRING:
                a = as_strings(a, f"Model '{self.name}': {what} {i} ('{t.name}')")
            elif a.dtype.kind not in "biuf":
                raise TypeError(
                    f"Model '{self.name}': {what} {i} ('{t.name}') must be numeric, "
                    f"received dtype {a.dtype}"
                )
            if a.ndim != len(t.shape) or any(
                d is not None and d != n for d, n in zip(t.shape[skip:], a.shape[skip:])
            ):
                raise ValueError(
                    f"Model '{self.name}': {what} {i} ('{t.name}') expects shape "
                    f"{format_shape(t.shape)}, received an array of shape "
                    f"{format_shape(a.shape)}"
                )
            checked.append(a)
        return checked

    def _plan(
        self,
        key: tuple,
        feeds: list,
        targets: list,
        shapes: list,
        training: bool,
        on_create: Any = None,
        sizes: tuple[int, ...] = (),
    ) -> AbstractContextManager[Plan]:
        """`with self._plan(...) as plan:` a plan for (device, training, feed shapes, key) that
        no other caller runs meanwhile, compiled on first use (see PlanCache)."""
        return self._plans.lend(
            *self._plan_source(key, feeds, targets, shapes, training, on_create, sizes)
        )

    def _plan_source(
        self,
        key: tuple,
        feeds: list,
        targets: list,
        shapes: list,
        training: bool,
        on_create: Any = None,
        sizes: tuple[int, ...] = (),
    ) -> tuple[tuple, Callable[[], Plan]]:
        """The plan cache key for (device, training, feed shapes, key, `sizes`: the extents of
        `_extent_sizes`) and how to build it."""
        device = get_device(self.device_name)
        shapes = [tuple(s) for s in shapes]
        extents = self._extents(sizes)

        def build() -> Plan:
            rng = np.random.default_rng(common.rng().integers(2**63))
            ctx = RunContext(training=training, rng=rng)
            plan = Plan(feeds, targets, shapes, device, ctx, extents)
            if on_create is not None:
                on_create(plan)
            return plan

        return (device.name, training, tuple(shapes)) + key + ((sizes,) if sizes else ()), build

    def _extent_sizes(self, arrays: Sequence[Any], rows: Any = None) -> tuple[int, ...]:
        """max(id) + 1 of each input whose values size an output axis (a graph-id input), from
        `arrays` (one per model input; their `rows` when given): part of the plan's key."""
        return tuple(
            extent_size(
                np.asarray(arrays[i] if rows is None else arrays[i][rows]),
                f"Model '{self.name}': input {i} ('{self.inputs[i].name}')",
            )
            for i in self._extent_inputs
        )

    def _extents(self, sizes: Sequence[int]) -> dict[SymbolicTensor, int]:
        """The sizes of `_extent_sizes` by input tensor, as concrete_specs and Plan take them."""
        return dict(zip([self.inputs[i] for i in self._extent_inputs], sizes))

    def _forget_plans(self) -> None:
        self._plans.clear()
        self._last_forward = None

    def _forward(
        self, inputs: Any, training: bool, check: Callable[[Any], list[np.ndarray]]
    ) -> list[np.ndarray]:
        """The outputs for `inputs` (fresh host arrays), after `check` validates and flattens
        them. A call repeating the last one's signature (NumPy arrays of the same shapes and
        dtypes, one per model input; the same training flag and device) skips `check` and goes
        straight to the plan cache: its inputs pass the same checks and map to the same key. The
        plan casts while copying them in, as `check`'s conversions would have."""
        sig = _signature(inputs)
        last = self._last_forward
        if (
            sig is not None
            and last is not None
            and last[0] == sig
            and last[1] is training
            and get_device(self.device_name).name == last[2][0]
        ):
            arrays = (inputs,) if type(inputs) is np.ndarray else inputs
            return self._run_source(last[2], last[3], arrays)
        arrays = check(inputs)
        source = self._forward_source(self.outputs, arrays, training)
        if (
            sig is not None
            and len(sig) == len(self.inputs)
            and isinstance(training, bool)
            and all(a.shape == s[0] for a, s in zip(arrays, sig))  # not when a rank was adjusted
            and not self._extent_inputs  # the plan depends on the ids' values too
        ):
            self._last_forward = (sig, training, *source)
        return self._run_source(*source, arrays)

    def _forward_source(
        self, targets: list, arrays: Sequence[Any], training: bool
    ) -> tuple[tuple, Callable[[], Plan]]:
        return self._plan_source(
            ("forward", tuple(t.id for t in targets)),
            self.inputs,
            targets,
            [a.shape for a in arrays],
            training,
            sizes=self._extent_sizes(arrays) if self._extent_inputs else (),
        )

    def _run(
        self, targets: list, arrays: list, training: bool, checked: bool = False
    ) -> list[np.ndarray]:
        """Runs the forward plan for these input arrays (validated here unless `checked`)."""
        self._require_graph()
        if not checked:
            arrays = self._check_arrays(arrays, self.inputs)
        return self._run_source(*self._forward_source(targets, arrays, training), arrays)

    def _run_source(self, key: tuple, build: Callable[[], Plan], arrays: Any) -> list[np.ndarray]:
        plan, idle = self._plans.take(key, build)
        try:
            return [plan.device.to_host(b) for b in plan.run(arrays)]
        finally:
            self._plans.give(plan, idle)

    # -- gradients -----------------------------------------------------------------------------
    def _vjp_program(self) -> tuple:
        wrt_weights = self.trainable_weights
        key = tuple(w.id for w in wrt_weights)
        if key not in self._vjp_programs:
            cotangents = [
                SymbolicTensor(t.shape, t.dtype, name=f"cotangent_{i}")
                for i, t in enumerate(self.outputs)
            ]
            wrt = self.inputs + wrt_weights
            grads = gradients(self.outputs, cotangents, wrt)
            self._vjp_programs[key] = (cotangents, wrt_weights, grads)
        return self._vjp_programs[key]

    @property
    def backward_graph(self) -> nx.DiGraph:
        """The graph the backward pass built (for the latest vjp or training program)."""
        if self._backward_graph is None:
            self._backward_graph = backward_digraph(self._vjp_program()[2])
        return self._backward_graph

    def vjp(self, inputs: Any, output_cotangents: Any, training: bool = False) -> tuple[list, list]:
        """Runs forward and backward once: `dx` (one per model input, None for integer inputs)
        and `dw` (one per trainable weight) for the cotangents of the outputs."""
        self._require_graph()
        cotangents, weights, grads = self._vjp_program()
        xs = self._check_arrays(self._feed_list(inputs), self.inputs)
        cots = match_structure(
            output_cotangents, self._outputs_struct, self.output_names, self.name, "cotangent"
        )
        cots = [np.asarray(c, dtype=t.dtype) for c, t in zip(cots, self.outputs)]
        targets = [g for g in grads if g is not None]
        sizes = self._extent_sizes(xs)
        specs = concrete_specs(
            self._forward_order, self.inputs, [x.shape for x in xs], (), self._extents(sizes)
        )
        for i, (t, c) in enumerate(zip(self.outputs, cots)):
            if specs[t][0] != c.shape:
                raise ValueError(
                    f"Model '{self.name}': cotangent {i} must have the shape of output "
                    f"{i} ('{self.output_names[i]}'), {format_shape(specs[t][0])}, "
                    f"but has shape {format_shape(c.shape)}"
                )
        with self._plan(
            ("vjp", tuple(t.id for t in targets)),
            self.inputs + cotangents,
            targets,
            [a.shape for a in xs + cots],
            training,
            sizes=sizes,
        ) as plan:
            values = iter([plan.device.to_host(b) for b in plan.run(xs + cots)])
        wrt = self.inputs + weights
        result = [
            next(values)
            if g is not None
            else (
                np.zeros(x.shape if i < len(xs) else t.shape, t.dtype)
                if is_differentiable(t)
                else None
            )
            for i, (t, g, x) in enumerate(zip(wrt, grads, xs + [None] * len(weights)))
        ]
        return result[: len(self.inputs)], result[len(self.inputs) :]

    def get_config(self) -> dict[str, Any]:
        """The whole graph: layer configs and call sites (see training/model_config.py). A
        subclassed model gives its constructor's arguments instead (as Keras 3 captures them),
        when they are plain values; otherwise it must write its own get_config to be saved."""
        if self._is_subclassed():
            return self._constructor_config()
        self._require_graph()
        return model_config.functional_config(self)

    def _constructor_config(self) -> dict[str, Any]:
        args, kwargs = self._init_arguments
        try:
            bound = inspect.signature(type(self).__init__).bind(self, *args, **kwargs)
        except TypeError:
            bound = None
        arguments = dict(bound.arguments) if bound is not None else {}
        arguments.pop("self", None)
        for name, p in inspect.signature(type(self).__init__).parameters.items():
            if p.kind == p.VAR_KEYWORD:
                arguments.update(arguments.pop(name, {}))
            elif p.kind == p.VAR_POSITIONAL and arguments.get(name):
                bound = None
        if bound is None or not all(_plain(v) for v in arguments.values()):
            raise NotImplementedError(
                f"Model '{self.name}' ({type(self).__name__}) takes constructor arguments that "
                "are not plain values (numbers, strings, lists, dicts): write its get_config() "
                "(and from_config() if needed) to save it, as Keras asks"
            )
        return {**Layer.get_config(self), **arguments}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        if cls.call is not Model.call:
            return cls(**config)
        return model_config.functional_from_config(cls, config)

    def to_json(self, **kwargs: Any) -> str:
        """The model's config (architecture, no weights) as JSON text, `kwargs` going to
        json.dumps; `ge.models.model_from_json` rebuilds it."""
        return model_config.model_to_json(self, **kwargs)

    def save(self, filepath: str) -> None:
        """Saves the model (architecture, weights, compile settings, optimizer state) to one file.

        The suffix picks the format: `.gez`, graphengine's own (a zip of config.json and .npy
        arrays, read back by `ge.models.load_model`), or `.keras`, a Keras 3 archive that
        `keras.saving.load_model` loads (architecture and weights; no optimizer state). Any
        other suffix raises a ValueError naming the supported ones. The file is written
        atomically, so an interrupted save keeps the old file.

        Args:
            filepath: Where to write, ending in `.gez` or `.keras`.
        """
        saving.save_model(self, filepath)

    def save_weights(self, filepath: str) -> None:
        """Saves the weights alone: `.gez` (ours) or `.weights.h5` (Keras 3's layout)."""
        saving.save_weights(self, filepath)

    def load_weights(self, filepath: str) -> None:
        """Loads weights saved by `save_weights` or `save` of a model of the same architecture:
        `.gez`, or Keras's `.weights.h5`, `.h5` and `.keras` files."""
        saving.load_weights(self, filepath)

    def export(self, filepath: str, format: str = "onnx", verbose: bool | None = None) -> None:
        """Writes the inference graph as an artifact for serving; Keras 3's signature, with
        "onnx" the one format (graphengine.training.onnx_export; needs the `onnx` package)."""
        from graphengine.training.onnx_export import export_model

        export_model(self, filepath, format, True if verbose is None else verbose)


class Sequential(Model):
    """`Sequential` groups a linear stack of layers into a `Model`.

    The graph is built as soon as the input shape is known: from a `ge.Input` given first,
    `input_shape` / `input_dim` on the first layer (Keras 2's spelling), or the first data
    (`fit`, `model(x)`, `build`). Until then `summary()` lists the layers with unknown shapes.

    Example:

    >>> model = ge.Sequential(name="mlp")
    >>> model.add(ge.Input(shape=(16,)))
    >>> model.add(ge.layers.Dense(8, activation="relu"))
    >>> model.add(ge.layers.Dense(4))
    >>> model.output.shape, len(model.weights)
    ((None, 4), 4)
    >>> _ = model.pop()  # removes the last layer
    >>> model.output.shape
    (None, 8)

    Args:
        layers: Optional list of layers to add to the model (a `ge.Input` may come first).
        name: Optional name for the model (default "sequential").
        **kwargs: Standard layer keyword arguments (`trainable`, `dtype`).
    """

    def __init__(
        self, layers: Sequence[Any] | None = None, name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        self._stack: list[Layer] = []
        self._input: SymbolicTensor | None = None
        for layer in layers or ():
            self.add(layer, rebuild=False)
        self._maybe_build_graph()

    @staticmethod
    def _default_name() -> str:
        return "sequential"

    def add(self, layer: Any, rebuild: bool = True) -> None:
        """Puts `layer` on top of the stack. First in the stack may also come a `ge.Input`
        tensor or an InputLayer (the model's input), or a built model, whose input shape the
        Sequential takes (`Sequential([base_model, Dense(1)])`, the GAN's `add(G); add(D)`)."""
        from graphengine.layers.core import InputLayer

        if isinstance(layer, SymbolicTensor) and isinstance(
            getattr(layer.layer_call, "layer", None), InputLayer
        ):
            layer = layer.layer_call.layer
        if isinstance(layer, InputLayer):
            if self._stack or self._input is not None:
                raise ValueError(
                    f"Sequential '{self.name}': an input (ge.Input or InputLayer "
                    f"'{layer.name}') can only come first, before any layer"
                )
            self._input = layer.output
        elif isinstance(layer, Layer):
            if layer in self._stack:
                raise ValueError(
                    f"Sequential '{self.name}': layer '{layer.name}' is already in the model"
                )
            if any(other.name == layer.name for other in self._stack):
                raise ValueError(
                    f"Sequential '{self.name}': all layers must have unique names, and "
                    f"'{layer.name}' is already the name of a layer in the model"
                )
            self._stack.append(layer)
        else:
            raise TypeError(
                f"Sequential '{self.name}'.add expects a Layer or a ge.Input, got "
                f"{type(layer).__name__}"
            )
        self._unbuild()
        if rebuild:
            self._maybe_build_graph()

    def pop(self, rebuild: bool = True) -> Layer:
        """Removes the last layer and returns it (Keras 3); the model is rebuilt without it."""
        if not self._stack:
            raise IndexError(f"Sequential '{self.name}'.pop: the model has no layers to remove")
        layer = self._stack.pop()
        self._forget_calls()
        self._unbuild()
        if rebuild:
            self._maybe_build_graph()
        return layer

    def build(self, input_shape: Any = None) -> None:
        """Builds the graph for inputs of `input_shape` (with the batch axis, as Keras's
        `model.build((None, 16))`)."""
        if not self._stack:
            raise ValueError(
                f"Sequential '{self.name}' cannot be built because it has no layers; call "
                "model.add(layer) first"
            )
        shape = common.check_shape(input_shape, "input_shape", f"Sequential '{self.name}'")
        if self._input is not None:
            if tuple(self._input.shape) != shape:
                raise ValueError(
                    f"Sequential '{self.name}' has already been configured to use input shape "
                    f"{format_shape(self._input.shape)}; it cannot be built with input shape "
                    f"{format_shape(shape)}"
                )
            if not self.built:
                self._maybe_build_graph()
            return
        self._maybe_build_graph(shape)

    def _unbuild(self) -> None:
        self.built = False
        self._layers = list(self._stack)  # weights of layers already built count meanwhile
        self._forget_plans()

    def _maybe_build_graph(
        self, batch_shape: tuple | None = None, dtype: str | None = None
    ) -> None:
        from graphengine.layers.core import Input

        if not self._stack:
            return
        x = self._input
        if x is None:
            first = self._stack[0]
            if first._input_shape_arg is not None:
                x = Input(
                    shape=first._input_shape_arg,
                    batch_size=first._batch_size_arg,
                    dtype=first.dtype,
                )
            elif isinstance(first, Model) and first.built and len(first.inputs) == 1:
                x = Input(batch_shape=first.inputs[0].shape, dtype=first.inputs[0].dtype)
            elif batch_shape is not None:
                x = Input(batch_shape=(None,) + tuple(batch_shape[1:]), dtype=dtype)
            else:
                return
            self._input = x
        self._forget_calls()
        y = x
        for layer in self._stack:
            y = layer(y)
        self._init_graph(x, y)

    def _forget_calls(self) -> None:
        """Drops the calls of a previous build so rebuilt layers are not seen as shared."""
        for site in getattr(self, "_sites", []):
            if isinstance(site, LayerCall) and site.inputs and site in site.layer._calls:
                site.layer._calls.remove(site)

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def get_config(self) -> dict[str, Any]:
        return model_config.sequential_config(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        return model_config.sequential_from_config(cls, config)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        self._build_from_data(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def _build_from_data(self, x: Any) -> None:
        """With no input shape given, the first data's (its batch axis free) builds the graph."""
        if self.built or x is None or not self._stack:
            return
        symbolic = [t for t in flatten(x) if isinstance(t, SymbolicTensor)]
        first = (
            symbolic[0]
            if symbolic
            else flatten(data.leaf_arrays(x, f"Sequential '{self.name}'"))[0]
        )
        self._maybe_build_graph(tuple(first.shape), np.dtype(first.dtype).name)

    def _require_graph(self) -> None:
        if not self.built:
            raise ValueError(
                f"Sequential '{self.name}' has no input shape yet: give the first "
                "layer input_shape=..., add a ge.Input first, or call it on data"
            )


register_layer_class("Functional", Model)
register_layer_class("Model", Model)
register_layer_class("Sequential", Sequential)


class InputSignature:
    """The shape (batch axis included) and dtype of one input a subclassed model is traced for
    (a leaf, not a tuple, so that nested structures of them flatten to them)."""

    def __init__(self, shape: Sequence[int | None], dtype: str) -> None:
        self.shape, self.dtype = tuple(shape), str(dtype)


def map_structure(fn: Callable[[Any], Any], struct: Any) -> Any:
    """`struct` with fn applied to each InputSignature (dicts and lists kept as they nest)."""
    if isinstance(struct, InputSignature):
        return fn(struct)
    if isinstance(struct, dict):
        return {k: map_structure(fn, v) for k, v in struct.items()}
    return [map_structure(fn, v) for v in struct]


def _plain(value: Any) -> bool:
    """A value a JSON config holds as it is."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return value is None or isinstance(value, (bool, int, float, str))


def _signature(inputs: Any) -> tuple | None:
    """((shape, dtype), ...) of an ndarray or of a list or tuple of ndarrays; None otherwise."""
    if type(inputs) is np.ndarray:
        return ((inputs.shape, inputs.dtype),)
    if type(inputs) in (list, tuple) and all(type(a) is np.ndarray for a in inputs):
        return tuple((a.shape, a.dtype) for a in inputs)
    return None


def match_structure(
    values: Any, struct: Any, names: list[str], owner: str, what: str, optional: Sequence[str] = ()
) -> list:
    """`values` as a flat list in the order of a model's inputs or outputs (`struct`): a dict is
    matched by the struct's keys when the model was built with a dict, else by name; a list or
    tuple by position; a lone array serves a single-entry model."""
    if isinstance(values, dict):
        keys = sorted(struct) if isinstance(struct, dict) else names
        missing = [k for k in keys if k not in values and k not in optional]
        unknown = [k for k in values if k not in keys]
        if missing or unknown:
            raise ValueError(
                f"Model '{owner}': {what}s are keyed {keys}; missing {missing}, "
                f"unexpected {unknown}"
            )
        return [values.get(k) for k in keys]
    single = len(names) == 1
    if isinstance(values, (list, tuple)) and not (single and len(values) != 1):
        if len(values) != len(names):
            raise ValueError(
                f"Model '{owner}' expects {len(names)} {what}(s) ({', '.join(names)}), "
                f"but received {len(values)}"
            )
        return list(values)
    if not single:
        raise ValueError(
            f"Model '{owner}' expects {len(names)} {what}s ({', '.join(names)}) as a "
            f"list or dict, but received one {type(values).__name__}"
        )
    return [values]
