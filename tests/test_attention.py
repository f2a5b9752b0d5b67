"""Attention layers (Attention, AdditiveAttention, MultiHeadAttention, EinsumDense) and the fused
attention op: Keras 3 reference numbers (float32 forward and gradients, masks included), the
layer harness against naive NumPy references, float64 central-difference gradients (dropout's
too, at the kernel), masks carried by tensors, saving, and the error messages."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import graphengine as ge
import graphengine_kernels.cpu as cpu
from gradcheck import check_model_grads, numeric_vjp
from helpers import REF_DIR
from layer_harness import run_layer_test

L = ge.layers
with open(os.path.join(REF_DIR, "attention.json")) as _f:
    CASES = json.load(_f)
ARRAYS = np.load(os.path.join(REF_DIR, "attention.npz"))


def softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# -- Keras 3 reference numbers -------------------------------------------------------------------
def _keras_model(case):
    """The case's layer called as generate_attention.py calls Keras's, on Inputs (masks as bool
    inputs after the float ones), with its weights loaded."""
    xs = [ge.Input(shape=tuple(s[1:])) for s in case["input_shapes"]]
    ms = {n: ge.Input(shape=np.shape(m)[1:], dtype="bool") for n, m in case["masks"].items()}
    layer = getattr(L, case["layer"])(**case["kwargs"])
    if case["layer"] == "EinsumDense":
        out = layer(xs[0])
    elif case["layer"] == "MultiHeadAttention":
        kwargs = dict(ms, **case["call"])
        if len(xs) > 2:
            kwargs["key"] = xs[2]
        out = layer(xs[0], xs[1], **kwargs)
    else:
        mask = [ms.get("query_mask"), ms.get("value_mask")] if ms else None
        out = layer(xs, mask=mask, **case["call"])
    model = ge.Model(xs + list(ms.values()), out)
    ref = lambda name: ARRAYS[f"{case['id']}/{name}"]  # noqa: E731
    layer.set_weights([ref(f"w{j}") for j in range(case["n_weights"])])
    feeds = [ref(f"x{i}") for i in range(len(xs))]
    feeds += [np.array(m, bool) for m in case["masks"].values()]
    return model, feeds, ref


# a fully masked row on Keras's fused path: torch's backward there is not the derivative of its
# forward (generate_attention.py), so only the forward numbers are Keras's to compare with
FORWARD_ONLY = {"mha_fully_masked_fused"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_keras_reference(case):
    model, feeds, ref = _keras_model(case)
    n_out = case["n_outputs"]
    ys = model(feeds)
    ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
    assert len(ys) == n_out
    for k, y in enumerate(ys):
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, ref(f"y{k}"), rtol=1e-4, atol=1e-5, err_msg=f"y{k}")
    if case["id"] in FORWARD_ONLY:
        return
    dys = [ref(f"dy{k}") for k in range(n_out)]
    dx, dw = model.vjp(feeds, dys if n_out > 1 else dys[0])
    for i in range(len(case["input_shapes"])):
        np.testing.assert_allclose(dx[i], ref(f"dx{i}"), rtol=1e-4, atol=1e-5, err_msg=f"dx{i}")
    for d in dx[len(case["input_shapes"]) :]:
        assert d is None  # the masks
    assert len(dw) == case["n_weights"]
    for j, g in enumerate(dw):
        np.testing.assert_allclose(g, ref(f"dw{j}"), rtol=1e-4, atol=1e-5, err_msg=f"dw{j}")


def test_fully_masked_rows_follow_keras():
    """Attention: a row with no value to attend is uniform (scores lowered by 1e9 all alike);
    MultiHeadAttention: it is zero (Keras's masked softmax), never NaN."""
    scores = ARRAYS["attention_fully_masked/y1"][1]
    np.testing.assert_allclose(scores, np.full_like(scores, 0.2), rtol=1e-6)
    probs = ARRAYS["mha_attention_mask_causal/y1"][1, :, 1]  # batch 1, query 1: all masked
    assert np.all(probs == 0)
    model, feeds, _ = _keras_model(next(c for c in CASES if c["id"] == "attention_fully_masked"))
    assert np.all(np.isfinite(model(feeds)[0]))


# -- the harness, NumPy references, float64 gradients ------------------------------------------
def attention_ref(use_scale=False, concat=False, additive=False):
    def ref(x, w):
        q, v = x[0], x[1]
        k = x[2] if len(x) > 2 else v
        if additive:
            s = ((w[0] if use_scale else 1.0) * np.tanh(q[:, :, None] + k[:, None])).sum(-1)
        elif concat:
            t = (w[0] if use_scale else 1.0) * (q[:, :, None] + k[:, None])
            s = w[-1] * np.tanh(t).sum(-1)
        else:
            s = q @ k.transpose(0, 2, 1) * (w[0] if use_scale else 1.0)
        return softmax(s) @ v

    return ref


HARNESS = [
    ("dot", L.Attention, {}, [(2, 3, 4), (2, 5, 2), (2, 5, 4)], {}),
    ("dot_scale", L.Attention, {"use_scale": True}, [(2, 3, 4), (2, 5, 4)], {"use_scale": True}),
    ("concat_scale", L.Attention, {"score_mode": "concat", "use_scale": True},
     [(2, 3, 4), (2, 5, 4)], {"use_scale": True, "concat": True}),
    ("additive", L.AdditiveAttention, {}, [(2, 3, 4), (2, 4, 3), (2, 4, 4)],
     {"use_scale": True, "additive": True}),
    ("additive_no_scale", L.AdditiveAttention, {"use_scale": False, "dropout": 0.5},
     [(1, 2, 3), (1, 3, 3)], {"additive": True}),
]  # fmt: skip


@pytest.mark.parametrize("case", HARNESS, ids=[c[0] for c in HARNESS])
def test_attention_layers(case):
    _, cls, kwargs, shapes, ref = case
    out = (shapes[0][0], shapes[0][1], shapes[1][2])
    run_layer_test(cls, kwargs, shapes, expected_output_shape=out, reference=attention_ref(**ref))


def einsum_ref(equation, activation=np.tanh):
    return lambda x, w: activation(np.einsum(equation, x, w[0]) + w[1])


@pytest.mark.parametrize(
    "equation, output_shape, bias_axes, shape, out",
    [
        ("abc,cde->abde", (None, 2, 3), "de", (2, 3, 4), (2, 3, 2, 3)),
        ("abcd,cde->abe", (None, 3), "e", (2, 3, 2, 4), (2, 3, 3)),
        ("abc,dce->abde", (None, 2, 3), "e", (2, 3, 4), (2, 3, 2, 3)),
        ("ab...,bc->ac...", 4, "c", (2, 3, 5), (2, 4, 5)),
    ],
)
def test_einsum_dense(equation, output_shape, bias_axes, shape, out):
    kwargs = {"equation": equation, "output_shape": output_shape, "bias_axes": bias_axes,
              "activation": "tanh"}  # fmt: skip
    run_layer_test(L.EinsumDense, kwargs, shape, expected_output_shape=out,
                   reference=einsum_ref(equation))  # fmt: skip


def test_einsum_dense_fans_follow_the_equation():
    """glorot_uniform's limit from the contracted input letters (4) and the output ones (2 * 3),
    wherever they sit in the kernel, as Keras."""
    layer = L.EinsumDense("abc,dce->abde", (None, 2, 3), kernel_initializer="glorot_uniform")
    layer(np.zeros((1, 3, 4), np.float32))
    kernel = layer.get_weights()[0]
    assert kernel.shape == (2, 4, 3)
    assert np.abs(kernel).max() <= np.sqrt(6 / (4 + 6)) and np.abs(kernel).max() > 0.5


def _mha_model(layer, q_shape, v_shape, masks=(), **call):
    q = ge.Input(shape=q_shape, dtype="float64")
    v = ge.Input(shape=v_shape, dtype="float64")
    ms = [ge.Input(shape=s, dtype="bool") for s in masks]
    names = ["value_mask", "attention_mask"][: len(ms)]
    out = layer(q, v, **dict(zip(names, ms)), **call)
    return ge.Model([q, v, *ms], out)


def test_multi_head_attention_gradients_and_reference():
    rng = np.random.default_rng(0)
    layer = L.MultiHeadAttention(2, 3, value_dim=2, output_shape=(3,), dropout=0.2, dtype="float64")
    model = _mha_model(layer, (3, 4), (5, 4), masks=[(5,), (3, 5)], use_causal_mask=True,
                       return_attention_scores=True)  # fmt: skip
    q, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    vm = np.array([[1, 1, 0, 1, 1], [0, 1, 1, 1, 0]], bool)
    am = rng.random((2, 3, 5)) > 0.3
    am[:, :, 0] = am[:, :, 1] = True  # rows keep a key (a fully masked row is checked above)
    check_model_grads(model, [q, v, vm, am])
    wq, bq, wk, bk, wv, bv, wo, bo = layer.get_weights()
    Q = np.einsum("abc,cde->abde", q, wq) + bq
    K = np.einsum("abc,cde->abde", v, wk) + bk
    V = np.einsum("abc,cde->abde", v, wv) + bv
    keep = vm[:, None, None, :] & am[:, None] & np.tril(np.ones((3, 5), bool))
    P = np.where(
        keep, softmax(np.where(keep, np.einsum("bind,bjnd->bnij", Q, K) / 3**0.5, -1e9)), 0
    )
    y = np.einsum("bnij,bjnd->bind", P, V)
    y = np.einsum("abcd,cde->abe", y, wo) + bo
    got_y, got_p = model([q, v, vm, am])
    np.testing.assert_allclose(got_p, P, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_y, y, rtol=1e-10, atol=1e-12)


def test_multi_head_attention_weights_config_and_4d():
    layer = L.MultiHeadAttention(3, 2, use_gate=True, dtype="float64", name="mha")
    x = np.random.default_rng(1).standard_normal((2, 2, 3, 4))
    y = layer(x, x)
    assert y.shape == (2, 2, 3, 4)
    shapes = [w.shape for w in layer.get_weights()]
    assert shapes == [(4, 3, 2), (3, 2), (4, 3, 2), (3, 2), (4, 3, 2), (3, 2), (4, 3, 2), (3, 2),
                      (3, 2, 4), (4,)]  # fmt: skip
    assert [w.path for w in layer.weights][:2] == ["mha/query/kernel", "mha/query/bias"]
    assert layer.count_params() == sum(int(np.prod(s)) for s in shapes)
    config = layer.get_config()
    json.dumps(config)
    clone = L.MultiHeadAttention.from_config(config)
    assert clone.get_config() == config
    clone(x, x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x, x), y, rtol=1e-12)
    model = _mha_model(L.MultiHeadAttention(2, 2, dtype="float64"), (2, 3, 4), (2, 2, 4))
    check_model_grads(model, [x, x[:, :, :2]])


