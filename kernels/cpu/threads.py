"""Thread policy of the CPU kernels, all of it: one thread count (ge.config.set_num_threads) for
NumPy's BLAS (set through threadpoolctl's controller, blas.py), Numba's pool, and the batch rows
of the recurrent kernels, which run only through `parallel_rows`: on Numba's pool with BLAS on
one thread, or from the host loop on the calling thread where that pool cannot run. Numba's
pool is started here (with its spin count), launched one kernel at a time, and given up in a
forked child. The other kernels with independent rows (the attention pairs, normalization,
depthwise convolution, the convolutions' im2col / col2im and bias passes, pooling, means, small
weight gradients) split them over OpenBLAS's own worker threads (blas_pool_rows); a user's own
@njit(parallel=True) kernels get Numba's pool at the configured count.

The default count is the one NumPy's BLAS started with: all the cores this process may use,
unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS said otherwise. Unless set_num_threads fixed a
count, a plan whose cores other processes take runs on fewer if that is faster (StepThreads): a
thread whose core another process holds stalls every join it is part of.
"""

import ctypes
import itertools
import os
import threading
import time
from contextlib import contextmanager

import numba
import numpy as np
from numba.np.ufunc import parallel as _numba_parallel

from graphengine_kernels.cpu.blas import CONTROLLER as BLAS
from graphengine_kernels.cpu.blas import openblas_pthread, openblas_threads

__all__ = [
    "num_threads",
    "set_num_threads",
    "StepThreads",
    "parallel_rows",
    "blas_pool_rows",
    "ELEMENT_WORK",
    "LIGHT_ELEMENT_WORK",
    "row_bounds",
]


def _cores():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_DEFAULT = (BLAS.get_num_threads() if BLAS is not None else 0) or _cores()
# kernels that cut their work into parts whose sums must not depend on the thread count cut it
# into this many (the convolutions' slots), whatever count runs them
SLOTS = _DEFAULT
_count = _DEFAULT  # the count in use: _DEFAULT or fewer while _auto, else what the user set
_auto = True  # whether _count follows the cores other processes leave free

# -- BLAS -------------------------------------------------------------------------------------
# While any recurrent rows run (parallel_rows, in any Python thread) BLAS is on one thread; the
# count it had before the first of them is put back when the last ends, so two threads running
# recurrent layers at once cannot leave it at 1, nor undo a set_num_threads made meanwhile.
_state = threading.Lock()  # guards the three below and every setting of BLAS's threads
_regions = 0
_blas_before = None
_resumed = False  # a forked child: _blas_before is the parent's, to put back


def _set_blas(n):
    """NumPy's BLAS on n threads, through threadpoolctl's controller, from any Python thread:
    threadpoolctl (3.6 on) lets only one Python thread set OpenBLAS's shared pool, the first
    that tries, and silently ignores the others; giving control back after each setting keeps
    every thread able to set it."""
    if BLAS is None or n is None:
        return
    BLAS.set_num_threads(n)
    if _release is not None:
        _release()


_release = getattr(BLAS, "clear_controlling_thread", None)
# Around each parallel region (several a training step) the count is read and set through
# OpenBLAS's own functions, where it has them: the controller's ownership protocol above costs
# 2-3 us a setting, and _state already keeps the regions' settings from fighting.
_get_fast, _set_fast = openblas_threads() or (
    (BLAS.get_num_threads, _set_blas) if BLAS is not None else (lambda: None, _set_blas)
)


def _blas_to_one():
    """BLAS on one thread from now until the recurrent rows of every Python thread end."""
    global _regions, _blas_before, _resumed
    with _state:
        if _regions == 0:
            if not _resumed:
                _blas_before = _get_fast()
            _resumed = False
            if _blas_before != 1:
                _set_fast(1)
        _regions += 1


def _blas_back():
    global _regions
    with _state:
        _regions -= 1
        if _regions == 0 and _blas_before not in (None, 1):
            _set_fast(_blas_before)


