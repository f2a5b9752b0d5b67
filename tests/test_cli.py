"""`python -m graphengine summary|plot` on a saved model, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from helpers import parse_dot, skipnet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "graphengine", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "120"},
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "skipnet.gez"
    skipnet().save(str(path))
    return path


def test_summary_of_a_saved_model(saved):
    done = cli("summary", str(saved), "--expand-nested", "--show-trainable")
    assert done.returncode == 0, done.stderr
    assert 'Model: "skipnet"' in done.stdout and "Total params: 1,059 (4.14 KB)" in done.stdout
    assert "└ inner_dense (Dense)" in done.stdout and "Trainable" in done.stdout


def test_plot_a_saved_model(saved, tmp_path):
    svg = tmp_path / "m.svg"
    done = cli(
        "plot", str(saved), "-o", str(svg), "--show-backward", "--expand-nested", "--dpi", "50"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {svg}"
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg") and any(e.get("id") == "ge-0-box" for e in root.iter())
    dot = tmp_path / "m.dot"
    assert (
        cli("plot", str(saved), "-o", str(dot), "--no-show-shapes", "--rankdir", "LR").returncode
        == 0
    )
    with open(dot, encoding="utf-8") as f:
        g = parse_dot(f.read())
    assert {"features", "stem", "block", "skip_add", "branch", "concat", "head"} <= set(g["nodes"])
    assert "input:" not in g["nodes"]["stem"]["label"]


def test_cli_errors(saved, tmp_path):
    done = cli("summary", str(tmp_path / "missing.gez"))
    assert done.returncode == 1 and "cannot load" in done.stderr
    done = cli("plot", str(saved), "-o", str(tmp_path / "m.bmp"))
    assert done.returncode == 1 and "suffix picks the format" in done.stderr
    done = cli("plot", str(saved))
    assert done.returncode == 2 and "-o/--output" in done.stderr
