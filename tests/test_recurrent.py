"""Recurrent layers: SimpleRNN, LSTM, GRU, RNN(cell), Bidirectional, TimeDistributed.

Each layer goes through the layer harness against the naive step loops of reference.py (which
also runs the float64 gradient check); masks, initial states, dropout, the unrolled path for
custom cells, the fused kernels' activations and the error messages have tests of their own;
the Keras 3 numbers of keras_reference/recurrent.* are replayed at the end. Shapes are tiny
(N 2, T 4, D 3, U 2) so the whole file runs in seconds once the kernels are cached.
"""

from __future__ import annotations

import ast
import json
import multiprocessing
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import graphengine as ge
from graphengine.tree import flatten
import reference as ref
from gradcheck import check_model_grads
from keras_reference.generate_recurrent import build_model
from layer_harness import run_layer_test

L = ge.layers
N, T, D, U = 2, 4, 3, 2
CELLS = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
N_STATES = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1}


def rnn_reference(layer: str, return_state: bool = False, **kwargs):
    """reference.rnn for the layer's cell, as `reference(x, weights)` for the harness."""

    def run(x, weights):
        bias = weights[2] if len(weights) > 2 else None
        out = ref.rnn(CELLS[layer], x, weights[0], weights[1], bias, **kwargs)
        return out if return_state else out[0]

    return run


def layer_kwargs(**kwargs):
    """Split the kwargs the reference takes from those only the layer takes."""
    keep = (
        "activation",
        "recurrent_activation",
        "reset_after",
        "return_sequences",
        "go_backwards",
        "zero_output_for_mask",
        "return_state",
    )
    return {k: v for k, v in kwargs.items() if k in keep}


# -- the layers through the harness ------------------------------------------------------------

