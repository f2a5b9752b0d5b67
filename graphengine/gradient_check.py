"""`ge.utils.check_gradients`: the backward graph's gradients against float64 central
differences, layer by layer, for a user's model.

The check runs on a float64 copy of the model (clone_model with every float layer and input in
float64, the weights copied in), so a float32 model is checked at float64 precision and is left
untouched. With targets `y` the function differentiated is the compiled loss (output losses,
loss weights, regularization penalties and added losses, as a training step computes it); without,
it is sum(outputs * c) for a seeded random cotangent c. Each weight (and each float input) is
perturbed at up to `max_entries` seeded positions, two forward passes each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from graphengine.autodiff.backward import gradients
from graphengine.graph.tensor import Constant, SymbolicTensor, graph_mode
from graphengine.layers.core import Input
from graphengine.models import clone_model
from graphengine.ops.base import RunContext
from graphengine.runtime.devices import get_device
from graphengine.runtime.plan import Plan


class GradientCheckError(AssertionError):
    """Raised by check_gradients when an analytic gradient disagrees with the numeric one; its
    `report` holds every row."""

    def __init__(self, message: str, report: GradientReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class GradientRow:
    """One checked tensor: the layer it belongs to ("(input)" for a model input), its name and
    shape, how many entries were compared, and the worst errors among them."""

    layer: str
    name: str
    shape: tuple
    entries: int
    max_abs_error: float
    max_rel_error: float
    ok: bool


@dataclass
class GradientReport:
    """Every row of a check; `ok` when all agree; `str(report)` is a table."""

    model: str
    function: str
    rows: list[GradientRow]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def __str__(self) -> str:
        head = f"Gradient check of '{self.model}' ({self.function}, float64 central differences)"
        lines = [head, f"{'layer':<24} {'tensor':<24} {'shape':<16} {'n':>5} {'abs err':>9} "
                 f"{'rel err':>9}  ok"]  # fmt: skip
        for r in self.rows:
            shape = "(" + ", ".join(str(d) for d in r.shape) + ")"
            lines.append(
                f"{r.layer[:24]:<24} {r.name[:24]:<24} {shape[:16]:<16} {r.entries:>5} "
                f"{r.max_abs_error:>9.2e} {r.max_rel_error:>9.2e}  {'yes' if r.ok else 'NO'}"
            )
        return "\n".join(lines)


def check_gradients(
    model: Any,
    x: Any,
    y: Any = None,
    sample_weight: Any = None,
    *,
    training: bool = False,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    max_entries: int | None = 64,
    seed: int = 0,
) -> GradientReport:
    """Checks the gradients the backward graph computes for `model` at `x` (and targets `y`,
    with the compiled loss) against float64 central differences: per weight and float input,
    |analytic - numeric| <= atol + rtol * |numeric| at up to `max_entries` seeded entries (None:
    all). Returns the per-layer report; raises GradientCheckError (an AssertionError) listing
    the mismatches. `training=True` checks the training-mode graph (batch statistics; dropout
    with the same seeded masks in every pass)."""
    if not (eps > 0 and rtol >= 0 and atol >= 0):
        raise ValueError(
            f"check_gradients(): eps must be > 0 and rtol, atol >= 0, received eps={eps}, "
            f"rtol={rtol}, atol={atol}"
        )
    if max_entries is not None and (not isinstance(max_entries, int) or max_entries < 1):
        raise ValueError(
            f"check_gradients(): max_entries must be a positive int or None, got {max_entries!r}"
        )
    if y is None and sample_weight is not None:
        raise ValueError("check_gradients(): sample_weight needs targets y")
    model64 = _float64_copy(model, "check_gradients()")
    xs = [np.array(a) for a in model64._feed_list(x)]
    xs = model64._check_arrays(xs, model64.inputs)
    xs = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in xs]
    rng = np.random.default_rng(seed)
    check = _Check(model64, xs, y, sample_weight, training, rng)
    report = GradientReport(model.name, check.function, [])
    for (layer, name), value, analytic in zip(check.names, check.arrays, check.analytic):
        report.rows.append(
            _compare(layer, name, value, analytic, check.loss, eps, rtol, atol, max_entries, rng)
        )
    bad = [r for r in report.rows if not r.ok]
    if bad:
        raise GradientCheckError(
            f"check_gradients(): {len(bad)} of {len(report.rows)} gradients disagree with "
            f"central differences:\n{report}",
            report,
        )
    return report


def _float64_copy(model: Any, owner: str) -> Any:
    """`model` itself when every float weight and input is float64, else a float64 clone with
    the same weights (compiled alike)."""
    floats = [t for t in list(model.inputs) + list(model.weights) if _is_float(t.dtype)]
    if all(np.dtype(t.dtype) == np.float64 for t in floats):
        return model
    try:
        inputs = [
            Input(
                batch_shape=t.shape,
                dtype="float64" if _is_float(t.dtype) else t.dtype,
                name=t.name,
            )
            for t in model.inputs
        ]
        copy = clone_model(
            model,
            input_tensors=inputs if len(inputs) > 1 else inputs[0],
            clone_function=_float64_layer,
            recursive=True,
        )
    except ValueError as e:
        raise ValueError(
            f"{owner}: cannot make a float64 copy of model '{model.name}' ({e}); build it in "
            "float64 (dtype='float64' on its layers and inputs) to check it as it is"
        ) from None
    copy.set_weights(
        [w.astype(np.float64) if _is_float(w.dtype) else w for w in model.get_weights()]
    )
    return copy


def _float64_layer(layer: Any) -> Any:
    """A float64 copy of `layer`; a layer without weights that cannot be copied through its
    config (a Lambda of an unregistered function) serves both models as it is."""
    try:
        config = layer.get_config()
        if _is_float(config.get("dtype") or "float32"):
            config["dtype"] = "float64"
        return type(layer).from_config(config)
    except (TypeError, ValueError):
        if layer.weights:
            raise
        return layer


def _is_float(dtype: Any) -> bool:
    try:
        return np.dtype(dtype).kind == "f"
    except TypeError:
        return False


class _Check:
    """The float64 model's plans: `loss()` the checked scalar at the current weights and
    inputs; `arrays` what is perturbed (float inputs, then trainable weights, in place),
    `analytic` their gradients from the backward graph, `names` (layer, tensor) of each."""

    def __init__(
        self, model: Any, xs: list, y: Any, sample_weight: Any, training: bool, rng: Any
    ) -> None:
        feeds, values = list(model.inputs), list(xs)
        if y is None:
            self.function = "sum(outputs * random cotangent)"
            outs = model(xs if len(xs) > 1 else xs[0], training=training)
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            cots = [rng.standard_normal(np.shape(o)) for o in outs]
            with graph_mode():
                total = _weighted_sum(model.outputs, [Constant(c) for c in cots])
        else:
            if not getattr(model, "compiled", False):
                raise ValueError(
                    f"check_gradients(): model '{model.name}' is not compiled: targets y are "
                    "checked through the compiled loss (compile(loss=...) first, or pass no y)"
                )
            self.function = "compiled loss"
            # the model's own checks of a batch and its (cached) training program
            batch = (xs if len(xs) > 1 else xs[0], y, sample_weight)
            _, ys, sws = model._prepared_batch(batch, None)
            program = model._program(ys, sws)
            total = program.total
            feeds += program.y_true + [t for t in program.sample_weights if t is not None]
            values += ys + [w for w in sws if w is not None]
        float_inputs = [t for t, a in zip(model.inputs, xs) if a.dtype.kind == "f"]
        weights = list(model.trainable_weights)
        with graph_mode():
            grads = gradients([total], [Constant(np.ones((), total.dtype))], float_inputs + weights)
        self.arrays = [a for a in xs if a.dtype.kind == "f"] + [w.value for w in weights]
        self.names = [("(input)", t.name) for t in float_inputs] + [
            (w.path.rsplit("/", 1)[0] if "/" in w.path else model.name, w.name) for w in weights
        ]
        device, shapes = get_device("cpu"), [np.shape(v) for v in values]
        self._values, self._seed = values, int(rng.integers(2**63))
        # what a pass may change besides its outputs (moving statistics, seed generators'
        # states, RNN states): put back before every pass, so each sees the same state
        self._state = [(w.value, w.value.copy()) for w in model.non_trainable_weights]
        live = [g for g in grads if g is not None]
        extents = model._extents(model._extent_sizes(xs))  # graph ids' max + 1 (Op.extent_input)
        self._grad_plan = Plan(feeds, live, shapes, device, RunContext(training), extents)
        self._loss_plan = Plan(feeds, [total], shapes, device, RunContext(training), extents)
        # a seeded random layer's op draws from a generator of its own: rewound every pass too
        self._generators = [
            (rng, rng.bit_generator.state)
            for plan in (self._grad_plan, self._loss_plan)
            for step in plan.steps
            if isinstance(rng := getattr(getattr(step.run, "__self__", None), "_rng", None),
                          np.random.Generator)
        ]  # fmt: skip
        results = iter(self._run(self._grad_plan))
        self.analytic = [
            np.array(next(results), np.float64) if g is not None else np.zeros_like(a)
            for g, a in zip(grads, self.arrays)
        ]

    def _run(self, plan: Plan) -> list:
        for value, saved in self._state:
            np.copyto(value, saved)
        for rng, state in self._generators:
            rng.bit_generator.state = state
        plan.ctx.rng = np.random.default_rng(self._seed)  # the same dropout masks every pass
        return plan.run(self._values)

    def loss(self) -> float:
        return float(np.asarray(self._run(self._loss_plan)[0]))


def _weighted_sum(outputs: list[SymbolicTensor], cotangents: list[Any]) -> SymbolicTensor:
    from graphengine.ops import api

    terms = [api.sum(api.multiply(o, c)) for o, c in zip(outputs, cotangents)]
    total = terms[0]
    for t in terms[1:]:
        total = api.add(total, t)
    return total


def central_differences(
    f: Callable[[], float], value: np.ndarray, eps: float, picks: np.ndarray | None = None
) -> np.ndarray:
    """(f(value + eps e_i) - f(value - eps e_i)) / (2 eps) in float64 for each flat entry i of
    `picks` (default: every entry), perturbing `value` in place and restoring each entry: the
    one central-difference loop (tests/gradcheck.py's checks use it too)."""
    flat = value.reshape(-1)
    picks = np.arange(flat.size) if picks is None else picks
    numeric = np.empty(len(picks))
    for k, i in enumerate(picks):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        numeric[k] = (up - down) / (2 * eps)
    return numeric


def _compare(
    layer: str,
    name: str,
    value: np.ndarray,
    analytic: np.ndarray,
    loss: Any,
    eps: float,
    rtol: float,
    atol: float,
    max_entries: int | None,
    rng: np.random.Generator,
) -> GradientRow:
    """Central differences of `loss` at the chosen entries of `value` (perturbed in place and
    restored), against `analytic` there."""
    grad = analytic.reshape(-1)
    picks = np.arange(grad.size)
    if max_entries is not None and grad.size > max_entries:
        picks = np.sort(rng.choice(grad.size, max_entries, replace=False))
    numeric = central_differences(loss, value, eps, picks)
    err = np.abs(grad[picks] - numeric)
    bound = atol + rtol * np.abs(numeric)
    finite = np.isfinite(numeric) & np.isfinite(grad[picks])
    rel = err / np.maximum(np.abs(numeric), np.finfo(np.float64).tiny)
    return GradientRow(
        layer=layer,
        name=name,
        shape=tuple(value.shape),
        entries=int(picks.size),
        max_abs_error=float(err.max()) if err.size else 0.0,
        max_rel_error=float(rel.max()) if rel.size else 0.0,
        ok=bool(np.all(finite & (err <= bound))),
    )
