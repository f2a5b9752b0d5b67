"""A convolutional autoencoder on the 8x8 digits: strided Conv2D down, Conv2DTranspose back up.

Run: python examples/conv_autoencoder.py
The encoder squeezes each 8x8 digit into a 2x2x8 code (32 numbers for 64 pixels) with two
stride-2 convolutions; the decoder rebuilds it with two stride-2 transposed convolutions ("same"
padding: each doubles the grid). It trains on reconstruction error for about ten seconds, prints
the test error next to the error of always answering the mean digit, and draws a few test
digits above their reconstructions.
"""

import numpy as np

import graphengine as ge

L = ge.layers
ge.utils.set_random_seed(0)

(x_train, _), (x_test, y_test) = ge.datasets.load_digits()
x_train, x_test = x_train[..., None], x_test[..., None]  # (N, 8, 8, 1) in [0, 1]

image = ge.Input(shape=(8, 8, 1), name="image")
h = L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="down1")(image)  # 4x4
code = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="code")(h)  # 2x2x8
h = L.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu", name="up1")(code)
restored = L.Conv2DTranspose(
    1, 3, strides=2, padding="same", activation="sigmoid", name="restored"
)(h)  # 8x8x1
autoencoder = ge.Model(image, restored, name="conv_autoencoder")
autoencoder.summary()

autoencoder.compile(optimizer=ge.optimizers.Adam(learning_rate=3e-3), loss="mse")
autoencoder.fit(x_train, x_train, batch_size=32, epochs=40, validation_split=0.1, verbose=1)

mse = autoencoder.evaluate(x_test, x_test, verbose=0)
baseline = float(np.mean((x_test - x_train.mean(axis=0)) ** 2))
print(f"test reconstruction mse: {mse:.4f} (the mean digit scores {baseline:.4f})")

shades = " .:-=+*#%@"
picks = [int(np.flatnonzero(y_test == d)[0]) for d in (0, 3, 7)]
reconstructions = autoencoder.predict(x_test[picks], verbose=0)
for label, rows in (("original", x_test[picks]), ("restored", reconstructions)):
    print(label)
    for r in range(8):
        print("   ".join("".join(shades[int(v * 9.99)] for v in img[r, :, 0]) for img in rows))
