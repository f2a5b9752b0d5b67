"""Generate Keras 3 reference numbers for the keras.ops functions of tests/test_ops_keras.py.

A script, not a test. Run from the repository root (needs keras and torch):

    KERAS_BACKEND=torch PYTHONPATH=/tmp/kerapkgs .venv/bin/python \
        tests/keras_reference/generate_ops.py

Writes, next to this file:

* ``ops.json`` -- one case per line: {"id", "op", "args" (leading non-tensor arguments, e.g.
  einsum's subscripts), "pack" (the tensors go in as one list, as stack's x), "kwargs",
  "n_inputs", "n_outputs"}.
* ``ops.npz`` -- per case ``{id}/x{i}`` inputs, ``{id}/y{k}`` Keras's outputs, ``{id}/dy{k}``
  cotangents, and ``{id}/dx{i}`` the gradient of ``sum_k sum(y_k * dy_k)`` with respect to
  each float input (by torch autograd through keras.ops), for the outputs that are floats.

Everything is float64 (besides integer and boolean inputs) and seeded per case, so the output
is deterministic; the npz is written with fixed zip timestamps, so regenerating gives the same
bytes. Only this script needs Keras and torch; the tests read the files with NumPy alone.
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


def normal(*shape):
    return ("normal", list(shape))


def positive(*shape):
    return ("positive", list(shape))


def ints(high, *shape, low=0):
    return ("ints", list(shape), low, high)


def const(values, dtype="float64"):
    return ("const", values, dtype)


def case(id, op, inputs, args=(), kwargs=None, pack=False):
    return dict(id=id, op=op, inputs=inputs, args=list(args), kwargs=kwargs or {}, pack=pack)


INF_BRANCH = [[1.0, np.inf, -2.0], [np.nan, 0.5, -np.inf]]  # where COND is False
COND = [[True, False, True], [False, True, False]]
WITH_ZERO = [[0.5, 0.0, -1.5, 2.0], [1.25, -0.75, 0.0, 0.0], [3.0, 0.5, -1.0, 0.25]]
SIGNED_ZEROS = [[0.0, -0.0, -1.0], [-0.0, 0.0, -2.0], [1.0, 1.0, 1.0]]  # -0 ties +0
TIES = [[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 5.0], [0.5, -4.0, -4.0, 0.5]]

CASES = [
    case("zeros_like", "zeros_like", [normal(2, 3)]),
    case("ones_like_int", "ones_like", [normal(2, 3)], kwargs={"dtype": "int32"}),
    case("stack_axis0", "stack", [normal(2, 3), normal(2, 3), normal(2, 3)], pack=True),
    case("stack_axis_last", "stack", [normal(2, 3), normal(2, 3)], kwargs={"axis": -1}, pack=True),
    case("split_sections", "split", [normal(2, 6)], args=[3], kwargs={"axis": 1}),
    case("split_indices", "split", [normal(5, 2)], args=[[1, 4]]),
    case("where", "where", [const(COND, "bool"), normal(2, 3), normal(2, 3)]),
    case("where_broadcast", "where", [const([[True], [False]], "bool"), normal(2, 3), normal(3)]),
    # the branch not taken holds inf and NaN: neither reaches the output or the gradient
    case("where_nonfinite", "where", [const(COND, "bool"), const(INF_BRANCH), normal(2, 3)]),
    case("argmax_none", "argmax", [normal(3, 4)]),
    case("argmax_axis1", "argmax", [normal(3, 4)], kwargs={"axis": 1}),
    case("argmin_axis0_keepdims", "argmin", [normal(3, 4)], kwargs={"axis": 0, "keepdims": True}),
    case("argmax_signed_zero", "argmax", [const(SIGNED_ZEROS)], kwargs={"axis": 1}),
    case("argmin_signed_zero", "argmin", [const(SIGNED_ZEROS)], kwargs={"axis": 0}),
    case("min_none", "min", [normal(3, 4)]),
    case("min_axis", "min", [normal(2, 3, 4)], kwargs={"axis": (0, 2)}),
    case("min_ties", "min", [const(TIES)], kwargs={"axis": 1, "keepdims": True}),
    case("prod_none", "prod", [positive(2, 3)]),
    case("prod_axis_with_zeros", "prod", [const(WITH_ZERO)], kwargs={"axis": 1}),
    case("prod_axis0_with_zeros", "prod", [const(WITH_ZERO)], kwargs={"axis": 0}),
    case("pad_constant", "pad", [normal(2, 3)], args=[((1, 2), (0, 1))]),
    case(
        "pad_constant_value",
        "pad",
        [normal(2, 3, 2)],
        args=[((0, 0), (2, 1), (1, 1))],
        kwargs={"constant_values": 1.5},
    ),
    case(
        "pad_reflect",
        "pad",
        [normal(2, 4, 3)],
        args=[((0, 0), (2, 3), (1, 2))],
        kwargs={"mode": "reflect"},
    ),
    case("tile", "tile", [normal(2, 3)], args=[(2, 3)]),
    case("tile_more_repeats", "tile", [normal(3)], args=[(2, 1, 2)]),
    case("tile_fewer_repeats", "tile", [normal(2, 1, 3)], args=[(2,)]),
    case("sign", "sign", [normal(2, 5)]),
    case("power", "power", [positive(2, 3), normal(2, 3)]),
    case("power_broadcast", "power", [positive(2, 3), normal(3)]),
    case("power_scalar", "power", [normal(2, 3)], kwargs={"x2": 3.0}),
    case("einsum_matmul", "einsum", [normal(2, 3), normal(3, 4)], args=["ij,jk->ik"]),
    case("einsum_batch", "einsum", [normal(2, 3, 4), normal(2, 4, 5)], args=["bij,bjk->bik"]),
    case(
        "einsum_attention",
        "einsum",
        [normal(2, 3, 2, 4), normal(2, 5, 2, 4)],
        args=["bqhd,bkhd->bhqk"],
    ),
    case("einsum_implicit", "einsum", [normal(3, 4), normal(4, 2)], args=["ij,jk"]),
    case("einsum_trace", "einsum", [normal(3, 3)], args=["ii->"]),
    case("einsum_diagonal", "einsum", [normal(2, 3, 3)], args=["bii->bi"]),
    case("einsum_sum", "einsum", [normal(2, 3, 4)], args=["ijk->ki"]),
    case("einsum_outer", "einsum", [normal(3), normal(4)], args=["i,j->ij"]),
    case("einsum_ellipsis", "einsum", [normal(2, 3, 4), normal(4, 5)], args=["...ij,jk->...ik"]),
    case(
        "einsum_three", "einsum", [normal(2, 3), normal(3, 4), normal(4, 2)], args=["ij,jk,kl->il"]
    ),
    case("einsum_dot", "einsum", [normal(5), normal(5)], args=["i,i->"]),
    case("stop_gradient", "stop_gradient", [normal(2, 3)]),
    case("cumsum_none", "cumsum", [normal(2, 3)]),
    case("cumsum_axis1", "cumsum", [normal(2, 3, 4)], kwargs={"axis": 1}),
    case("cumsum_axis_neg", "cumsum", [normal(2, 3)], kwargs={"axis": -2}),
    case("take_none", "take", [normal(3, 4), ints(12, 2, 3)]),
    case(
        "take_rows_repeats",
        "take",
        [normal(4, 3), const([0, 2, 2, -1, 0, 3], "int64")],
        kwargs={"axis": 0},
    ),
    case("take_axis1", "take", [normal(2, 5, 3), ints(5, 2, 2, low=-5)], kwargs={"axis": 1}),
    case("take_axis_last", "take", [normal(2, 4), const([3, 3, 1], "int64")], kwargs={"axis": -1}),
    case("one_hot", "one_hot", [const([[0, 2], [1, 3]], "int64")], args=[4]),
    case(
        "one_hot_axis0",
        "one_hot",
        [const([[0, 2, 1], [1, 3, 0]], "int64")],
        args=[4],
        kwargs={"axis": 0},
    ),
    case(
        "one_hot_axis1_dtype",
        "one_hot",
        [const([[0, 2, 1], [1, 3, 0]], "int64")],
        args=[4],
        kwargs={"axis": 1, "dtype": "float64"},
    ),
    case("maximum", "maximum", [normal(2, 3), normal(3)]),
    case("minimum", "minimum", [normal(2, 1), normal(2, 3)]),
]


def draw(spec, rng):
    kind = spec[0]
    if kind == "normal":
        return rng.standard_normal(spec[1])
    if kind == "positive":
        return rng.uniform(0.5, 2.0, spec[1])
    if kind == "ints":
        return rng.integers(spec[2], spec[3], spec[1]).astype("int64")
    return np.array(spec[1], dtype=spec[2])


def call(spec, tensors):
    fn = getattr(keras.ops, spec["op"])
    kwargs = spec["kwargs"]
    if spec["pack"]:
        return fn(tensors, *spec["args"], **kwargs)
    if spec["op"] == "einsum":
        return fn(*spec["args"], *tensors, **kwargs)
    return fn(*tensors, *spec["args"], **kwargs)


def run_case(spec):
    rng = np.random.default_rng(zlib.crc32(spec["id"].encode()))
    xs = [draw(s, rng) for s in spec["inputs"]]
    tensors = [
        torch.tensor(x, requires_grad=x.dtype.kind == "f" and spec["op"] != "stop_gradient")
        for x in xs
    ]
    ys = call(spec, tensors)
    ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
    arrays = {f"{spec['id']}/x{i}": x for i, x in enumerate(xs)}
    loss = 0
    for k, y in enumerate(ys):
        y_np = y.detach().cpu().numpy()
        arrays[f"{spec['id']}/y{k}"] = y_np
        if y_np.dtype.kind == "f" and y.requires_grad:
            cot = rng.standard_normal(y_np.shape)
            arrays[f"{spec['id']}/dy{k}"] = cot
            loss = loss + (y * torch.tensor(cot, dtype=y.dtype)).sum()
    if spec["op"] == "stop_gradient":  # d/dx sum(stop_gradient(x) * x * c) = stop_gradient(x) * c
        x = torch.tensor(xs[0], requires_grad=True)
        cot = rng.standard_normal(xs[0].shape)
        arrays[f"{spec['id']}/dy0"] = cot
        (keras.ops.stop_gradient(x) * x * torch.tensor(cot)).sum().backward()
        arrays[f"{spec['id']}/dx0"] = x.grad.numpy()
    elif torch.is_tensor(loss):
        loss.backward()
        for i, t in enumerate(tensors):
            if t.requires_grad:
                grad = t.grad if t.grad is not None else torch.zeros_like(t)
                arrays[f"{spec['id']}/dx{i}"] = grad.numpy()
    entry = {
        "id": spec["id"],
        "op": spec["op"],
        "args": spec["args"],
        "pack": spec["pack"],
        "kwargs": spec["kwargs"],
        "n_inputs": len(xs),
        "n_outputs": len(ys),
    }
    return entry, arrays


def main():
    torch.set_num_threads(1)
    entries, arrays = [], {}
    for spec in CASES:
        entry, case_arrays = run_case(spec)
        entries.append(entry)
        arrays.update(case_arrays)
    with open(os.path.join(HERE, "ops.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    save_npz_deterministic(os.path.join(HERE, "ops.npz"), arrays)


if __name__ == "__main__":
    main()
