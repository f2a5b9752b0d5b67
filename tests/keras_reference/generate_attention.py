"""Generate Keras 3 reference numbers for the attention layers (tests/test_attention.py).

This is a script, not a test. Run it from the repository root:

    KERAS_BACKEND=torch python tests/keras_reference/generate_attention.py

It writes, next to this file:

* ``attention.json`` -- one case per line: {"id", "layer", "kwargs", "input_shapes", "masks",
  "call", "n_weights", "n_outputs"}. Attention and AdditiveAttention are called as
  ``layer([x0, x1, (x2)], mask=[query_mask, value_mask], **call)``, MultiHeadAttention as
  ``layer(x0, x1, key=x2, query_mask=..., value_mask=..., key_mask=..., attention_mask=...,
  **call)`` (Keras reads the query's mask from the tensor: it is attached to x0 here),
  EinsumDense as ``layer(x0)``; ``masks`` maps each mask's name to its values (0/1 lists).
* ``attention.npz`` -- per case ``{id}/x{i}`` inputs, ``{id}/w{j}`` weights in ``get_weights()``
  order, ``{id}/y{k}`` outputs, ``{id}/dy{k}`` random cotangents, ``{id}/dx{i}`` and
  ``{id}/dw{j}`` the gradients of ``sum_k sum(y_k * dy_k)``.

Seeded per case (crc32 of the id); the npz is written with fixed timestamps (generate.py's
save_npz_deterministic). Dropout cases run at inference only (training draws random masks).
Keras's MultiHeadAttention has two paths: its masked softmax (with dropout or
return_attention_scores: a fully masked row is 0) and, otherwise, ops.dot_product_attention
(torch's fused kernel, the mask added as -0.7 * 3.39e38: a fully masked row is uniform). Both are
here; the gradients of a fully masked row on the fused path are torch's artifact (its backward
recomputes the probabilities from a log-sum-exp that lost log(Tv) to rounding: 1 instead of 1 /
Tv), so mha_fully_masked_fused is compared forward only (test_attention.py).
"""

import json
import os
import sys
import zlib

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import keras  # noqa: E402
from keras.src import backend  # noqa: E402

from generate import save_npz_deterministic  # noqa: E402

if keras.backend.backend() != "torch":
    sys.exit("Run with KERAS_BACKEND=torch (got %r)." % keras.backend.backend())

HERE = os.path.dirname(os.path.abspath(__file__))
JSON_PATH = os.path.join(HERE, "attention.json")
NPZ_PATH = os.path.join(HERE, "attention.npz")
WEIGHT_SCALE = 0.5

VMASK = [[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]]
VMASK_EMPTY = [[1, 1, 0, 1, 0], [0, 0, 0, 0, 0]]  # batch 1 attends to nothing
QMASK = [[1, 0, 1], [1, 1, 0]]
KMASK = [[1, 1, 1, 1, 1], [1, 1, 1, 0, 1]]
AMASK = [[[1, 0, 1, 1, 0], [1, 1, 1, 0, 0], [0, 1, 1, 1, 1]],
         [[1, 1, 0, 0, 1], [0, 0, 0, 0, 0], [1, 0, 0, 1, 1]]]  # fmt: skip


def case(id, layer, kwargs, shapes, masks=None, call=None):
    return dict(id=id, layer=layer, kwargs=kwargs, input_shapes=[list(s) for s in shapes],
                masks=masks or {}, call=call or {})  # fmt: skip


Q, V, K = (2, 3, 4), (2, 5, 4), (2, 5, 6)


