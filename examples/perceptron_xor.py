"""The perceptron and XOR (Minsky & Papert 1969): one threshold unit learns OR, never XOR; two
layers learn XOR.

The perceptron is Dense(1, activation="step"): 1 where w.x + b > 0, else 0. Its step has no
useful derivative (0 almost everywhere), so graphengine differentiates it by the identity
straight-through estimator. Fit with SGD on the squared error one sample at a time, the update
is then w -= lr * 2 (y_hat - y) x, which is Rosenblatt's perceptron rule: it converges on
linearly separable data (OR) and cycles forever on XOR, where no line gets more than 3 of the 4
points right. A hidden layer (tanh) and a sigmoid output, fit with Adam on the cross-entropy,
solve XOR.

Run: python examples/perceptron_xor.py [out.png]. Prints each model's accuracy and saves both
decision boundaries as a PNG (with matplotlib; without it, says so and skips the picture).
"""

import os
import sys

import numpy as np

import graphengine as ge

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32")
XOR = np.array([[0], [1], [1], [0]], "float32")
OR = np.array([[0], [1], [1], [1]], "float32")


def perceptron():
    model = ge.Sequential([ge.Input(shape=(2,)), ge.layers.Dense(1, activation="step")])
    model.compile(optimizer=ge.optimizers.SGD(learning_rate=0.05), loss="mse")
    return model


def two_layers():
    model = ge.Sequential(
        [
            ge.Input(shape=(2,)),
            ge.layers.Dense(8, activation="tanh"),
            ge.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=ge.optimizers.Adam(learning_rate=0.05), loss="binary_crossentropy")
    return model


def accuracy(model, y):
    return float(np.mean((model.predict(X, verbose=0) > 0.5) == y))


def plot(models, path):
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no picture of the decision boundaries")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(-0.5, 1.5, 201, dtype="float32")
    gx, gy = np.meshgrid(grid, grid)
    points = np.stack([gx.ravel(), gy.ravel()], axis=1)
    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 4))
    for ax, (title, model) in zip(axes, models):
        z = model.predict(points, verbose=0).reshape(gx.shape) > 0.5
        ax.contourf(gx, gy, z, levels=[-0.5, 0.5, 1.5], colors=["#d6e4f4", "#f4d6d6"])
        ax.scatter(X[:, 0], X[:, 1], c=XOR[:, 0], cmap="coolwarm", s=120, edgecolors="k")
        ax.set_title(title)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"saved both decision boundaries to {os.path.abspath(path)}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "perceptron_xor.png"
    ge.utils.set_random_seed(0)

    unit = perceptron()
    unit.fit(X, OR, batch_size=1, epochs=50, shuffle=False, verbose=0)
    print(f"perceptron on OR: accuracy {accuracy(unit, OR):.2f} (linearly separable)")

    unit = perceptron()
    unit.fit(X, XOR, batch_size=1, epochs=200, shuffle=False, verbose=0)
    single = accuracy(unit, XOR)
    print(f"perceptron on XOR: accuracy {single:.2f} (no line separates XOR: at most 0.75)")

    net = two_layers()
    net.fit(X, XOR, batch_size=4, epochs=300, verbose=0)
    print(f"two-layer network on XOR: accuracy {accuracy(net, XOR):.2f}")

    plot([("perceptron (step)", unit), ("two layers (tanh, sigmoid)", net)], out)


if __name__ == "__main__":
    main()
