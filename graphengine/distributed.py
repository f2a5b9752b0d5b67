"""Data-parallel training over MPI (mpi4py), the way Horovod does it: every rank holds the same
model, takes its shard of each global batch, and one allreduce per step averages the gradients
so every rank applies the same update. Launch with `mpirun -n N python train.py`.

Collectives poll a non-blocking request against a deadline, so a rank that died or hangs gives
a RuntimeError instead of a hang; an uncaught exception on any rank aborts the whole job.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Sequence

import numpy as np

_comm: Any = None
_mpi: Any = None
_timeout = 120.0
_ABORT_PAUSE = 0.5  # seconds between a failing rank's error message and MPI_Abort


def initialize(timeout: float | None = None) -> None:
    """Joins the MPI job (a no-op when already joined). `timeout` (seconds, default 120)
    bounds every collective."""
    global _comm, _mpi, _timeout
    if timeout is not None:
        _timeout = float(timeout)
    if _comm is not None:
        return
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(
            "ge.distributed needs mpi4py and an MPI library: pip install -e .[distributed] "
            f"(installs mpi4py and MPICH), then run under `mpirun -n N python script.py` ({e})"
        ) from None
    _mpi, _comm = MPI, MPI.COMM_WORLD
    if _comm.Get_size() > 1:
        previous = sys.excepthook

        def abort_job(kind: type, value: BaseException, tb: Any) -> None:
            # the error first, then its traceback: MPI_Abort kills every rank at once, and the
            # launcher may drop output still on its way (seen on a loaded machine: a traceback
            # cut before its last line); a moment's pause lets it through
            print(f"rank {_comm.Get_rank()}: {kind.__name__}: {value}", file=sys.stderr)
            previous(kind, value, tb)
            sys.stderr.flush()
            time.sleep(_ABORT_PAUSE)
            _comm.Abort(1)  # the other ranks would otherwise wait in a collective forever

        sys.excepthook = abort_job


def is_initialized() -> bool:
    """Whether `initialize()` has joined the MPI job."""
    return _comm is not None


def _require() -> Any:
    if _comm is None:
        raise RuntimeError("call ge.distributed.initialize() first")
    return _comm


def rank() -> int:
    """This process's rank in the job, 0 to size() - 1 (RuntimeError before initialize())."""
    return _require().Get_rank()


def size() -> int:
    """The number of processes in the job (RuntimeError before initialize())."""
    return _require().Get_size()


def _wait(request: Any, what: str) -> None:
    """Polls `request` until done: spinning first (loopback collectives finish in microseconds),
    then sleeping between tests, and raising once the deadline passes."""
    start = time.monotonic()
    pause = 0.0
    while not request.Test():
        elapsed = time.monotonic() - start
        if elapsed > _timeout:
            raise RuntimeError(
                f"rank {rank()}: {what} did not complete within {_timeout:g} s; "
                "another rank has probably died or hangs"
            )
        if elapsed > 0.01:
            pause = min(max(pause * 2, 1e-5), 1e-3)
            time.sleep(pause)


def allreduce_sum(buffer: np.ndarray) -> None:
    """Sums `buffer` (contiguous) over all ranks, in place."""
    _wait(_require().Iallreduce(_mpi.IN_PLACE, buffer, op=_mpi.SUM), "allreduce")


def broadcast(buffer: np.ndarray, root: int = 0) -> None:
    """Overwrites `buffer` (contiguous) with root's, in place."""
    _wait(_require().Ibcast(buffer, root=root), "broadcast")


def broadcast_weights(weights: Sequence[Any]) -> None:
    """Every rank takes rank 0's weights (as one flat buffer)."""
    flat = (
        np.concatenate([w.value.ravel().astype(np.float64) for w in weights])
        if weights
        else np.zeros(0)
    )
    broadcast(flat)
    offset = 0
    for w in weights:
        n = w.value.size
        w.assign(flat[offset : offset + n].reshape(w.shape))
        offset += n


class GradientReducer:
    """Averages gradients across ranks with one allreduce over a single flat buffer: each rank
    contributes its shard-mean gradient weighted by its share of the global batch."""

    def __init__(self, grads: Sequence[np.ndarray]) -> None:
        self.sizes = [g.size for g in grads]
        self.flat = np.zeros(sum(self.sizes), dtype=np.result_type(*grads) if grads else "f4")
        self.fraction = 1.0  # n_local / n_global for the current batch

    def __call__(self, grads: Sequence[np.ndarray]) -> None:
        offset = 0
        for g, n in zip(grads, self.sizes):
            np.multiply(g.reshape(-1), self.fraction, out=self.flat[offset : offset + n])
            offset += n
        allreduce_sum(self.flat)
        offset = 0
        for g, n in zip(grads, self.sizes):
            g.reshape(-1)[:] = self.flat[offset : offset + n]
            offset += n


def shard(indices: np.ndarray) -> np.ndarray:
    """This rank's contiguous share of a global batch's sample indices."""
    return np.array_split(indices, size())[rank()]
