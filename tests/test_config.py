"""ge.config.set_num_threads: one thread count for NumPy's BLAS, the recurrent row threads and
Numba's pool; training gives the same weights on one thread as on two; recurrent layers in
several Python threads, or in a forked child, leave BLAS's count as the setting says."""

import multiprocessing
import threading
from contextlib import contextmanager

import numpy as np
import pytest

import graphengine as ge
from graphengine_kernels.cpu import threads

NEEDS_BLAS = pytest.mark.skipif(threads.BLAS is None, reason="threadpoolctl found no BLAS")


def _blas():
    return threads.BLAS.get_num_threads()


@pytest.fixture(autouse=True)
def restore_threads(set_threads):
    """Every test here may set the count: conftest's set_threads puts the setting back."""
    yield


def test_default_is_what_blas_started_with():
    """BLAS runs the count in use: the default (what BLAS started with), or fewer while other
    processes take cores (the other test worker may, here)."""
    assert 1 <= ge.config.get_num_threads() <= threads._DEFAULT
    if threads.BLAS is not None:
        assert _blas() == ge.config.get_num_threads()


@NEEDS_BLAS
@pytest.mark.parametrize("n", [1, 2, 3])
def test_blas_and_rnn_row_threads_follow_the_setting(n, monkeypatch):
    """BLAS follows the setting; the host loop of the recurrent rows (where Numba's pool cannot
    run) runs all rows on the calling thread, its step products on one BLAS thread, whole
    products on BLAS's threads; BLAS's count is restored after."""
    ge.config.set_num_threads(np.int64(n))
    assert ge.config.get_num_threads() == n
    assert _blas() == n
    monkeypatch.setattr(threads, "_MIN_ROWS", 1)
    with threads.parallel_rows(6, threads._MIN_WORK, numba_loop=False) as bounds:
        assert bounds is None  # the host loop, over all rows
        assert _blas() == 1  # each step's products on one BLAS thread
    assert _blas() == n  # restored after the sequence
    with threads.parallel_rows(6, threads._MIN_WORK, False, whole_products=True) as bounds:
        assert bounds is None and _blas() == n


