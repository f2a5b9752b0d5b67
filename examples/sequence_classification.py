"""Sequence classification: each 8x8 digit read row by row, a sequence of 8 steps of 8 pixels,
classified by an LSTM and by a GRU (the same model otherwise).

Run: python examples/sequence_classification.py
It prints each model's summary and its test accuracy on the 360 held-out digits.
"""

import graphengine as ge

(x_train, y_train), (x_test, y_test) = ge.datasets.load_digits()  # images (N, 8, 8) in [0, 1]


def classifier(recurrent: type) -> ge.Model:
    rows = ge.Input(shape=(8, 8), name="rows")  # 8 time steps of 8 features
    h = recurrent(64, name=recurrent.__name__.lower())(rows)  # the last output, (N, 64)
    probs = ge.layers.Dense(10, activation="softmax")(h)
    return ge.Model(rows, probs, name=f"digits_{recurrent.__name__.lower()}")


for recurrent in (ge.layers.LSTM, ge.layers.GRU):
    ge.utils.set_random_seed(0)
    model = classifier(recurrent)
    model.summary()
    model.compile(
        optimizer=ge.optimizers.Adam(learning_rate=5e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, batch_size=32, epochs=15, validation_split=0.1, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"{recurrent.__name__} test accuracy: {accuracy:.2%} (loss {loss:.4f})\n")
