"""compile / fit / evaluate / predict for Model. A training step is one compiled plan: forward,
loss, backward graph and the optimizer update, over buffers that batches are copied into."""

from __future__ import annotations

import math
import warnings
from contextlib import AbstractContextManager
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from graphengine import common
from graphengine import distributed as dist
from graphengine.autodiff.backward import backward_digraph, gradients
from graphengine.graph.node import LayerCall, recorded_calls
from graphengine.graph.tensor import Constant, SymbolicTensor, format_shape, graph_mode
from graphengine.ops import api as ops
from graphengine.runtime.devices import get_device
from graphengine.runtime.plan import Plan
from graphengine.training import data
from graphengine.training import losses as losses_module
from graphengine.training import metrics as metrics_module
from graphengine.training import optimizers as optimizers_module
from graphengine.training.callbacks import CallbackList, CSVLogger, ModelCheckpoint
from graphengine.tree import flatten, pack_like

ROOT_ONLY_CALLBACKS = (ModelCheckpoint, CSVLogger)


class TrainingProgram:
    """The symbolic training graph for one target signature: target placeholders, the total
    loss (weighted output losses plus regularization), per-output losses and the gradients."""

    def __init__(self, model: Any, targets: list[np.ndarray]) -> None:
        self.weights = model.trainable_weights
        self.y_true = [
            SymbolicTensor((None,) + y.shape[1:], y.dtype, name=f"{name}_target")
            for y, name in zip(targets, model.output_names)
        ]
        with graph_mode():
            calls = _all_calls(model._sites)
            # a subclassed model's call() may add_loss outside any layer call
            own = getattr(model, "_traced_losses", None) or []
            self.total, self.output_losses = loss_terms(
                model, self.y_true, model.outputs, calls, own
            )
            losses = [loss for loss in self.output_losses if loss is not None]
            # what the logs show: the total, and each output's loss when there are several
            self.reported = [self.total] + (losses if len(model.outputs) > 1 else [])
        self.idle: Any = None  # the update of a rank with no samples in a batch (distributed)
        seed = Constant(np.ones((), self.total.dtype))
        self.grads = gradients([self.total], [seed], self.weights)


def loss_terms(
    model: Any, y_true: list, y_pred: list, calls: list, extra: Sequence[Any] = ()
) -> tuple[Any, list]:
    """(total, per-output losses) in graph mode: the weighted output losses, the trainable
    weights' penalties, the `losses` of `calls` (add_loss, activity regularization) and the
    `extra` terms, each term a scalar."""
    outputs = [_output_loss(model, i, t, p) for i, (t, p) in enumerate(zip(y_true, y_pred))]
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


