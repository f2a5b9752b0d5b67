"""A convolutional network on the bundled 8x8 handwritten digits.

Run: python examples/cnn_digits.py
Two Conv2D + MaxPooling2D blocks ("same" padding keeps the 8x8 grid until each pooling halves
it), then a dense classifier. It prints the model summary, trains for about ten seconds on two
cores with a progress bar, and prints the test accuracy (about 98%).
"""

import graphengine as ge

L = ge.layers
ge.utils.set_random_seed(0)

(x_train, y_train), (x_test, y_test) = ge.datasets.load_digits()
x_train, x_test = x_train[..., None], x_test[..., None]  # (N, 8, 8, 1), channels last, in [0, 1]

model = ge.Sequential(
    [
        ge.Input(shape=(8, 8, 1), name="digit"),
        L.Conv2D(32, 3, padding="same", activation="relu"),  # (8, 8, 32)
        L.MaxPooling2D(2),  # (4, 4, 32)
        L.Conv2D(64, 3, padding="same", activation="relu"),  # (4, 4, 64)
        L.MaxPooling2D(2),  # (2, 2, 64)
        L.Flatten(),
        L.Dense(64, activation="relu"),
        L.Dense(10, activation="softmax"),
    ],
    name="digits_cnn",
)
model.summary()

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=15, validation_split=0.1, verbose=1)

loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy: {accuracy:.2%} (loss {loss:.4f}) on {len(x_test)} held-out digits")
