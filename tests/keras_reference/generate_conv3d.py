"""Generate Keras 3 reference numbers for the 3-D convolution and pooling layers.

This is a script, not a test. Run it from the repository root:

    KERAS_BACKEND=torch PYTHONPATH=/path/to/keras python tests/keras_reference/generate_conv3d.py

It writes ``conv3d.json`` and ``conv3d.npz`` next to this file, in conv.json's format (one input;
``{id}/x``, ``{id}/w{j}``, ``{id}/y``, ``{id}/dy``, ``{id}/dx``, ``{id}/dw{j}``), drawing and
running each case with generate_conv.py's `run_case` (seeded from the case id).

As in generate_conv.py, "same" average pooling is taken from Keras only where its torch
backend's replicated edge padding agrees with Keras's documented rule (divide by the real cells):
symmetric padding, or pool 2 / stride 1 where the replicated cell averages with itself.
tests/test_conv3d.py checks the asymmetric cases against a naive reference.
"""

import json
import os

import torch
from generate import save_npz_deterministic
from generate_conv import case, run_case

HERE = os.path.dirname(os.path.abspath(__file__))
JSON_PATH = os.path.join(HERE, "conv3d.json")
NPZ_PATH = os.path.join(HERE, "conv3d.npz")


def conv_specs():
    c = [
        ("conv3d_valid_2", {"filters": 3, "kernel_size": 2}, (2, 3, 4, 3, 2)),
        (
            "conv3d_same_3_stride2_odd",
            {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
            (1, 5, 4, 3, 2),
        ),
        (
            "conv3d_same_2x3x1_strides_1_2_1",
            {"filters": 2, "kernel_size": [2, 3, 1], "strides": [1, 2, 1], "padding": "same"},
            (2, 3, 4, 3, 3),
        ),
        (
            "conv3d_dilation_2_1_1_same",
            {"filters": 2, "kernel_size": 2, "dilation_rate": [2, 1, 1], "padding": "same"},
            (1, 4, 3, 3, 2),
        ),
        (
            "conv3d_groups2_relu",
            {"filters": 4, "kernel_size": 2, "groups": 2, "activation": "relu"},
            (2, 3, 3, 3, 4),
        ),
        ("conv3d_1x1x1", {"filters": 3, "kernel_size": 1}, (2, 2, 3, 2, 4)),
        (
            "conv3d_tanh_no_bias",
            {"filters": 2, "kernel_size": [3, 2, 2], "activation": "tanh", "use_bias": False},
            (2, 3, 3, 4, 2),
        ),
    ]
    t = [
        ("conv3d_transpose_valid_3", {"filters": 2, "kernel_size": 3}, (2, 2, 3, 2, 3)),
        (
            "conv3d_transpose_valid_stride2",
            {"filters": 3, "kernel_size": 2, "strides": 2},
            (1, 2, 2, 3, 2),
        ),
        (
            "conv3d_transpose_same_stride2_k3",
            {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
            (2, 2, 3, 2, 2),
        ),
        (
            "conv3d_transpose_same_strides_1_2_3",
            {"filters": 2, "kernel_size": [2, 3, 2], "strides": [1, 2, 3], "padding": "same"},
            (1, 3, 2, 2, 2),
        ),
        (
            "conv3d_transpose_output_padding",
            {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": [1, 0, 1]},
            (1, 2, 2, 2, 2),
        ),
        (
            "conv3d_transpose_dilation2",
            {"filters": 2, "kernel_size": 2, "dilation_rate": 2},
            (1, 2, 3, 2, 2),
        ),
        ("conv3d_transpose_1x1x1", {"filters": 3, "kernel_size": 1}, (2, 2, 2, 3, 2)),
        (
            "conv3d_transpose_relu_no_bias",
            {
                "filters": 3,
                "kernel_size": 2,
                "strides": 2,
                "padding": "same",
                "activation": "relu",
                "use_bias": False,
            },
            (2, 2, 2, 2, 2),
        ),
    ]
    specs = [case(i, "Conv3D", kw, s) for i, kw, s in c]
    return specs + [case(i, "Conv3DTranspose", kw, s) for i, kw, s in t]


def pooling_specs():
    p = [
        ("max_pool3d_default_odd", "MaxPooling3D", {}, (2, 4, 5, 3, 2)),
        (
            "max_pool3d_same_3_2",
            "MaxPooling3D",
            {"pool_size": 3, "strides": 2, "padding": "same"},
            (1, 4, 5, 6, 2),
        ),
        (
            "max_pool3d_overlap",
            "MaxPooling3D",
            {"pool_size": [2, 3, 2], "strides": 1},
            (1, 3, 4, 3, 2),
        ),
        (
            "avg_pool3d_valid_2_1x2x2",
            "AveragePooling3D",
            {"pool_size": 2, "strides": [1, 2, 2]},
            (2, 3, 4, 5, 2),
        ),
        (
            "avg_pool3d_same_3_1",
            "AveragePooling3D",
            {"pool_size": 3, "strides": 1, "padding": "same"},
            (1, 3, 4, 3, 2),
        ),
        (
            "avg_pool3d_same_2_1",
            "AveragePooling3D",
            {"pool_size": 2, "strides": 1, "padding": "same"},
            (1, 3, 2, 4, 2),
        ),
        ("global_max_pool3d", "GlobalMaxPooling3D", {}, (2, 2, 3, 2, 3)),
        ("global_max_pool3d_keepdims", "GlobalMaxPooling3D", {"keepdims": True}, (2, 3, 2, 2, 2)),
        ("global_avg_pool3d", "GlobalAveragePooling3D", {}, (2, 2, 3, 2, 3)),
        (
            "global_avg_pool3d_keepdims",
            "GlobalAveragePooling3D",
            {"keepdims": True},
            (2, 3, 2, 2, 2),
        ),
    ]
    return [case(i, layer, kw, s) for i, layer, kw, s in p]


def main():
    torch.set_num_threads(1)
    specs = conv_specs() + pooling_specs()
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
    print(
        f"wrote {len(entries)} cases, {len(arrays)} arrays: {JSON_PATH}, {NPZ_PATH} "
        f"({os.path.getsize(NPZ_PATH)} bytes)"
    )


if __name__ == "__main__":
    main()