def _output_loss(model: Any, i: int, y_true: Any, y_pred: Any) -> SymbolicTensor | None:
    loss = model._loss_fns[i]
    if loss is None:
        return None
    try:
        return loss(y_true, y_pred)
    except ValueError as e:
        raise ValueError(
            f"Model '{model.name}': the targets for output '{model.output_names[i]}' have "
            f"shape {format_shape(y_true.shape)} but the output has shape "
            f"{format_shape(y_pred.shape)}; loss '{loss.name}' cannot compare them ({e})"
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

    def _require_graph(self) -> None: ...
    def _feed_list(self, inputs: Any) -> list: ...
    def _check_arrays(self, arrays: Sequence[Any], tensors: Sequence[SymbolicTensor]) -> list: ...
    def _plan(self, key: tuple, feeds: list, targets: list, shapes: list, training: bool,
              on_create: Any = None) -> AbstractContextManager[Plan]: ...  # fmt: skip
    def _forget_plans(self) -> None: ...
    def _forward(self, inputs: Any, training: bool, check: Any) -> list[np.ndarray]: ...
    def _run(self, targets: list, arrays: list, training: bool, checked: bool = False) -> list: ...


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
        device: str | None = None,
        distributed: bool = False,
        **kwargs: Any,
    ) -> None:
        common.check_kwargs("compile()", kwargs, common.parameter_names(Trainer.compile))
        if not self.built:
            # a subclassed model (or a Sequential without an input shape) has no outputs yet:
            # check what can be checked now, finish when the first data builds it
            get_device(device)
            for m in flatten(metrics) if isinstance(metrics, (list, tuple, dict)) else [metrics]:
                if m is not None:
                    metrics_module.check_name(m)
            self.optimizer = optimizers_module.get(optimizer)
            self._pending_compile = {
                "optimizer": self.optimizer,
                "loss": loss,
                "loss_weights": loss_weights,
                "metrics": metrics,
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
        self._metric_ids = [
            list(m or []) if isinstance(m, (list, tuple)) else ([m] if m else [])
            for m in self._per_output(metrics, "metrics", nested=True)
        ]
        for ids in self._metric_ids:
            for m in ids:
                metrics_module.check_name(m)
        self._programs: dict[tuple, TrainingProgram] = {}
        self._forget_plans()
        self._trackers = [metrics_module.Mean(name="loss")]
        if any(self._metric_ids):
            self._trackers.append(
                metrics_module.CompileMetrics(self._metric_ids, self.output_names)
            )
        self._running: dict[Any, np.ndarray] = {}  # what the default train_step has summed
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
        for metric in self.metrics:
            metric.reset_state()
        self._running = {}

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Any:
        """Keras 3's: the compiled loss of `y` and `y_pred` (loss_weights applied), plus the
        add_loss terms and weight penalties. Inside `ge.value_and_grad` it is part of the traced
        graph (the add_loss terms of the calls fn made); on arrays it returns the number (with
        the model's current penalties)."""
        self._require_compiled("compute_loss")
        self._require_graph()
        if sample_weight is not None:
            raise NotImplementedError(
                f"Model '{self.name}'.compute_loss: sample_weight is not supported yet"
            )
        ys, preds = flatten(y), flatten(y_pred)
        if len(preds) != len(self.outputs) or len(ys) != len(self.outputs):
            raise ValueError(
                f"Model '{self.name}'.compute_loss: the model has {len(self.outputs)} outputs, "
                f"received {len(ys)} targets and {len(preds)} predictions"
            )
        if not any(isinstance(p, SymbolicTensor) for p in preds):
            preds = [np.asarray(p) for p in preds]
            ys = [np.asarray(t) for t in ys]
            terms = [
                ops.multiply(loss(t, p), w)
                for loss, w, t, p in zip(self._loss_fns, self._loss_weights, ys, preds)
                if loss is not None
            ]
            return float(sum(np.asarray(term, np.float64) for term in terms) + sum(self.losses))
        calls = recorded_calls()
        if calls is None:
            calls = []
        with graph_mode():
            total, _ = loss_terms(self, ys, preds, calls)
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
        if not getattr(self, "compiled", False):
            return []
        outputs = [tuple(o.shape) for o in self.outputs]
        return self._log_names(
            [
                [metrics_module.get(m, o, o) for m in ids]
                for ids, o in zip(self._metric_ids, outputs)
            ]
        )

    def _require_compiled(self, what: str) -> None:
        if not getattr(self, "compiled", False):
            raise RuntimeError(
                f"Model '{self.name}' must be compiled before {what}(): call "
                "model.compile(optimizer=..., loss=...) first"
            )

    # -- plans ---------------------------------------------------------------------------------
    def _program(self, ys: list) -> TrainingProgram:
        key = (
            tuple((y.shape[1:], y.dtype.name) if y is not None else None for y in ys),
            tuple(w.id for w in self.trainable_weights),
        )
        if key not in self._programs:
            program = TrainingProgram(self, [y if y is not None else np.zeros((1,)) for y in ys])
            self._programs[key] = program
            self._backward_graph = backward_digraph(program.grads)  # the training one now
        return self._programs[key]

    def _step_plan(
        self, program: TrainingProgram, xs: list, ys: list, n: int, training: bool
    ) -> AbstractContextManager[Plan]:
        """`with self._step_plan(...) as plan:` the plan for one batch of n samples: loss,
        per-output losses and predictions, plus, when training, the gradients and the optimizer
        update appended as the last step."""
        y_feeds = [t for t, y in zip(program.y_true, ys) if y is not None]
        y_arrays = [y for y in ys if y is not None]
        targets = (
            program.reported + self.outputs + [m for m in self._output_masks() if m is not None]
        )
        pairs = [(g, w) for g, w in zip(program.grads, program.weights) if g is not None]
        if training:
            targets += [g for g, _ in pairs]
        shapes = [(n,) + a.shape[1:] for a in xs + y_arrays]
        return self._plan(
            ("train" if training else "eval", id(program)),
            self.inputs + y_feeds,
            targets,
            shapes,
            training,
            # a frozen model (no trainable weights) trains with no update, as Keras warns
            on_create=(lambda plan: self._append_update(plan, pairs))
            if training and program.weights
            else None,
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
    def _metrics(self, ys: list) -> list[list]:
        return [
            [metrics_module.get(m, y.shape, tuple(o.shape)) for m in ids] if y is not None else []
            for ids, y, o in zip(self._metric_ids, ys, self.outputs)
        ]

    def _log_names(self, metric_objs: list[list]) -> list[str]:
        multi = len(self.outputs) > 1
        names = ["loss"]
        if multi:
            names += [
                f"{n}_loss" for n, f in zip(self.output_names, self._loss_fns) if f is not None
            ]
        for n, objs in zip(self.output_names, metric_objs):
            names += [f"{n}_{m.name}" if multi else m.name for m in objs]
        return names

    def _run_batches(
        self,
        xs: list,
        ys: list,
        batch_size: int,
        training: bool,
        order: np.ndarray | None,
        callbacks: CallbackList | None,
        hook: str,
        running: dict | None = None,
    ) -> dict[str, float]:
        """One pass over the data; returns the sample-weighted means (loss, metrics). When
        distributed, each rank runs its shard of every batch and the sums are allreduced. With
        `running`, the sums go on from (and into) its entry for this program and mode: the
        means since the last reset_metrics, as the default train_step reports them."""
        program = self._program(ys)
        if training and not program.weights:
            warnings.warn(
                f"The model does not have any trainable weights: model '{self.name}' computes "
                "the loss but updates nothing (every layer is frozen)",
                stacklevel=3,
            )
        metrics = [(i, m) for i, ids in enumerate(self._metrics(ys)) for m in ids]
        names = self._log_names(self._metrics(ys))
        n_losses = len(program.reported)
        order = np.arange(len(xs[0])) if order is None else order
        totals = np.zeros(n_losses + 1 + 2 * len(metrics))  # loss sums, samples, metric sums
        if running is not None:
            totals = running.setdefault((id(program), training), totals)
        logs: dict[str, float] = {}
        for b, start in enumerate(range(0, len(order), batch_size)):
            idx = order[start : start + batch_size]
            if callbacks is not None:
                getattr(callbacks, f"on_{hook}_batch_begin")(b)
            local = dist.shard(idx) if self.distributed else idx
            step = np.zeros_like(totals)
            if len(local):
                step = self._run_batch(program, xs, ys, local, len(idx), training, metrics, step)
            elif training:
                self._idle_update(program)
            if self.distributed:
                dist.allreduce_sum(step)
            totals += step
            values = list(totals[:n_losses] / totals[n_losses])
            values += [t / c if c else 0.0 for t, c in totals[n_losses + 1 :].reshape(-1, 2)]
            logs = dict(zip(names, [float(v) for v in values]))
            if callbacks is not None:
                getattr(callbacks, f"on_{hook}_batch_end")(b, logs)
            if training and self.stop_training:
                break
        return logs

    def _run_batch(
        self,
        program: TrainingProgram,
        xs: list,
        ys: list,
        idx: np.ndarray,
        n_global: int,
        training: bool,
        metrics: list,
        step: np.ndarray,
    ) -> np.ndarray:
        """Runs one (local) batch; fills `step` with its loss sums, sample count and metric
        (sum, count) pairs."""
        with self._step_plan(program, xs, ys, len(idx), training) as plan:
            return self._run_plan(plan, program, xs, ys, idx, n_global, metrics, step)

    def _run_plan(
        self,
        plan: Plan,
        program: TrainingProgram,
        xs: list,
        ys: list,
        idx: np.ndarray,
        n_global: int,
        metrics: list,
        step: np.ndarray,
    ) -> np.ndarray:
        if plan.update is not None and plan.update.reducer is not None:
            plan.update.reducer.fraction = len(idx) / n_global
        for buf, a in zip(plan.feed_buffers, xs + [y for y in ys if y is not None]):
            plan.device.take_rows(buf, a, idx)  # the batch's one copy in
        results = plan.run()
        n_losses = len(program.reported)
        step[:n_losses] = [float(plan.device.to_host(r)) * len(idx) for r in results[:n_losses]]
        step[n_losses] = len(idx)
        # the outputs' masks follow the outputs among the results (see _step_plan)
        mask_results = iter(results[n_losses + len(self.outputs) :])
        mask_of = {
            i: next(mask_results) for i, m in enumerate(self._output_masks()) if m is not None
        }
        preds: dict[int, tuple] = {}  # output -> (prediction, mask), copied to the host once
        for j, (i, metric) in enumerate(metrics):
            if i not in preds:
                mask = plan.device.to_host(mask_of[i]) if i in mask_of else None
                preds[i] = (plan.device.to_host(results[n_losses + i]), mask)
            pred, mask = preds[i]
            values = np.asarray(metric.fn(ys[i][idx], pred), dtype=np.float64)
            if mask is not None and mask.shape == values.shape:  # as Keras: kept entries only
                total, count = (values * mask).sum(), mask.sum()
            else:
                total, count = values.sum(), values.size
            step[n_losses + 1 + 2 * j : n_losses + 3 + 2 * j] = total, count
        return step

    def _output_masks(self) -> list:
        """Each output's mask (a tensor of 1.0 for the entries to keep), or None."""
        return [getattr(o, "mask", None) for o in self.outputs]

    # -- the steps fit / evaluate / predict take per batch (Keras 3) ------------------------------
    def train_step(self, data: Any) -> dict[str, float]:
        """One compiled training step on the batch `data` ((x, y) or (x, y, None)): what fit
        runs when the subclass does not override it, and what `super().train_step(data)` runs
        from an override. Returns the loss and metrics averaged since the epoch began."""
        return self._default_step(data, True)

    def test_step(self, data: Any) -> dict[str, float]:
        """One compiled evaluation step on the batch `data`; returns the running means."""
        return self._default_step(data, False)

    def predict_step(self, data: Any) -> Any:
        """The model's outputs for the batch `data` (x, or a tuple whose first entry is x)."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self.predict_on_batch(x)

    def _default_step(self, batch: Any, training: bool) -> dict[str, float]:
        x, y, sample_weight = unpack_x_y_sample_weight(batch)
        if sample_weight is not None:
            raise NotImplementedError(
                f"Model '{self.name}': sample_weight in a training step is not supported yet"
            )
        self._require_compiled("train_step" if training else "test_step")
        xs, ys = self._prepare(x, y)
        return self._run_batches(
            xs, ys, len(xs[0]), training, None, None, "train" if training else "test",
            running=self._running,
        )  # fmt: skip

    def _overrides(self, step: str) -> bool:
        """Whether the model's class writes its own train_step / test_step / predict_step."""
        return getattr(type(self), step) is not getattr(Trainer, step)

    def _custom_loop(
        self,
        step: str,
        x: Any,
        y: Any,
        batch_size: int,
        order: np.ndarray | None,
        callbacks: CallbackList | None,
        hook: str,
    ) -> Any:
        """Calls the model's own `step` once per batch with the batch's arrays, as Keras 3 does
        on its torch backend; returns the last logs (dicts flattened, numbers as floats), or
        the list of predict_step results."""
        arrays, n = batch_arrays(self, x, y)
        order = np.arange(n) if order is None else order
        logs: dict[str, float] = {}
        results = []
        for b, start in enumerate(range(0, n, batch_size)):
            idx = order[start : start + batch_size]
            if callbacks is not None:
                getattr(callbacks, f"on_{hook}_batch_begin")(b)
            xb = rows_of(arrays[0], idx)
            if y is not None:
                batch = (xb, rows_of(arrays[1], idx))
            else:  # Keras: x alone, or (x,) when x is itself a tuple or list of inputs
                batch = (xb,) if isinstance(xb, (tuple, list)) else xb
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
        initial_epoch: int = 0,
        validation_batch_size: int | None = None,
        validation_freq: int = 1,
        **kwargs: Any,
    ) -> Any:
        """Trains for `epochs` epochs; returns the History (model.history)."""
        common.check_kwargs("fit()", kwargs, common.parameter_names(Trainer.fit))
        self._require_compiled("fit")
        batch_size = data.batch_size(batch_size)
        epochs, initial_epoch, validation_freq = data.epoch_arguments(
            epochs, initial_epoch, validation_freq
        )
        if validation_batch_size is not None:
            validation_batch_size = data.batch_size(validation_batch_size, "validation_batch_size")
        validation_split, verbose = data.validation_split(validation_split), data.verbose(verbose)
        if self._overrides("train_step"):
            return self._fit_custom(
                x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                shuffle, initial_epoch, validation_batch_size, validation_freq,
            )  # fmt: skip
        xs, ys = self._prepare(x, y)
        val = self._prepare(*validation_data[:2]) if validation_data is not None else None
        if val is None and validation_split:
            (xs, ys), val = data.split(xs, ys, validation_split)
        if self.distributed and dist.rank() != 0:
            verbose = 0  # rank 0 reports; only it writes checkpoints and logs
            callbacks = [c for c in callbacks or [] if not isinstance(c, ROOT_ONLY_CALLBACKS)]
        n = len(xs[0])

        def run_epoch(cbs: CallbackList) -> dict[str, float]:
            order = common.rng().permutation(n) if shuffle else None
            if order is not None and self.distributed:
                dist.broadcast(order)  # every rank walks the same batches
            return self._run_batches(xs, ys, batch_size, True, order, cbs, "train")

        def validate() -> dict[str, float]:
            return self._run_batches(
                *val, validation_batch_size or batch_size, False, None, None, "test"
            )

        return self._epochs(
            callbacks, verbose, epochs, math.ceil(n / batch_size), initial_epoch,
            validation_freq, run_epoch, validate if val is not None else None,
        )  # fmt: skip

    def _epochs(
        self,
        callbacks: Sequence[Any] | None,
        verbose: int,
        epochs: int,
        steps: int,
        initial_epoch: int,
        validation_freq: int,
        run_epoch: Callable[[CallbackList], dict[str, float]],
        validate: Callable[[], dict[str, float]] | None,
    ) -> Any:
        """fit's epochs: callbacks around each, `run_epoch` (the training logs), then every
        `validation_freq` epochs `validate` (logged with a val_ prefix); returns the History."""
        cbs = CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=epochs,
            steps=steps,
        )
        self.stop_training = False
        cbs.on_train_begin()
        logs: dict[str, float] = {}
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            logs = run_epoch(cbs)
            if validate is not None and (epoch + 1 - initial_epoch) % validation_freq == 0:
                logs.update({f"val_{k}": v for k, v in validate().items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history

    def _fit_custom(
        self,
        x: Any,
        y: Any,
        batch_size: int,
        epochs: int,
        verbose: int,
        callbacks: Sequence[Any] | None,
        validation_split: float,
        validation_data: Any,
        shuffle: bool,
        initial_epoch: int,
        validation_batch_size: int | None,
        validation_freq: int,
    ) -> Any:
        """fit for a model with its own train_step: the batches go to it as arrays."""
        if self.distributed:
            raise NotImplementedError(
                f"Model '{self.name}': a custom train_step does not run distributed yet"
            )
        arrays, n = batch_arrays(self, x, y)
        val = validation_data
        if val is None and validation_split:
            at = data.split_point(n, validation_split)
            head, tail = np.arange(at), np.arange(at, n)
            val = tuple(rows_of(a, tail) for a in arrays if a is not None)
            x, y = (rows_of(a, head) if a is not None else None for a in arrays)
            n = at

        def run_epoch(cbs: CallbackList) -> dict[str, float]:
            self.reset_metrics()
            order = common.rng().permutation(n) if shuffle else None
            return self._custom_loop("train_step", x, y, batch_size, order, cbs, "train")

        def validate() -> dict[str, float]:
            return self.evaluate(
                *val[:2], batch_size=validation_batch_size or batch_size, verbose=0,
                return_dict=True,
            )  # fmt: skip

        return self._epochs(
            callbacks, verbose, epochs, math.ceil(n / batch_size), initial_epoch,
            validation_freq, run_epoch, validate if val is not None else None,
        )  # fmt: skip

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: Any = "auto",
        callbacks: Sequence[Any] | None = None,
        return_dict: bool = False,
        **kwargs: Any,
    ) -> Any:
        """The loss (and metrics) over the data: a scalar, [loss, *metrics], or a dict."""
        common.check_kwargs("evaluate()", kwargs, common.parameter_names(Trainer.evaluate))
        self._require_compiled("evaluate")
        batch_size = data.batch_size(batch_size)
        if self._overrides("test_step"):
            self.reset_metrics()
            return _logs_result(
                self._custom_loop("test_step", x, y, batch_size, None, None, "test"), return_dict
            )
        xs, ys = self._prepare(x, y)
        cbs = CallbackList(
            callbacks,
            add_progbar=data.verbose(verbose) != 0,
            model=self,
            verbose=data.verbose(verbose),
            steps=math.ceil(len(xs[0]) / batch_size),
        )
        cbs.on_test_begin()
        logs = self._run_batches(xs, ys, batch_size, False, None, cbs, "test")
        cbs.on_test_end(logs)
        return _logs_result(logs, return_dict)

    def train_on_batch(self, x: Any, y: Any = None, return_dict: bool = False) -> Any:
        """One optimizer step on exactly this batch; returns its loss (and metrics)."""
        self._require_compiled("train_on_batch")
        xs, ys = self._prepare(x, y)
        logs = self._run_batches(xs, ys, len(xs[0]), True, None, None, "train")
        return _logs_result(logs, return_dict)

    def test_on_batch(self, x: Any, y: Any = None, return_dict: bool = False) -> Any:
        self._require_compiled("test_on_batch")
        xs, ys = self._prepare(x, y)
        return _logs_result(
            self._run_batches(xs, ys, len(xs[0]), False, None, None, "test"), return_dict
        )

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: Any = "auto",
        callbacks: Sequence[Any] | None = None,
    ) -> Any:
        """Outputs for every sample, batch by batch: an array (or a list for several outputs)."""
        if self._overrides("predict_step"):
            outs = self._custom_loop(
                "predict_step", x, None, data.batch_size(batch_size), None, None, "predict"
            )
            return join_batches(outs)
        xs, _ = self._prepare(x, need_y=False)
        batch_size = data.batch_size(batch_size)
        n = len(xs[0])
        cbs = CallbackList(
            callbacks,
            add_progbar=data.verbose(verbose) != 0,
            model=self,
            verbose=data.verbose(verbose),
            steps=math.ceil(n / batch_size),
        )
        cbs.on_predict_begin()
        batches: list[list[np.ndarray]] = []
        for b, start in enumerate(range(0, n, batch_size)):
            cbs.on_predict_batch_begin(b)
            outs = self._run(
                self.outputs, [a[start : start + batch_size] for a in xs], False, checked=True
            )
            if n > batch_size:
                self._check_rows_are_samples(outs, min(batch_size, n - start), batch_size, n)
            batches.append(outs)
            cbs.on_predict_batch_end(b, {"outputs": outs})
        cbs.on_predict_end()
        results = batches[0] if len(batches) == 1 else [np.concatenate(o) for o in zip(*batches)]
        return pack_like(self._outputs_struct, results) if len(results) > 1 else results[0]

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


