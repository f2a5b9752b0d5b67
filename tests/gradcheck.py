"""The one gradient check: analytic vector-Jacobian products from `model.vjp` against central
finite differences, in float64. Everything that has a gradient is checked through here."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

import graphengine as ge
from graphengine.gradient_check import central_differences


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def numeric_vjp(f: Callable[[], float], arrays: Sequence[np.ndarray], eps: float) -> list:
    """d f / d a for every array a, by central differences, perturbing each array in place."""
    return [central_differences(f, a, eps).reshape(a.shape) for a in arrays]


def check_model_grads(
    model: Any,
    xs: Any,
    seed: int = 0,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    training: bool = False,
) -> None:
    """Checks d<model(xs), c>/d(inputs) and /d(trainable weights) for a random cotangent c.

    The model must be float64 throughout. Integer inputs are skipped (their dx must be None).
    """
    rng = np.random.default_rng(seed)
    xs = [np.array(x) for x in _as_list(xs)]
    outs = _as_list(model(xs if len(xs) > 1 else xs[0], training=training))
    cots = [rng.standard_normal(np.shape(o)) for o in outs]
    dx, dw = model.vjp(
        xs if len(xs) > 1 else xs[0], cots if len(cots) > 1 else cots[0], training=training
    )

    def f() -> float:
        ys = _as_list(model(xs if len(xs) > 1 else xs[0], training=training))
        return float(sum(np.sum(np.asarray(y) * c) for y, c in zip(ys, cots)))

    float_xs = [x for x in xs if x.dtype.kind == "f"]
    weights = [w.value for w in model.trainable_weights]
    for w in weights:
        assert w.dtype == np.float64, (
            "gradient checks run in float64: build the layers with dtype='float64'"
        )
    numeric = numeric_vjp(f, float_xs + weights, eps)
    analytic = [d for x, d in zip(xs, dx) if x.dtype.kind == "f"] + list(dw)
    for x, d in zip(xs, dx):
        if x.dtype.kind != "f":
            assert d is None, "an integer input has no gradient: vjp must return None for it"
    names = [f"input {i}" for i in range(len(float_xs))] + [w.path for w in model.trainable_weights]
    for name, a, n in zip(names, analytic, numeric):
        np.testing.assert_allclose(
            a, n, rtol=rtol, atol=atol, err_msg=f"gradient of {name}:\nanalytic\n{a}\nnumeric\n{n}"
        )


def check_grads(fn: Callable, *arrays: np.ndarray, **kwargs: Any) -> None:
    """Gradient check of `fn`, written with ge.ops on symbolic tensors, at the given float64
    arrays (their full shapes, batch axis included, become the Input shapes)."""
    inputs = [ge.Input(batch_shape=np.shape(a), dtype=np.asarray(a).dtype) for a in arrays]
    model = ge.Model(inputs, fn(*inputs))
    check_model_grads(model, list(arrays), **kwargs)
