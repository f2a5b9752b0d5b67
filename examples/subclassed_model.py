"""A subclassed model, as Keras writes it: layers made in __init__, the forward pass in
call(inputs, training=None). graphengine traces call() once, on the first batch's shapes, into
the same static graph a functional model has; it then compiles, trains, summarizes, saves and
loads like one.

Run: python examples/subclassed_model.py
"""

import os
import tempfile

import numpy as np

import graphengine as ge

layers = ge.layers


@ge.saving.register_keras_serializable(package="examples")
class DigitClassifier(ge.Model):
    """A small CNN with a residual block and dropout on the 8x8 digits."""

    def __init__(self, filters=16, dropout=0.25, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.dropout_rate, self.num_classes = filters, dropout, num_classes
        self.stem = layers.Conv2D(filters, 3, padding="same", activation="relu")
        self.conv_a = layers.Conv2D(filters, 3, padding="same", activation="relu")
        self.conv_b = layers.Conv2D(filters, 3, padding="same")
        self.pool = layers.MaxPooling2D(2)
        self.flatten = layers.Flatten()
        self.dropout = layers.Dropout(dropout)
        self.classifier = layers.Dense(num_classes, activation="softmax")

    def call(self, inputs, training=None):
        x = self.stem(inputs)
        residual = self.conv_b(self.conv_a(x))
        x = ge.ops.relu(x + residual)  # a skip connection written with ge.ops
        x = self.dropout(self.flatten(self.pool(x)), training=training)  # decided per run
        return self.classifier(x)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "dropout": self.dropout_rate,
            "num_classes": self.num_classes,
        }


def main():
    ge.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = ge.datasets.digits.load_digits()
    x_train, x_test = x_train[..., None], x_test[..., None]

    model = DigitClassifier(filters=16, name="digit_classifier")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=20, validation_split=0.1, verbose=0)
    model.summary()
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"subclassed model test accuracy: {100 * accuracy:.1f}%")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "digits.gez")
        model.save(path)
        loaded = ge.models.load_model(path)
    same = np.array_equal(loaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
    print(f"loaded as {type(loaded).__name__}, same predictions: {same}")


if __name__ == "__main__":
    main()