def num_threads():
    """The number of threads the kernels use now (see set_num_threads)."""
    return _count


def following_free_cores():
    """Whether the count follows the cores other processes leave free (no count was set)."""
    return _auto


def set_num_threads(n):
    """Every thread count of the CPU kernels = n (a positive int, checked by the caller; None:
    the default count, followed down while other processes keep cores busy, follow_free_cores):
    BLAS's (at once, or when the recurrent rows running now end), the recurrent row ranges',
    the OpenBLAS pool's ranges, and Numba's pool's (capped at NUMBA_NUM_THREADS, for the
    calling thread, as Numba's setting is per thread) if that pool is running; it is not started
    here (starting it costs ~30 ms and idle OpenMP workers)."""
    global _auto
    _auto = n is None
    n = _DEFAULT if n is None else n
    _use(n)
    if _pool_started():
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def _use(n):
    global _count, _blas_before
    _count = n
    with _state:
        _blas_before = n  # what the recurrent rows running now, if any, put back
        if not _regions:
            _set_blas(n)


# -- Cores other processes take ---------------------------------------------------------------
# With one of the two cores kept busy by another process, a CNN train step on two threads took
# 2.2x its idle time, an LSTM step 2.1x and a MobileNet block 2.4x: BLAS's products and every
# split pass wait at their join for the thread whose core was taken. On one thread the same
# steps took 1.5x, 1.75x and 1.9x, what one core can do. But an MLP step (1.3 ms) lost nothing
# on two threads (1.01x) and 1.24x on one. So, unless a count was set (set_num_threads):
# - every _SAMPLE_S at most, at the start of a plan's run, the CPU time of the cores this
#   process may run on (/proc/stat, without niced time unless this process is niced itself)
#   less this process's own gives what other processes took; from it, the count that fits the
#   cores left (fitting_count: one fewer while the last thread's core is more than half taken,
#   one more once a core is three quarters free);
# - while that is below the default count, each plan times its runs on both counts, in turns
#   (StepThreads), and runs on the faster, timed afresh every _RETRY_S or when the fit changes;
#   otherwise every plan runs on the default count.
# A step never changes its count midway. Where /proc/stat is not readable (not Linux), the
# count stays. Measurements: benchmarks/NOTES.md.
_SAMPLE_S = 0.25
_RETRY_S = 10.0
# After a switch to more threads, the first runs under contention took up to 40 ms where 0.33 ms
# was the step (an MLP's inference): the woken BLAS worker waits for a core for about 0.1 s.
_SETTLE_S = 0.15
_TIMED_S = 0.1
_TRIAL_RUNS = 5  # timed runs on each count, at least, before a plan chooses
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
_fit = _DEFAULT  # the count that fits the cores other processes leave free
_fit_changes = 0  # how many times _fit changed: a plan's timings from before are stale
_next_sample = 0.0
_last = None  # (wall seconds, busy seconds of our cores, this process's CPU seconds)
_sampling = threading.Lock()


def _busy_seconds():
    """(CPU seconds spent since boot on the cores this process may use, by anything but
    idleness and niced work (unless this process is niced), how many cores those are); None
    where unreadable."""
    try:
        with open("/proc/stat", "rb") as f:
            lines = f.read().split(b"\n")
        cpus = os.sched_getaffinity(0)
        niced = os.getpriority(os.PRIO_PROCESS, 0) > 0
    except (OSError, AttributeError):
        return None
    ticks = 0
    for line in lines:
        if not line.startswith(b"cpu") or line[3:4] == b" ":
            continue
        name, *fields = line.split()
        if int(name[3:]) not in cpus:
            continue
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
        ticks += user + system + irq + softirq + steal + (nice if niced else 0)
    return ticks * _TICK_S, len(cpus)