LAYER_CASES = [
    ("SimpleRNN", {}),
    ("SimpleRNN", {"return_sequences": True, "go_backwards": True, "activation": "relu"}),
    ("SimpleRNN", {"return_state": True, "use_bias": False, "activation": "linear"}),
    ("LSTM", {}),
    ("LSTM", {"return_sequences": True, "go_backwards": True}),
    ("LSTM", {"return_state": True, "return_sequences": True, "use_bias": False}),
    ("LSTM", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
    ("GRU", {}),
    ("GRU", {"return_sequences": True, "go_backwards": True, "return_state": True}),
    ("GRU", {"reset_after": False}),
    ("GRU", {"reset_after": False, "return_sequences": True, "use_bias": False}),
    ("GRU", {"reset_after": False, "go_backwards": True, "recurrent_activation": "linear"}),
]


@pytest.mark.parametrize("layer, kwargs", LAYER_CASES, ids=lambda v: str(v))
def test_layer_matches_reference(layer, kwargs):
    gates = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[layer]
    bias = 0 if kwargs.get("use_bias") is False else gates * U
    if layer == "GRU" and kwargs.get("reset_after", True) and bias:
        bias *= 2
    seq_shape = (N, T, U) if kwargs.get("return_sequences") else (N, U)
    expected = [seq_shape] + [(N, U)] * N_STATES[layer] if kwargs.get("return_state") else seq_shape
    run_layer_test(
        getattr(L, layer),
        {"units": U, **kwargs},
        (N, T, D),
        expected_output_shape=expected,
        expected_num_weights=3 if bias else 2,
        expected_num_params=D * gates * U + U * gates * U + bias,
        reference=rnn_reference(layer, **layer_kwargs(**kwargs)),
    )


@pytest.mark.parametrize("cell", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_rnn_of_builtin_cell_equals_its_layer(cell):
    layer = cell[: -len("Cell")]
    kwargs = {"return_sequences": True, "go_backwards": True}
    x = np.random.default_rng(1).standard_normal((N, T, D))
    rnn = L.RNN(getattr(L, cell)(U, dtype="float64"), **kwargs, dtype="float64")
    plain = getattr(L, layer)(U, **kwargs, dtype="float64")
    out = rnn(x)
    plain(x)
    plain.set_weights(rnn.get_weights())
    np.testing.assert_allclose(out, plain(x), rtol=1e-12)
    np.testing.assert_allclose(out, rnn_reference(layer, **kwargs)(x, rnn.get_weights()))
    assert [w.path for w in rnn.weights] == [
        f"{rnn.name}/{rnn.cell.name}/{n}" for n in ("kernel", "recurrent_kernel", "bias")
    ]
    run_layer_test(
        L.RNN,
        {"cell": getattr(L, cell)(U, dtype="float64"), "return_sequences": True},
        (N, T, D),
        reference=rnn_reference(layer, return_sequences=True),
        grad_check=False,
    )


def test_weights_layout_and_default_initializers():
    ge.utils.set_random_seed(3)
    x = np.zeros((1, T, D), np.float32)
    lstm, gru, gru_before = L.LSTM(U), L.GRU(U), L.GRU(U, reset_after=False)
    for layer in (lstm, gru, gru_before):
        layer(x)
    k, r, b = lstm.get_weights()
    assert (k.shape, r.shape, b.shape) == ((D, 4 * U), (U, 4 * U), (4 * U,))
    # unit_forget_bias: the forget block (the second of i, f, c, o) starts at one
    np.testing.assert_array_equal(b, np.r_[np.zeros(U), np.ones(U), np.zeros(2 * U)])
    np.testing.assert_allclose(r @ r.T, np.eye(U), atol=1e-6)  # orthogonal rows
    assert gru.get_weights()[2].shape == (2, 3 * U)
    assert gru_before.get_weights()[2].shape == (3 * U,)
    assert [w.path for w in lstm.weights] == [
        f"{lstm.name}/lstm_cell/{n}" for n in ("kernel", "recurrent_kernel", "bias")
    ]
    plain = L.LSTM(U, unit_forget_bias=False)
    plain(x)
    np.testing.assert_array_equal(plain.get_weights()[2], np.zeros(4 * U))


@pytest.mark.parametrize("fused", [False, True], ids=["int_code", "Fused_code"])
def test_fused_activations_are_accurate_in_float32(fused):
    """The gates' tanh and sigmoid, compiled for a plain int code (every branch) and for a
    Fused one (that activation's loop only)."""
    from graphengine_kernels.activation_codes import SIGMOID, TANH
    from graphengine_kernels.cpu.activations import Fused
    from tests.helpers import recurrent_activate

    x = np.linspace(-12, 12, 20001)
    for code, exact in ((TANH, np.tanh(x)), (SIGMOID, 1 / (1 + np.exp(-x)))):
        code = Fused(code) if fused else code
        v = x.astype(np.float32)
        recurrent_activate(v, code)
        assert np.abs(v - exact).max() < 5e-7, code
        v64 = x.copy()
        recurrent_activate(v64, code)
        np.testing.assert_allclose(v64, exact, rtol=1e-14, atol=1e-300)


# -- masks ----------------------------------------------------------------------------------


def _ids():
    """Padding leading, trailing, in the middle, and a row of padding only."""
    return np.array([[0, 2, 3, 1], [4, 0, 5, 0], [1, 2, 0, 0], [0, 0, 0, 0]], np.int32)


@pytest.mark.parametrize("layer", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize(
    "kwargs",
    [{"return_sequences": True}, {"go_backwards": True, "return_state": True}],
    ids=["sequences", "backwards_state"],
)
def test_masks_from_embedding(layer, kwargs):
    ids = _ids()
    inp = ge.Input(shape=(T,), dtype="int32")
    emb = L.Embedding(6, D, mask_zero=True, dtype="float64")
    seq = emb(inp)
    rnn = getattr(L, layer)(U, dtype="float64", **kwargs)
    out = rnn(seq)
    model = ge.Model(inp, out)
    rng = np.random.default_rng(0)
    model.set_weights([0.7 * rng.standard_normal(w.shape) for w in model.weights])
    table, *weights = model.get_weights()
    want = rnn_reference(layer, mask=ids != 0, **kwargs)(table[ids], weights)
    got = model(ids)
    for g, w in zip(
        got if isinstance(got, list) else [got], want if kwargs.get("return_state") else [want]
    ):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    if kwargs.get("return_sequences"):
        y = np.asarray(got)
        np.testing.assert_array_equal(y[0, 0], 0)  # no kept step yet: zeros
        np.testing.assert_array_equal(y[1, 1], y[1, 0])  # a masked step repeats the output
        np.testing.assert_array_equal(y[3], 0)
        assert out.mask is seq.mask  # return_sequences passes the mask on
    else:
        assert all(t.mask is None for t in out)
    check_model_grads(model, ids)


def test_mask_carries_states_through_and_eager_mask_argument():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, T, D))
    mask = np.array([[1, 0, 1, 0], [1, 1, 0, 0]], bool)
    h0, c0 = rng.standard_normal((N, U)), rng.standard_normal((N, U))
    lstm = L.LSTM(U, return_sequences=True, return_state=True, dtype="float64")
    y, h, c = lstm(x, initial_state=[h0, c0], mask=mask)
    kept = L.LSTM(U, return_state=True, dtype="float64")
    kept(x)
    kept.set_weights(lstm.get_weights())
    _, h_row0, c_row0 = kept(x[:1, [0, 2]], initial_state=[h0[:1], c0[:1]])
    np.testing.assert_allclose(h[:1], h_row0, rtol=1e-12)  # masked steps change nothing
    np.testing.assert_allclose(c[:1], c_row0, rtol=1e-12)
    np.testing.assert_allclose(y[0, 3], y[0, 2])
    np.testing.assert_allclose(y[1, 1], h[1])


def test_zero_output_for_mask():
    x = np.random.default_rng(3).standard_normal((N, T, D))
    mask = np.array([[1, 0, 1, 1], [1, 1, 1, 0]], np.float64)
    gru = L.GRU(U, return_sequences=True, zero_output_for_mask=True, dtype="float64")
    y = gru(x, mask=mask)
    np.testing.assert_array_equal(y[0, 1], 0)
    np.testing.assert_array_equal(y[1, 3], 0)
    want = rnn_reference("GRU", mask=mask, return_sequences=True, zero_output_for_mask=True)
    np.testing.assert_allclose(y, want(x, gru.get_weights()), rtol=1e-12)


# -- initial states -------------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["SimpleRNN", "LSTM", "GRU"])
def test_initial_state_inputs_with_gradients(layer):
    n = N_STATES[layer]
    x_in = ge.Input(shape=(T, D), dtype="float64")
    states = [ge.Input(shape=(U,), dtype="float64") for _ in range(n)]
    rnn = getattr(L, layer)(U, return_state=True, go_backwards=True, dtype="float64")
    out = rnn(x_in, initial_state=states)
    model = ge.Model([x_in, *states], out)
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((N, T, D))] + [rng.standard_normal((N, U)) for _ in range(n)]
    want = rnn_reference(layer, return_state=True, go_backwards=True, initial_state=xs[1:])
    for got, w in zip(model(xs), want(xs[0], rnn.get_weights())):
        np.testing.assert_allclose(got, w, rtol=1e-10, atol=1e-12)
    assert set(model.graph.predecessors(rnn.name)) == {t.name for t in [x_in, *states]}
    check_model_grads(model, xs)


