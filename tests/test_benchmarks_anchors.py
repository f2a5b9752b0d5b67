"""benchmarks/anchors.py's table logic, without any anchor library: the ratios, the best anchor,
"-" for a missing one, and the GRU gate reordering its weight copy relies on."""

import numpy as np

from benchmarks import anchors


def test_row_ratios_best_anchor_and_missing_ones():
    medians = {"graphengine": 2e-3, "torch eager": 4e-3, "JAX jit": 1e-3}
    cells = anchors.row("w", medians).split()
    assert cells[1:4] == ["2.0000", "4.0000", "0.50"]  # ours, torch eager ms, ours / eager
    assert cells[4:6] == ["-", "-"]  # torch.compile missing
    assert cells[6:8] == ["1.0000", "2.00"]
    assert cells[8:10] == ["-", "-"]  # ONNX Runtime missing
    assert cells[10:] == ["JAX", "jit", "2.00"]  # the fastest anchor, ours / it


def test_row_without_anchors():
    assert anchors.row("w", {"graphengine": 1e-3}).split()[-1] == "-"


def test_gru_gates_to_pytorch_order():
    z, r, h = np.full((2, 3), 1.0), np.full((2, 3), 2.0), np.full((2, 3), 3.0)
    out = anchors._gru_gates(np.concatenate([z, r, h], -1), 3)
    np.testing.assert_array_equal(out, np.concatenate([r, z, h], -1))
