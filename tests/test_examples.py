"""Every example runs to the end and says what it claims (the quickstart reaches 95%)."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name: str) -> str:
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", name)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_quickstart_reaches_95_percent():
    out = run_example("quickstart.py")
    assert 'Model: "digits_mlp"' in out and "Total params: 17,226" in out
    accuracy = float(re.search(r"test accuracy: ([\d.]+)%", out).group(1))
    assert accuracy >= 95.0


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("sequential_regression.py", r"mse after 200 epochs: 0\.00"),
        ("binary_classifier.py", r"held-out accuracy 9\d"),
        ("dense_on_boxes.py", r"scores: \(64, 4, 1\) kernel: \(2, 1\) params: 2"),
        ("multi_input.py", r"mean absolute error .*: 0\.[0-3]"),
    ],
)
def test_example(name, pattern):
    assert re.search(pattern, run_example(name))
