"""The segment kernels (kernels/cuda/segment.py) and take's row path against the CPU kernels, in
Numba's CUDA simulator (run by test_cuda.py); forward and backward, tiny shapes, every scratch
argument compared too."""

import numpy as np
import pytest

import cuda_device  # noqa: F401  (the simulator or a GPU)

import graphengine as ge  # noqa: E402
import graphengine_kernels.cpu as cpu  # noqa: E402
from cuda_parity import DTYPES, Backend, check, rand  # noqa: E402

IDS = np.array([2, 0, 2, 3, 0, 2], "int32")  # segment 1 empty, 4 segments


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    return Backend(request.param)


def _data(dtype, seed=0):
    x = rand(6, 3, dtype=dtype, seed=seed)
    x[4, 1] = x[1, 1]  # a tie in segment 0
    return x


@pytest.mark.parametrize("dtype", DTYPES)
def test_segment_reductions(device, dtype):
    x, S = _data(dtype), 4
    check(device, "segment_sum", x, IDS, np.zeros((S, 3), dtype))
    check(device, "segment_mean", x, IDS, np.zeros((S, 3), dtype), np.zeros(S, dtype))
    check(device, "segment_max", x, IDS, np.zeros((S, 3), dtype), np.zeros(S, dtype))
    x[3, 2] = np.nan
    check(device, "segment_max", x, IDS, np.zeros((S, 3), dtype), np.zeros(S, dtype))
    out, scratch = np.zeros_like(x), np.zeros((S, 3), dtype)
    check(device, "segment_softmax", x, IDS, out, scratch, scratch.copy())
    empty = np.zeros((0, 3), dtype)
    check(device, "segment_max", empty, IDS[:0], np.ones((2, 3), dtype), np.zeros(2, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_segment_gradients(device, dtype):
    x, S = _data(dtype), 4
    dy = rand(S, 3, dtype=dtype, seed=3)
    count = np.array([2, 1, 3, 1], dtype)
    check(device, "segment_mean_backward", IDS, dy, count, np.zeros_like(x))
    out, scratch = np.zeros((S, 3), dtype), np.zeros(S, dtype)
    cpu.segment_max(x, IDS, out, scratch)  # the maximum the backward kernels read
    check(device, "segment_max_backward", x, IDS, out, dy, np.zeros_like(x), np.zeros_like(out))
    y, dyy = rand(6, 3, dtype=dtype, seed=4, low=0.0, high=1.0), rand(6, 3, dtype=dtype, seed=5)
    check(device, "segment_softmax_backward", IDS, y, dyy, np.zeros_like(y), np.zeros_like(out))


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_gradient_of_a_nan_maximum(device, dtype):
    x = np.array([[1.0], [np.nan], [2.0]], dtype)
    ids, out = np.array([0, 0, 1], "int32"), np.array([[np.nan], [2.0]], dtype)
    dy = np.ones((2, 1), dtype)
    check(device, "segment_max_backward", x, ids, out, dy, np.zeros_like(x), np.zeros_like(out))


def test_take_rows_and_back(device):
    x, ids = rand(1, 5, 4), np.array([4, -1, 0, 0, 2, -5], "int64")
    check(device, "take_forward", x, ids, np.zeros((1, 6, 4)))
    check(device, "take_backward", ids, rand(1, 6, 4, seed=2), np.zeros_like(x))


def test_segment_graph_matches_cpu():
    """Messages gathered along edges and aggregated at nodes (like=, None and int counts), their
    predictions and input gradients, on cuda as on cpu."""
    from graphengine.ops.segment import segment_max_like, segment_softmax_like, segment_sum_like

    ops = ge.ops
    nodes = ge.Input(shape=(3,), dtype="float64")
    edges = ge.Input(shape=(2,), dtype="int32")
    graph_index = ge.Input(shape=(), dtype="int32")
    src, tgt = edges[:, 0], edges[:, 1]
    msg = ops.take(nodes, src, axis=0)
    h = segment_sum_like(msg * segment_softmax_like(msg, tgt, nodes), tgt, nodes)
    h = h + segment_max_like(msg, tgt, nodes)
    out = ops.segment_mean(h, graph_index) + ops.segment_sum(h, graph_index, 2)
    model = ge.Model([nodes, edges, graph_index], out)
    x = rand(4, 3, dtype="float64")
    e = np.array([[0, 1], [1, 0], [2, 1], [3, 3], [0, 3], [1, 3]], "int32")
    feeds = [x, e, np.array([0, 1, 1, 0], "int32")]
    cot = rand(2, 3, dtype="float64", seed=3)
    results = {}
    for name in ("cpu", "cuda"):
        with ge.device(name):
            results[name] = (model(feeds), model.vjp(feeds, cot)[0][0])
    for a, b in zip(results["cpu"], results["cuda"]):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["segment_sum", "segment_mean", "segment_max", "segment_softmax"])
@pytest.mark.parametrize("bad", [3, -1])
def test_ids_outside_the_segments_raise_on_the_device_too(name, bad):
    inputs = [ge.Input(shape=(2,)), ge.Input(shape=(), dtype="int32")]
    model = ge.Model(inputs, getattr(ge.ops, name)(*inputs, num_segments=3))
    data, ids = np.ones((4, 2), "float32"), np.array([0, 1, bad, 2], "int32")
    with ge.device("cuda"):  # a model on the device: eager ops run on the CPU kernels
        with pytest.raises(ValueError, match=rf"{name}: segment_ids holds {bad}, outside \[0, 3\)"):
            model([data, ids])


def test_take_and_gather_indices_outside_raise_on_the_device_too():
    inp = ge.Input(shape=(2,))
    ids = ge.Input(shape=(), dtype="int32")
    model = ge.Model([inp, ids], ge.ops.take(inp, ids, axis=0))
    emb = ge.Sequential([ge.Input(shape=(3,), dtype="int32"), ge.layers.Embedding(4, 2)])
    with ge.device("cuda"):
        with pytest.raises(ValueError, match=r"take: index 5 is out of range \[-3, 3\)"):
            model([np.ones((3, 2), "float32"), np.array([0, 5], "int32")])
        with pytest.raises(ValueError, match=r"gather: index 4 is out of range \[0, 4\)"):
            emb(np.array([[0, 4, 1]], "int32"))