def test_dropout_gradient_at_the_kernel():
    """The backward op through a drawn dropout mask, by central differences: the same seed
    draws the same mask every forward pass."""
    rng = np.random.default_rng(2)
    q, k = rng.standard_normal((2, 3, 2, 4)), rng.standard_normal((2, 5, 2, 4))
    v = rng.standard_normal((2, 5, 2, 3))
    mask = rng.random((2, 1, 3, 5)) > 0.4
    mask[..., 0] = True
    dout = rng.standard_normal((2, 3, 2, 3))
    dprobs, ddropped = rng.standard_normal((2, 2, 2, 3, 5))

    def run():
        probs, dropped = np.empty((2, 2, 3, 5)), np.empty((2, 2, 3, 5))
        out = np.empty((2, 3, 2, 3))
        cpu.attention_forward(q, k, v, None, mask, 0.6, True, False, 0.5,
                              np.random.default_rng(9), probs, dropped, out)  # fmt: skip
        return out, probs, dropped

    out, probs, dropped = run()
    assert np.any(dropped == 0) and np.any(dropped > probs)  # the mask dropped and scaled

    def f():
        y, p, d = run()
        return float(np.sum(y * dout) + np.sum(p * dprobs) + np.sum(d * ddropped))

    numeric = numeric_vjp(f, [q, k, v], 1e-6)
    grads = [np.empty((2, 2, 3, 5)), np.empty_like(q), np.empty_like(k), np.empty_like(v)]
    cpu.attention_backward(dout, dprobs, ddropped, q, k, v, probs, dropped, 0.6, *grads)
    for a, n in zip(grads[1:], numeric):
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-7)


