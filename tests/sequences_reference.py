"""Replays the Keras 3 numbers of keras_reference/sequences.* (generate_sequences.py) for
test_masking.py, test_stateful_rnn.py and test_conv_lstm.py: the same recipe built with
graphengine, Keras's weights set, then outputs, gradients, states and a fit compared."""

from __future__ import annotations

import json
import os
from functools import lru_cache

import numpy as np

import graphengine as ge
from keras_reference.generate_sequences import build_model

REF_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
RTOL, ATOL = 1e-4, 1e-5

with open(os.path.join(REF_DIR, "sequences.json")) as f:
    CASES = json.load(f)


def cases(prefix: str) -> list[dict]:
    return [c for c in CASES if c["id"].startswith(prefix)]


@lru_cache(maxsize=1)
def _arrays() -> dict[str, np.ndarray]:
    with np.load(os.path.join(REF_DIR, "sequences.npz"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _one_or_list(values: list):
    return values if len(values) > 1 else values[0]


def _close(got, want, what: str) -> None:
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=what)


def replay(case: dict) -> ge.Model:
    """Checks the case against Keras's numbers; returns the model (Keras's weights set)."""
    arrays, cid = _arrays(), case["id"]

    def get(name: str) -> np.ndarray:
        return arrays[f"{cid}/{name}"]

    model = build_model(ge, case["recipe"], case["input_shapes"], case["input_dtypes"])
    model.set_weights([get(f"w{j}") for j in range(case["n_weights"])])
    {"grad": _grad_case, "stateful": _stateful_case, "fit": _fit_case}[case["kind"]](
        case, model, get
    )
    return model


def _grad_case(case: dict, model: ge.Model, get) -> None:
    xs = [get(f"x{i}") for i in range(len(case["input_shapes"]))]
    ys = model(_one_or_list(xs))
    ys = ys if isinstance(ys, list) else [ys]
    assert len(ys) == case["n_outputs"]
    for k, y in enumerate(ys):
        _close(y, get(f"y{k}"), f"y{k}")
    dys = [get(f"dy{k}") for k in range(case["n_outputs"])]
    dx, dw = model.vjp(_one_or_list(xs), _one_or_list(dys))
    for i, (g, dtype) in enumerate(zip(dx, case["input_dtypes"])):
        if dtype == "float32":
            _close(g, get(f"dx{i}"), f"dx{i}")
        else:
            assert g is None
    assert len(dw) == case["n_weights"]
    for j, g in enumerate(dw):
        _close(g, get(f"dw{j}"), f"dw{j}")


def _states(model: ge.Model) -> list[np.ndarray]:
    return [v.numpy() for v in model.layers[1].states]


def _stateful_case(case: dict, model: ge.Model, get) -> None:
    """Batch x0, then x1 from where x0 left the states: outputs, states after, and the
    gradients of the second call (the states it starts from are constants, as Keras)."""
    _close(model(get("x0")), get("y0"), "y0")
    middle = _states(model)
    dx, dw = model.vjp(get("x1"), get("dy1"))
    _close(dx[0], get("dx1"), "dx1")
    for j, g in enumerate(dw):
        _close(g, get(f"dw{j}"), f"dw{j}")
    for before, after in zip(middle, _states(model)):  # vjp computes, it does not move states
        np.testing.assert_array_equal(before, after)
    _close(model(get("x1")), get("y1"), "y1")
    for i, s in enumerate(_states(model)):
        _close(s, get(f"s{i}"), f"state {i} after two batches")
    model.layers[1].reset_states()
    _close(model(get("x0")), get("y0"), "y0 after reset_states")
    model.layers[1].reset_states()
    model.predict(get("x0"), batch_size=len(get("x0")), verbose=0)
    _close(model.predict(get("x1"), batch_size=len(get("x1")), verbose=0), get("y1"), "y1")


def _fit_case(case: dict, model: ge.Model, get) -> None:
    """One epoch of SGD over two batches, in order: weights and states after."""
    model.compile(optimizer=ge.optimizers.SGD(0.1), loss="mse")
    x = np.concatenate([get("x0"), get("x1")])
    model.fit(x, get("t"), batch_size=len(get("x0")), shuffle=False, verbose=0)
    for j, w in enumerate(model.get_weights()):
        _close(w, get(f"fw{j}"), f"weight {j} after fit")
    for i, s in enumerate(_states(model)):
        _close(s, get(f"s{i}"), f"state {i} after fit")
