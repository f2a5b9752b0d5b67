"""compile / fit / evaluate / predict for Model. A training step is one compiled plan: forward,
loss, backward graph and the optimizer update, over buffers that batches are copied into."""

from __future__ import annotations

import math
import warnings
from contextlib import AbstractContextManager
from typing import Any, Callable, Iterable, Protocol, Sequence

import numpy as np

from graphengine import common
from graphengine import distributed as dist
from graphengine.autodiff.backward import backward_digraph, gradients
from graphengine.graph.node import LayerCall, recorded_calls
from graphengine.graph.tensor import Constant, SymbolicTensor, format_shape, graph_mode
from graphengine.ops import api as ops
from graphengine.runtime.devices import get_device
from graphengine.runtime.plan import Plan
from graphengine.training import compile_utils, data, pipeline, whole_batch
from graphengine.training import losses as losses_module
from graphengine.training import metrics as metrics_module
from graphengine.training import optimizers as optimizers_module
from graphengine.training.callbacks import CallbackList, CSVLogger, ModelCheckpoint, TensorBoard
from graphengine.tree import flatten, pack_like

ROOT_ONLY_CALLBACKS = (ModelCheckpoint, CSVLogger, TensorBoard)


class TrainingProgram:
    """The symbolic training graph for one target signature: target placeholders, the total
    loss (weighted output losses plus regularization), per-output losses and the gradients."""

    def __init__(self, model: Any, targets: list[np.ndarray], weights: list) -> None:
        self.weights = model.trainable_weights
        self.y_true = [
            SymbolicTensor((None,) + y.shape[1:], y.dtype, name=f"{name}_target")
            for y, name in zip(targets, model.output_names)
        ]
        self.sample_weights = [
            None if w is None else SymbolicTensor(
                (None,) + w.shape[1:], np.float32, name=f"{name}_sample_weight"
            )
            for w, name in zip(weights, model.output_names)
        ]  # fmt: skip
        with graph_mode():
            calls = _all_calls(model._sites)
            # a subclassed model's call() may add_loss outside any layer call
            own = getattr(model, "_traced_losses", None) or []
            self.total, self.output_losses = loss_terms(
                model, self.y_true, model.outputs, calls, own, self.sample_weights
            )
            losses = [loss for loss in self.output_losses if loss is not None]
            # what the logs show: the total, and each output's loss when there are several
            self.reported = [self.total] + (losses if len(model.outputs) > 1 else [])
        self.idle: Any = None  # the update of a rank with no samples in a batch (distributed)
        seed = Constant(np.ones((), self.total.dtype))
        self.grads = gradients([self.total], [seed], self.weights)


def loss_terms(
    model: Any,
    y_true: list,
    y_pred: list,
    calls: list,
    extra: Sequence[Any] = (),
    sample_weights: Sequence[Any] | None = None,
) -> tuple[Any, list]:
    """(total, per-output losses) in graph mode: the output losses (each weighted by its
    `sample_weights` entry when there is one, then by its loss weight), the trainable weights'
    penalties, the `losses` of `calls` (add_loss, activity regularization) and the `extra`
    terms, each term a scalar."""
    sws = list(sample_weights) if sample_weights is not None else [None] * len(y_pred)
    outputs = [
        _output_loss(model, i, t, p, w) for i, (t, p, w) in enumerate(zip(y_true, y_pred, sws))
    ]
    terms = [
        ops.multiply(loss, w) if w != 1.0 else loss
        for loss, w in zip(outputs, model._loss_weights)
        if loss is not None
    ]
    terms += [w.regularizer(w) for w in model.trainable_weights if w.regularizer is not None]
    terms += [penalty for call in calls for penalty in call.losses] + list(extra)
    if not terms:
        raise ValueError(f"Model '{model.name}': compile() was given no loss for any output")
    total = terms[0]
    for term in terms[1:]:
        total = ops.add(total, term)
    return (ops.sum(total) if total.shape else total), outputs


def _output_loss(
    model: Any, i: int, y_true: Any, y_pred: Any, sample_weight: Any = None
) -> SymbolicTensor | None:
    loss = model._loss_fns[i]
    if loss is None:
        return None
    try:
        if sample_weight is None:
            return loss(y_true, y_pred)
        return loss(y_true, y_pred, sample_weight=sample_weight)
    except ValueError as e:
        weights = (
            ""
            if sample_weight is None
            else f", its sample weights {format_shape(sample_weight.shape)}"
        )
        raise ValueError(
            f"Model '{model.name}': the targets for output '{model.output_names[i]}' have "
            f"shape {format_shape(y_true.shape)} but the output has shape "
            f"{format_shape(y_pred.shape)}{weights}; loss '{loss.name}' cannot compare them ({e})"
        ) from None


def _all_calls(sites: Sequence[Any]) -> list[LayerCall]:
    calls, stack = [], [s for s in sites if isinstance(s, LayerCall)]
    while stack:
        call = stack.pop()
        calls.append(call)
        stack.extend(call.children)
    return calls


class OptimizerUpdate:
    """The step a training plan ends with: the cross-rank average of the gradients when
    distributed (one allreduce over a flat buffer; `reducer.fraction` is this rank's share of
    the batch), then the optimizer's update of the weights where the plan's device keeps them."""

    def __init__(self, optimizer: Any, weights: list, reducer: Any) -> None:
        self.optimizer, self.weights, self.reducer = optimizer, weights, reducer

    def __call__(self, k: Any, grads: list, outs: list, ctx: Any) -> None:
        if self.reducer is not None:
            self.reducer(grads)
        self.optimizer.apply(grads, self.weights, kernels=k)


class TrainableModel(Protocol):
    """What Trainer (and training/data.py) use of the model it is mixed into; Model provides
    each, and test_training checks it does."""

    name: str
    inputs: list[SymbolicTensor]
    outputs: list[SymbolicTensor]
    input_names: list[str]
    output_names: list[str]
    weights: list
    trainable_weights: list
    device_name: str | None
    _sites: list  # the call sites in order (their activity-regularization losses)
    _outputs_struct: Any  # how outputs nest (predict returns them so)
    _backward_graph: Any  # what model.backward_graph shows: the training program's, once built
    _extent_inputs: tuple[int, ...]  # the inputs whose values size an output axis (graph ids)
    _whole_batch: str | None  # what makes the model run each data set whole (whole_batch.py)

    def _require_graph(self) -> None: ...
    def _feed_list(self, inputs: Any) -> list: ...
    def _check_arrays(self, arrays: Sequence[Any], tensors: Sequence[SymbolicTensor]) -> list: ...
    def _plan(self, key: tuple, feeds: list, targets: list, shapes: list, training: bool,
              on_create: Any = None) -> AbstractContextManager[Plan]: ...  # fmt: skip
    def _forget_plans(self) -> None: ...
    def _forward(self, inputs: Any, training: bool, check: Any) -> list[np.ndarray]: ...
    def _run(self, targets: list, arrays: list, training: bool, checked: bool = False) -> list: ...
    def _extent_sizes(self, arrays: Sequence[Any], rows: Any = None) -> tuple[int, ...]: ...