@NEEDS_BLAS
@pytest.mark.parametrize("n", [1, 2, 3])
def test_numba_row_ranges_follow_the_setting(n, monkeypatch):
    """The whole-sequence kernels run one row range a thread of Numba's pool (at most its
    size), on single-threaded BLAS, both restored after."""
    import numba

    ge.config.set_num_threads(n)
    monkeypatch.setattr(threads, "_MIN_ROWS", 1)
    assert threads.row_bounds(6, threads._MIN_WORK - 1).tolist() == [0, 6]  # too little work
    before = numba.get_num_threads()
    with threads.parallel_rows(6, threads._MIN_WORK) as bounds:
        assert bounds.tolist() == [6 * c // n for c in range(n + 1)]
        assert numba.get_num_threads() == min(n, numba.config.NUMBA_NUM_THREADS)
        assert _blas() == 1
    assert numba.get_num_threads() == before
    assert _blas() == n


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
    threads._start_numba_pool()
    assert seen == [threads._GOMP_SPINCOUNT] and "GOMP_SPINCOUNT" not in os.environ
    monkeypatch.setenv("GOMP_SPINCOUNT", "7")
    threads._start_numba_pool()
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


@contextmanager
def _rows_running_elsewhere(numba_loop=False):
    """Recurrent rows running in another Python thread (its parallel_rows region open) until
    the block ends."""
    started, release = threading.Event(), threading.Event()

    def rows():
        with threads.parallel_rows(6, threads._MIN_WORK, numba_loop):
            started.set()
            release.wait(30)

    worker = threading.Thread(target=rows)
    worker.start()
    try:
        assert started.wait(30)
        yield
    finally:
        release.set()
        worker.join(30)


@NEEDS_BLAS
def test_rows_in_two_python_threads_at_once_give_blas_its_count_back():
    """Two Python threads run recurrent rows at once, the first to start ending first: BLAS
    stays on one thread until both end, then has its count back (the second used to put back
    the 1 it found, for good)."""
    ge.config.set_num_threads(2)
    first = threads.parallel_rows(6, threads._MIN_WORK, numba_loop=False)
    first.__enter__()
    with _rows_running_elsewhere():
        first.__exit__(None, None, None)  # the first rows end while the other's still run
        assert _blas() == 1
    assert _blas() == 2


@NEEDS_BLAS
def test_set_num_threads_while_rows_run_elsewhere_holds():
    """The count set while another Python thread runs recurrent rows reaches BLAS when they
    end (they used to put back the count they started from)."""
    ge.config.set_num_threads(2)
    with _rows_running_elsewhere():
        ge.config.set_num_threads(3)
        assert ge.config.get_num_threads() == 3 and _blas() == 1
    assert _blas() == 3


@NEEDS_BLAS
def test_set_num_threads_from_any_python_thread_reaches_blas():
    """threadpoolctl lets one Python thread at a time set OpenBLAS's threads, ignoring the
    others without a word: a setting from a second thread must still arrive."""
    ge.config.set_num_threads(1)
    worker = threading.Thread(target=ge.config.set_num_threads, args=(2,))
    worker.start()
    worker.join(30)
    assert _blas() == 2
    ge.config.set_num_threads(3)
    assert _blas() == 3


NEEDS_POOL = pytest.mark.skipif(
    threads._POOL is None, reason="NumPy's BLAS is not OpenBLAS on its own threads"
)


def _pool_ranges(rows, work, min_rows=1):
    """The (r0, r1, thread id, BLAS threads seen inside) of each range blas_pool_rows ran."""
    seen = []
    lock = threading.Lock()

    def run(r0, r1):
        with lock:
            seen.append((r0, r1, threading.get_ident(), _blas()))

    threads.blas_pool_rows(rows, work, run, min_rows)
    return sorted(seen)


@NEEDS_POOL
def test_blas_pool_rows_split_over_blas_threads():
    """Two threads configured: two ranges, one on this thread and one on OpenBLAS's worker,
    each seeing BLAS on one thread; BLAS has its count back after."""
    ge.config.set_num_threads(2)
    seen = _pool_ranges(10, threads._MIN_WORK)
    assert [(r0, r1) for r0, r1, _, _ in seen] == [(0, 5), (5, 10)]
    ran_on = {t for _, _, t, _ in seen}
    assert len(ran_on) == 2 and threading.get_ident() in ran_on
    assert [b for *_, b in seen] == [1, 1]
    assert _blas() == 2


@NEEDS_POOL
def test_blas_pool_rows_stay_on_this_thread_when_they_should():
    """Too little work, one thread configured, fewer rows than min_rows per thread, or BLAS on
    one thread (another thread's recurrent rows): one range, on this thread."""
    me = threading.get_ident()
    ge.config.set_num_threads(2)
    assert _pool_ranges(10, threads._MIN_WORK - 1) == [(0, 10, me, 2)]
    assert _pool_ranges(10, threads._MIN_WORK, min_rows=6) == [(0, 10, me, 2)]
    with _rows_running_elsewhere():
        assert _pool_ranges(10, threads._MIN_WORK) == [(0, 10, me, 1)]
    ge.config.set_num_threads(1)
    assert _pool_ranges(10, threads._MIN_WORK) == [(0, 10, me, 1)]


@NEEDS_POOL
def test_blas_pool_rows_raise_what_a_range_raised_and_nest():
    """An error in the worker's range reaches the caller (BLAS's count put back); a call from
    inside a range runs on its own thread (BLAS is on one there) instead of waiting for a
    worker that is busy with the outer range."""
    ge.config.set_num_threads(2)

    def failing(r0, r1):
        if r0:
            raise ValueError(f"range {r0}-{r1} failed")

    with pytest.raises(ValueError, match="range 5-10 failed"):
        threads.blas_pool_rows(10, threads._MIN_WORK, failing)
    assert _blas() == 2
    inner = []
    threads.blas_pool_rows(
        4, threads._MIN_WORK, lambda r0, r1: inner.append(_pool_ranges(4, threads._MIN_WORK))
    )
    assert len(inner) == 2 and all(len(ranges) == 1 for ranges in inner)
    assert _blas() == 2


@NEEDS_POOL
def test_blas_pool_rows_from_two_python_threads_at_once():
    """Kernels splitting rows over OpenBLAS's pool from two Python threads at once all finish,
    each range run once, and BLAS has its count back."""
    ge.config.set_num_threads(2)
    counts = [np.zeros(64, np.int64) for _ in range(2)]

    def caller(c):
        for _ in range(50):
            threads.blas_pool_rows(
                64, threads._MIN_WORK, lambda r0, r1: np.add.at(c, np.arange(r0, r1), 1)
            )

    workers = [threading.Thread(target=caller, args=(c,)) for c in counts]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not any(w.is_alive() for w in workers)
    for c in counts:
        np.testing.assert_array_equal(c, 50)
    assert _blas() == 2


@NEEDS_POOL
def test_row_kernels_give_the_same_bits_on_blas_threads(monkeypatch):
    """Layer norm, batch norm, the bias gradients and a weight gradient over many rows split
    their rows over OpenBLAS's threads (in blocks, their sums added in order): the same bits as
    on this thread alone."""
    from graphengine_kernels import cpu

    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((2, 1000, 24)).astype(np.float32)
    gamma, beta = rng.standard_normal((2, 24)).astype(np.float32)
    xa, xb = rng.standard_normal((4096, 8)).astype(np.float32), rng.random((4096, 6), np.float32)

    def run():
        y, dx = np.empty_like(x), np.empty_like(x)
        mean, inv_std = np.empty(1000, np.float32), np.empty(1000, np.float32)
        dgamma, dbeta, db, db2 = (np.empty(24, np.float32) for _ in range(4))
        cpu.layernorm_forward(x, gamma, beta, 1e-3, y, mean, inv_std)
        cpu.layernorm_backward(x, dy, mean, inv_std, gamma, dx, dgamma, dbeta)
        dz = np.empty_like(x)
        cpu.bias_activation_backward(np.maximum(x, 0), dy, "relu", dz, db)
        cpu.bias_backward(dy, db2)
        dw = np.empty((8, 6), np.float32)
        cpu.matmul_at_b(xa, xb, dw)
        # batch norm, channels last: the statistics, normalize + ReLU, and its backward
        x3, dy3 = x.reshape(1000, 24, 1), dy.reshape(1000, 24, 1)
        moving = [np.zeros(24, np.float32), np.ones(24, np.float32)]
        bn_mean, bn_inv, bn_y = np.empty(24, np.float32), np.empty(24, np.float32), dz.copy()
        cpu.batchnorm_training_stats(x3, 0.9, 1e-3, *moving, bn_mean, bn_inv)
        cpu.batchnorm_forward(x3, bn_mean, bn_inv, gamma, beta, True, bn_y.reshape(x3.shape))
        bn_dx, bn_dg, bn_db = np.empty_like(x), np.empty(24, np.float32), np.empty(24, np.float32)
        cpu.batchnorm_backward(x3, dy3, bn_mean, bn_inv, gamma, beta, True, True,
                               bn_dx.reshape(x3.shape), bn_dg, bn_db)  # fmt: skip
        bn = [*moving, bn_mean, bn_inv, bn_y, bn_dx, bn_dg, bn_db]
        return [y, mean, inv_std, dx, dgamma, dbeta, dz, db, db2, *bn, dw]

    ge.config.set_num_threads(1)
    alone = run()
    ge.config.set_num_threads(2)
    monkeypatch.setattr(threads, "_MIN_WORK", 0)
    calls = []
    pool_rows = threads.blas_pool_rows
    monkeypatch.setattr(threads, "blas_pool_rows", lambda *a: calls.append(a[0]) or pool_rows(*a))
    shared = run()
    assert calls == [1000, 4, 4, 4, 4, 4, 1000, 4, 1000]  # rows, or blocks of rows (in call order)
    for a, b in zip(shared, alone):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(alone[8], dy.sum(axis=0, dtype=np.float64), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(alone[-1], xa.T.astype(np.float64) @ xb, rtol=1e-5, atol=1e-4)


def _child_rows(results):
    with threads.parallel_rows(6, threads._MIN_WORK) as bounds:
        pass
    results.put((bounds is None, _blas()))


@NEEDS_BLAS
@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform"
)
def test_a_child_forked_while_rows_run_has_the_blas_count_set():
    """Forked while another thread runs recurrent rows on Numba's pool (BLAS on one thread), a
    child runs its own from the host loop (the parent's GNU OpenMP pool is not fork-safe) and
    then has BLAS on the count set, not the 1 the parent's rows left."""
    import numba

    ge.config.set_num_threads(2)
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    with _rows_running_elsewhere(numba_loop=True):
        child = ctx.Process(target=_child_rows, args=(results,))
        child.start()
        try:
            host, blas = results.get(timeout=60)
        finally:
            child.join(timeout=60)
    assert child.exitcode == 0
    assert host == (numba.threading_layer() == "omp")
    assert blas == 2


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
    import graphengine_kernels.cpu.recurrent_sequences as seqs

    monkeypatch.setattr(threads, "_MIN_WORK", 0)  # the LSTM's rows split across threads at n=2
    monkeypatch.setattr(threads, "_MIN_ROWS", 1)
    ranges = []
    row_bounds = threads.row_bounds

    def recorded(*args):
        bounds = row_bounds(*args)
        ranges.append(len(bounds) - 1)
        return bounds

    monkeypatch.setattr(threads, "row_bounds", recorded)
    losses1, weights1 = _train(1)
    assert ranges and set(ranges) == {1}
    ranges.clear()
    losses2, weights2 = _train(2)
    assert 2 in ranges or not seqs.GEMMS
    np.testing.assert_allclose(losses1, losses2, rtol=1e-6)
    for a, b in zip(weights1, weights2):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_thread_counts_raise(bad):
    with pytest.raises(ValueError, match=r"set_num_threads: n must be a positive integer or None"):
        ge.config.set_num_threads(bad)
    assert ge.config.get_num_threads() >= 1


# -- the count under contention ------------------------------------------------------------------


@pytest.mark.parametrize(
    "count, free, want",
    [(2, 2.0, 2), (2, 1.6, 2), (2, 1.4, 1), (1, 1.6, 1), (1, 1.8, 2), (4, 1.0, 1), (1, 4.0, 4),
     (3, 2.6, 3), (3, 2.4, 2), (1, 0.2, 1), (4, 9.0, 4)],
)  # fmt: skip
def test_fitting_count_drops_past_half_a_core_and_climbs_at_three_quarters(count, free, want):
    assert threads.fitting_count(count, 4 if count == 4 or want == 4 else 3, free) == want


class _Machine:
    """perf_counter, process_time and /proc/stat of a two-core machine on which other
    processes keep `others` cores busy and each run takes `seconds[count]`."""

    def __init__(self, seconds):
        self.seconds, self.others = seconds, 0.0
        self.now, self.ours, self.busy = 1000.0, 0.0, 0.0

    def perf_counter(self):
        return self.now

    def process_time(self):
        return self.ours

    def busy_seconds(self):
        return self.busy, 2

    def runs(self, step_threads, n):
        counts = []
        for _ in range(n):
            step_threads.begin()
            count = threads.num_threads()
            counts.append(count)
            spent = self.seconds[count]
            self.now += spent
            self.ours += spent * count
            self.busy += spent * (count + self.others)
            step_threads.end()
        return counts


@pytest.fixture
def machine(monkeypatch):
    """Auto mode with a default of two threads, on _Machine's clocks."""
    box = _Machine({1: 0.010, 2: 0.020})
    monkeypatch.setattr(threads, "time", box)
    monkeypatch.setattr(threads, "_busy_seconds", box.busy_seconds)
    for name, value in (("_DEFAULT", 2), ("_fit", 2), ("_next_sample", 0.0), ("_last", None)):
        monkeypatch.setattr(threads, name, value)
    ge.config.set_num_threads(None)
    return box


def test_a_step_slower_on_a_contended_core_runs_on_fewer_threads(machine):
    """One core busy elsewhere: the plan times both counts and keeps the faster (one thread,
    as a CNN step); BLAS follows; the cores freed, it is back on two at once."""
    plan = threads.StepThreads()
    assert set(machine.runs(plan, 30)) == {2}  # free cores: the default, no timing
    machine.others = 1.0
    counts = machine.runs(plan, 200)
    assert counts[-1] == 1 and counts.count(2) > 5  # two was timed, one chosen
    assert threads.following_free_cores() and ge.config.get_num_threads() == 1
    if threads.BLAS is not None:
        assert _blas() == 1
    machine.others = 0.0
    counts = machine.runs(plan, 60)
    assert counts[-1] == 2 and threads._fit == 2
    if threads.BLAS is not None:
        assert _blas() == 2


def test_a_step_that_keeps_its_speed_on_two_threads_keeps_them(machine):
    """An MLP step lost nothing on two threads with a core taken, and 1.24x on one."""
    machine.seconds = {1: 0.002, 2: 0.001}
    plan, other = threads.StepThreads(), threads.StepThreads()
    machine.others = 1.0
    assert machine.runs(plan, 1000)[-1] == 2
    assert plan._choice == 2
    machine.seconds = {1: 0.001, 2: 0.002}  # each plan times its own runs
    assert machine.runs(other, 1000)[-1] == 1 and other._choice == 1
    assert machine.runs(plan, 1)[-1] == 2  # the first plan keeps its choice


def test_a_choice_is_timed_again_later(machine):
    machine.others = 1.0
    plan = threads.StepThreads()
    machine.runs(plan, 200)
    assert plan._choice == 1
    machine.seconds = {1: 0.030, 2: 0.020}
    machine.runs(plan, int(threads._RETRY_S / 0.030) + 100)
    assert plan._choice == 2


def test_a_plans_first_run_and_a_blocks_first_runs_are_not_timed(machine):
    machine.others = 1.0
    machine.runs(threads.StepThreads(), 40)  # the fit drops to one
    plan = threads.StepThreads()
    machine.runs(plan, 1)
    assert all(not b.times for b in plan._blocks.values())
    machine.runs(plan, 5)  # 50 ms, inside the block's first _SETTLE_S
    assert all(not b.times for b in plan._blocks.values())


def test_a_count_set_is_kept_under_contention(machine):
    ge.config.set_num_threads(2)
    machine.others = 1.0
    assert set(machine.runs(threads.StepThreads(), 100)) == {2}
    assert not threads.following_free_cores()


def test_a_model_runs_on_the_fitting_count(monkeypatch):
    """A plan's runs go through its StepThreads: the first runs on the fitting count."""
    model = ge.Sequential([ge.Input((8,)), ge.layers.Dense(4)])
    x = np.ones((2, 8), "float32")
    ge.config.set_num_threads(2)
    want = model.predict_on_batch(x)
    ge.config.set_num_threads(None)
    monkeypatch.setattr(threads, "_DEFAULT", 2)
    monkeypatch.setattr(threads, "_fit", 1)
    monkeypatch.setattr(threads, "_next_sample", float("inf"))
    monkeypatch.setattr(threads, "_fit_changes", threads._fit_changes + 1)
    model2 = ge.Sequential([ge.Input((8,)), ge.layers.Dense(4)])
    model2.set_weights(model.get_weights())
    np.testing.assert_array_equal(model2.predict_on_batch(x), want)
    assert ge.config.get_num_threads() == 1


def _child_sample(results):
    results.put(threads._last)


def test_a_forked_child_samples_the_cores_afresh(monkeypatch):
    """The child's CPU time starts at 0: the parent's last sample would count the parent's
    whole CPU time as other processes' work."""
    monkeypatch.setattr(threads, "_last", (1.0, 2.0, 3.0))
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    child = ctx.Process(target=_child_sample, args=(results,))
    child.start()
    try:
        assert results.get(timeout=60) is None
    finally:
        child.join(timeout=60)
    assert child.exitcode == 0 and threads._last == (1.0, 2.0, 3.0)


@pytest.mark.skipif(threads._busy_seconds() is None, reason="no /proc/stat (not Linux)")
def test_the_fit_follows_a_busy_process(monkeypatch):
    """A real one: a child process spinning on a core is seen within a sample."""
    import subprocess
    import sys
    import time

    cores = threads._busy_seconds()[1]
    monkeypatch.setattr(threads, "_DEFAULT", cores)
    monkeypatch.setattr(threads, "_fit", cores)
    monkeypatch.setattr(threads, "_last", None)
    monkeypatch.setattr(threads, "_next_sample", 0.0)
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        threads.follow_free_cores()
        time.sleep(0.6)
        monkeypatch.setattr(threads, "_next_sample", 0.0)
        threads.follow_free_cores()
    finally:
        child.kill()
        child.wait()
    assert threads._fit < cores or cores == 1


# -- the compile notice ---------------------------------------------------------------------------


def _slow_to_compile():
    """A fresh Numba function whose compiling takes 0.3 s (its typing sleeps, without the GIL)."""
    import time

    from numba import njit
    from numba.extending import overload

    def pause():
        pass

    @overload(pause)
    def _pause():
        time.sleep(0.3)
        return lambda: None

    @njit
    def kernel(x):
        pause()
        return x + 1

    return kernel


@pytest.fixture
def notice(monkeypatch):
    """The compile notice after 0.1 s of compiling, written to a buffer, not yet said."""
    import io

    from graphengine import compile_notice

    out = io.StringIO()
    monkeypatch.setattr(compile_notice, "DELAY", 0.1)
    monkeypatch.setattr(compile_notice, "_said", False)
    monkeypatch.setattr(compile_notice, "_stream", out)
    monkeypatch.setattr(compile_notice, "_enabled", True)
    return out


def test_a_long_compile_says_so_once(notice):
    kernel = _slow_to_compile()
    assert kernel(1) == 2
    lines = notice.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "compiling the kernels this model runs" in lines[0]
    assert "kernel" in lines[0] and "cached on disk" in lines[0]
    assert "set_compile_notice(False)" in lines[0]
    assert _slow_to_compile()(2) == 3  # a second long compile: nothing more
    assert len(notice.getvalue().splitlines()) == 1


def test_a_short_compile_says_nothing(notice, monkeypatch):
    from numba import njit

    from graphengine import compile_notice

    # a compile shorter than DELAY says nothing; 0.1 s is too short to promise that on a
    # loaded machine (a one-line kernel took longer beside the other test workers)
    monkeypatch.setattr(compile_notice, "DELAY", 30.0)

    @njit
    def quick(x):
        return x * 2

    assert quick(3) == 6
    assert notice.getvalue() == ""


def test_the_compile_notice_can_be_silenced(notice):
    assert ge.config.get_compile_notice()
    ge.config.set_compile_notice(False)
    try:
        assert not ge.config.get_compile_notice()
        assert _slow_to_compile()(1) == 2
    finally:
        ge.config.set_compile_notice(True)
    assert notice.getvalue() == ""


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_bad_compile_notice_settings_raise(bad):
    with pytest.raises(ValueError, match=r"set_compile_notice: enabled must be True or False"):
        ge.config.set_compile_notice(bad)
