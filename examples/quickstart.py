"""Quickstart: an MLP on the bundled 8x8 handwritten digits, with a progress bar.

Run: python examples/quickstart.py
It prints the model summary, trains for a few seconds and prints the test accuracy.
"""

import graphengine as ge

ge.utils.set_random_seed(42)

(x_train, y_train), (x_test, y_test) = ge.datasets.load_digits()
x_train = x_train.reshape(len(x_train), 64)  # 8x8 images as 64 features in [0, 1]
x_test = x_test.reshape(len(x_test), 64)

model = ge.Sequential(
    [
        ge.Input(shape=(64,), name="pixels"),
        ge.layers.Dense(128, activation="relu"),
        ge.layers.Dense(64, activation="relu"),
        ge.layers.Dense(10, activation="softmax"),
    ],
    name="digits_mlp",
)
model.summary()

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(
    x_train,
    y_train,
    batch_size=32,
    epochs=30,
    validation_split=0.1,
    verbose=1,
    callbacks=[
        ge.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    ],
)

loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy: {accuracy:.2%} (loss {loss:.4f}) on {len(x_test)} held-out digits")
