"""Data-parallel training over MPI: 2 ranks (mpiexec on this machine, loopback) end on the same
weights as one process; a dead or hanging rank ends the job with an error instead of a hang."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import graphengine as ge

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tests", "mpi_train.py")
MPIEXEC = shutil.which(
    "mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
)


def run(args, ranks=None, timeout=120):
    cmd = [sys.executable, SCRIPT, *args]
    if ranks:
        assert MPIEXEC, "mpiexec not found: pip install -e .[test] installs MPICH"
        cmd = [MPIEXEC, "-n", str(ranks), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_two_ranks_end_on_the_weights_of_one_process(optimizer, tmp_path):
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    done = run([str(one), optimizer])
    assert done.returncode == 0, done.stderr[-2000:]
    done = run([str(two), optimizer, "--distributed"], ranks=2)
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = np.load(one), np.load(two)
    assert a.files == b.files
    for key in a.files:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-4, atol=1e-6, err_msg=key)
    assert not np.allclose(a["arr_0"], 0)


def test_a_failing_rank_aborts_the_whole_job(tmp_path):
    done = run(
        [str(tmp_path / "x.npz"), "sgd", "--distributed", "--fail-rank", "1"], ranks=2, timeout=180
    )
    assert done.returncode != 0
    assert "rank 1 fails on purpose" in done.stdout + done.stderr, done.stderr[-3000:]


def test_a_hanging_rank_times_out_instead_of_hanging(tmp_path):
    done = run(
        [str(tmp_path / "x.npz"), "sgd", "--distributed", "--hang-rank", "1"], ranks=2, timeout=180
    )
    assert done.returncode != 0
    assert "did not complete within 5 s" in done.stdout + done.stderr, done.stderr[-3000:]


def test_without_mpi4py_initialize_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(ge.distributed, "_comm", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(RuntimeError, match=r"pip install -e \.\[distributed\]"):
        ge.distributed.initialize()
    with pytest.raises(RuntimeError, match="initialize"):
        ge.distributed.rank()
