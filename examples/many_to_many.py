"""Many-to-many: tag every step of a sequence. Each sequence is 12 random digits; a step's tag
is 1 when its digit beats every digit before it (a new record), so the model has to carry the
running maximum through its state. An LSTM returns its whole output sequence
(return_sequences=True) and TimeDistributed applies one Dense classifier to every step.

Run: python examples/many_to_many.py
It prints the model summary, then the per-step accuracy on held-out sequences.
"""

import numpy as np

import graphengine as ge

STEPS = 12
rng = np.random.default_rng(0)


def make_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    digits = rng.integers(0, 10, size=(n, STEPS))
    best_before = np.maximum.accumulate(np.c_[np.full(n, -1), digits[:, :-1]], axis=1)
    return digits.astype(np.int32), (digits > best_before).astype(np.float32)[..., None]


x_train, y_train = make_data(2000)
x_test, y_test = make_data(500)

ge.utils.set_random_seed(0)
digits = ge.Input(shape=(STEPS,), dtype="int32", name="digits")
h = ge.layers.Embedding(10, 8)(digits)
h = ge.layers.LSTM(32, return_sequences=True)(h)  # (None, 12, 32): one output per step
tags = ge.layers.TimeDistributed(ge.layers.Dense(1, activation="sigmoid"))(h)  # (None, 12, 1)
model = ge.Model(digits, tags, name="record_tagger")
model.summary()

model.compile(optimizer=ge.optimizers.Adam(3e-3), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=64, epochs=30, verbose=0)
predicted = model.predict(x_test, verbose=0) > 0.5
accuracy = float(np.mean(predicted == (y_test > 0.5)))
print(f"per-step tag accuracy on {len(x_test)} held-out sequences: {accuracy:.2%}")
print("digits:   ", " ".join(str(d) for d in x_test[0]))
print("records:  ", " ".join(str(int(t)) for t in y_test[0, :, 0]))
print("predicted:", " ".join(str(int(p)) for p in predicted[0, :, 0]))
