"""The compile seed snippet: loss="binary_crossentropy" with the Keras 2 style optimizer
Adam(lr=0.0002, decay=8e-9) (the legacy `lr` alias and time decay still work), on two noisy
interleaved half moons.

Run: python examples/binary_classifier.py
"""

import numpy as np

import graphengine as ge

ge.utils.set_random_seed(0)
rng = np.random.default_rng(0)
t = rng.uniform(0, np.pi, 1000)
label = rng.integers(0, 2, 1000)
x = np.stack([np.cos(t) + label - 0.5, np.sin(t) * (1 - 2 * label)], axis=1)
x = (x + rng.normal(0, 0.1, x.shape)).astype("float32")

model = ge.Sequential(
    [
        ge.layers.Dense(32, input_dim=2, activation="relu"),
        ge.layers.Dense(32, activation="relu"),
        ge.layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(
    loss="binary_crossentropy",
    optimizer=ge.optimizers.Adam(lr=0.0002, decay=8e-9),
    metrics=["accuracy"],
)
model.fit(x[:800], label[:800], batch_size=16, epochs=60, verbose=0)
loss, accuracy = model.evaluate(x[800:], label[800:], verbose=0)
print(f"held-out accuracy {accuracy:.2%}, loss {loss:.4f}")
