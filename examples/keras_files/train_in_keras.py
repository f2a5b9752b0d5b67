"""Trains the small digits CNN of examples/keras_interop.py in Keras 3 and saves it as
`digits_cnn.keras` beside this script: the Keras-trained file the example starts from. Offline
(Keras is no dependency of graphengine), from the repository root:

    KERAS_BACKEND=torch PYTHONPATH=/tmp/kerapkgs python examples/keras_files/train_in_keras.py

It trains on the first half of graphengine's digits training split (the example fine-tunes on
the second half), seeded."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402

import graphengine as ge  # noqa: E402  (the bundled digits, split as the example splits them)

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = ge.datasets.load_digits()
    half = len(x_train) // 2
    L = keras.layers
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1), name="image"),
            L.Conv2D(8, 3, padding="same", activation="relu", name="conv_a"),
            L.BatchNormalization(name="bn"),
            L.MaxPooling2D(name="pool"),
            L.Conv2D(16, 3, activation="relu", name="conv_b"),
            L.Flatten(name="flat"),
            L.Dropout(0.2, name="drop"),
            L.Dense(10, activation="softmax", name="digit"),
        ],
        name="digits_cnn",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train[:half, ..., None], y_train[:half], batch_size=32, epochs=6, verbose=0)
    _, accuracy = model.evaluate(x_test[..., None], y_test, verbose=0)
    path = os.path.join(HERE, "digits_cnn.keras")
    plain = keras.models.clone_model(model)  # uncompiled: the file holds no optimizer state
    plain.set_weights(model.get_weights())
    plain.save(path)
    print(f"Keras {keras.__version__}: test accuracy {accuracy:.2%}, saved {path}")


if __name__ == "__main__":
    main()
