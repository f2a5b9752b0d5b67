"""The one layer harness, in the spirit of Keras's `run_layer_test`: a single call checks a layer's
symbolic shape inference, eager call against the compiled model, a naive NumPy reference, config
round trip, weight get/set/count, and float64 gradients (through tests/gradcheck.py)."""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

import numpy as np

import graphengine as ge
from gradcheck import check_model_grads


def _is_multi(input_shape: Any) -> bool:
    """A list of shapes (several inputs) rather than one shape tuple."""
    return (
        isinstance(input_shape, list)
        and len(input_shape) > 0
        and isinstance(input_shape[0], (list, tuple))
    )


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _make_data(
    shapes: list[tuple], dtype: str, rng: np.random.Generator, int_range: tuple[int, int]
) -> list[np.ndarray]:
    if np.dtype(dtype).kind in "iu":
        return [rng.integers(int_range[0], int_range[1], size=s).astype(dtype) for s in shapes]
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _random_weights(layer: ge.layers.Layer, rng: np.random.Generator) -> list[np.ndarray]:
    return [(0.5 * rng.standard_normal(w.shape)).astype(w.dtype) for w in layer.weights]


def _build(
    layer: ge.layers.Layer, shapes: list[tuple], dtype: str, multi: bool
) -> tuple[list, Any, ge.Model]:
    inputs = [ge.Input(shape=s[1:], dtype=dtype) for s in shapes]
    outputs = layer(inputs if multi else inputs[0])
    model = ge.Model(inputs if multi else inputs[0], outputs)
    return inputs, outputs, model


def _call(f: Callable, xs: list[np.ndarray], multi: bool) -> list[np.ndarray]:
    """Inference (a bare eager call of a random augmentation layer trains, as in Keras)."""
    return [np.asarray(o) for o in _as_list(f(xs if multi else xs[0], training=False))]


def _close(
    actual: list, expected: list, what: str, rtol: float = 1e-10, atol: float = 1e-12
) -> None:
    assert len(actual) == len(expected), f"{what}: {len(actual)} outputs, expected {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected)):
        e = np.asarray(e)
        assert a.shape == e.shape, f"{what}: output {i} has shape {a.shape}, expected {e.shape}"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"{what}: output {i}")