def specs():
    scores = {"return_attention_scores": True}
    return [
        case("attention_dot", "Attention", {}, [Q, V], call=scores),
        case("attention_key_scale", "Attention", {"use_scale": True}, [(2, 3, 6), (2, 5, 2), K],
             call=scores),
        case("attention_masks", "Attention", {}, [Q, V], {"query_mask": QMASK, "value_mask": VMASK},
             call=scores),
        case("attention_fully_masked", "Attention", {"use_scale": True}, [Q, V],
             {"value_mask": VMASK_EMPTY}, call=scores),
        case("attention_causal", "Attention", {}, [(2, 4, 3), (2, 4, 3)],
             call={"use_causal_mask": True, **scores}),
        case("attention_causal_masked", "Attention", {}, [Q, V], {"value_mask": VMASK},
             call={"use_causal_mask": True}),
        case("attention_concat", "Attention", {"score_mode": "concat"}, [Q, V], call=scores),
        case("attention_concat_scale", "Attention", {"score_mode": "concat", "use_scale": True},
             [Q, (2, 5, 3), V], {"value_mask": VMASK}),
        case("attention_dropout_inference", "Attention", {"dropout": 0.4, "seed": 3}, [Q, V],
             call={"training": False, **scores}),
        case("additive", "AdditiveAttention", {}, [Q, (2, 5, 2), V], call=scores),
        case("additive_no_scale_masks", "AdditiveAttention", {"use_scale": False}, [Q, V],
             {"query_mask": QMASK, "value_mask": VMASK}),
        case("mha", "MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, [Q, V]),
        case("mha_self_scores", "MultiHeadAttention", {"num_heads": 3, "key_dim": 2}, [V, V],
             call=scores),
        case("mha_value_dim_output_shape", "MultiHeadAttention",
             {"num_heads": 2, "key_dim": 3, "value_dim": 2, "output_shape": [2, 3]}, [Q, V, K]),
        case("mha_masks", "MultiHeadAttention", {"num_heads": 2, "key_dim": 2},
             [Q, V, K], {"query_mask": QMASK, "value_mask": VMASK, "key_mask": KMASK}, call=scores),
        case("mha_masks_fused", "MultiHeadAttention", {"num_heads": 2, "key_dim": 2},
             [Q, V, K], {"value_mask": VMASK, "key_mask": KMASK}),
        case("mha_fully_masked_fused", "MultiHeadAttention", {"num_heads": 2, "key_dim": 2},
             [Q, V], {"attention_mask": AMASK}),
        case("mha_attention_mask_causal", "MultiHeadAttention", {"num_heads": 2, "key_dim": 3},
             [Q, V], {"attention_mask": AMASK}, call={"use_causal_mask": True, **scores}),
        case("mha_causal", "MultiHeadAttention", {"num_heads": 2, "key_dim": 3},
             [(2, 4, 4), (2, 4, 4)], call={"use_causal_mask": True}),
        case("mha_4d", "MultiHeadAttention", {"num_heads": 2, "key_dim": 2},
             [(2, 2, 3, 4), (2, 2, 2, 4)], call=scores),
        case("mha_no_bias_dropout_inference", "MultiHeadAttention",
             {"num_heads": 2, "key_dim": 3, "use_bias": False, "dropout": 0.3, "seed": 1},
             [Q, V], call={"training": False}),
        case("einsum_dense_heads", "EinsumDense",
             {"equation": "abc,cde->abde", "output_shape": [None, 2, 3], "bias_axes": "de"},
             [(2, 3, 4)]),
        case("einsum_dense_tanh", "EinsumDense",
             {"equation": "ab,bc->ac", "output_shape": 5, "activation": "tanh", "bias_axes": "c"},
             [(3, 4)]),
        case("einsum_dense_merge", "EinsumDense",
             {"equation": "abcd,cde->abe", "output_shape": [None, 3], "bias_axes": "e"},
             [(2, 3, 2, 4)]),
        case("einsum_dense_left_ellipsis", "EinsumDense",
             {"equation": "...b,bc->...c", "output_shape": 4}, [(2, 3, 5)]),
        case("einsum_dense_right_ellipsis", "EinsumDense",
             {"equation": "ab...,bc->ac...", "output_shape": 4, "bias_axes": "c"}, [(2, 3, 5)]),
        case("einsum_dense_transposed_kernel", "EinsumDense",
             {"equation": "abc,dce->abde", "output_shape": [None, 2, 3], "bias_axes": "e"},
             [(2, 3, 4)]),
    ]  # fmt: skip


def call_layer(spec, layer, xs, masks):
    kind = spec["layer"]
    if kind == "EinsumDense":
        return layer(xs[0])
    if kind in ("Attention", "AdditiveAttention"):
        mask = None
        if masks:
            mask = [masks.get("query_mask"), masks.get("value_mask")]
        return layer(list(xs), mask=mask, **spec["call"])
    q = xs[0]
    if "query_mask" in masks:
        backend.set_keras_mask(q, masks["query_mask"])
    kwargs = {k: v for k, v in masks.items() if k != "query_mask"}
    if len(xs) > 2:
        kwargs["key"] = xs[2]
    return layer(q, xs[1], **kwargs, **spec["call"])


def as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def run_case(spec):
    seed = zlib.crc32(spec["id"].encode("utf-8"))
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed % (2**31))
    layer = getattr(keras.layers, spec["layer"])(**json.loads(json.dumps(spec["kwargs"])))
    masks = {k: torch.tensor(np.array(v, bool)) for k, v in spec["masks"].items()}
    call_layer(spec, layer, [torch.zeros(s) for s in spec["input_shapes"]], dict(masks))
    assert not layer.non_trainable_weights, spec["id"]
    xs = [rng.standard_normal(s).astype(np.float32) for s in spec["input_shapes"]]
    ws = [(WEIGHT_SCALE * rng.standard_normal(tuple(v.shape))).astype(np.float32)
          for v in layer.weights]  # fmt: skip
    layer.set_weights(ws)
    xs_t = [torch.tensor(x, requires_grad=True) for x in xs]
    params = [v.value for v in layer.trainable_weights]
    ys_t = as_list(call_layer(spec, layer, xs_t, dict(masks)))
    ys = [y.detach().numpy() for y in ys_t]
    dys = [rng.standard_normal(y.shape).astype(np.float32) for y in ys]
    loss = sum((y * torch.from_numpy(dy)).sum() for y, dy in zip(ys_t, dys))
    grads = torch.autograd.grad(loss, xs_t + params, allow_unused=True)
    grads = [np.zeros(tuple(t.shape), np.float32) if g is None else g.detach().numpy()
             for t, g in zip(xs_t + params, grads)]  # fmt: skip
    arrays = {}
    for name, group in (("x", xs), ("w", ws), ("y", ys), ("dy", dys)):
        for i, a in enumerate(group):
            arrays[f"{spec['id']}/{name}{i}"] = np.asarray(a, np.float32)
    for i, g in enumerate(grads[: len(xs)]):
        arrays[f"{spec['id']}/dx{i}"] = g.astype(np.float32)
    for j, g in enumerate(grads[len(xs) :]):
        arrays[f"{spec['id']}/dw{j}"] = g.astype(np.float32)
    assert all(np.all(np.isfinite(a)) for a in arrays.values()), spec["id"]
    entry = {k: spec[k] for k in ("id", "layer", "kwargs", "input_shapes", "masks", "call")}
    return {**entry, "n_weights": len(ws), "n_outputs": len(ys)}, arrays


def main():
    torch.set_num_threads(1)
    entries, arrays = [], {}
    for spec in specs():
        entry, case_arrays = run_case(spec)
        entries.append(entry)
        arrays.update(case_arrays)
    with open(JSON_PATH, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    save_npz_deterministic(NPZ_PATH, arrays)
    print(f"wrote {len(entries)} cases to {JSON_PATH} and {NPZ_PATH}")


if __name__ == "__main__":
    main()