def fitting_count(count, cap, free):
    """The thread count for `free` cores (those this process may use less what other processes
    took), from `count` now, between 1 and `cap`: one fewer while the last thread's core is more
    than half taken, one more once another core is three quarters free (the gap keeps it from
    flapping)."""
    while count > 1 and free < count - 0.5:
        count -= 1
    while count < cap and free >= count + 0.75:
        count += 1
    return count


def follow_free_cores():
    """A sample, at most every _SAMPLE_S, of what other processes took of this process's cores
    since the last, and _fit set from it."""
    global _next_sample, _last, _fit, _fit_changes
    now = time.perf_counter()
    if now < _next_sample or not _sampling.acquire(blocking=False):
        return
    try:
        _next_sample = now + _SAMPLE_S
        sample, ours = _busy_seconds(), time.process_time()
        if sample is None:
            _next_sample = float("inf")
            return
        (busy, cores), last = sample, _last
        _last = (now, busy, ours)
        if last is None:
            return
        others = max(busy - last[1] - (ours - last[2]), 0.0) / (now - last[0])
        fit = fitting_count(_fit, _DEFAULT, cores - others)
        if fit != _fit:
            _fit, _fit_changes = fit, _fit_changes + 1
    finally:
        _sampling.release()


class _Block:
    """The timed runs of one plan on one count."""

    __slots__ = ("began", "times", "done")

    def __init__(self):
        self.began = None  # perf_counter of its first run
        self.times = []  # seconds of its runs after the first _SETTLE_S
        self.done = False  # _TRIAL_RUNS timed, over _TIMED_S at least


class StepThreads:
    """The thread count of one plan's runs: begin() before a run, end() after it. The default
    count while the cores are free (or the count set); while other processes take some, the
    faster (median) of the default and the fitting count for this plan, from a block of runs on
    each: the runs of its first _SETTLE_S untimed, then _TRIAL_RUNS and _TIMED_S at least."""

    __slots__ = ("_changes", "_blocks", "_choice", "_until", "_timing", "_started")

    def __init__(self):
        self._changes = -1  # the _fit_changes its blocks are from
        self._blocks = {}  # count -> _Block
        self._choice = None  # the faster count, once both blocks are done
        self._until = 0.0  # when to time both again
        self._timing = None  # the _Block this run is timed in
        self._started = None  # perf_counter at begin(); None before the plan's first run

    def begin(self):
        self._timing = None
        if not _auto:
            return
        now = time.perf_counter()
        if now >= _next_sample:
            follow_free_cores()
        n = _fit
        if n != _DEFAULT:
            if self._changes != _fit_changes or now > self._until:
                self._changes, self._until, self._choice = _fit_changes, float("inf"), None
                self._blocks = {n: _Block(), _DEFAULT: _Block()}
            if self._choice is not None:
                n = self._choice
            elif self._started is not None:  # a plan's first run (compiling) is not timed
                n = next(c for c, block in self._blocks.items() if not block.done)
                block = self._timing = self._blocks[n]
                if block.began is None:
                    block.began = now
        if n != _count:
            _use(n)
        self._started = time.perf_counter()

    def end(self):
        block = self._timing
        if block is None or self._changes != _fit_changes:
            return
        now = time.perf_counter()
        if now - block.began < _SETTLE_S:
            return
        block.times.append(now - self._started)
        block.done = len(block.times) >= _TRIAL_RUNS and now - block.began >= _SETTLE_S + _TIMED_S
        if all(b.done for b in self._blocks.values()):
            self._choice = min(self._blocks, key=lambda c: np.median(self._blocks[c].times))
            self._until = now + _RETRY_S