def test_kernels_without_blas_gemm(monkeypatch):
    """Where NumPy's BLAS is not OpenBLAS, the products run as plain loops: the same numbers."""
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal(s) for s in [(2, 3, 2, 4), (2, 5, 2, 4), (2, 5, 2, 3)])
    dout = rng.standard_normal((2, 3, 2, 3))

    def run():
        fwd = [np.empty((2, 2, 3, 5)), np.empty((2, 3, 2, 3))]
        cpu.attention_forward(q, k, v, None, None, 0.5, True, 1, 0.0, None, fwd[0], None, fwd[1])
        grads = [np.empty((2, 2, 3, 5)), np.empty_like(q), np.empty_like(k), np.empty_like(v)]
        cpu.attention_backward(dout, None, None, q, k, v, fwd[0], None, 0.5, *grads)
        return fwd + grads

    with_blas = run()
    monkeypatch.setattr("graphengine_kernels.cpu.attention.GEMMS", {})
    for a, b in zip(run(), with_blas):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_dropout_in_training():
    """Seeded: the same masks run after run; dropped probabilities are 0 or p / (1 - rate);
    inference is deterministic and undropped."""
    x = np.random.default_rng(3).standard_normal((2, 4, 3)).astype(np.float32)
    outs = []
    for _ in range(2):
        layer = L.Attention(dropout=0.5, seed=11)
        outs.append(layer([x, x], training=True, return_attention_scores=True))
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    _, p = layer([x, x], training=False, return_attention_scores=True)
    dropped = outs[0][1]
    assert np.all((dropped == 0) | np.isclose(dropped, 2 * p, rtol=1e-6))
    assert 0 < np.mean(dropped == 0) < 1
    np.testing.assert_allclose(outs[0][0], np.einsum("bij,bjd->bid", dropped, x), rtol=1e-5)