def batch_arrays(model: Any, x: Any, y: Any) -> tuple[tuple[Any, Any], int]:
    """(x, y) with every leaf an array (pandas objects and nested lists of numbers converted),
    and the number of samples, which every leaf must share."""
    arrays = []
    for what, struct in (("x", x), ("y", y)):
        if struct is None:
            arrays.append(None)
            continue
        arrays.append(data.leaf_arrays(struct, f"Model '{model.name}': {what}"))
    counts = {
        f"{what} {i}": (len(a) if a.ndim else None)
        for what, struct in zip(("x", "y"), arrays)
        if struct is not None
        for i, a in enumerate(flatten(struct))
    }
    if not counts:
        raise ValueError(f"Model '{model.name}': x is required")
    if None in counts.values() or len(set(counts.values())) != 1:
        raise ValueError(
            f"Model '{model.name}': every array of x and y must hold the same number of samples "
            f"(a batch axis first); received {counts}"
        )
    return (arrays[0], arrays[1]), next(iter(counts.values()))


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
            flat[key] = float(array) if array.size == 1 else array
    return flat


def join_batches(outs: list) -> Any:
    """predict_step results of every batch, joined by rows (nested as the first one)."""
    if not outs:
        return None
    first = outs[0]
    joined = [np.concatenate([np.asarray(a) for a in parts]) for parts in zip(*map(flatten, outs))]
    return pack_like(first, joined)


def _logs_result(logs: dict[str, float], return_dict: bool) -> Any:
    if return_dict:
        return dict(logs)
    values = list(logs.values())
    return values[0] if len(values) == 1 else values