# -- Numba's pool -----------------------------------------------------------------------------
# The recurrence couples time steps, never batch rows: each thread runs every step for its own
# rows, its small per-step products on single-threaded BLAS. That costs one join per sequence,
# where BLAS's own threads would meet at a barrier in every step's product, which stalls (for
# milliseconds, measured) whenever the VM takes a core away.
#
# The whole-sequence kernels (recurrent_sequences.py) are parallel=True Numba loops over the row
# ranges, on Numba's thread pool, which starts and joins its threads without the GIL. From Python
# threads, each one took the GIL to start its kernel and the join woke the caller through the OS:
# 200 us before the second thread started and 100-200 us more to join, three times a training
# step (LSTM(128), 64 rows: train step 17.5 -> 16.7 ms and 19.4 -> 15.8 ms in alternating runs).
# Where that pool cannot run, the rows run from the host loops on the calling thread.
_MIN_ROWS = 8  # per thread
_MIN_WORK = 1 << 22  # multiply-adds per sequence below which one thread is faster

# one parallel kernel at a time: Numba's "workqueue" layer (where neither OpenMP nor TBB is
# found) aborts the process on concurrent launches from two Python threads
_launch = threading.Lock()
_numba_usable = True

# GNU OpenMP's idle threads spin GOMP_SPINCOUNT times before they sleep: 300,000 by default,
# about 17 ms on a Cascade Lake core, holding a core that the next op's BLAS threads want (LSTM
# then two Dense(2048), train step 97 -> 104 ms). 20,000 (about 1 ms there) still bridges the
# gaps between a training step's recurrent kernels. libgomp reads it once, when it loads: it is
# set only while Numba loads its OpenMP layer (unless the user set it), so another OpenMP
# runtime in the process (PyTorch's own libgomp) keeps its own setting.
_GOMP_SPINCOUNT = "20000"


def _pool_started():
    return _numba_parallel._is_initialized


def _start_numba_pool():
    if _pool_started():
        return
    ours = "GOMP_SPINCOUNT" not in os.environ
    if ours:
        os.environ["GOMP_SPINCOUNT"] = _GOMP_SPINCOUNT
    try:
        numba.get_num_threads()  # starts the pool
    finally:
        if ours:
            del os.environ["GOMP_SPINCOUNT"]


def _after_fork_in_child():
    """The parent's other threads are not in the child: its locks start free, its open regions
    closed (BLAS's count put back at the next one), its sample of the cores taken anew (the
    child's own CPU time starts at 0). Where Numba's GNU OpenMP pool ran in the
    parent, the child may not use it (OpenMP is not fork-safe: Numba aborts such a child)."""
    global _state, _launch, _regions, _resumed, _numba_usable, _last, _sampling
    _state, _launch, _sampling = threading.Lock(), threading.Lock(), threading.Lock()
    _resumed, _regions = _regions > 0, 0
    _last = None  # the child's CPU time starts again from 0: the parent's sample says nothing
    if _pool_started() and numba.threading_layer() == "omp":
        _numba_usable = False


os.register_at_fork(after_in_child=_after_fork_in_child)