# -- masks carried by tensors -------------------------------------------------------------------
def test_masks_carried_from_embedding():
    ids = np.array([[3, 1, 0, 0], [2, 5, 4, 0]])
    tokens = ge.Input(shape=(4,), dtype="int32")
    h = L.Embedding(8, 6, mask_zero=True)(tokens)
    mha = L.MultiHeadAttention(2, 3)
    att = L.Attention()
    y = mha(h, h)
    z = att([y, h])
    assert y.mask is not None and z.mask is not None
    model = ge.Model(tokens, [y, z])
    got_y, got_z = model(ids)
    emb = model.layers[1].get_weights()[0][ids]
    keep = ids != 0
    ref_y = mha(emb, emb, query_mask=keep, value_mask=keep)
    ref_z = att([ref_y, emb], mask=[keep, keep])
    np.testing.assert_allclose(got_y, ref_y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_z, ref_z, rtol=1e-5, atol=1e-6)
    assert np.all(got_z[~keep] == 0)  # Attention zeroes masked query steps


def test_nan_propagates_and_empty_batch():
    layer = L.MultiHeadAttention(2, 2)
    x = np.ones((2, 3, 4), np.float32)
    x[1, 0, 0] = np.nan
    y = layer(x, x)
    assert np.all(np.isfinite(y[0])) and np.all(np.isnan(y[1]))
    assert layer(np.zeros((0, 3, 4), np.float32), np.zeros((0, 3, 4), np.float32)).shape == (
        0,
        3,
        4,
    )


