"""ge.config.set_num_threads: one thread count for NumPy's BLAS, the recurrent row threads and
Numba's pool; training gives the same weights on one thread as on two."""

import numpy as np
import pytest

import graphengine as ge
import kernels.cpu.recurrent as kr
from kernels.cpu import threads


@pytest.fixture(autouse=True)
def restore_threads():
    before = ge.config.get_num_threads()
    yield
    ge.config.set_num_threads(before)


def test_default_is_what_blas_started_with():
    assert ge.config.get_num_threads() >= 1
    if threads.BLAS_THREADS is not None:
        assert threads._DEFAULT == threads.BLAS_THREADS[0]()


@pytest.mark.skipif(threads.BLAS_THREADS is None, reason="NumPy's BLAS is not OpenBLAS")
@pytest.mark.parametrize("n", [1, 2, 3])
def test_blas_and_rnn_row_threads_follow_the_setting(n, monkeypatch):
    ge.config.set_num_threads(np.int64(n))
    assert ge.config.get_num_threads() == n
    assert threads.BLAS_THREADS[0]() == n
    monkeypatch.setattr(kr, "_MIN_ROWS", 1)
    calls, blas = [], []

    def run(n0, n1):
        calls.append((n0, n1))
        blas.append(threads.BLAS_THREADS[0]())

    kr.rnn_parallel_rows(run, 6, kr._MIN_WORK)
    assert sorted(calls) == [(6 * c // n, 6 * (c + 1) // n) for c in range(n)]
    assert blas == [1] * n  # each row thread's products on one BLAS thread
    assert threads.BLAS_THREADS[0]() == n  # restored after the sequence


@pytest.mark.skipif(threads.BLAS_THREADS is None, reason="NumPy's BLAS is not OpenBLAS")
@pytest.mark.parametrize("n", [1, 2, 3])
def test_numba_row_ranges_follow_the_setting(n, monkeypatch):
    """The whole-sequence kernels run one row range a thread of Numba's pool (at most its
    size), on single-threaded BLAS, both restored after."""
    import numba

    ge.config.set_num_threads(n)
    monkeypatch.setattr(kr, "_MIN_ROWS", 1)
    bounds = kr.rnn_row_bounds(6, kr._MIN_WORK)
    assert bounds.tolist() == [6 * c // n for c in range(n + 1)]
    assert kr.rnn_row_bounds(6, kr._MIN_WORK - 1).tolist() == [0, 6]  # too little work
    before = numba.get_num_threads()
    with kr.rnn_numba_rows(bounds):
        assert numba.get_num_threads() == min(n, numba.config.NUMBA_NUM_THREADS)
        assert threads.BLAS_THREADS[0]() == 1
    assert numba.get_num_threads() == before
    assert threads.BLAS_THREADS[0]() == n


def test_numba_pool_start_sets_the_spin_count_only_while_it_loads(monkeypatch):
    """GNU OpenMP reads GOMP_SPINCOUNT when Numba loads it: set then, unless the user set it,
    and gone after, so other OpenMP runtimes in the process keep their own."""
    import os

    import numba
    from numba.np.ufunc import parallel

    seen = []
    monkeypatch.setattr(parallel, "_is_initialized", False)
    monkeypatch.setattr(numba, "get_num_threads", lambda: seen.append(os.getenv("GOMP_SPINCOUNT")))
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    kr._start_numba_pool()
    assert seen == [kr._GOMP_SPINCOUNT] and "GOMP_SPINCOUNT" not in os.environ
    monkeypatch.setenv("GOMP_SPINCOUNT", "7")
    kr._start_numba_pool()
    assert seen[-1] == "7" and os.environ["GOMP_SPINCOUNT"] == "7"


def test_numba_pool_follows_when_running():
    """Once Numba's pool runs (a user's parallel=True kernel; get_num_threads starts it), the
    setting reaches it, capped at the pool's size."""
    import numba
    from numba.np.ufunc import parallel

    numba.get_num_threads()
    assert parallel._is_initialized
    ge.config.set_num_threads(1)
    assert numba.get_num_threads() == 1
    ge.config.set_num_threads(2)
    assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)


def _train(n):
    ge.config.set_num_threads(n)
    ge.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 12, 16)).astype(np.float32)
    y = rng.integers(0, 5, 64)
    model = ge.Sequential(
        [
            ge.Input((12, 16)),
            ge.layers.LSTM(96),
            ge.layers.Dense(256, activation="relu"),
            ge.layers.Dense(5),
        ]
    )
    model.compile(optimizer="adam", loss=ge.losses.SparseCategoricalCrossentropy(from_logits=True))
    losses = [model.train_on_batch(x, y) for _ in range(3)]
    return losses, model.get_weights()


def test_training_is_the_same_on_one_and_two_threads(monkeypatch):
    import kernels.cpu.recurrent_sequences as seqs

    monkeypatch.setattr(kr, "_MIN_WORK", 0)  # the LSTM's rows split across threads at n=2
    monkeypatch.setattr(kr, "_MIN_ROWS", 1)
    ranges = []

    def row_bounds(*args):
        bounds = kr.rnn_row_bounds(*args)
        ranges.append(len(bounds) - 1)
        return bounds

    monkeypatch.setattr(seqs, "rnn_row_bounds", row_bounds)
    losses1, weights1 = _train(1)
    assert ranges and set(ranges) == {1}
    ranges.clear()
    losses2, weights2 = _train(2)
    assert 2 in ranges or not seqs.GEMMS
    np.testing.assert_allclose(losses1, losses2, rtol=1e-6)
    for a, b in zip(weights1, weights2):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", None, True])
def test_bad_thread_counts_raise(bad):
    with pytest.raises(ValueError, match=r"set_num_threads: n must be a positive integer, got"):
        ge.config.set_num_threads(bad)
    assert ge.config.get_num_threads() >= 1
