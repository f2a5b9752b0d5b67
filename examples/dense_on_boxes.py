"""The Dense-on-any-rank seed snippet: Dense acts on the last axis, so a batch of 64 boxes with
4 corners of 2 coordinates maps to 64 x 4 scores.

Run: python examples/dense_on_boxes.py
"""

import numpy as np

import graphengine as ge

boxes = np.random.default_rng(0).uniform(size=(64, 4, 2)).astype("float32")
layer = ge.layers.Dense(units=1, use_bias=False)
scores = layer(boxes)  # eager call on a NumPy array: the layer is built on first call
print("scores:", scores.shape, "kernel:", layer.weights[0].shape, "params:", layer.count_params())
np.testing.assert_allclose(scores, boxes @ layer.get_weights()[0], rtol=1e-5, atol=1e-6)
print("matches boxes @ kernel")
