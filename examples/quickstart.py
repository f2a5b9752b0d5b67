"""Quickstart: build a functional model with two inputs, a shared layer, a merge and a Lambda,
run it, look at its graph, and fit it to a toy target with plain gradient steps from model.vjp.

Run: python examples/quickstart.py
"""

import numpy as np

import graphengine as ge

ge.utils.set_random_seed(0)

# Two feature vectors go through the same (shared) Dense encoder, are merged, and a small head
# predicts a score. The Lambda is written with ge.ops, so gradients flow through it.
left = ge.Input(shape=(8,), name="left")
right = ge.Input(shape=(8,), name="right")
encoder = ge.layers.Dense(16, activation="tanh", name="encoder")
encoded = [encoder(left), encoder(right)]
both = ge.layers.Concatenate(name="pair")(encoded)
gap = ge.layers.Lambda(lambda t: ge.ops.abs(t[0] - t[1]), name="gap")(encoded)
h = ge.layers.Concatenate(name="features")([both, gap])
h = ge.layers.Dense(16, activation="gelu", name="hidden")(h)
score = ge.layers.Dense(1, name="score")(h)
model = ge.Model(inputs=[left, right], outputs=score, name="pair_scorer")

print(f"model {model.name}: {len(model.layers)} layers, {model.count_params()} parameters")
print("graph nodes (layer call sites):", list(model.graph.nodes))

# A toy task: the score should be the distance between the two vectors.
rng = np.random.default_rng(0)
a = rng.standard_normal((256, 8)).astype("float32")
b = rng.standard_normal((256, 8)).astype("float32")
target = np.linalg.norm(a - b, axis=1, keepdims=True).astype("float32")

learning_rate = 0.05
for step in range(301):
    pred = model([a, b])
    error = pred - target
    loss = float(np.mean(error**2))
    # d(mean squared error)/d(pred) is the cotangent; vjp returns the weight gradients.
    _, grads = model.vjp([a, b], 2.0 * error / error.size)
    for weight, grad in zip(model.trainable_weights, grads):
        weight.assign(weight.numpy() - learning_rate * grad)
    if step % 50 == 0:
        print(f"step {step:3d}  mse {loss:.4f}")

print("backward graph:", model.backward_graph.number_of_nodes(), "gradient nodes")