def run_layer_test(
    layer_cls: type,
    kwargs: dict[str, Any] | None,
    input_shape: Sequence[int] | list[Sequence[int]],
    input_dtype: str = "float64",
    expected_output_shape: Sequence[int] | list[Sequence[int]] | None = None,
    expected_num_weights: int | None = None,
    reference: Callable | None = None,
    expected_num_params: int | None = None,
    input_data: Any = None,
    int_range: tuple[int, int] = (0, 10),
    grad_check: bool = True,
    seed: int = 0,
) -> ge.layers.Layer:
    """Runs every generic check on `layer_cls(**kwargs, dtype="float64")`.

    `input_shape` is one full shape (batch included, as in Keras) or a list of them for a layer
    taking a list of inputs; `expected_output_shape` likewise includes the batch (the symbolic
    output has None there). `reference(x, weights)` is a naive NumPy version of the layer: `x` is
    the array (or list of arrays), `weights` the list from `get_weights()`; it returns the
    expected output. Returns the layer built on symbolic inputs.
    """
    kwargs = dict(kwargs or {})
    kwargs.setdefault("dtype", "float64")
    rng = np.random.default_rng(seed)
    ge.utils.set_random_seed(seed)
    multi = _is_multi(input_shape)
    shapes = [tuple(s) for s in input_shape] if multi else [tuple(input_shape)]
    if input_data is not None:
        xs = [np.asarray(x) for x in _as_list(input_data)]
        assert [x.shape for x in xs] == shapes, "input_data must have the shapes of input_shape"
    else:
        xs = _make_data(shapes, input_dtype, rng, int_range)
    ref_x = xs if multi else xs[0]

    # -- symbolic build and shape inference ----------------------------------------------------
    layer = layer_cls(**kwargs)
    assert not layer.built or not layer.weights, "a layer must not have weights before it is built"
    inputs, outputs, model = _build(layer, shapes, input_dtype, multi)
    assert layer.built, f"{layer.name} is not built after a symbolic call"
    sym_outs = _as_list(outputs)
    for t in sym_outs:
        assert isinstance(t, ge.SymbolicTensor), f"{layer.name} returned {type(t).__name__}"
    if expected_output_shape is not None:
        expected = (
            [tuple(s) for s in expected_output_shape]
            if _is_multi(expected_output_shape)
            else [tuple(expected_output_shape)]
        )
        got = [t.shape for t in sym_outs]
        assert got == [(None,) + s[1:] for s in expected], (
            f"{layer.name}: symbolic output shapes {got}, expected {expected} (batch None)"
        )

    # -- eager call == compiled model ----------------------------------------------------------
    eager = _call(layer, xs, multi)
    compiled = _call(model, xs, multi)
    _close(eager, compiled, f"{layer.name}: eager call vs ge.Model")
    for o, t in zip(eager, sym_outs):
        fits = o.ndim == len(t.shape) and all(d in (None, n) for d, n in zip(t.shape, o.shape))
        assert fits, f"{layer.name}: eager output shape {o.shape} does not fit symbolic {t.shape}"
        assert o.dtype == np.dtype(t.dtype), (
            f"{layer.name}: eager dtype {o.dtype}, symbolic dtype {t.dtype}"
        )
    if expected_output_shape is not None:
        assert [o.shape for o in eager] == expected, (
            f"{layer.name}: eager output shapes {[o.shape for o in eager]}, expected {expected}"
        )
    for o in eager:
        assert o.dtype == np.float64, f"{layer.name}: a float64 layer returned {o.dtype}"

    # -- weights: count, shapes, get/set -------------------------------------------------------
    weights = layer.get_weights()
    if expected_num_weights is not None:
        assert len(weights) == expected_num_weights, (
            f"{layer.name}: {len(weights)} weights, expected {expected_num_weights}"
        )
    assert len(layer.weights) == len(weights)
    assert len(layer.trainable_weights) + len(layer.non_trainable_weights) == len(weights)
    n_params = sum(int(np.prod(w.shape)) for w in weights)
    assert layer.count_params() == n_params
    if expected_num_params is not None:
        assert n_params == expected_num_params, (
            f"{layer.name}: {n_params} parameters, expected {expected_num_params}"
        )
    for w in weights:
        assert w.dtype == np.float64, f"{layer.name}: float64 layer has a {w.dtype} weight"
    snapshot = [w.copy() for w in weights]
    for w in weights:  # get_weights returns copies: changing them must not touch the layer
        w += 1.0
    for w, s in zip(layer.get_weights(), snapshot):
        np.testing.assert_array_equal(w, s, err_msg=f"{layer.name}: get_weights must return copies")

    if reference is not None:
        _close(
            eager,
            _as_list(reference(ref_x, snapshot)),
            f"{layer.name}: vs NumPy reference",
            rtol=1e-7,
            atol=1e-9,
        )

    new_weights = _random_weights(layer, rng)
    layer.set_weights(new_weights)
    for w, n in zip(layer.get_weights(), new_weights):
        np.testing.assert_array_equal(w, n, err_msg=f"{layer.name}: set_weights then get_weights")
    after = _call(model, xs, multi)
    _close(_call(layer, xs, multi), after, f"{layer.name}: eager vs model after set_weights")
    if reference is not None:
        _close(
            after,
            _as_list(reference(ref_x, new_weights)),
            f"{layer.name}: vs NumPy reference after set_weights",
            rtol=1e-7,
            atol=1e-9,
        )

    # -- the same layer built by its first eager call ------------------------------------------
    lazy = layer_cls(**kwargs)
    lazy_out = _call(lazy, xs, multi)
    assert lazy.built, f"{lazy.name} is not built after its first eager call"
    assert [w.shape for w in lazy.get_weights()] == [w.shape for w in new_weights], (
        f"{layer.name}: eager build made weights of other shapes than the symbolic build"
    )
    assert [o.shape for o in lazy_out] == [o.shape for o in after]
    if new_weights:
        lazy.set_weights(new_weights)
    _close(_call(lazy, xs, multi), after, f"{layer.name}: eagerly built layer vs symbolic one")

    # -- config round trip ---------------------------------------------------------------------
    config = layer.get_config()
    json.dumps(config)  # configs are plain JSON data (saving writes them as config.json)
    clone = layer_cls.from_config(config)
    assert type(clone) is layer_cls
    assert clone.get_config() == config, (
        f"{layer.name}: from_config(get_config()) changed the config"
    )
    _, _, clone_model = _build(clone, shapes, input_dtype, multi)
    if new_weights:
        clone.set_weights(new_weights)
    _close(_call(clone_model, xs, multi), after, f"{layer.name}: from_config clone, same weights")

    # -- float64 gradients ---------------------------------------------------------------------
    if grad_check:
        check_model_grads(model, xs if multi else xs[0], seed=seed)
    return layer