def row_bounds(rows, work, min_rows=None):
    """The bounds (an int64 array, ranges + 1 long) of the row ranges [0, rows) is split into,
    one per thread, each of at least min_rows rows (default _MIN_ROWS), when `work`
    (multiply-adds) is large enough; else a single range."""
    chunks = min(num_threads(), rows // (min_rows or _MIN_ROWS)) if work >= _MIN_WORK else 1
    chunks = max(chunks, 1)
    return np.array([rows * c // chunks for c in range(chunks + 1)], dtype=np.int64)


@contextmanager
def parallel_rows(rows, work, numba_loop=True, min_rows=None, whole_products=False):
    """How the recurrent kernels run `rows` batch rows (`work` multiply-adds in all): yields
    the bounds of the row ranges (row_bounds) for a parallel=True kernel to run at once, on
    Numba's pool set to as many threads meanwhile (at most its size), each range's products on
    one BLAS thread; or None, for the host loop over all rows on this thread, where the caller
    has no Numba loop for its arrays (`numba_loop` False) or this process may not use Numba's
    pool (a forked child). The host loop's products run on one BLAS thread too (a step's small
    products), or on BLAS's own threads where they are `whole_products` (one product over all
    rows, which BLAS splits as the ranges would)."""
    if not (numba_loop and _numba_usable):
        if whole_products:
            yield None
            return
        _blas_to_one()
        try:
            yield None
        finally:
            _blas_back()
        return
    bounds = row_bounds(rows, work, min_rows)
    want = min(len(bounds) - 1, numba.config.NUMBA_NUM_THREADS)
    with _launch:
        _start_numba_pool()
        before = numba.get_num_threads()
        if want != before:
            numba.set_num_threads(want)
        _blas_to_one()
        try:
            yield bounds
        finally:
            _blas_back()
            if want != before:
                numba.set_num_threads(before)


# -- OpenBLAS's pool --------------------------------------------------------------------------
# A kernel with independent rows whose products BLAS runs small (the attention's (batch, head)
# pairs) splits them over OpenBLAS's own threads. Inside a training step the worker that helped
# with the last big product is still spinning, waiting for the next (OpenBLAS's workers spin
# about 0.1 s before they sleep), so it takes its range at once. A thread of any other pool
# shares its core with that spinning worker and runs at half speed: a transformer block step
# took 17.8 ms with the pairs on the calling thread, 18 ms with half of them on a Python thread,
# 28 ms on Numba's pool, and 15.0 ms on OpenBLAS's worker.
_POOL = openblas_pthread()
# What one element of a memory-bound pass counts as, in multiply-adds, toward the work from which
# blas_pool_rows splits: a pass of a few operations an element (layer norm) pays for two threads
# from about 256K elements; a light one (an add, a bias pass, a copy: LIGHT_ELEMENT_WORK) from
# about 1M. Below, handing a range to OpenBLAS's worker and back (15-60 us right after a
# product) costs more than it saves (benchmarks/NOTES.md).
ELEMENT_WORK = 16
LIGHT_ELEMENT_WORK = 4
_MAX_RANGES = 256  # a job's argument is key * _MAX_RANGES + its range's index
_jobs = {}  # key -> (run, bounds, errors) of the calls running now
_keys = itertools.count(1)


def _run_job(arg):
    """One range of a blas_pool_rows call, on whichever thread OpenBLAS gave it to; what it
    raises is kept for the caller (ctypes would print it and go on)."""
    key, i = divmod(arg or 0, _MAX_RANGES)
    run, bounds, errors = _jobs[key]
    try:
        run(int(bounds[i]), int(bounds[i + 1]))
    except BaseException as error:  # noqa: BLE001 (raised again by the caller)
        errors.append(error)


_ROUTINE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(_run_job)
_ROUTINE_ADDRESS = ctypes.cast(_ROUTINE, ctypes.c_void_p).value


def blas_pool_rows(rows, work, run, min_rows=1):
    """Runs run(r0, r1) over the ranges that [0, rows) is split into, one per thread, at once:
    the first on the calling thread, the others on OpenBLAS's own workers, every product inside
    them on one BLAS thread meanwhile (a nested parallel product could wait forever for a worker
    that is running a range). On the calling thread alone, run(0, rows), where that pool is not
    at hand: NumPy's BLAS is not OpenBLAS on its pthreads, BLAS is on one thread now (the
    configured count, or another thread's parallel_rows), or `work` (multiply-adds) is small.
    `run` must release the GIL for the ranges to overlap (a nogil kernel). Re-raises the first
    error a range raised."""
    count = 1
    if _POOL is not None and work >= _MIN_WORK:
        count = min(_count, _get_fast() or 1, rows // max(min_rows, 1), _MAX_RANGES)
    if count <= 1:
        run(0, rows)
        return
    bounds = [rows * c // count for c in range(count + 1)]
    key, errors = next(_keys), []
    _jobs[key] = (run, bounds, errors)
    _blas_to_one()
    try:
        _POOL(count, _ROUTINE_ADDRESS, key * _MAX_RANGES, 1)
    finally:
        _blas_back()
        del _jobs[key]
    if errors:
        raise errors[0]