def test_states_chain_an_encoder_into_a_decoder():
    enc_in, dec_in = ge.Input(shape=(T, D)), ge.Input(shape=(3, D))
    _, h, c = L.LSTM(U, return_state=True)(enc_in)
    dec = L.LSTM(U, return_sequences=True)(dec_in, initial_state=[h, c])
    model = ge.Model([enc_in, dec_in], L.TimeDistributed(L.Dense(1))(dec))
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((8, T, D)), rng.standard_normal((8, 3, D))]
    y = rng.standard_normal((8, 3, 1))
    first = model.train_on_batch(xs, y)
    for _ in range(20):
        last = model.train_on_batch(xs, y)
    assert last < first
    assert model.predict(xs, verbose=0).shape == (8, 3, 1)


# -- dropout --------------------------------------------------------------------------------


class FixedDraws:
    """A stand-in Generator that draws the same numbers every time, so that a gradient check
    of dropout sees one fixed mask."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def random(self, dtype=None, out=None):
        out[...] = np.random.default_rng(self.seed).random(out.shape)
        return out


def test_dropout_masks_are_fixed_over_steps_and_identity_at_inference():
    x = np.ones((16, T, U))
    rnn = L.SimpleRNN(
        U, activation="linear", dropout=0.5, use_bias=False, dtype="float64", return_sequences=True
    )
    rnn(x)
    rnn.set_weights([np.eye(U), np.zeros((U, U))])
    y = rnn(x, training=True)
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < np.mean(y == 0) < 1
    np.testing.assert_array_equal(y, np.repeat(y[:, :1], T, axis=1))  # same mask every step
    assert not np.array_equal(y, rnn(x, training=True))  # a fresh mask per sequence
    np.testing.assert_array_equal(rnn(x), x)  # inference: identity
    rec = L.SimpleRNN(
        U,
        activation="linear",
        recurrent_dropout=0.5,
        use_bias=False,
        dtype="float64",
        return_sequences=True,
        seed=1,
    )
    rec(x)
    rec.set_weights([np.eye(U), np.eye(U)])
    y = rec(x, training=True)
    # h_t = x_t + (h_{t-1} * m) with one mask m in {0, 2}: h_t = 2^(t+1) - 1, or stays 1
    kept = y[:, 1] == 3
    np.testing.assert_array_equal(y[:, -1], np.where(kept, 2.0**T - 1, 1.0))


@pytest.mark.parametrize(
    "layer, extra",
    [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False})],
    ids=["SimpleRNN", "LSTM", "GRU", "GRU_reset_before"],
)
def test_dropout_gradients(layer, extra):
    x_in = ge.Input(shape=(T, D), dtype="float64")
    rnn = getattr(L, layer)(
        U, dropout=0.4, recurrent_dropout=0.3, return_sequences=True, dtype="float64", **extra
    )
    rnn.cell.rng = FixedDraws(7)  # what a seeded cell draws from: the same masks every time
    model = ge.Model(x_in, rnn(x_in, training=True))
    inference = ge.Model(x_in, rnn(x_in))
    x = np.random.default_rng(6).standard_normal((N, T, D))
    y = model(x)
    np.testing.assert_array_equal(y, model(x))
    assert not np.allclose(y, inference(x))  # the masks were applied
    check_model_grads(model, x)


class _HostRuns:
    """Records the host loops' calls (what they are named, the rows they cover and the Python
    thread that ran them) and runs them."""

    def __init__(self, monkeypatch, seqs) -> None:
        self.calls = []
        for name in ("forward_sequence", "backward_sequence", "weight_grad_block"):
            run = getattr(seqs, name)

            def recorded(ops_or_matmul, r0, r1, *args, name=name, run=run):
                self.calls.append((name, int(r0), int(r1), threading.get_ident()))
                return run(ops_or_matmul, r0, r1, *args)

            monkeypatch.setattr(seqs, name, recorded)


ALL_CELLS = pytest.mark.parametrize(
    "layer, extra",
    [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False})],
    ids=["SimpleRNN", "LSTM", "GRU", "GRU_reset_before"],
)


def _run_everything(layer, extra, dtype, rows, seed):
    """A layer with every feature at once (mask, initial states, both dropouts with fixed draws,
    go_backwards, sequences and states out) on a small batch: a function giving its outputs
    and then its vjp (input and weight gradients) for fixed cotangents, flattened."""
    n = N_STATES[layer]
    inp = ge.Input(shape=(T,), dtype="int32")
    states = [ge.Input(shape=(U,), dtype=dtype) for _ in range(n)]
    seq = L.Embedding(6, D, mask_zero=True, dtype=dtype)(inp)
    rnn = getattr(L, layer)(
        U,
        return_sequences=True,
        return_state=True,
        go_backwards=True,
        dropout=0.3,
        recurrent_dropout=0.2,
        dtype=dtype,
        **extra,
    )
    rnn.cell.rng = FixedDraws(3)
    model = ge.Model([inp, *states], rnn(seq, initial_state=states, training=True))
    rng = np.random.default_rng(seed)
    xs = [rng.integers(0, 6, (rows, T)).astype(np.int32)]
    xs += [rng.standard_normal((rows, U)).astype(dtype) for _ in range(n)]
    cots = [rng.standard_normal(o.shape).astype(dtype) for o in model(xs)]
    return lambda: flatten([model(xs), *model.vjp(xs, cots)])


def _assert_same(got, expected, rtol):
    assert len(got) == len(expected) > 0
    for g, e in zip(got, expected):
        if e is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * 1e-2)


def _force_row_ranges(monkeypatch, path):
    """Makes the kernels split even a small batch into 3 row ranges, on the path given: "numba"
    (Numba's pool, the ranges recorded) or "host" (no gemm for Numba: the host loops, recorded).
    Returns the list of ranges' bounds used ("numba") or the host loops' record ("host")."""
    import graphengine_kernels.cpu.recurrent_sequences as seqs
    from graphengine_kernels.cpu import threads

    monkeypatch.setattr(threads, "_MIN_ROWS", 1)
    monkeypatch.setattr(threads, "_MIN_WORK", 0)
    monkeypatch.setattr(threads, "num_threads", lambda: 3)
    if path == "host":
        monkeypatch.setattr(seqs, "GEMMS", {})
        return _HostRuns(monkeypatch, seqs)
    used = []
    row_bounds = threads.row_bounds

    def recorded(*args):
        used.append(row_bounds(*args).tolist())
        return np.array(used[-1], dtype=np.int64)

    monkeypatch.setattr(threads, "row_bounds", recorded)
    return used


@ALL_CELLS
@pytest.mark.parametrize("path", ["numba", "host"])
def test_batch_rows_in_threads_match_one_thread(layer, extra, path, monkeypatch):
    """Big batches run their rows in ranges at once on Numba's pool; forced here on a small
    one, with masks, states and dropout, it must give the same numbers. Where that pool cannot
    run (the host path), all rows run at once on the calling thread."""
    run = _run_everything(layer, extra, "float64", rows=7, seed=13)
    expected = run()
    forced = _force_row_ranges(monkeypatch, path)
    got = run()
    if path == "host":  # forward and backward, over all 7 rows, on this thread only
        loops = {name for name, *_ in forced.calls}
        assert {"forward_sequence", "backward_sequence"} <= loops
        me = threading.get_ident()
        sequences = [c for c in forced.calls if c[0] != "weight_grad_block"]
        assert {(r0, r1, who) for _, r0, r1, who in sequences} == {(0, 7, me)}
    else:  # forward and backward, and the input gradient's product over all 7 * T rows
        assert forced.count([0, 2, 4, 7]) >= 2
        assert [0, 7 * T // 3, 2 * 7 * T // 3, 7 * T] in forced
    _assert_same(got, expected, rtol=1e-12)


@ALL_CELLS
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sequences_without_blas_from_numba_match(layer, extra, dtype, monkeypatch):
    """Whole sequences run in Numba, calling OpenBLAS's gemm (kernels/cpu/blas.py); without it
    (a NumPy on another BLAS) the same steps run from Python. Both must agree, with masks,
    states, both dropouts and go_backwards, forward and backward."""
    import graphengine_kernels.cpu.recurrent_sequences as seqs

    assert seqs.GEMMS, "NumPy's OpenBLAS gemm was not found"
    run = _run_everything(layer, extra, dtype, rows=5, seed=17)
    expected = run()
    monkeypatch.setattr(seqs, "GEMMS", {})
    _assert_same(run(), expected, rtol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize(
    "layer, extra",
    [
        ("SimpleRNN", {"use_bias": False}),
        ("LSTM", {}),
        ("GRU", {}),
        ("GRU", {"use_bias": False}),
        ("GRU", {"reset_after": False}),
    ],
    ids=["SimpleRNN_no_bias", "LSTM", "GRU", "GRU_no_bias", "GRU_reset_before"],
)
@pytest.mark.parametrize("path", ["numba", "host"])
def test_weight_gradients_in_row_blocks_match_one_block(layer, extra, path, monkeypatch):
    """The weight gradients sum partial products over blocks of rows (ops.recurrent.
    weight_grad_blocks), the blocks run at once; forced here on a small batch, they must match
    the single product, and the block count must not depend on the thread count."""
    import graphengine.ops.recurrent as opr

    rows = 7
    rng = np.random.default_rng(21)
    x = rng.standard_normal((rows, T, D))
    cot = rng.standard_normal((rows, T, U))

    def weight_grads():
        ge.utils.set_random_seed(5)
        inp = ge.Input(shape=(T, D), dtype="float64")
        rnn = getattr(L, layer)(U, return_sequences=True, dtype="float64", **extra)
        return ge.Model(inp, rnn(inp)).vjp(x, cot)[1]

    expected = weight_grads()
    monkeypatch.setattr(opr, "_WEIGHT_GRAD_BLOCK_ROWS", 3)  # 28 rows: 8 blocks of 3 or 4
    assert opr.weight_grad_blocks(rows * T) == 8
    forced = _force_row_ranges(monkeypatch, path)  # blocks 0:2, 2:5, 5:8
    got = weight_grads()
    if path == "host":  # the 8 blocks one after another on this thread
        blocks = [
            (r0, r1, who) for name, r0, r1, who in forced.calls if name == "weight_grad_block"
        ]
        bounds = [rows * T * b // 8 for b in range(9)]
        assert blocks == [(b0, b1, threading.get_ident()) for b0, b1 in zip(bounds, bounds[1:])]
    else:
        assert [0, 2, 5, 8] in forced
    assert len(got) == len(expected) == (2 if extra.get("use_bias") is False else 3)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform"
)
def test_a_forked_child_runs_recurrent_layers():
    """A process forked after the row ranges ran on Numba's pool (GNU OpenMP, not fork-safe:
    Numba aborts a child that uses it) still runs recurrent layers, on the host loops."""
    ge.utils.set_random_seed(3)
    inp = ge.Input(shape=(T, D))
    model = ge.Model(inp, L.LSTM(U)(inp))
    x = np.random.default_rng(4).standard_normal((16, T, D)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    child = ctx.Process(target=lambda: results.put(model.predict(x, verbose=0)))
    child.start()
    try:
        got = results.get(timeout=60)
    finally:
        child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def _functions(*paths):
    """Every function defined in the files, by name, parsed (the CUDA ones need no GPU)."""
    found = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                found[node.name] = node
    return found


def _fields_read(functions, name, index):
    """The attributes read off the index-th parameter of function `name`, and off what it is
    passed on as, through calls to the other functions (launch_rows(kernel, rows, units,
    *kernel's arguments) into the kernel)."""
    fn = functions[name]
    param = fn.args.args[index].arg
    fields = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == param:
            fields.add(node.attr)
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        for at, arg in enumerate(node.args):
            if getattr(arg, "id", None) == param:
                callee = node.func.id
                if callee == "launch_rows":
                    callee, at = node.args[0].id, at - 3
                if callee in functions:
                    fields |= _fields_read(functions, callee, at)
    return fields


@pytest.mark.parametrize("backend", ["cpu", "cuda"])
def test_each_step_kernel_reads_its_whole_record(backend):
    """The step kernels of both backends take (t, n0, n1, args), args their record of
    kernels/sequences.py, which the op builds by field name; each kernel reads every field of
    its record and nothing else, so no backend can miss an argument the op gives."""
    import graphengine_kernels.sequences as seq

    records = {
        "simple_rnn_forward_step": seq.SimpleRNNForward,
        "lstm_forward_step": seq.LSTMForward,
        "gru_forward_step": seq.GRUForward,
        "gru_forward_gates": seq.GRUGates,
        "gru_forward_candidate": seq.GRUCandidate,
        "simple_rnn_backward_step": seq.SimpleRNNBackward,
        "lstm_backward_step": seq.LSTMBackward,
        "gru_backward_step": seq.GRUBackward,
        "gru_backward_candidate": seq.GRUCandidateBackward,
        "gru_backward_gates": seq.GRUGatesBackward,
    }
    folder = Path(__file__).resolve().parent.parent / "kernels" / backend
    functions = _functions(folder / "recurrent.py", folder / "recurrent_backward.py")
    for kernel, record in records.items():
        assert [a.arg for a in functions[kernel].args.args] == ["t", "n0", "n1", "args"], kernel
        assert _fields_read(functions, kernel, 3) == set(record._fields), kernel


@pytest.mark.parametrize("layer", ["SimpleRNN", "LSTM", "GRU"])
def test_an_empty_batch_has_zero_gradients(layer):
    """No rows: an empty output and input gradient, and weight gradients that are empty sums
    (zeros), through the Numba weight-gradient kernel's no-row path."""
    inp = ge.Input(shape=(T, D))
    model = ge.Model(inp, getattr(L, layer)(U, return_sequences=True)(inp))
    x = np.zeros((0, T, D), np.float32)
    dx, grads = model.vjp(x, np.zeros((0, T, U), np.float32))
    assert model(x).shape == (0, T, U)
    assert [a.shape for a in dx] == [(0, T, D)]
    assert [g.shape for g in grads] == [w.shape for w in model.get_weights()]
    for g in grads:
        assert not np.any(g)


def test_weight_grad_blocks_depend_on_rows_only():
    from graphengine.ops.recurrent import weight_grad_blocks

    assert [weight_grad_blocks(r) for r in (None, 1, 2047, 2048, 3200, 4096, 10**6)] == [
        None,
        1,
        1,
        2,
        2,
        4,
        8,
    ]


# -- Bidirectional --------------------------------------------------------------------------


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merge_modes(merge_mode):
    width = 2 * U if merge_mode == "concat" else U
    seq = (N, T, width)
    expected = [(N, T, U), (N, T, U)] if merge_mode is None else seq

    def reference(x, w):
        out = ref.bidirectional("lstm", x, w[:3], w[3:], merge_mode, return_sequences=True)
        return out[:2] if merge_mode is None else out[0]

    layer = run_layer_test(
        L.Bidirectional,
        {"layer": L.LSTM(U, return_sequences=True, dtype="float64"), "merge_mode": merge_mode},
        (N, T, D),
        expected_output_shape=expected,
        expected_num_weights=6,
        reference=reference,
        grad_check=merge_mode in ("concat", "mul"),
    )
    fwd, bwd = layer.forward_layer, layer.backward_layer
    assert fwd.name.startswith("forward_") and bwd.name.startswith("backward_")
    assert bwd.go_backwards and not fwd.go_backwards
    assert [w.path for w in layer.weights] == [w.path for w in fwd.weights + bwd.weights]


def test_bidirectional_states_masks_and_initial_state():
    ids = _ids()
    inp = ge.Input(shape=(T,), dtype="int32")
    states = [ge.Input(shape=(U,), dtype="float64") for _ in range(2)]
    seq = L.Embedding(6, D, mask_zero=True, dtype="float64")(inp)
    bi = L.Bidirectional(L.GRU(U, return_state=True, return_sequences=True, dtype="float64"))
    out = bi(seq, initial_state=states)
    assert [t.shape for t in out] == [(None, T, 2 * U), (None, U), (None, U)]
    assert out[0].mask is seq.mask and out[1].mask is None
    model = ge.Model([inp, *states], out)
    rng = np.random.default_rng(8)
    model.set_weights([0.7 * rng.standard_normal(w.shape) for w in model.weights])
    h0 = [rng.standard_normal((len(ids), U)) for _ in range(2)]
    table, *w = model.get_weights()
    fw = ref.rnn(
        "gru",
        table[ids],
        *w[:3],
        mask=ids != 0,
        initial_state=h0[:1],
        return_sequences=True,
        zero_output_for_mask=True,
    )
    bw = ref.rnn(
        "gru",
        table[ids],
        *w[3:],
        mask=ids != 0,
        initial_state=h0[1:],
        return_sequences=True,
        zero_output_for_mask=True,
        go_backwards=True,
    )
    got = model([ids, *h0])
    np.testing.assert_allclose(got[0], np.concatenate([fw[0], bw[0][:, ::-1]], -1), rtol=1e-10)
    np.testing.assert_allclose(got[1], fw[1], rtol=1e-10)
    np.testing.assert_allclose(got[2], bw[1], rtol=1e-10)
    check_model_grads(model, [ids, *h0])


def test_bidirectional_with_a_backward_layer_and_config():
    fwd = L.SimpleRNN(U, return_sequences=True)
    bwd = L.GRU(U, return_sequences=True, go_backwards=True)
    bi = L.Bidirectional(fwd, merge_mode="sum", backward_layer=bwd)
    assert bi.backward_layer is bwd
    y = bi(np.ones((N, T, D), np.float32))
    assert y.shape == (N, T, U)
    clone = L.Bidirectional.from_config(json.loads(json.dumps(bi.get_config())))
    assert clone.get_config() == bi.get_config()
    assert type(clone.backward_layer) is L.GRU


# -- TimeDistributed ------------------------------------------------------------------------


def test_time_distributed_dense():
    def reference(x, w):
        return np.tanh(x @ w[0] + w[1])

    layer = run_layer_test(
        L.TimeDistributed,
        {"layer": L.Dense(3, activation="tanh", dtype="float64")},
        (N, T, D),
        expected_output_shape=(N, T, 3),
        expected_num_weights=2,
        reference=reference,
    )
    x = ge.Input(shape=(T, D))
    seq = L.LSTM(U, return_sequences=True)(x)
    td = L.TimeDistributed(L.Dense(1))
    model = ge.Model(x, td(seq))
    call = td._calls[0]
    assert [c.layer for c in call.children] == [td.layer]  # the inner Dense is a real call
    assert set(model.graph.successors(model.layers[1].name)) == {td.name}
    assert layer.get_config()["layer"]["class_name"] == "Dense"


def test_time_distributed_needs_known_steps_and_rank_3():
    with pytest.raises(ValueError, match="known number of time steps"):
        L.TimeDistributed(L.Dense(2))(ge.Input(shape=(None, D)))
    with pytest.raises(ValueError, match="expected min_ndim=3"):
        L.TimeDistributed(L.Dense(2))(ge.Input(shape=(D,)))
    with pytest.raises(ValueError, match="with a `Layer` instance"):
        L.TimeDistributed("dense")


# -- RNN(cell) with a custom cell -----------------------------------------------------------


class MinimalCell(L.Layer):
    """A user's cell written with ge.ops: h = tanh(x K + h R) * scale, two states (h, count)."""

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, 1]

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, self.units), name="recurrent_kernel")

    def call(self, inputs, states):
        h = ge.ops.tanh(
            ge.ops.matmul(inputs, self.kernel) + ge.ops.matmul(states[0], self.recurrent_kernel)
        )
        return h * 0.5, [h, states[1] + 1.0]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _minimal_reference(x, k, r, mask=None, backwards=False):
    outs, finals = [], []
    for n in range(len(x)):
        h, count, prev, seq = np.zeros(r.shape[0]), 0.0, np.zeros(r.shape[0]), []
        for t in range(x.shape[1] - 1, -1, -1) if backwards else range(x.shape[1]):
            if mask is None or mask[n, t]:
                h = np.tanh(x[n, t] @ k + h @ r)
                count, prev = count + 1, h * 0.5
            seq.append(prev)
        outs.append(seq)
        finals.append((h, count))
    return np.array(outs), np.array([f[0] for f in finals]), np.array([[f[1]] for f in finals])


