"""The Sequential seed snippet: Dense(5, input_dim=1, activation="relu") then Dense(1), fitting
y = x^2 on [-1, 1].

Run: python examples/sequential_regression.py
"""

import numpy as np

import graphengine as ge

ge.utils.set_random_seed(0)
model = ge.Sequential([ge.layers.Dense(5, input_dim=1, activation="relu"), ge.layers.Dense(1)])
model.compile(optimizer=ge.optimizers.Adam(learning_rate=0.02), loss="mse")

x = np.linspace(-1, 1, 256, dtype="float32").reshape(-1, 1)
y = x**2
history = model.fit(x, y, batch_size=32, epochs=200, verbose=0)
print(
    f"mse after 200 epochs: {history.history['loss'][-1]:.4f} "
    f"(from {history.history['loss'][0]:.4f})"
)
print(
    "predictions at -1, 0, 1:", model.predict(np.array([[-1.0], [0.0], [1.0]]), verbose=0).ravel()
)
