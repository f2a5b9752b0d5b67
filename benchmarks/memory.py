"""Peak memory of one training step, graphengine next to PyTorch (CPU), on the same model.

Both sides count the same things, in bytes, after warm-up steps:
- persistent state: the weights and the optimizer's slots, plus for graphengine the training
  plan's buffers (activations, gradients and the batch's feed buffers, allocated once when the
  plan is compiled and shared by tensors whose lifetimes do not overlap);
- the peak of what one more step allocates on top of that: graphengine's through tracemalloc
  (which sees every NumPy array), PyTorch's through its profiler (profile_memory=True: the CPU
  allocator's running total of the tensors allocated while profiling, the highest value it
  reports minus the value before the step). PyTorch frees its gradients in zero_grad() and
  allocates them again in backward, so its gradients and activations are in this peak.
Neither counts library internals (OpenBLAS's or MKL's work buffers, Numba's own scratch), code,
or the input arrays the caller holds (PyTorch reads them in place through from_numpy;
graphengine's copy into its feed buffers is counted).
"""

from __future__ import annotations

import json
import os
import tempfile
import tracemalloc
from contextlib import contextmanager
from typing import Any, Callable, Iterator


def graphengine_step(model: Any, step: Callable) -> dict[str, int]:
    """Bytes of a graphengine training step: weights, optimizer slots, plan buffers, and the
    peak NumPy allocation of one more step; and, not part of the total, the largest live set of
    the plan's tensors ("live"), the least any buffer reuse could allocate."""
    plans = [p for p in model._plans.plans() if p.ctx.training]
    tracemalloc.start()
    try:
        step()
        transient = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {
        "weights": sum(w.value.nbytes for w in model.weights),
        "optimizer": sum(s.nbytes for s in model.optimizer._slots),
        "plan": sum(p.pool.allocated_bytes for p in plans),
        "step": transient,
        "live": sum(p.pool.live_peak_bytes for p in plans),
    }


def torch_step(net: Any, opt: Any, step: Callable) -> dict[str, int]:
    """Bytes of a PyTorch training step: parameters, optimizer state, and the peak of the CPU
    allocator's total over one more step, from the profiler's memory events."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.json")
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = [e["args"] for e in json.load(f)["traceEvents"] if e.get("name") == "[memory]"]
    totals = [e["Total Allocated"] for e in events]
    before = totals[0] - events[0]["Bytes"] if events else 0
    state = [v for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]
    return {
        "weights": sum(p.numel() * p.element_size() for p in net.parameters()),
        "optimizer": sum(v.numel() * v.element_size() for v in state),
        "plan": 0,
        "step": max(totals, default=before) - before,
    }


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """The profiler's C++ side writes notices straight to file descriptor 2."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def report(title: str, ge: dict[str, int], pt: dict[str, int] | None) -> str:
    """Both totals in MB and their ratio, then a line per framework saying what it is made of."""

    def mb(n: int) -> str:
        return f"{n / 2**20:.2f}"

    ge_total = ge["weights"] + ge["optimizer"] + ge["plan"] + ge["step"]
    ge_parts = (
        f"    graphengine: weights {mb(ge['weights'])} + optimizer {mb(ge['optimizer'])} + plan "
        f"buffers {mb(ge['plan'])} (largest live set {mb(ge['live'])}) + step {mb(ge['step'])}"
    )
    row = f"{title:46s} {mb(ge_total):>10s}MB"
    if pt is None:
        return f"{row} {'-':>10s}\n{ge_parts}"
    pt_total = sum(pt.values())
    pt_parts = (
        f"    PyTorch:     weights {mb(pt['weights'])} + optimizer {mb(pt['optimizer'])} + step "
        f"{mb(pt['step'])}"
    )
    return f"{row} {mb(pt_total):>8s}MB {ge_total / pt_total:6.2f}\n{ge_parts}\n{pt_parts}"
