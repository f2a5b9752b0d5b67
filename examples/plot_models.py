"""Pictures of a model with skip connections, merges and a nested residual block: the forward
graph, the backward graph beside it, a per-layer profile of a training step, and the same as
.svg, .dot and an interactive .html page.

    python examples/plot_models.py [output folder, default ./model_pictures]
"""

import os
import sys

import numpy as np

import graphengine as ge

L = ge.layers


def residual_block(width: int, name: str) -> ge.Model:
    x = ge.Input(shape=(width,), name=f"{name}_in")
    h = L.Dense(width, activation="relu", name=f"{name}_dense_1")(x)
    h = L.Dense(width, name=f"{name}_dense_2")(h)
    out = L.Activation("relu", name=f"{name}_relu")(L.Add(name=f"{name}_add")([x, h]))
    return ge.Model(x, out, name=name)


def build() -> ge.Model:
    features = ge.Input(shape=(20,), name="features")
    meta = ge.Input(shape=(4,), name="meta")
    stem = L.Dense(32, activation="relu", name="stem")(features)
    body = residual_block(32, "res_block")(stem)
    wide = L.Dense(32, activation="tanh", name="wide")(stem)
    merged = L.Concatenate(name="merge")([body, wide, L.Dense(8, name="meta_proj")(meta)])
    hidden = L.Dense(32, activation="relu", name="hidden")(merged)
    skip = L.Add(name="skip")([hidden, stem])
    logits = L.Dense(5, activation="softmax", name="classes")(skip)
    return ge.Model([features, meta], logits, name="skip_merge_net")


def main(out: str) -> None:
    os.makedirs(out, exist_ok=True)
    ge.utils.set_random_seed(0)
    model = build()
    model.summary(expand_nested=True, show_trainable=True)
    rng = np.random.default_rng(0)
    x = [rng.random((256, 20), dtype=np.float32), rng.random((256, 4), dtype=np.float32)]
    y = rng.integers(0, 5, 256)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    profile = model.profile([a[:64] for a in x], y[:64])
    print(profile)

    def plot(name: str, **kwargs) -> None:
        path = ge.plot_model(model, os.path.join(out, name), **kwargs)
        print("wrote", path)

    plot("forward.png", show_shapes=True)
    plot("forward_nested.png", expand_nested=True, show_trainable=True, show_layer_activations=True)
    plot("forward_backward.png", show_backward=True)
    plot("forward_backward_nested.png", show_backward=True, expand_nested=True)
    plot("profile.png", show_backward=True, profile=profile)
    plot("left_to_right.png", rankdir="LR", dpi=120)
    plot("model.svg", expand_nested=True)
    plot("model.dot", expand_nested=True, show_backward=True)
    plot("model.html", expand_nested=True, show_backward=True, show_trainable=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "model_pictures")