def test_save_and_load(tmp_path):
    q = ge.Input(shape=(3, 4))
    v = ge.Input(shape=(5, 4))
    h = L.MultiHeadAttention(2, 3, value_dim=2)(q, v, use_causal_mask=False)
    h = L.Attention(use_scale=True)([h, v])
    h = L.AdditiveAttention()([h, v])
    out = L.EinsumDense("abc,cd->abd", (None, 2), bias_axes="d")(h)
    model = ge.Model([q, v], out)
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((2, 5, 4))]
    path = str(tmp_path / "attention.gez")
    model.save(path)
    loaded = ge.models.load_model(path)
    np.testing.assert_allclose(loaded(xs), model(xs), rtol=1e-6)


# -- errors ---------------------------------------------------------------------------------------
def test_attention_errors():
    q, v = ge.Input(shape=(3, 4)), ge.Input(shape=(5, 4))
    with pytest.raises(ValueError, match=r"must be called on a list of inputs"):
        L.Attention()(q)
    with pytest.raises(ValueError, match=r"accepts inputs list of length 2 or 3.*length: 1"):
        L.Attention()([q])
    with pytest.raises(ValueError, match=r"mask must be a list of length 2 or 3"):
        L.Attention()([q, v], mask=[ge.Input(shape=(3,), dtype="bool")])
    with pytest.raises(ValueError, match=r"key and value must have the same number of steps.*"
                                         r"\(None, 4, 4\).*\(None, 5, 4\)"):  # fmt: skip
        L.Attention()([q, v, ge.Input(shape=(4, 4))])
    with pytest.raises(ValueError, match=r"'attention_\w*'.*same last dimension.*\(None, 3, 4\)"):
        L.Attention()([q, ge.Input(shape=(5, 2))] + [ge.Input(shape=(5, 3))])
    with pytest.raises(ValueError, match=r"value_mask must have shape \(batch, Tv\).*\(None, 4\)"):
        L.Attention()([q, v], mask=[None, ge.Input(shape=(4,), dtype="bool")])
    with pytest.raises(ValueError, match=r"must have rank 3.*\(None, 2, 3, 4\)"):
        L.Attention()([ge.Input(shape=(2, 3, 4)), v])
    with pytest.raises(ValueError, match=r"Expected one of \{'dot', 'concat'\}.*score_mode=add"):
        L.Attention(score_mode="add")
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got dropout=1.5"):
        L.Attention(dropout=1.5)
    with pytest.raises(ValueError, match=r"AdditiveAttention.*last dimension must be known"):
        L.AdditiveAttention()([ge.Input(shape=(3, None)), ge.Input(shape=(5, None))])


