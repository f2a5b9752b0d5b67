"""Generate Keras 3 reference numbers for the resampling, padding, cropping and image
preprocessing layers (tests/test_image_layers.py).

This is a script, not a test. Run it from the repository root:

    KERAS_BACKEND=torch python tests/keras_reference/generate_image.py

It writes ``image.json`` and ``image.npz`` next to this file, in conv.json's format (one case
per line: {"id", "layer", "kwargs", "input_shape", "n_weights"}; arrays ``{id}/x``, ``{id}/y``,
``{id}/dy``, ``{id}/dx``), plus ``"training": true`` for the cases run in training mode. The
random layers are taken with degenerate factor ranges (factor=(0.1, 0.1)), so Keras's drawn
transform is fixed and its sampling and fill arithmetic can be compared; their randomness is
tested statistically instead. Each case is seeded from its id (crc32).

Left out on purpose: RandomCrop's deterministic path. Keras 3.15 returns the input unchanged at
inference (against its docstring and its compute_output_shape), and in training on an input not
larger than the target it slices a target-sized window from the offset of the aspect-ratio crop
(the top-left corner of a square image) before resizing. graphengine does what the docstring
says in both places: the largest centred window of the target's aspect ratio, resized
bilinearly, which is CenterCrop's smart_resize path, compared with Keras here
("center_crop_smaller").
"""

import json
import os
import sys
import zlib

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import keras  # noqa: E402

from generate import save_npz_deterministic  # noqa: E402

if keras.backend.backend() != "torch":
    sys.exit("Run with KERAS_BACKEND=torch (got %r)." % keras.backend.backend())

HERE = os.path.dirname(os.path.abspath(__file__))
JSON_PATH = os.path.join(HERE, "image.json")
NPZ_PATH = os.path.join(HERE, "image.npz")


def case(id, layer, kwargs, input_shape, training=False):
    return dict(id=id, layer=layer, kwargs=kwargs, input_shape=list(input_shape), training=training)


def deterministic_specs():
    c = [
        ("upsampling1d_3", "UpSampling1D", {"size": 3}, (2, 4, 3)),
        ("upsampling2d_nearest_2_3", "UpSampling2D", {"size": [2, 3]}, (2, 3, 4, 2)),
        ("upsampling2d_bilinear_2", "UpSampling2D", {"interpolation": "bilinear"}, (2, 3, 4, 2)),
        (
            "upsampling2d_bilinear_3_2",
            "UpSampling2D",
            {"size": [3, 2], "interpolation": "bilinear"},
            (1, 4, 3, 2),
        ),
        ("zeropadding1d_2_1", "ZeroPadding1D", {"padding": [2, 1]}, (2, 4, 3)),
        ("zeropadding1d_int", "ZeroPadding1D", {"padding": 1}, (2, 3, 2)),
        ("zeropadding2d_pairs", "ZeroPadding2D", {"padding": [[1, 2], [0, 3]]}, (2, 3, 4, 2)),
        ("zeropadding2d_sym", "ZeroPadding2D", {"padding": [1, 2]}, (1, 3, 3, 2)),
        ("zeropadding2d_int", "ZeroPadding2D", {"padding": 2}, (1, 2, 3, 1)),
        ("cropping1d_1_2", "Cropping1D", {"cropping": [1, 2]}, (2, 6, 3)),
        ("cropping1d_end0", "Cropping1D", {"cropping": [2, 0]}, (2, 5, 2)),
        ("cropping2d_pairs", "Cropping2D", {"cropping": [[1, 0], [2, 1]]}, (2, 5, 6, 2)),
        ("cropping2d_int", "Cropping2D", {"cropping": 1}, (2, 4, 5, 2)),
        ("cropping2d_sym", "Cropping2D", {"cropping": [1, 2]}, (1, 5, 6, 2)),
        ("resizing_up_bilinear", "Resizing", {"height": 5, "width": 7}, (2, 4, 3, 2)),
        ("resizing_down_bilinear", "Resizing", {"height": 3, "width": 2}, (2, 7, 5, 2)),
        (
            "resizing_mixed_bilinear",
            "Resizing",
            {"height": 3, "width": 9},
            (1, 5, 4, 2),
        ),
        (
            "resizing_nearest_down",
            "Resizing",
            {"height": 3, "width": 5, "interpolation": "nearest"},
            (2, 4, 6, 2),
        ),
        (
            "resizing_nearest_4_to_3",
            "Resizing",
            {"height": 3, "width": 3, "interpolation": "nearest"},
            (1, 4, 4, 1),
        ),
        (
            "resizing_nearest_up",
            "Resizing",
            {"height": 7, "width": 5, "interpolation": "nearest"},
            (2, 3, 2, 2),
        ),
        (
            "resizing_crop_to_aspect",
            "Resizing",
            {"height": 3, "width": 3, "crop_to_aspect_ratio": True},
            (2, 4, 7, 2),
        ),
        (
            "resizing_pad_to_aspect",
            "Resizing",
            {"height": 4, "width": 4, "pad_to_aspect_ratio": True, "fill_value": 0.5},
            (2, 3, 6, 2),
        ),
        (
            "resizing_pad_to_aspect_rows",
            "Resizing",
            {"height": 3, "width": 6, "pad_to_aspect_ratio": True},
            (1, 5, 4, 1),
        ),
        ("center_crop", "CenterCrop", {"height": 3, "width": 4}, (2, 5, 7, 2)),
        ("center_crop_odd", "CenterCrop", {"height": 2, "width": 2}, (1, 5, 4, 1)),
        ("center_crop_smaller", "CenterCrop", {"height": 6, "width": 4}, (2, 4, 6, 2)),
        ("rescaling", "Rescaling", {"scale": 1.0 / 255, "offset": -1.0}, (2, 3, 4, 2)),
        (
            "rescaling_per_channel",
            "Rescaling",
            {"scale": [0.5, 2.0], "offset": [1.0, -1.0]},
            (2, 3, 2, 2),
        ),
    ]
    return [case(i, layer, kw, s) for i, layer, kw, s in c]


