"""The cold start (issue 19): `import graphengine` loads nothing heavy it does not need yet, and
`python -m graphengine warmup` puts a family's kernels in Numba's disk cache, so that a later
process trains that family without compiling. (The times themselves are measured by
benchmarks/coldstart.py, not here.)"""

import os
import subprocess
import sys
import textwrap

import pytest

import graphengine as ge
from graphengine.__main__ import main
from graphengine.warmup import FAMILIES, warmup
from helpers import ROOT


def _python(code: str, cache_dir, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, *args] if not code else [sys.executable, "-c", code, *args],
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip


def test_import_loads_no_graph_or_plotting_library(tmp_path):
    proc = _python(
        "import sys, graphengine; print(sorted(m for m in ('networkx', 'matplotlib') "
        "if m in sys.modules))",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


COMPILES_AFTER_WARMUP = textwrap.dedent(
    """
    from numba.core import event
    import numpy as np
    from graphengine.warmup import FAMILIES
    import graphengine as ge
    build, shape = FAMILIES["dense"]
    model = build()  # the warmed-up family, at another batch size
    model.compile("adam", ge.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(1).random((9, shape[1]), dtype=np.float32)
    with event.install_recorder("numba:compile") as rec:
        model.train_on_batch(x, np.arange(9) % 3)
        model.predict(x, verbose=0)
    print(sum(1 for _, ev in rec.buffer if ev.is_start))
    """
)


def test_warmup_caches_a_family_for_the_next_process(tmp_path):
    cold = _python(COMPILES_AFTER_WARMUP, tmp_path / "cold")
    assert cold.returncode == 0, cold.stderr
    assert int(cold.stdout.strip()) > 0  # an empty cache compiles
    warm = _python("", tmp_path / "warm", "-m", "graphengine", "warmup", "--layers", "dense")
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout.splitlines()[0].split()[0] == "dense"
    assert "warmed up 1 layer families" in warm.stdout
    after = _python(COMPILES_AFTER_WARMUP, tmp_path / "warm")
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip() == "0"  # every kernel came from the disk cache


def test_warmup_names_an_unknown_family():
    with pytest.raises(ValueError, match=r"warmup: unknown layer families \['lstmm'\]; choose"):
        warmup(["dense", "lstmm"])


def test_the_warmup_command_reports_an_unknown_family(capsys):
    assert main(["warmup", "--layers", "conv,bogus"]) == 1
    err = capsys.readouterr().err
    assert "unknown layer families ['bogus']" in err and ", ".join(FAMILIES) in err


def test_warmup_leaves_the_compile_notice_as_it_was():
    ge.config.set_compile_notice(True)
    seconds = warmup(["dense"], verbose=False)
    assert set(seconds) == {"dense"} and seconds["dense"] > 0
    assert ge.config.get_compile_notice()
