"""Layer-by-layer conformance against Keras 3 reference numbers.

The numbers live in tests/keras_reference/ (cases.json + arrays.npz) and are
produced by tests/keras_reference/generate.py with Keras 3 on the torch
backend; these tests need only NumPy and graphengine.

Each case builds one layer on ``ge.Input``s, wraps it in a ``ge.Model``, loads
the Keras weights, and checks the forward output and ``model.vjp`` gradients
(w.r.t. float inputs and trainable weights) against Keras.
"""

import json
import os

import numpy as np
import pytest

REF_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
RTOL, ATOL = 1e-4, 1e-5


def _load_cases():
    with open(os.path.join(REF_DIR, "cases.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def arrays():
    with np.load(os.path.join(REF_DIR, "arrays.npz"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _single_or_list(values):
    return values if len(values) > 1 else values[0]


def _as_list(values):
    return list(values) if isinstance(values, (list, tuple)) else [values]


@pytest.mark.parametrize("case", _load_cases(), ids=lambda c: c["id"])
def test_matches_keras(case, arrays):
    # Imported here so that an import failure is reported per test, clearly,
    # instead of breaking collection of the whole module.
    import graphengine as ge

    cid = case["id"]
    ref = lambda name: arrays["%s/%s" % (cid, name)]  # noqa: E731
    n_in = len(case["input_shapes"])
    xs = [ref("x%d" % i) for i in range(n_in)]
    ws = [ref("w%d" % j) for j in range(case["n_weights"])]
    ys = [ref("y%d" % k) for k in range(case["n_outputs"])]
    dys = [ref("dy%d" % k) for k in range(case["n_outputs"])]

    inputs = [
        ge.Input(shape=tuple(s[1:]), dtype=d)
        for s, d in zip(case["input_shapes"], case["input_dtypes"])
    ]
    layer = getattr(ge.layers, case["layer"])(**case["kwargs"])
    out = layer(_single_or_list(inputs))
    model = ge.Model(inputs, out)
    layer.set_weights(ws)

    got_ys = _as_list(model(_single_or_list(xs)))
    assert len(got_ys) == len(ys)
    for k, (got, want) in enumerate(zip(got_ys, ys)):
        np.testing.assert_allclose(
            np.asarray(got), want, rtol=RTOL, atol=ATOL, err_msg="%s: output y%d" % (cid, k)
        )

    dx, dw = model.vjp(_single_or_list(xs), _single_or_list(dys), training=False)
    dx = _as_list(dx)
    assert len(dx) == n_in, "%s: dx must match the model inputs" % cid
    for i, (got, dtype) in enumerate(zip(dx, case["input_dtypes"])):
        if dtype != "float32":
            assert got is None, "%s: dx%d for an int input must be None" % (cid, i)
            continue
        np.testing.assert_allclose(
            np.asarray(got),
            ref("dx%d" % i),
            rtol=RTOL,
            atol=ATOL,
            err_msg="%s: input gradient dx%d" % (cid, i),
        )
    dw = list(dw)
    assert len(dw) == case["n_weights"], "%s: dw must match model.trainable_weights" % cid
    for j, got in enumerate(dw):
        np.testing.assert_allclose(
            np.asarray(got),
            ref("dw%d" % j),
            rtol=RTOL,
            atol=ATOL,
            err_msg="%s: weight gradient dw%d" % (cid, j),
        )
