"""The recurrent sequence op as ONNX's RNN, LSTM and GRU operators: Keras's (D, G*U) kernels with
gates i, f, c, o (LSTM) or z, r, h (GRU) become ONNX's (1, G*U, D) weights with gates i, o, f, c
or z, r, h; go_backwards reverses the time axis first, so outputs come in Keras's order."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphengine.graph.node import Node
from graphengine.ops.recurrent import RecurrentSequence
from graphengine.training.onnx_ops import converts, unsupported

# our fused recurrent activations -> (ONNX activation, alpha, beta); None where it takes none
ACTIVATIONS: dict[str, tuple[str, float | None, float | None]] = {
    "tanh": ("Tanh", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "relu": ("Relu", None, None),
    "hard_sigmoid": ("HardSigmoid", 1 / 6, 0.5),
    "linear": ("Affine", 1.0, 0.0),
}
OPERATOR = {"simple_rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
LSTM_ORDER = (0, 3, 1, 2)  # ONNX's i, o, f, c taken from Keras's i, f, c, o


def _gates(w: np.ndarray, cell: str, units: int) -> np.ndarray:
    """A (rows, G*U) Keras weight as ONNX's (1, G*U, rows), gates reordered for an LSTM."""
    if cell == "lstm":
        w = np.concatenate([w[..., g * units : (g + 1) * units] for g in LSTM_ORDER], axis=-1)
    return np.ascontiguousarray(w.T[None])


def _bias(op: RecurrentSequence, bias: np.ndarray | None, dtype: Any) -> np.ndarray:
    """ONNX's (1, 2*G*U) input and recurrent biases."""
    g = {"simple_rnn": 1, "lstm": 4, "gru": 3}[op.cell] * op.units
    if bias is None:
        return np.zeros((1, 2 * g), dtype)
    if bias.ndim == 2:  # a GRU with reset_after: (input bias, recurrent bias)
        return np.ascontiguousarray(bias.reshape(1, 2 * g))
    ours = _gates(bias[None], op.cell, op.units)[0].T
    return np.concatenate([ours, np.zeros_like(ours)], axis=1)


def _activation_attrs(node: Node, names: list[str]) -> dict[str, Any]:
    acts, alphas, betas = [], [], []
    for name in names:
        if name not in ACTIVATIONS:
            raise unsupported(node, f"whose activation {name!r} has no ONNX recurrent form")
        onnx_name, alpha, beta = ACTIVATIONS[name]
        acts.append(onnx_name)
        alphas += [] if alpha is None else [alpha]
        betas += [] if beta is None else [beta]
    attrs: dict[str, Any] = {"activations": acts}
    if alphas:
        attrs.update(activation_alpha=alphas, activation_beta=betas)
    return attrs


def _operands(b: Any, node: Node, h: str) -> list:
    """X (T, N, D) in Keras's processing order, W, R, B, no sequence_lens, the initial states."""
    op = node.op
    ins = dict(zip(op.in_names, node.inputs))
    kernel, recurrent = b.array(ins["kernel"]), b.array(ins["recurrent_kernel"])
    bias = b.array(ins["bias"]) if "bias" in ins else None
    if kernel is None or recurrent is None or ("bias" in ins and bias is None):
        raise unsupported(node, "whose weights are not known at export")
    x = b.name(ins["x"], h)
    if op.go_backwards:
        big = np.iinfo(np.int64)
        x = b.add("Slice", [x, *(np.array([v], np.int64) for v in (-1, big.min, 1, -1))], h)
    operands = [
        b.add("Transpose", [x], h, perm=[1, 0, 2]),
        _gates(kernel, op.cell, op.units),
        _gates(recurrent, op.cell, op.units),
        _bias(op, bias, kernel.dtype),
        "",
    ]
    for state in ("h0", "c0") if op.lstm else ("h0",):
        if state in ins:
            state_value = b.name(ins[state], h)
            operands.append(b.add("Unsqueeze", [state_value, np.array([0], np.int64)], h))
    return operands


@converts(RecurrentSequence)
def _recurrent(b: Any, node: Node, h: str) -> list:
    op = node.op
    if op.has_mask:
        raise unsupported(node, "with a mask (Masking / mask_zero), which export lacks")
    if op.training is True:
        raise unsupported(node, "called with training=True, which inference cannot export")
    names = [op.recurrent_activation, op.activation] if op.cell != "simple_rnn" else []
    names += [op.activation] if op.cell != "gru" else []
    attrs = _activation_attrs(node, names)
    if op.gru:
        attrs["linear_before_reset"] = int(op.reset_after)
    outs = b.add(
        OPERATOR[op.cell],
        _operands(b, node, h),
        h,
        n_out=3 if op.lstm else 2,
        hidden_size=op.units,
        **attrs,
    )
    states = [b.add("Squeeze", [s, np.array([0], np.int64)], h) for s in outs[1:]]
    y = states[0]
    if op.return_sequences:  # Y (T, 1, N, U) -> (N, T, U)
        y = b.add("Squeeze", [outs[0], np.array([1], np.int64)], h)
        y = b.add("Transpose", [y], h, perm=[1, 0, 2])
    return [y, *states] + [None] * (len(node.outputs) - 1 - len(states))
