"""A functional model with two inputs, a shared layer, a merge and a Lambda written with ge.ops:
it learns the distance between two vectors, trained with fit.

Run: python examples/multi_input.py
"""

import numpy as np

import graphengine as ge

ge.utils.set_random_seed(0)

# Both vectors go through the same (shared) encoder; the Lambda is built from ge.ops, so
# gradients flow through it.
left = ge.Input(shape=(8,), name="left")
right = ge.Input(shape=(8,), name="right")
encoder = ge.layers.Dense(32, activation="tanh", name="encoder")
encoded = [encoder(left), encoder(right)]
gap = ge.layers.Lambda(lambda t: ge.ops.abs(t[0] - t[1]), name="gap")(encoded)
h = ge.layers.Concatenate(name="features")([*encoded, gap])
h = ge.layers.Dense(32, activation="gelu", name="hidden")(h)
distance = ge.layers.Dense(1, name="distance")(h)
model = ge.Model(inputs={"left": left, "right": right}, outputs=distance, name="pair_distance")
model.summary()

rng = np.random.default_rng(0)
a = rng.standard_normal((2048, 8)).astype("float32")
b = rng.standard_normal((2048, 8)).astype("float32")
target = np.linalg.norm(a - b, axis=1, keepdims=True)

model.compile(optimizer=ge.optimizers.Adam(learning_rate=3e-3), loss="mse", metrics=["mae"])
model.fit(
    {"left": a, "right": b}, target, batch_size=64, epochs=15, validation_split=0.2, verbose=2
)
mae = model.evaluate({"left": a[:256], "right": b[:256]}, target[:256], verbose=0)[1]
print(f"mean absolute error on distances of typical size {target.mean():.2f}: {mae:.3f}")