def random_specs():
    """Training-mode cases with a fixed transform (degenerate factor ranges)."""
    r = [
        ("rotation_reflect_bilinear", "RandomRotation", {"factor": [0.1, 0.1]}, (2, 5, 6, 2)),
        (
            "rotation_constant_nearest",
            "RandomRotation",
            {
                "factor": [-0.125, -0.125],
                "fill_mode": "constant",
                "fill_value": 0.5,
                "interpolation": "nearest",
            },
            (2, 6, 5, 2),
        ),
        (
            "rotation_wrap",
            "RandomRotation",
            {"factor": [0.3, 0.3], "fill_mode": "wrap"},
            (1, 5, 5, 2),
        ),
        (
            "rotation_nearest_fill",
            "RandomRotation",
            {"factor": [0.2, 0.2], "fill_mode": "nearest"},
            (1, 4, 6, 2),
        ),
        (
            "zoom_out_constant",
            "RandomZoom",
            {"height_factor": [0.3, 0.3], "width_factor": [-0.2, -0.2], "fill_mode": "constant"},
            (2, 5, 6, 2),
        ),
        ("zoom_out_reflect", "RandomZoom", {"height_factor": [0.5, 0.5]}, (1, 5, 6, 2)),
        (
            "zoom_in_nearest",
            "RandomZoom",
            {"height_factor": [-0.3, -0.3], "interpolation": "nearest"},
            (2, 6, 6, 1),
        ),
        (
            "zoom_out_wrap",
            "RandomZoom",
            {"height_factor": [0.7, 0.7], "width_factor": [0.4, 0.4], "fill_mode": "wrap"},
            (1, 5, 4, 2),
        ),
        (
            "translation_reflect",
            "RandomTranslation",
            {"height_factor": [0.3, 0.3], "width_factor": [-0.45, -0.45]},
            (2, 5, 4, 2),
        ),
        (
            "translation_constant_nearest",
            "RandomTranslation",
            {
                "height_factor": [-0.4, -0.4],
                "width_factor": [0.5, 0.5],
                "fill_mode": "constant",
                "interpolation": "nearest",
                "fill_value": -1.0,
            },
            (2, 5, 4, 2),
        ),
        (
            "translation_wrap",
            "RandomTranslation",
            {"height_factor": [0.7, 0.7], "width_factor": [0.15, 0.15], "fill_mode": "wrap"},
            (1, 4, 6, 2),
        ),
        (
            "translation_nearest_fill",
            "RandomTranslation",
            {"height_factor": [-0.9, -0.9], "width_factor": [0.6, 0.6], "fill_mode": "nearest"},
            (1, 5, 5, 1),
        ),
    ]
    return [case(i, layer, kw, s, training=True) for i, layer, kw, s in r]


def run_case(spec):
    seed = zlib.crc32(spec["id"].encode("utf-8"))
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed % (2**31))
    layer = getattr(keras.layers, spec["layer"])(**json.loads(json.dumps(spec["kwargs"])))
    x = rng.standard_normal(tuple(spec["input_shape"])).astype(np.float32)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = layer(x_t, training=spec["training"])
    y = y_t.detach().cpu().numpy()
    dy = rng.standard_normal(y.shape).astype(np.float32)
    (dx,) = torch.autograd.grad((y_t * torch.from_numpy(dy)).sum(), [x_t])
    arrays = {
        f"{spec['id']}/x": x,
        f"{spec['id']}/y": y,
        f"{spec['id']}/dy": dy,
        f"{spec['id']}/dx": dx.detach().numpy().astype(np.float32),
    }
    entry = {key: spec[key] for key in ("id", "layer", "kwargs", "input_shape")}
    entry["n_weights"] = 0
    if spec["training"]:
        entry["training"] = True
    return entry, arrays


def main():
    torch.set_num_threads(1)
    specs = deterministic_specs() + random_specs()
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