def test_custom_cell_is_unrolled_with_gradients():
    cell = MinimalCell(U, dtype="float64")
    rnn = L.RNN(cell, return_sequences=True, return_state=True, go_backwards=True, dtype="float64")
    rng = np.random.default_rng(9)
    x = rng.standard_normal((N, T, D))
    mask = np.array([[1, 1, 0, 1], [0, 1, 1, 1]], bool)
    got = rnn(x, mask=mask)
    k, r = cell.get_weights()
    for g, want in zip(got, _minimal_reference(x, k, r, mask, backwards=True)):
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-14)
    assert [w.path for w in rnn.weights][0] == f"{rnn.name}/{cell.name}/kernel"
    inp = ge.Input(shape=(T,), dtype="int32")
    seq = L.Embedding(6, D, mask_zero=True, dtype="float64")(inp)
    model = ge.Model(inp, rnn(seq))
    table = model.get_weights()[0]
    ids = _ids()
    for g, want in zip(model(ids), _minimal_reference(table[ids], k, r, ids != 0, True)):
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-14)
    check_model_grads(model, ids)


def test_custom_cell_needs_known_steps_and_no_dropout():
    with pytest.raises(ValueError, match="unrolled over the time steps"):
        L.RNN(MinimalCell(U))(ge.Input(shape=(None, D)))
    lstm = L.LSTM(U, activation="softplus", dropout=0.2)  # no fused kernel for softplus
    with pytest.raises(ValueError, match="dropout needs the fused kernel"):
        lstm(ge.Input(shape=(T, D)))
    softplus = L.LSTM(U, activation="softplus", dtype="float64")
    x = np.random.default_rng(10).standard_normal((N, T, D))
    y = softplus(x)  # the unrolled cell step, checked against the step written in NumPy
    k, r, b = softplus.get_weights()
    h = c = np.zeros((N, U))
    sig = ref.sigmoid
    for t in range(T):
        i, f, g, o = np.split(x[:, t] @ k + h @ r + b, 4, axis=-1)
        c = sig(f) * c + sig(i) * ref.softplus(g)
        h = sig(o) * ref.softplus(c)
    np.testing.assert_allclose(y, h, rtol=1e-12)


