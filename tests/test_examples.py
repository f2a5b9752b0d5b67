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
        timeout=600,
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


@pytest.mark.parametrize(
    "name, pattern, floor",
    [
        ("sequence_classification.py", r"(LSTM|GRU) test accuracy: ([\d.]+)%", 95.0),
        ("many_to_many.py", r"(per-step) tag accuracy .*: ([\d.]+)%", 98.0),
    ],
)
def test_sequence_examples_learn(name, pattern, floor):
    out = run_example(name)
    found = re.findall(pattern, out)
    assert found, out[-2000:]
    for what, accuracy in found:
        assert float(accuracy) >= floor, f"{name}: {what} accuracy {accuracy}%"


def test_batch_norm_and_dropout_improve_validation():
    out = run_example("digits_cnn_bn_dropout.py")
    gain = float(re.search(r"validation gain from BatchNormalization \+ Dropout: ([+-][\d.]+)",
                           out).group(1))
    assert gain > 0


def test_cnn_digits_example_reaches_95_percent():
    out = run_example("cnn_digits.py")
    assert 'Model: "digits_cnn"' in out
    assert float(re.search(r"test accuracy: ([\d.]+)%", out).group(1)) >= 95.0


def test_conv_autoencoder_example_beats_the_mean_digit():
    out = run_example("conv_autoencoder.py")
    found = re.search(r"mse: ([\d.]+) \(the mean digit scores ([\d.]+)", out)
    mse, baseline = map(float, found.groups())
    assert mse < baseline / 5