def test_multi_head_attention_errors():
    q, v = ge.Input(shape=(3, 4)), ge.Input(shape=(5, 4))
    with pytest.raises(ValueError, match=r"num_heads must be a positive integer.*num_heads=0"):
        L.MultiHeadAttention(0, 2)
    with pytest.raises(ValueError, match=r"key_dim must be a positive integer.*key_dim=2.5"):
        L.MultiHeadAttention(2, 2.5)
    with pytest.raises(ValueError, match=r"except the last one, must be equal.*\(None, 5, 4\).*"
                                         r"\(None, 6, 4\)"):  # fmt: skip
        L.MultiHeadAttention(2, 2)(q, v, key=ge.Input(shape=(6, 4)))
    with pytest.raises(ValueError, match=r"attention_mask must have shape \(None, 3, 5\), "
                                         r"received shape \(None, 5, 3\)"):  # fmt: skip
        L.MultiHeadAttention(2, 2)(q, v, attention_mask=ge.Input(shape=(5, 3), dtype="bool"))
    with pytest.raises(ValueError, match=r"value_mask must have shape \(None, 5\).*\(None, 3\)"):
        L.MultiHeadAttention(2, 2)(q, v, value_mask=ge.Input(shape=(3,), dtype="bool"))
    with pytest.raises(NotImplementedError, match=r"attention_axes=\(2,\) is not supported"):
        L.MultiHeadAttention(2, 2, attention_axes=2)(ge.Input((2, 3, 4)), ge.Input((2, 3, 4)))
    x4 = ge.Input(shape=(2, 3, 4))
    with pytest.raises(NotImplementedError, match=r"use_causal_mask needs inputs with one step"):
        L.MultiHeadAttention(2, 2)(x4, x4, use_causal_mask=True)
    with pytest.raises(TypeError, match=r"missing the `value` argument"):
        L.MultiHeadAttention(2, 2)(q)
    with pytest.raises(NotImplementedError, match=r"sliding_window=3 is not supported"):
        L.MultiHeadAttention(2, 2, sliding_window=3)


def test_einsum_dense_errors():
    x = ge.Input(shape=(3, 4))
    with pytest.raises(ValueError, match=r"Invalid einsum equation 'ab->b'"):
        L.EinsumDense("ab->b", 3)(x)
    with pytest.raises(ValueError, match=r"Bias dimension 'x' was requested.*'abd'"):
        L.EinsumDense("abc,cd->abd", (None, 2), bias_axes="x")(x)
    with pytest.raises(ValueError, match=r"shared dimension 'b'. Input shape is 3, and output "
                                         r"shape is 5"):  # fmt: skip
        L.EinsumDense("abc,cd->abd", (5, 2))(x)
    with pytest.raises(ValueError, match=r"Weight dimension 'z' did not have a match"):
        L.EinsumDense("abc,cz->abc", (None, 4))(x)
    with pytest.raises(ValueError, match=r"output_shape=\(2,\) of equation 'abc,cd->abd' must "
                                         r"give 2 sizes"):  # fmt: skip
        L.EinsumDense("abc,cd->abd", 2)(x)
    with pytest.raises(ValueError, match=r"names 2 input axes, but the input has shape"):
        L.EinsumDense("ab,bc->ac", 2)(x)


def test_pairs_on_blas_threads_match_this_thread(monkeypatch, set_threads):
    """With enough work the (batch, head) pairs run in ranges on OpenBLAS's threads
    (threads.blas_pool_rows); the forward and backward kernels give this thread's numbers
    exactly (each range owns its pairs)."""
    from graphengine_kernels.cpu import threads

    rng = np.random.default_rng(0)
    B, T, N, D = 3, 5, 2, 4
    q, k, v = (rng.standard_normal((B, T, N, D)) for _ in range(3))
    dout = rng.standard_normal((B, T, N, D))
    mask = rng.random((B, 1, T, T)) > 0.3

    def run():
        probs, out = np.zeros((B, N, T, T)), np.zeros((B, T, N, D))
        cpu.attention_forward(q, k, v, None, mask, 0.5, False, 1, 0.0, None, probs, None, out)
        grads = [np.zeros((B, N, T, T)), np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)]
        cpu.attention_backward(dout, None, None, q, k, v, probs, None, 0.5, *grads)
        return [probs, out, *grads]

    here = run()
    ranges = []
    pool_rows = threads.blas_pool_rows

    def counted(rows, work, run, min_rows=1):
        ranges.append(rows)
        pool_rows(rows, work, run, min_rows)

    monkeypatch.setattr(threads, "_MIN_WORK", 0)
    monkeypatch.setattr(threads, "blas_pool_rows", counted)
    set_threads(2)
    pooled = run()
    assert ranges == [B * N] * 2  # the forward pass and the backward one
    for a, b in zip(pooled, here):
        np.testing.assert_array_equal(a, b)
    assert np.any(here[4])  # the gradients are not trivially zero
