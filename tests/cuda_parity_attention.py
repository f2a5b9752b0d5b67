"""The fused attention kernels on CUDA against the CPU ones, in Numba's CUDA simulator (run by
test_cuda.py with every tests/cuda_parity*.py): masks broadcast on each axis, causal, the three
mask modes, given scores, dropout drawn, copied and absent, float32 and float64."""

import numpy as np
import pytest

import graphengine_kernels.cpu as cpu
from cuda_parity import DTYPES, Backend, check, rand


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    return Backend(request.param)


B, TQ, TV, N, DK, DV = 2, 3, 4, 2, 3, 2


def _operands(dtype):
    q, k = rand(B, TQ, N, DK, dtype=dtype), rand(B, TV, N, DK, dtype=dtype, seed=1)
    v = rand(B, TV, N, DV, dtype=dtype, seed=2)
    return q, k, v


def _empty(dtype):
    return (np.zeros((B, N, TQ, TV), dtype), np.zeros((B, N, TQ, TV), dtype),
            np.zeros((B, TQ, N, DV), dtype))  # fmt: skip


MASKS = {
    "none": None,
    "keys": np.array([[[[1, 0, 1, 1]]], [[[0, 0, 0, 0]]]], bool),  # batch 1 fully masked
    "full": np.random.default_rng(3).random((B, N, TQ, TV)) > 0.4,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_attention_forward_backward(device, dtype, mask, mode):
    q, k, v = _operands(dtype)
    m = MASKS[mask]
    for causal, rate, rng in [(False, 0.0, None), (True, 0.5, np.random.default_rng(7)),
                              (mode == 1, 0.5, None)]:  # fmt: skip
        probs, dropped, out = _empty(dtype)
        dropped = dropped if rate else None
        check(device, "attention_forward", q, k, v, None, m, 0.6, causal, mode, rate, rng, probs,
              dropped, out)  # fmt: skip
    probs, dropped, out = _empty(dtype)
    cpu.attention_forward(q, k, v, None, m, 0.6, True, mode, 0.5, np.random.default_rng(7),
                          probs, dropped, out)  # fmt: skip
    dout, dprobs = rand(B, TQ, N, DV, dtype=dtype, seed=4), rand(B, N, TQ, TV, dtype=dtype, seed=5)
    grads = [np.zeros((B, N, TQ, TV), dtype), np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)]
    check(device, "attention_backward", dout, dprobs, dprobs * 0.5, q, k, v, probs, dropped, 0.6,
          *grads)  # fmt: skip
    check(device, "attention_backward", dout, None, None, q, k, v, probs, None, 0.6, *grads)


@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_given_scores(device, dtype):
    _, _, v = _operands(dtype)
    scores = rand(B, N, TQ, TV, dtype=dtype, seed=6)
    probs, _, out = _empty(dtype)
    check(device, "attention_forward", None, None, v, scores, MASKS["keys"], 1.0, False, 0, 0.0,
          None, probs, None, out)  # fmt: skip
    cpu.attention_forward(None, None, v, scores, None, 1.0, False, 0, 0.0, None, probs, None, out)
    dout = rand(B, TQ, N, DV, dtype=dtype, seed=4)
    check(device, "attention_backward", dout, None, None, None, None, v, probs, None, 1.0,
          np.zeros((B, N, TQ, TV), dtype), None, None, np.zeros_like(v))  # fmt: skip


def test_attention_model_trains_alike_on_both_devices():
    """MultiHeadAttention (causal) into Attention: two SGD steps, then a prediction."""
    import graphengine as ge

    L = ge.layers
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((2, 3, 4)).astype("float32"),
          rng.standard_normal((2, 4, 4)).astype("float32")]  # fmt: skip
    labels = rng.integers(0, 2, 2)
    results = []
    for dev in ("cpu", "cuda"):
        ge.utils.set_random_seed(1)
        q, v = ge.Input((3, 4)), ge.Input((4, 4))
        h = L.MultiHeadAttention(2, 2)(q, v, use_causal_mask=True)
        h = L.Attention(use_scale=True)([h, v])
        model = ge.Model([q, v], L.Dense(2)(L.GlobalAveragePooling1D()(h)))
        loss = ge.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer="sgd", loss=loss, device=dev)
        losses = [model.train_on_batch(xs, labels) for _ in range(2)]
        results.append((losses, model.predict_on_batch(xs)))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-4, atol=1e-5)
