"""Generate Keras 3 reference numbers for the depthwise and separable convolution layers.

This is a script, not a test. Run it from the repository root:

    KERAS_BACKEND=torch PYTHONPATH=/tmp/kerapkgs python tests/keras_reference/generate_depthwise.py

It writes ``depthwise.json`` and ``depthwise.npz`` next to this file, in conv.json's format
(generate_conv.py documents it; its `run_case` draws and runs each case): per case the input,
the weights in ``get_weights()`` order, the output, a random cotangent and the gradients of
``sum(y * dy)`` w.r.t. the input and every weight (depthwise kernel, pointwise kernel, bias).
"""

import json
import os

from generate import save_npz_deterministic
from generate_conv import case, run_case

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
JSON_PATH = os.path.join(HERE, "depthwise.json")
NPZ_PATH = os.path.join(HERE, "depthwise.npz")

DEPTHWISE = [
    ("dw1d_valid", "DepthwiseConv1D", {"kernel_size": 3}, (2, 7, 3)),
    (
        "dw1d_same_stride2_dm2",
        "DepthwiseConv1D",
        {"kernel_size": 4, "strides": 2, "padding": "same", "depth_multiplier": 2},
        (2, 9, 2),
    ),
    (
        "dw1d_dilation2_same_no_bias",
        "DepthwiseConv1D",
        {"kernel_size": 3, "dilation_rate": 2, "padding": "same", "use_bias": False},
        (2, 8, 3),
    ),
    ("dw1d_tanh", "DepthwiseConv1D", {"kernel_size": 2, "activation": "tanh"}, (2, 5, 2)),
    ("dw2d_valid_3x3", "DepthwiseConv2D", {"kernel_size": 3}, (2, 5, 6, 3)),
    (
        "dw2d_same_3x3_stride2_odd",
        "DepthwiseConv2D",
        {"kernel_size": 3, "strides": 2, "padding": "same"},
        (2, 7, 7, 2),
    ),
    (
        "dw2d_same_2x3_stride2_even_dm3",
        "DepthwiseConv2D",
        {"kernel_size": [2, 3], "strides": 2, "padding": "same", "depth_multiplier": 3},
        (1, 6, 8, 2),
    ),
    (
        "dw2d_dilation2_same",
        "DepthwiseConv2D",
        {"kernel_size": 3, "dilation_rate": 2, "padding": "same"},
        (1, 7, 6, 2),
    ),
    (
        "dw2d_stride2_dilation2",
        "DepthwiseConv2D",
        {"kernel_size": 2, "strides": 2, "dilation_rate": 2},
        (1, 8, 7, 2),
    ),
    (
        "dw2d_strides_2_1_dilation_1_2",
        "DepthwiseConv2D",
        {"kernel_size": [3, 2], "strides": [2, 1], "dilation_rate": [1, 2]},
        (2, 7, 6, 2),
    ),
    (
        "dw2d_dm2_relu",
        "DepthwiseConv2D",
        {"kernel_size": 3, "depth_multiplier": 2, "activation": "relu"},
        (2, 6, 5, 2),
    ),
    (
        "dw2d_sigmoid_no_bias_same",
        "DepthwiseConv2D",
        {"kernel_size": 2, "activation": "sigmoid", "use_bias": False, "padding": "same"},
        (2, 5, 4, 3),
    ),
    ("dw2d_elu_unfused", "DepthwiseConv2D", {"kernel_size": 2, "activation": "elu"}, (2, 4, 4, 2)),
    ("dw2d_kernel_equals_input", "DepthwiseConv2D", {"kernel_size": [4, 3]}, (2, 4, 3, 2)),
]

SEPARABLE = [
    ("sep1d_valid", "SeparableConv1D", {"filters": 4, "kernel_size": 3}, (2, 7, 3)),
    (
        "sep1d_same_stride2_dm2_relu",
        "SeparableConv1D",
        {
            "filters": 3,
            "kernel_size": 3,
            "strides": 2,
            "padding": "same",
            "depth_multiplier": 2,
            "activation": "relu",
        },
        (2, 8, 2),
    ),
    ("sep2d_valid", "SeparableConv2D", {"filters": 3, "kernel_size": 3}, (2, 5, 6, 2)),
    (
        "sep2d_same_stride2_dm2",
        "SeparableConv2D",
        {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "depth_multiplier": 2},
        (2, 7, 7, 3),
    ),
    (
        "sep2d_dilation2_same_tanh_no_bias",
        "SeparableConv2D",
        {
            "filters": 2,
            "kernel_size": 2,
            "dilation_rate": 2,
            "padding": "same",
            "activation": "tanh",
            "use_bias": False,
        },
        (1, 6, 5, 2),
    ),
    (
        "sep2d_relu_dm3",
        "SeparableConv2D",
        {"filters": 3, "kernel_size": [2, 3], "depth_multiplier": 3, "activation": "relu"},
        (2, 5, 6, 2),
    ),
]


def main():
    torch.set_num_threads(1)
    specs = [case(i, layer, kw, s) for i, layer, kw, s in DEPTHWISE + SEPARABLE]
    ids = [s["id"] for s in specs]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    entries, arrays = [], {}
    for spec in specs:
        entry, case_arrays = run_case(spec)
        entries.append(entry)
        arrays.update(case_arrays)
    with open(JSON_PATH, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    save_npz_deterministic(NPZ_PATH, arrays)
    print(f"wrote {len(entries)} cases, {len(arrays)} arrays: {JSON_PATH}, {NPZ_PATH}")


if __name__ == "__main__":
    main()