# -- training and shapes --------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["LSTM", "GRU"])
def test_sequence_classifier_learns(layer):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((64, 6, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.int32)  # the sign of a running sum
    ge.utils.set_random_seed(0)
    model = ge.Sequential([getattr(L, layer)(8, input_shape=(6, 2)), L.Dense(2)])
    model.compile(
        optimizer=ge.optimizers.Adam(0.05),
        metrics=["accuracy"],
        loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9


def test_unknown_time_dimension_runs_any_length():
    x = ge.Input(shape=(None, D))
    model = ge.Model(x, L.GRU(U, return_sequences=True)(x))
    assert model.outputs[0].shape == (None, None, U)
    for steps in (3, 7):
        assert model(np.ones((N, steps, D), np.float32)).shape == (N, steps, U)


def test_float32_layers_stay_float32_and_count_params():
    lstm = L.LSTM(4)
    y = lstm(np.ones((N, T, D)))
    assert y.dtype == np.float32 and y.shape == (N, 4)
    assert lstm.count_params() == 4 * 4 * (D + 4 + 1)
    assert lstm.units == 4 and lstm.get_config()["units"] == 4
    assert L.LSTM.from_config(lstm.get_config()).get_config() == lstm.get_config()


# -- errors ---------------------------------------------------------------------------------


def test_errors_name_the_layer_and_shapes():
    x = ge.Input(shape=(T, D))
    with pytest.raises(
        ValueError,
        match=r"Input 0 of layer 'lstm.*expected ndim=3, received "
        r"shape \(None, 3\)",
    ):
        L.LSTM(U, name="lstm_rank")(ge.Input(shape=(D,)))
    with pytest.raises(
        ValueError,
        match=r"has 2 state\(s\) of sizes \[2, 2\], but initial_state "
        "has 1",
    ):
        L.LSTM(U)(x, initial_state=[ge.Input(shape=(U,))])
    with pytest.raises(
        ValueError,
        match=r"initial_state 0 must have shape \(None, 2\), received "
        r"\(None, 5\)",
    ):
        L.GRU(U)(x, initial_state=[ge.Input(shape=(5,))])
    with pytest.raises(ValueError, match="Invalid merge mode. Received: 'max'"):
        L.Bidirectional(L.LSTM(U), merge_mode="max")
    with pytest.raises(ValueError, match="Bidirectional needs a recurrent layer"):
        L.Bidirectional(L.Dense(U))
    with pytest.raises(ValueError, match="different `go_backwards`"):
        L.Bidirectional(L.LSTM(U), backward_layer=L.LSTM(U))
    with pytest.raises(ValueError, match="units must be a positive integer, got 0"):
        L.GRU(0)
    with pytest.raises(TypeError, match="did you mean 'units'"):
        L.SimpleRNN(U, unit=3)
    with pytest.raises(ValueError, match="stateful=True needs a fixed batch size"):
        L.LSTM(U, stateful=True)(x)
    with pytest.raises(ValueError, match="a list of cells"):
        L.RNN([L.LSTMCell(U), L.LSTMCell(U)])
    with pytest.raises(ValueError, match="must be a Layer with a `call"):
        L.RNN(object())
    with pytest.raises(ValueError, match="Unknown activation 'tanhh'"):
        L.GRU(U, activation="tanhh")
    with pytest.raises(ValueError, match=r"expected axis -1 of the input shape to have value 3"):
        layer = L.SimpleRNN(U)
        layer(x)
        layer(ge.Input(shape=(T, 4)))
    with pytest.raises(ValueError, match="dropout is applied by the RNN layer"):
        cell = L.GRUCell(U, dropout=0.5)
        cell.build((None, D))
        cell.call(np.ones((N, D), np.float32), [np.zeros((N, U), np.float32)], training=True)


def test_cell_step_call_matches_one_step_of_the_layer():
    x = np.random.default_rng(12).standard_normal((N, 1, D))
    for layer, cell_cls in (
        (L.SimpleRNN, L.SimpleRNNCell),
        (L.LSTM, L.LSTMCell),
        (L.GRU, L.GRUCell),
    ):
        rnn = layer(U, return_state=True, dtype="float64")
        want = rnn(x)
        cell = cell_cls(U, dtype="float64")
        cell.build((None, D))
        cell.set_weights(rnn.get_weights())
        out, states = cell.call(x[:, 0], [np.zeros((N, U))] * len(want[1:]))
        np.testing.assert_allclose(out, want[0], rtol=1e-12)
        for s, w in zip(states, want[1:]):
            np.testing.assert_allclose(s, w, rtol=1e-12)


# -- Keras 3 reference numbers --------------------------------------------------------------

REF_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_reference")
with open(os.path.join(REF_DIR, "recurrent.json")) as f:
    KERAS_CASES = json.load(f)


@pytest.fixture(scope="module")
def keras_arrays():
    with np.load(os.path.join(REF_DIR, "recurrent.npz"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _one_or_list(values):
    return values if len(values) > 1 else values[0]


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: c["id"])
def test_matches_keras(case, keras_arrays):
    """Outputs, states, dx (input and initial states) and dkernel, drecurrent_kernel, dbias
    (and dembeddings behind a mask) of the same model in Keras 3, at rtol 1e-4."""
    cid = case["id"]

    def get(name):
        return keras_arrays[f"{cid}/{name}"]

    model = build_model(ge, case["recipe"], case["input_shapes"], case["input_dtypes"])
    xs = [get(f"x{i}") for i in range(len(case["input_shapes"]))]
    model.set_weights([get(f"w{j}") for j in range(case["n_weights"])])
    ys = model(_one_or_list(xs))
    ys = ys if isinstance(ys, list) else [ys]
    assert len(ys) == case["n_outputs"]
    for k, y in enumerate(ys):
        np.testing.assert_allclose(y, get(f"y{k}"), rtol=1e-4, atol=1e-5, err_msg=f"y{k}")
    dys = [get(f"dy{k}") for k in range(case["n_outputs"])]
    dx, dw = model.vjp(_one_or_list(xs), _one_or_list(dys))
    for i, (g, dtype) in enumerate(zip(dx, case["input_dtypes"])):
        if dtype == "int32":
            assert g is None
        else:
            np.testing.assert_allclose(g, get(f"dx{i}"), rtol=1e-4, atol=1e-5, err_msg=f"dx{i}")
    assert len(dw) == case["n_weights"]
    for j, g in enumerate(dw):
        np.testing.assert_allclose(g, get(f"dw{j}"), rtol=1e-4, atol=1e-5, err_msg=f"dw{j}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "m, small",
    [(7, 0), (7, 4 * 5 * 6), (32, 8 * 5 * 6), (9, 2 * 5 * 6), (9, 10**6), (0, 0)],
    ids=["whole", "rows_4_and_3", "rows_8", "too_few_rows_to_split", "under_the_limit", "none"],
)
def test_sequence_gemm_splits_rows_for_the_small_matrix_kernel(m, small, dtype):
    """The sequences' products call BLAS's gemm from Numba, in calls of at most `small`
    multiply-adds where BLAS has a small-matrix kernel (blas.SMALL_MATRIX); on operands whose
    rows are strided views, any split must give the product."""
    from numba import njit

    from graphengine_kernels.cpu.recurrent_sequences import GEMMS, _gemm

    @njit
    def product(gemm, small, a, b, out):
        _gemm(gemm, small, a, b, out)

    rng = np.random.default_rng(m)
    a = rng.standard_normal((m, 9)).astype(dtype)[:, 2:7]  # rows 9 apart, 5 columns
    b = rng.standard_normal((5, 6)).astype(dtype)
    out = np.full((m, 8), np.nan, dtype)
    product(GEMMS[np.dtype(dtype)], small, a, b, out[:, 1:7])
    np.testing.assert_allclose(out[:, 1:7], a @ b, rtol=1e-5 if dtype == "float32" else 1e-12)
    assert np.isnan(out[:, [0, 7]]).all()  # nothing written outside