class Trainer:
    """Mixed into Model: the Keras training API (compile, fit, evaluate, predict and the batch
    forms), over what TrainableModel declares of the model."""

    distributed = False  # set by compile(distributed=True)

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        loss_weights: Any = None,
        metrics: Any = None,
        weighted_metrics: Any = None,
        device: str | None = None,
        distributed: bool = False,
        **kwargs: Any,
    ) -> None:
        """Configures the model for training.

        Example:

        ```python
        model.compile(
            optimizer=ge.optimizers.Adam(learning_rate=1e-3),
            loss=ge.losses.BinaryCrossentropy(),
            metrics=[ge.metrics.BinaryAccuracy(), ge.metrics.AUC()],
        )
        ```

        Args:
            optimizer: A name (`"adam"`, `"sgd"`, ... default `"rmsprop"`) or a
                `ge.optimizers` instance.
            loss: A name (`"mse"`, `"sparse_categorical_crossentropy"`, ...), a `ge.losses`
                object, or a function `fn(y_true, y_pred)` written with `ge.ops` returning
                per-sample values. For several outputs: a list, or a dict keyed by output name
                (None for an output without a loss).
            loss_weights: Optional scalar weights of each output's loss (list or dict); the
                minimized loss is their weighted sum.
            metrics: Metrics evaluated during training and testing: names (`"accuracy"`,
                `"mae"`, `"auc"`, ...), `ge.metrics` objects or functions; a list or dict per
                output for several outputs. `"accuracy"` picks the binary, categorical or
                sparse form from the loss and output shape, as Keras.
            weighted_metrics: Metrics that take `sample_weight` / `class_weight` into account.
            device: `"cpu"` (default) or `"cuda"`: where the compiled plans run (beyond
                Keras; `with ge.device("cuda"):` does the same).
            distributed: Beyond Keras: data-parallel training over MPI (call
                `ge.distributed.initialize()` first, under `mpirun`).
            **kwargs: Keras arguments graphengine has no use for (`run_eagerly`,
                `jit_compile`, `steps_per_execution`, ...) raise TypeError.
        """
        common.check_kwargs("compile()", kwargs, common.parameter_names(Trainer.compile))
        for m in compile_utils.flat_metric_ids(metrics) + compile_utils.flat_metric_ids(
            weighted_metrics
        ):
            metrics_module.check_name(m)
        if not self.built:
            # a subclassed model (or a Sequential without an input shape) has no outputs yet:
            # check what can be checked now, finish when the first data builds it
            get_device(device)
            self.optimizer = optimizers_module.get(optimizer)
            self._pending_compile = {
                "optimizer": self.optimizer,
                "loss": loss,
                "loss_weights": loss_weights,
                "metrics": metrics,
                "weighted_metrics": weighted_metrics,
                "device": device,
                "distributed": distributed,
            }
            self.device_name, self._trackers = device, []
            self.compiled, self.stop_training = True, False
            return
        self._pending_compile = None
        self.distributed = bool(distributed)
        if distributed:
            dist.initialize()
            dist.broadcast_weights(self.weights)  # every rank starts from rank 0's weights
        get_device(device)  # unknown names and unavailable devices fail here, at compile
        self.device_name = device
        self.optimizer = optimizers_module.get(optimizer)
        self._loss_fns = [
            None if x is None else losses_module.get(x) for x in self._per_output(loss, "loss")
        ]
        weights = self._per_output(loss_weights, "loss_weights")
        self._loss_weights = [1.0 if w is None else float(w) for w in weights]
        self._metric_ids, self._weighted_metric_ids = (
            [
                list(m or []) if isinstance(m, (list, tuple)) else ([m] if m else [])
                for m in self._per_output(spec, what, nested=True)
            ]
            for spec, what in ((metrics, "metrics"), (weighted_metrics, "weighted_metrics"))
        )
        self._programs: dict[tuple, TrainingProgram] = {}
        self._class_id_users: dict[tuple, dict] = {}  # see data.check_class_ids
        self._forget_plans()
        multi = len(self.outputs) > 1
        # float64 sums: a float64 model's loss comes back whole (gradient checks read it)
        self._loss_trackers = [
            metrics_module.Mean(name=name, dtype="float64")
            for name in ["loss"]
            + [f"{n}_loss" for n, f in zip(self.output_names, self._loss_fns) if f and multi]
        ]
        self._compile_metrics = compile_utils.CompileMetrics(
            self._metric_ids, self._weighted_metric_ids, self.output_names
        )
        self._trackers = [self._loss_trackers[0]]
        if any(self._metric_ids) or any(self._weighted_metric_ids):
            self._trackers.append(self._compile_metrics)
        self.compiled = True
        self.stop_training = False

    def _finish_compile(self) -> None:
        """The compile() a model made before its graph existed, now that it has one."""
        pending = getattr(self, "_pending_compile", None)
        if pending is not None:
            self._pending_compile = None
            self.compile(**pending)

    # -- what custom training steps use (Keras 3) ----------------------------------------------
    @property
    def metrics(self) -> list:
        """Keras 3's metric objects: the loss tracker ("loss") and, with metrics given to
        compile, "compile_metrics" (result() a dict by name); [] before compile. A custom
        train_step updates them; fit resets them at each epoch (override the property to track
        your own, as the keras-io GAN does)."""
        return list(getattr(self, "_trackers", []))

    def reset_metrics(self) -> None:
        """Resets the state of every metric and loss tracker (fit does it at each epoch)."""
        for metric in self.metrics + getattr(self, "_loss_trackers", [])[1:]:
            metric.reset_state()

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Any:
        """Keras 3's: the compiled loss of `y` and `y_pred` (each output's loss weighted by
        `sample_weight`: one array for every output, or one per output; then loss_weights),
        plus the add_loss terms and weight penalties. Inside `ge.value_and_grad` it is part of
        the traced graph (the add_loss terms of the calls fn made); on arrays it returns the
        number (with the model's current penalties)."""
        self._require_compiled("compute_loss")
        self._require_graph()
        ys, preds, sws = compile_utils.per_output(
            f"Model '{self.name}'.compute_loss", len(self.outputs), y, y_pred, sample_weight
        )
        if not any(isinstance(p, SymbolicTensor) for p in preds):
            preds = [np.asarray(p) for p in preds]
            ys = [np.asarray(t) for t in ys]
            terms = [
                ops.multiply(_output_loss(self, i, t, p, w), lw)
                for i, (lw, t, p, w) in enumerate(zip(self._loss_weights, ys, preds, sws))
                if self._loss_fns[i] is not None
            ]
            return float(sum(np.asarray(term, np.float64) for term in terms) + sum(self.losses))
        calls = recorded_calls()
        if calls is None:
            calls = []
        with graph_mode():
            total, _ = loss_terms(self, ys, preds, calls, sample_weights=sws)
        return total

    def _per_output(self, spec: Any, what: str, nested: bool = False) -> list:
        """One entry per output from a single value (shared), a list, or a dict by output name."""
        n, names = len(self.outputs), self.output_names
        if isinstance(spec, dict):
            unknown = [k for k in spec if k not in names]
            if unknown:
                raise ValueError(
                    f"compile(): {what} has keys {unknown} that are not outputs of "
                    f"model '{self.name}'; outputs: {names}"
                )
            return [spec.get(name) for name in names]
        if isinstance(spec, (list, tuple)):
            if nested and not any(isinstance(s, (list, tuple, dict)) for s in spec):
                return [list(spec)] * n  # one flat metric list serves every output
            if len(spec) != n:
                raise ValueError(
                    f"compile(): {what} has {len(spec)} entries but model "
                    f"'{self.name}' has {n} outputs ({', '.join(names)})"
                )
            return list(spec)
        return [spec] * n

    @property
    def metrics_names(self) -> list[str]:
        """The names of what evaluate() returns, in its order ("loss", each output's loss when
        there are several, then the metrics); [] before compile(). Keras 3 gives the names of
        its metric objects instead: ["loss", "compile_metrics"]."""
        if not getattr(self, "compiled", False) or not hasattr(self, "_loss_trackers"):
            return []
        metrics = self._compile_metrics
        if metrics.metrics is None:
            shapes = [tuple(o.shape) for o in self.outputs]
            metrics = compile_utils.CompileMetrics(
                self._metric_ids, self._weighted_metric_ids, self.output_names
            )
            metrics.build(shapes, shapes)
        return [t.name for t in self._loss_trackers] + metrics.names

    def _require_compiled(self, what: str) -> None:
        if not getattr(self, "compiled", False):
            raise RuntimeError(
                f"Model '{self.name}' must be compiled before {what}(): call "
                "model.compile(optimizer=..., loss=...) first"
            )

    # -- plans ---------------------------------------------------------------------------------
    def _program(self, ys: list, sws: list) -> TrainingProgram:
        key = (
            tuple((y.shape[1:], y.dtype.name) if y is not None else None for y in ys),
            tuple(w.shape[1:] if w is not None else None for w in sws),
            tuple(w.id for w in self.trainable_weights),
        )
        if key not in self._programs:
            program = TrainingProgram(
                self, [y if y is not None else np.zeros((1,)) for y in ys], sws
            )
            self._programs[key] = program
            self._backward_graph = backward_digraph(program.grads)  # the training one now
        return self._programs[key]

    def _step_plan(
        self,
        program: TrainingProgram,
        xs: list,
        ys: list,
        sws: list,
        n: int | None,
        training: bool,
        rows: np.ndarray | None = None,
    ) -> AbstractContextManager[Plan]:
        """`with self._step_plan(...) as plan:` the plan for one batch of n samples (the `rows`
        of the arrays, all of them when None; n None: a whole batch, the arrays as they are):
        loss, per-output losses and predictions, plus, when training, the gradients and the
        optimizer update appended as the last step. Its feeds: the inputs, the targets given,
        then the sample weights given."""
        y_feeds = [t for t, y in zip(program.y_true, ys) if y is not None]
        w_feeds = [t for t in program.sample_weights if t is not None]
        arrays = [y for y in ys if y is not None] + [w for w in sws if w is not None]
        targets = (
            program.reported + self.outputs + [m for m in self._output_masks() if m is not None]
        )
        pairs = [(g, w) for g, w in zip(program.grads, program.weights) if g is not None]
        if training:
            targets += [g for g, _ in pairs]
        shapes = [a.shape if n is None else (n,) + a.shape[1:] for a in xs + arrays]
        return self._plan(
            ("train" if training else "eval", id(program)),
            self.inputs + y_feeds + w_feeds,
            targets,
            shapes,
            training,
            # a frozen model (no trainable weights) trains with no update, as Keras warns
            on_create=(lambda plan: self._append_update(plan, pairs))
            if training and program.weights
            else None,
            sizes=self._extent_sizes(xs, rows) if self._extent_inputs else (),
        )

    def _append_update(self, plan: Plan, pairs: list) -> None:
        """The optimizer update as the plan's last step, reading the gradient buffers."""
        plan.append_update(
            self._make_update([w for _, w in pairs], plan.device), [g for g, _ in pairs]
        )

    def _make_update(self, weights: list, device: Any) -> OptimizerUpdate:
        # all of them, as Keras, for its slots' order
        self.optimizer.build(self.trainable_weights, device=device)
        reducer = dist.GradientReducer([w.value for w in weights]) if self.distributed else None
        return OptimizerUpdate(self.optimizer, weights, reducer)

    def _idle_update(self, program: TrainingProgram) -> None:
        """A rank with no samples in this batch still joins the allreduce and the update."""
        if not program.weights:
            return  # a frozen model: no update, no allreduce on any rank
        if program.idle is None:
            weights = [w for g, w in zip(program.grads, program.weights) if g is not None]
            device = get_device(self.device_name)
            update = self._make_update(weights, device)
            update.reducer.fraction = 0.0
            zeros = [device.to_device(np.zeros_like(w.value)) for w in weights]
            program.idle = lambda: update(device.kernels, zeros, [], None)
        program.idle()

    # -- the loops -----------------------------------------------------------------------------
    def _trackers_state(self) -> list:
        """Every variable of the loss trackers and compiled metrics (what ranks sum)."""
        return [v for t in self._loss_trackers for v in t.variables] + (
            self._compile_metrics.variables
        )

    def _logs(self) -> dict[str, float]:
        logs = {t.name: float(np.asarray(t.result())) for t in self._loss_trackers}
        logs.update(python_logs(self._compile_metrics.result(), "compile_metrics"))
        return logs

    def _start_pass(self, ys: list) -> None:
        """Resets the trackers for a pass over data with targets `ys`, (re)making the compiled
        metrics when the targets' shapes resolve them differently (sparse vs one-hot)."""
        for tracker in self._loss_trackers:
            tracker.reset_state()
        shapes = [y.shape if y is not None else tuple(o.shape) for y, o in zip(ys, self.outputs)]
        signature = [(len(s), s[-1] if s else None) for s in shapes]
        if self._compile_metrics.metrics is None or signature != getattr(
            self, "_metrics_signature", None
        ):
            self._compile_metrics.build(shapes, [tuple(o.shape) for o in self.outputs])
            self._metrics_signature = signature
        self._compile_metrics.reset_state()

    def _run_batches(
        self,
        batches: Iterable[tuple],
        training: bool,
        callbacks: CallbackList | None,
        hook: str,
        reset: bool = True,
    ) -> dict[str, float]:
        """One pass over `batches` ((inputs, targets, sample weights, row indices) each: the
        rows of the arrays that make the batch); returns the logs: each loss and metric over the
        samples seen, as Keras's trackers keep them. With `reset` False the trackers go on from
        where they are (the default train_step's means since the last reset_metrics). When
        distributed, each rank runs its shard of every batch and the trackers' sums are added
        across ranks."""
        logs: dict[str, float] = {}
        warned = False
        for b, (xs, ys, sws, idx) in enumerate(batches):
            program = self._program(ys, sws)
            if training and not program.weights and not warned:
                warned = True
                warnings.warn(
                    f"The model does not have any trainable weights: model '{self.name}' "
                    "computes the loss but updates nothing (every layer is frozen)",
                    stacklevel=3,
                )
            if b == 0 and reset:
                self._start_pass(ys)
            elif self._compile_metrics.metrics is None:
                self._start_pass(ys)
            if callbacks is not None:
                getattr(callbacks, f"on_{hook}_batch_begin")(b)
            # idx None: all the rows as they are (a whole batch, whole_batch.py), never distributed
            local = dist.shard(idx) if self.distributed else idx
            before = (
                {id(v): np.array(v.value, np.float64) for v in self._trackers_state()}
                if self.distributed
                else {}
            )
            if local is None or len(local):
                n = len(idx) if idx is not None else 1
                self._run_batch(program, xs, ys, sws, local, n, training)
            elif training:
                self._idle_update(program)
            if self.distributed:
                self._sum_across_ranks(before)
            logs = self._logs()
            if callbacks is not None:
                getattr(callbacks, f"on_{hook}_batch_end")(b, logs)
            if training and self.stop_training:
                break
        return logs

    def _sum_across_ranks(self, before: dict) -> None:
        """Every tracker variable becomes its value before the batch (zeros for one the batch
        made, as F1Score makes its own at its first update) plus the sum over ranks of what the
        batch added: every built-in tracker's state is additive."""
        variables = self._trackers_state()
        if not variables:
            return
        old = [before.get(id(v), np.zeros(np.shape(v.value))) for v in variables]
        delta = np.concatenate(
            [(np.asarray(v.value, np.float64) - b).ravel() for v, b in zip(variables, old)]
        )
        sizes = np.array([delta.size, 1.0])
        dist.allreduce_sum(sizes)
        if sizes[0] != delta.size * sizes[1]:
            raise RuntimeError(
                f"Model '{self.name}': the ranks' metrics hold different numbers of values "
                f"({delta.size} here); a metric that makes its variables from the data must "
                "see samples on every rank in the first batch"
            )
        dist.allreduce_sum(delta)
        at = 0
        for v, b in zip(variables, old):
            value = b + delta[at : at + b.size].reshape(b.shape)
            v.assign(value.astype(np.asarray(v.value).dtype))
            at += b.size

    def _run_batch(
        self,
        program: TrainingProgram,
        xs: list,
        ys: list,
        sws: list,
        idx: np.ndarray,
        n_global: int,
        training: bool,
    ) -> None:
        """Runs one (local) batch: the rows `idx` copied into the plan's buffers (idx None: the
        arrays as they are, lent to the plan where they can be, as PyTorch's from_numpy), the
        step, then the trackers updated with its losses and predictions."""
        whole = idx is None
        with self._step_plan(
            program, xs, ys, sws, None if whole else len(idx), training, idx
        ) as plan:
            if plan.update is not None and plan.update.reducer is not None:
                plan.update.reducer.fraction = len(idx) / n_global
            given = [y for y in ys if y is not None] + [w for w in sws if w is not None]
            if whole:
                results = plan.run(xs + given)
            else:
                for buf, a in zip(plan.feed_buffers, xs + given):
                    plan.device.take_rows(buf, a, idx)  # the batch's one copy in
                results = plan.run()
            n_losses = len(program.reported)
            # a batch's loss weighs its samples: for a model running its data whole, the first
            # output's rows
            if not self._whole_batch:
                count = len(idx) if not whole else len(xs[0])
            else:
                count = (plan.specs[self.outputs[0]][0] or (1,))[0]
            for tracker, r in zip(self._loss_trackers, results[:n_losses]):
                tracker.update_state(float(plan.device.to_host(r)), sample_weight=count)
            metrics = self._compile_metrics.metrics or []
            wanted = [bool(plain or weighted) for plain, weighted in metrics]
            if not any(wanted):
                return
            # the outputs' masks follow the outputs among the results (see _step_plan)
            mask_results = iter(results[n_losses + len(self.outputs) :])
            masks = [None if m is None else next(mask_results) for m in self._output_masks()]
            host, rows = plan.device.to_host, whole_batch.picker(idx)
            self._compile_metrics.update_state(
                [rows(y) if y is not None and w else None for y, w in zip(ys, wanted)],
                [host(results[n_losses + i]) if w else None for i, w in enumerate(wanted)],
                _one_or_all([rows(s) if s is not None else None for s in sws]),
                [host(m) if m is not None and w else None for m, w in zip(masks, wanted)],
            )

    def _output_masks(self) -> list:
        """Each output's mask (a tensor of 1.0 for the entries to keep), or None."""
        return [getattr(o, "mask", None) for o in self.outputs]

    # -- the steps fit / evaluate / predict take per batch (Keras 3) ------------------------------
    def train_step(self, data: Any) -> dict[str, float]:
        """One compiled training step on the batch `data` ((x, y) or (x, y, sample_weight)):
        what fit runs when the subclass does not override it, and what
        `super().train_step(data)` runs from an override. Returns the loss and metrics averaged
        since the last reset_metrics (fit resets them every epoch)."""
        return self._default_step(data, True)

    def test_step(self, data: Any) -> dict[str, float]:
        """One compiled evaluation step on the batch `data`; returns the running means."""
        return self._default_step(data, False)

    def predict_step(self, data: Any) -> Any:
        """The model's outputs for the batch `data` (x, or a tuple whose first entry is x)."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self.predict_on_batch(x)

    def _default_step(self, batch: Any, training: bool) -> dict[str, float]:
        self._require_compiled("train_step" if training else "test_step")
        xs, ys, sws = self._prepared_batch(batch, None)
        return self._run_batches(
            [(xs, ys, sws, self._all_rows(xs))], training, None,
            "train" if training else "test", reset=False,
        )  # fmt: skip

    def _overrides(self, step: str) -> bool:
        """Whether the model's class writes its own train_step / test_step / predict_step."""
        return getattr(type(self), step) is not getattr(Trainer, step)

    def _custom_loop(
        self, step: str, batches: Iterable[Any], callbacks: CallbackList | None, hook: str
    ) -> Any:
        """Calls the model's own `step` once per batch (arrays nested as the data), as Keras 3
        does on its torch backend; returns the last logs (dicts flattened, numbers as floats),
        or the list of predict_step results."""
        logs: dict[str, float] = {}
        results = []
        for b, batch in enumerate(batches):
            if callbacks is not None:
                getattr(callbacks, f"on_{hook}_batch_begin")(b)
            out = getattr(self, step)(batch)
            if step == "predict_step":
                results.append(out)
                if callbacks is not None:
                    callbacks.on_predict_batch_end(b, {})
                continue
            logs = python_logs(out, f"Model '{self.name}'.{step}")
            if callbacks is not None:
                getattr(callbacks, f"on_{hook}_batch_end")(b, logs)
            if hook == "train" and self.stop_training:
                break
        return results if step == "predict_step" else logs

    # -- where batches come from ---------------------------------------------------------------
    def _prepared_batch(
        self, batch: Any, class_weight: Any, need_y: bool = True
    ) -> tuple[list, list, list]:
        """A batch as a dataset gives it (x, (x,), (x, y) or (x, y, sample_weight)): checked
        arrays of the inputs, the targets and one sample weight per output."""
        x, y, sample_weight = unpack_x_y_sample_weight(batch)
        xs, ys = self._prepare(x, y, need_y=need_y)
        if not need_y:
            return xs, ys, []
        sws = compile_utils.sample_weights(self, sample_weight, class_weight, ys, self._rows(xs))
        return xs, ys, sws

    def _rows(self, xs: list) -> int | list[int]:
        """The samples of the inputs `xs`: their rows, or, for a model that runs its data whole,
        the rows of each output (what its targets and sample weights hold)."""
        return whole_batch.output_rows(self, xs) if self._whole_batch else len(xs[0])

    def _all_rows(self, xs: list) -> np.ndarray | None:
        """The row indices of a batch that is all of `xs`: None (the arrays as they are: no
        copy of the rows, the plan may read them in place), or every row's index where the
        ranks of a distributed model take their shares of them."""
        return np.arange(len(xs[0])) if self.distributed and not self._whole_batch else None

    def _batches(
        self,
        x: Any,
        y: Any,
        sample_weight: Any,
        class_weight: Any,
        batch_size: Any,
        shuffle: bool,
        custom: bool,
        steps: int | None,
        what: str,
        need_y: bool = True,
    ) -> pipeline.EpochIterator:
        """The epochs of batches `x` (with `y` and `sample_weight`) makes: for a compiled step
        (inputs, targets, sample weights, row indices), for the model's own step (`custom`) the
        batch's arrays nested as the data. `what` names the caller in errors and warnings."""
        if pipeline.is_dataset(x):
            for name, value in (("y", y), ("sample_weight", sample_weight)):
                if value is not None:
                    raise ValueError(
                        f"{what}: when x is a {type(x).__name__} (batches of data), {name} "
                        f"must not be passed; the batches hold it: (x, y) or (x, y, "
                        "sample_weight)"
                    )
            if self.distributed:
                raise NotImplementedError(
                    f"Model '{self.name}': a distributed {what} reads NumPy arrays; "
                    f"{type(x).__name__} data is not split across ranks yet"
                )
            source = pipeline.source_of(x, shuffle)
            if isinstance(source, pipeline.DatasetBatches) and source.num_batches is None:
                if steps is None:
                    raise ValueError(
                        f"{what}: {type(x).__name__} is an endless PyDataset (no __len__): "
                        "pass steps_per_epoch (steps, validation_steps) to end its epochs"
                    )
            if custom:
                convert = lambda raw: self._custom_batch(raw, class_weight)  # noqa: E731
            else:
                convert = lambda raw: self._dataset_batch(raw, class_weight, need_y)  # noqa
            return pipeline.EpochIterator(pipeline.Mapped(source, convert), steps, what)
        if custom:
            whole = bool(self.built and self._whole_batch)  # the model's own step on all the data
            parts, n = batch_arrays(self, x, y if need_y else None, sample_weight, whole)
            if class_weight is not None:
                parts = (parts[0], parts[1], self._class_weights_of(parts[1], class_weight))
            if whole:
                return whole_batch.one_batch(self, _as_batch(*parts), batch_size, steps, what)

            def take(rows: np.ndarray) -> Any:
                return _as_batch(*(rows_of(a, rows) if a is not None else None for a in parts))

        else:
            xs, ys = self._prepare(x, y, need_y=need_y)
            n = len(xs[0])
            sws = (
                compile_utils.sample_weights(self, sample_weight, class_weight, ys, self._rows(xs))
                if need_y
                else []
            )
            if self._whole_batch:
                return whole_batch.one_batch(self, (xs, ys, sws, None), batch_size, steps, what)
            take = lambda rows: (xs, ys, sws, rows)  # noqa: E731
        if batch_size is None:
            batch_size = math.ceil(n / steps) if steps else 32
        order = None
        if self.distributed and not custom:
            order = lambda o: dist.broadcast(o) or o  # noqa: E731 (every rank, rank 0's order)
        return pipeline.EpochIterator(
            pipeline.ArrayBatches(n, batch_size, shuffle, take, order), steps, what
        )

    def _dataset_batch(self, raw: Any, class_weight: Any, need_y: bool) -> tuple:
        xs, ys, sws = self._prepared_batch(raw, class_weight, need_y)
        return xs, ys, sws, self._all_rows(xs)

    def _custom_batch(self, raw: Any, class_weight: Any) -> Any:
        """A dataset's batch for the model's own step: as given, with the class weights as its
        sample weights when class_weight is given (as Keras's adapters add them)."""
        if class_weight is None:
            return raw
        x, y, sample_weight = unpack_x_y_sample_weight(raw)
        if sample_weight is not None:
            raise ValueError(
                f"Model '{self.name}': you cannot pass class_weight when the batches hold "
                "sample weights"
            )
        return (x, y, self._class_weights_of(y, class_weight))

    def _class_weights_of(self, y: Any, class_weight: Any) -> np.ndarray:
        self._require_graph()
        if y is None or len(flatten(y)) != 1:
            raise ValueError(
                f"Model '{self.name}': class_weight needs the targets of a single output"
            )
        return compile_utils.class_weight_to_sample_weights(
            self, np.asarray(flatten(y)[0]), class_weight
        )

    # -- fit / evaluate / predict --------------------------------------------------------------
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: Any = "auto",
        callbacks: Sequence[Any] | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        class_weight: Any = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int = 1,
        **kwargs: Any,
    ) -> Any:
        """Trains the model for a fixed number of epochs (dataset iterations).

        Args:
            x: Input data: a NumPy array (or array-like: pandas objects, nested lists of
                numbers), a list or dict of them for several inputs, a `ge.utils.PyDataset`, or
                a Python generator / iterator of batches `(x, y)` or `(x, y, sample_weight)`.
                Not supported: `tf.data.Dataset`, torch `DataLoader` (TypeError).
            y: Target data, like `x` (arrays); omit it when `x` is a dataset or generator.
            batch_size: Samples per gradient update (default 32); not for datasets and
                generators, which make their own batches.
            epochs: The epoch to stop at (with `initial_epoch`, `epochs - initial_epoch` epochs
                run).
            verbose: `"auto"` (= 1), 0 (silent), 1 (a progress bar) or 2 (one line per epoch).
            callbacks: A list of `ge.callbacks.Callback` instances.
            validation_split: Fraction (0 to 1) of the arrays held out for validation: the
                last samples, before shuffling. Arrays only.
            validation_data: Data to evaluate at the end of each epoch: `(x_val, y_val)`,
                `(x_val, y_val, val_sample_weight)`, a PyDataset or a generator. Overrides
                `validation_split`.
            shuffle: Whether to shuffle the samples (arrays) or the batch order (PyDataset)
                each epoch.
            class_weight: Optional dict `{class_id: weight}` weighting each sample's loss by its
                class (single-output models).
            sample_weight: Optional per-sample weights (or `(samples, steps)` for a
                per-time-step loss); a list or dict for several outputs.
            initial_epoch: The epoch to start at (to resume a run).
            steps_per_epoch: Batches per epoch; needed for an endless generator or dataset.
            validation_steps: Batches per validation pass (default: all of them).
            validation_batch_size: Batch size for validation (default: `batch_size`).
            validation_freq: Validate every `validation_freq` epochs.

        Returns:
            A `History` object (also `model.history`): `history.history` maps each logged
            name (`loss`, metrics, `val_` ones) to its per-epoch values.

        Unknown keyword arguments raise TypeError naming the closest valid one. The data is
        checked before the first step: shapes, dtypes, sample counts and class ids in range each
        raise a ValueError naming the input or output."""
        common.check_kwargs("fit()", kwargs, common.parameter_names(Trainer.fit))
        self._require_compiled("fit")
        if batch_size is not None:
            batch_size = data.batch_size(batch_size)
        epochs, initial_epoch, validation_freq = data.epoch_arguments(
            epochs, initial_epoch, validation_freq
        )
        steps_per_epoch = data.steps(steps_per_epoch, "steps_per_epoch", "fit()")
        validation_steps = data.steps(validation_steps, "validation_steps", "fit()")
        if validation_batch_size is not None:
            validation_batch_size = data.batch_size(validation_batch_size, "validation_batch_size")
        validation_split, verbose = data.validation_split(validation_split), data.verbose(verbose)
        custom = self._overrides("train_step")
        if custom and self.distributed:
            raise NotImplementedError(
                f"Model '{self.name}': a custom train_step does not run distributed yet"
            )
        if validation_split and validation_data is None:
            if x is not None and not pipeline.is_dataset(x):
                self._build_from_data(x)  # whether the model runs its data whole
            if self.built and self._whole_batch:
                whole_batch.refuse_split(self)
            if pipeline.is_dataset(x):
                raise ValueError(
                    f"fit(): validation_split is only supported for arrays, not a "
                    f"{type(x).__name__}; pass validation_data instead"
                )
            (x, y, sample_weight), validation_data = data.split_arrays(
                (x, y, sample_weight), validation_split, f"Model '{self.name}'"
            )
        train = self._batches(
            x, y, sample_weight, class_weight, batch_size, shuffle, custom, steps_per_epoch,
            "fit()",
        )  # fmt: skip
        val = None
        if validation_data is not None:
            if pipeline.is_dataset(validation_data):
                vx, vy, vsw = validation_data, None, None
            else:
                vx, vy, vsw = _validation_tuple(validation_data)
            val = self._batches(
                vx, vy, vsw, None, validation_batch_size or batch_size, False,
                self._overrides("test_step"), validation_steps, "fit() validation_data",
            )  # fmt: skip
        if self.distributed and dist.rank() != 0:
            verbose = 0  # rank 0 reports; only it writes checkpoints and logs
            callbacks = [c for c in callbacks or [] if not isinstance(c, ROOT_ONLY_CALLBACKS)]

        def run_epoch(cbs: CallbackList) -> dict[str, float]:
            if custom:
                self.reset_metrics()
                return self._custom_loop("train_step", train.epoch(), cbs, "train")
            return self._run_batches(train.epoch(), True, cbs, "train")

        try:
            return self._epochs(
                callbacks, verbose, epochs, train, initial_epoch, validation_freq, run_epoch,
                (lambda cbs: self._test_pass(val, cbs)) if val is not None else None,
            )  # fmt: skip
        finally:
            train.close()
            if val is not None:
                val.close()

    def _epochs(
        self,
        callbacks: Sequence[Any] | None,
        verbose: int,
        epochs: int,
        train: pipeline.EpochIterator,
        initial_epoch: int,
        validation_freq: int,
        run_epoch: Callable[[CallbackList], dict[str, float]],
        validate: Callable[[CallbackList], dict[str, float]] | None,
    ) -> Any:
        """fit's epochs: callbacks around each, `run_epoch` (the training logs), then every
        `validation_freq` epochs `validate` (logged with a val_ prefix); returns the History.
        A callback may move the first epoch at on_train_begin (BackupAndRestore sets
        model._initial_epoch); the data running out stops training."""
        cbs = CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=epochs,
            steps=train.num_batches,
        )
        self.stop_training = False
        cbs.on_train_begin()
        resume = self.__dict__.pop("_initial_epoch", None)
        if resume is not None:
            initial_epoch = int(resume)
        logs: dict[str, float] = {}
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            epoch_logs = run_epoch(cbs)
            if train.ran_out:
                break  # nothing was trained this epoch (Keras's warning was given)
            logs = epoch_logs
            if validate is not None and (epoch + 1) % validation_freq == 0:  # as Keras
                logs.update({f"val_{k}": v for k, v in validate(cbs).items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history

    def _test_pass(self, batches: pipeline.EpochIterator, cbs: CallbackList) -> dict[str, float]:
        """One evaluation pass with the on_test_* hooks (evaluate, and fit's validation)."""
        cbs.on_test_begin()
        if self._overrides("test_step"):
            self.reset_metrics()
            logs = self._custom_loop("test_step", batches.epoch(), cbs, "test")
        else:
            logs = self._run_batches(batches.epoch(), False, cbs, "test")
        cbs.on_test_end(logs)
        return logs

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: Any = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        callbacks: Sequence[Any] | None = None,
        return_dict: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Returns the loss and metric values of the model on the data, batch by batch.

        Args:
            x: Input data, as `fit` takes it (arrays, a PyDataset or a generator).
            y: Target data (arrays); omit it when `x` is a dataset or generator.
            batch_size: Samples per batch (default 32); not for datasets and generators.
            verbose: `"auto"` (= 1), 0 (silent) or 1 (a progress bar).
            sample_weight: Optional per-sample weights of the loss (and weighted metrics).
            steps: Batches to evaluate before stopping (default: all of the data).
            callbacks: A list of `ge.callbacks.Callback` instances (their `on_test_*` hooks).
            return_dict: Whether to return a dict `{name: value}` instead of a list.

        Returns:
            The scalar loss when the model has no metrics and one output; otherwise the list
            `[loss, *metrics]`, named by `model.metrics_names`; or the dict."""
        common.check_kwargs("evaluate()", kwargs, common.parameter_names(Trainer.evaluate))
        self._require_compiled("evaluate")
        if batch_size is not None:
            batch_size = data.batch_size(batch_size)
        steps = data.steps(steps, "steps", "evaluate()")
        batches = self._batches(
            x, y, sample_weight, None, batch_size, False, self._overrides("test_step"), steps,
            "evaluate()",
        )  # fmt: skip
        verbose = data.verbose(verbose)
        cbs = CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            steps=batches.num_batches,
        )
        try:
            return _logs_result(self._test_pass(batches, cbs), return_dict)
        finally:
            batches.close()

    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: Any = None,
        return_dict: bool = False,
    ) -> Any:
        """One optimizer step on exactly this batch; returns its loss (and metrics)."""
        self._require_compiled("train_on_batch")
        xs, ys, sws = self._prepared_batch((x, y, sample_weight), class_weight)
        logs = self._run_batches([(xs, ys, sws, self._all_rows(xs))], True, None, "train")
        return _logs_result(logs, return_dict)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        """The loss (and metrics) of exactly this batch, without training; as `evaluate`
        returns them."""
        self._require_compiled("test_on_batch")
        xs, ys, sws = self._prepared_batch((x, y, sample_weight), None)
        logs = self._run_batches([(xs, ys, sws, self._all_rows(xs))], False, None, "test")
        return _logs_result(logs, return_dict)

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: Any = "auto",
        steps: int | None = None,
        callbacks: Sequence[Any] | None = None,
    ) -> Any:
        """Generates output predictions for the input samples, batch by batch.

        Args:
            x: Input data: arrays (a list or dict for several inputs), a PyDataset or a
                generator of batches (of `x`, or tuples whose first entry is `x`).
            batch_size: Samples per batch (default 32); not for datasets and generators.
            verbose: `"auto"` (= 1), 0 (silent) or 1 (a progress bar).
            steps: Batches to run before stopping (default: all of the data).
            callbacks: A list of `ge.callbacks.Callback` instances (their `on_predict_*`
                hooks).

        Returns:
            A NumPy array of predictions, or a list of arrays for several outputs (a dict for
            a model whose outputs are a dict). Dropout and noise layers are off, and
            BatchNormalization uses its moving statistics. For one small batch,
            `predict_on_batch(x)` or `model(x)` skip the batching loop."""
        if batch_size is not None:
            batch_size = data.batch_size(batch_size)
        steps = data.steps(steps, "steps", "predict()")
        custom = self._overrides("predict_step")
        if pipeline.is_dataset(x) or custom:
            batches = self._batches(
                x, None, None, None, batch_size, False, custom, steps, "predict()", need_y=False
            )
        else:  # the batches are slices (views) of the inputs: predict copies nothing
            xs, _ = self._prepare(x, need_y=False)
            if self._whole_batch:
                batches = whole_batch.one_batch(self, (xs,), batch_size, steps, "predict()")
            else:
                batches = pipeline.EpochIterator(
                    pipeline.ArrayBatches(
                        len(xs[0]), batch_size or 32, False,
                        lambda rows: ([a[rows[0] : rows[0] + len(rows)] for a in xs],),
                    ),
                    steps, "predict()",
                )  # fmt: skip
        verbose = data.verbose(verbose)
        cbs = CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            steps=batches.num_batches,
        )
        try:
            return self._predict_pass(batches, cbs, custom)
        finally:
            batches.close()

    def _predict_pass(
        self, batches: pipeline.EpochIterator, cbs: CallbackList, custom: bool
    ) -> Any:
        cbs.on_predict_begin()
        if custom:
            outs = join_batches(self._custom_loop("predict_step", batches.epoch(), cbs, "predict"))
            cbs.on_predict_end()
            return outs
        results: list[list[np.ndarray]] = []
        rows: list[int] = []
        for b, batch in enumerate(batches.epoch()):
            cbs.on_predict_batch_begin(b)
            xs = batch[0]  # the inputs of (inputs, ...), as _batches makes them
            results.append(self._run(self.outputs, xs, False, checked=True))
            rows.append(len(xs[0]))
            cbs.on_predict_batch_end(b, {"outputs": results[-1]})
        cbs.on_predict_end()
        if not results:
            raise ValueError(f"Model '{self.name}': predict() received no batches")
        if len(results) > 1 and not self._whole_batch:  # whole batches' rows are not samples
            for outs, n in zip(results, rows):
                self._check_rows_are_samples(outs, n, rows[0], sum(rows))
        joined = results[0] if len(results) == 1 else [np.concatenate(o) for o in zip(*results)]
        return pack_like(self._outputs_struct, joined) if len(joined) > 1 else joined[0]

    def _check_rows_are_samples(self, outs: list, rows: int, batch_size: int, n: int) -> None:
        """predict joins batches' outputs row by row, which gives the whole input's answer only
        when an output has one row per sample; any other output (a reshape across samples, a
        Lambda dropping rows) would come out different from `model(x)`: refuse it."""
        for i, o in enumerate(outs):
            if o.ndim == 0 or len(o) != rows:
                raise ValueError(
                    f"Model '{self.name}': predict() runs {n} samples in batches of "
                    f"{batch_size} and joins the outputs by rows, but output {i} "
                    f"('{self.output_names[i]}') has shape {format_shape(o.shape)} for a batch "
                    f"of {rows} samples, so its rows are not samples. Call the model on the "
                    f"whole input instead (model(x)), or pass batch_size >= {n}"
                )

    def predict_on_batch(self, x: Any) -> Any:
        """One forward pass on exactly this batch (a repeated call skips straight to the plan,
        see Model._forward)."""
        outs = self._forward(x, False, self._prepared)
        return pack_like(self._outputs_struct, outs) if len(outs) > 1 else outs[0]

    def _prepare(self, x: Any, y: Any = None, need_y: bool = True) -> tuple[list, list]:
        """Validated, contiguous inputs and targets (see training/data.py)."""
        return data.prepare(self, x, y, need_y)

    def _prepared(self, x: Any) -> list[np.ndarray]:
        xs, _ = self._prepare(x, need_y=False)
        self._require_graph()
        return xs


def unpack_x_y_sample_weight(batch: Any) -> tuple[Any, Any, Any]:
    """Keras's unpacking of a batch: (x,), (x, y), (x, y, sample_weight), or x alone."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return batch, None, None
    if len(batch) == 1:
        return batch[0], None, None
    if len(batch) == 2:
        return batch[0], batch[1], None
    if len(batch) == 3:
        return batch
    raise ValueError(
        f"A batch must be x, (x,), (x, y) or (x, y, sample_weight); received a tuple of "
        f"{len(batch)} entries"
    )


def batch_arrays(
    model: Any, x: Any, y: Any, sample_weight: Any = None, whole: bool = False
) -> tuple[tuple[Any, Any, Any], int]:
    """(x, y, sample_weight) with every leaf an array (pandas objects and nested lists of
    numbers converted), and the number of samples, which every leaf must share (unless the
    data is one `whole` batch, whose leaves' rows differ: then 1)."""
    arrays = []
    names = ("x", "y", "sample_weight")
    for what, struct in zip(names, (x, y, sample_weight)):
        if struct is None:
            arrays.append(None)
            continue
        arrays.append(data.leaf_arrays(struct, f"Model '{model.name}': {what}"))
    counts = {
        f"{what} {i}": (len(a) if a.ndim else None)
        for what, struct in zip(names, arrays)
        if struct is not None
        for i, a in enumerate(flatten(struct))
    }
    if arrays[0] is None:
        raise ValueError(f"Model '{model.name}': x is required")
    if whole:
        return (arrays[0], arrays[1], arrays[2]), 1
    if None in counts.values() or len(set(counts.values())) != 1:
        raise ValueError(
            f"Model '{model.name}': every array of x, y and sample_weight must hold the same "
            f"number of samples (a batch axis first); received {counts}"
        )
    return (arrays[0], arrays[1], arrays[2]), next(iter(counts.values()))


def _as_batch(x: Any, y: Any, sample_weight: Any) -> Any:
    """A batch as Keras hands it to a custom step: x alone (or (x,) when x is a list), (x, y)
    or (x, y, sample_weight)."""
    if y is None and sample_weight is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def _validation_tuple(validation_data: Any) -> tuple[Any, Any, Any]:
    """fit's validation_data as (x, y, sample_weight): a tuple or list of 2 or 3 entries."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        size = f" of {len(validation_data)}" if isinstance(validation_data, (tuple, list)) else ""
        raise ValueError(
            "fit(): validation_data must be (x_val, y_val), (x_val, y_val, val_sample_weight), "
            f"a ge.utils.PyDataset or a generator; received a {type(validation_data).__name__}"
            + size
        )
    x, y, *rest = validation_data
    return x, y, (rest[0] if rest else None)


def rows_of(struct: Any, idx: np.ndarray) -> Any:
    """The rows `idx` of every array in `struct` (a batch)."""
    return pack_like(struct, [a[idx] for a in flatten(struct)])


def python_logs(logs: Any, owner: str) -> dict[str, float]:
    """What a custom step returned, as Keras logs: a dict whose nested dicts are flattened
    (compile_metrics' result) and whose numbers are floats."""
    if logs is None:
        return {}
    if not isinstance(logs, dict):
        raise TypeError(f"{owner} must return a dict of logs, received {type(logs).__name__}")
    flat: dict[str, float] = {}
    for key, value in logs.items():
        if isinstance(value, dict):
            flat.update(python_logs(value, owner))
        else:
            array = np.asarray(value)
            flat[key] = float(array.reshape(-1)[0]) if array.size == 1 else array
    return flat


def join_batches(outs: list) -> Any:
    """predict_step results of every batch, joined by rows (nested as the first one)."""
    if not outs:
        return None
    first = outs[0]
    joined = [np.concatenate([np.asarray(a) for a in parts]) for parts in zip(*map(flatten, outs))]
    return pack_like(first, joined)


def _one_or_all(per_output: list) -> Any:
    """A list of one entry per output as compile_utils.per_output reads it: the entry itself
    for a single output."""
    return per_output[0] if len(per_output) == 1 else per_output


def _logs_result(logs: dict[str, float], return_dict: bool) -> Any:
    if return_dict:
        return dict(logs)
    values = list(logs.values())
    return values[0] if len(values) == 1 else values
