"""The CUDA kernels of tests/test_ops.py's ops (comparisons, logical ops, rounding, log1p and
expm1, sort, reductions of bools) against the CPU ones in Numba's simulator, NaN, inf and zeros'
signs included; run by tests/test_cuda.py with the other parity files."""

import numpy as np
import pytest

import cuda_device  # noqa: F401  (the simulator or a GPU)

import graphengine as ge  # noqa: E402
from test_ops import BOOLS, COMPARE  # noqa: E402

ops = ge.ops


def on_both(name, *args):
    """Runs kernel `name` of graphengine_kernels.cpu and of graphengine_kernels.cuda from the same
    inputs; every array argument (kernels write in place) must come out the same: NaN, zeros' signs
    and dtype too."""
    import graphengine_kernels.cpu as cpu
    import graphengine_kernels.cuda as gpu
    from numba import cuda

    host = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    dev = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    getattr(cpu, name)(*host)
    getattr(gpu, name)(*dev)
    for i, (h, d) in enumerate(zip(host, dev)):
        if isinstance(h, np.ndarray):
            got = d.copy_to_host()
            assert got.dtype == h.dtype, (name, i)
            np.testing.assert_allclose(got, h, rtol=1e-6, atol=0, err_msg=f"{name} argument {i}")
            if h.dtype.kind == "f":  # the sign of every zero (a NaN's sign means nothing)
                number = ~np.isnan(h)
                np.testing.assert_array_equal(
                    np.signbit(got[number]), np.signbit(h[number]), err_msg=name
                )


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # NaN and inf on purpose
def test_cudasim_kernels_match_cpu():
    a = np.array([[1.5, np.nan, -np.inf, 0.0], [-0.0, np.inf, -2.5, 3.0]])
    b = np.array([0.0, np.nan, -1.0, 3.0])
    for name in COMPARE:
        on_both(name, a, b, np.zeros((2, 4), bool))
    on_both("logical_and", BOOLS, np.array([True, False, True]), np.zeros((2, 3), bool))
    edges = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -0.4, -0.0, 3e38, np.inf, -np.inf, np.nan, -1.0])
    for dtype in ("float32", "float64"):
        x = edges.astype(dtype)
        for kind in ("floor", "ceil", "round", "log1p", "expm1"):
            on_both(f"{kind}_forward", x, np.zeros_like(x))
        smooth = np.array([0.3, -0.5, 2.0], dtype)
        for kind in ("floor", "ceil", "round", "log1p", "expm1"):
            y, dy = np.abs(smooth), np.array([1.0, np.inf, -2.0], dtype)
            on_both(f"{kind}_backward", smooth, y, dy, np.full(3, np.nan, dtype))
    rows = np.array([[1.0, 3.0, np.nan, 3.0, -0.0, 0.0], [2.0, -1.0, 2.0, np.nan, np.nan, 5.0]])
    for x in (rows, rows.astype("float32"), np.array([[3, 1, 3, 0, 1, 2]], "int32"), BOOLS):
        n = x.shape[1]
        for k, descending in ((n, False), (n, True), (2, True), (0, True)):
            on_both("sort_forward", x, descending, np.zeros((len(x), k), x.dtype),
                    np.zeros((len(x), k), "int32"))  # fmt: skip
    idx = np.array([[4, 0], [1, 3]], "int32")
    on_both("sort_backward", np.array([[1.5, -2.0], [3.0, 4.0]]), idx, np.full((2, 6), np.nan))
    on_both("sum_forward", BOOLS, (1,), np.zeros((2, 1), "int32"))
    on_both("max_forward", BOOLS, (0,), np.zeros((1, 3), bool))
    on_both("mean_forward", BOOLS, (0, 1), np.zeros((1, 1), "float32"))


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")
def test_cudasim_graph_matches_cpu():
    """A metric-like graph of the new ops, its outputs and input gradient, on cuda as on cpu."""
    x = ge.Input(shape=(5,), dtype="float64")
    t = ge.Input(shape=(), dtype="int32")
    smooth = ops.sort(x) * ops.expm1(x / 4.0) + ops.log1p(ops.abs(x)) + ops.top_k(x, 5)[0]
    stepped = ops.floor(x) + ops.ceil(x) + ops.round(x, 1) + ops.divide_no_nan(x, x - 1.5)
    counts = ops.cast(ops.count_nonzero(ops.logical_xor(x > 0, x < 1), axis=1), "float64")
    hits = ops.cast(ops.logical_and(ops.in_top_k(t, x, 2), ops.all(ops.isfinite(x), 1)), "float64")
    model = ge.Model([x, t], [smooth + stepped, counts + hits + ops.sum(ops.argsort(x), axis=1)])
    xv = np.array([[0.3, -1.2, 2.5, 0.3, 1.5], [1.0, np.inf, -0.0, 4.0, -3.5]])
    tv = np.array([3, 4], "int32")
    cots = [np.ones((2, 5)), np.ones(2)]
    results = {}
    for name in ("cpu", "cuda"):
        with ge.device(name):
            results[name] = model([xv, tv]) + [model.vjp([xv, tv], cots)[0][0]]
    for got, want in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
