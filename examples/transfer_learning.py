"""Transfer learning on the 8x8 digits: pretrain, save, load, extract features, fine-tune.

Run: python examples/transfer_learning.py
keras-io's "Transfer learning & fine-tuning" workflow, with `ge` in place of `keras`:
1. a small CNN learns digits 0-4 from all their labels, is saved, and is loaded back from the
   file as the "pretrained model";
2. feature extraction: its layers up to "features" become a frozen base (`base.trainable =
   False`) under a new head that learns all ten digits from only 3 labelled images per digit;
3. fine-tuning: the base is unfrozen and the whole model trained on with a low learning rate.
The same architecture trained from scratch on the same 30 images is the baseline. Transfer wins
by about 5 points, on the digits the base has seen (0-4); on the new ones (5-9) it about ties,
and fine-tuning moves little, since the head already fits its 30 images. It prints the three
accuracies on the 360 held-out digits, in a few seconds on two cores.
"""

import os
import tempfile

import numpy as np

import graphengine as ge

L = ge.layers
SEED = 0
PER_DIGIT = 3  # labelled images per digit for the new task: the small data set transfer is for
ge.utils.set_random_seed(SEED)

(x_train, y_train), (x_test, y_test) = ge.datasets.load_digits()
x_train, x_test = x_train[..., None], x_test[..., None]  # (N, 8, 8, 1), channels last, in [0, 1]

# The source task: digits 0-4, every label. The new task: all ten digits from 30 labels.
x_source, y_source = x_train[y_train < 5], y_train[y_train < 5]
rng = np.random.default_rng(SEED)
few = np.concatenate(
    [rng.choice(np.flatnonzero(y_train == d), PER_DIGIT, replace=False) for d in range(10)]
)
x_few, y_few = x_train[few], y_train[few]


def convolutional_base() -> list:
    return [
        ge.Input(shape=(8, 8, 1), name="digit"),
        L.Conv2D(16, 3, padding="same", activation="relu", name="block1_conv"),
        L.MaxPooling2D(2, name="block1_pool"),  # (4, 4, 16)
        # no pooling after block 2: the 4x4 map keeps where the strokes are, which transfers
        # to new digits better than a 2x2 one
        L.Conv2D(32, 3, padding="same", activation="relu", name="block2_conv"),  # (4, 4, 32)
        L.Flatten(name="features"),  # (512,)
    ]


def compile_classifier(model: ge.Model, learning_rate: float) -> None:
    model.compile(
        optimizer=ge.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def accuracies(model: ge.Model) -> tuple[float, float, float]:
    """Test accuracy on all ten digits, on digits 0-4 and on digits 5-9."""
    right = model.predict(x_test, verbose=0).argmax(axis=-1) == y_test
    return right.mean(), right[y_test < 5].mean(), right[y_test >= 5].mean()


# 1. Pretrain on digits 0-4, save to a file, and load the file back.
source = ge.Sequential(
    convolutional_base()
    + [
        L.Dense(64, activation="relu", name="fc"),
        L.Dense(5, activation="softmax", name="digit_0_4"),
    ],
    name="digits_0_to_4",
)
compile_classifier(source, 3e-3)
source.fit(x_source, y_source, batch_size=32, epochs=10, verbose=0)
_, source_accuracy = source.evaluate(x_test[y_test < 5], y_test[y_test < 5], verbose=0)
print(f"pretrained on digits 0-4: {source_accuracy:.2%} test accuracy on digits 0-4")
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "digits_0_to_4.gez")
    source.save(path)
    pretrained = ge.models.load_model(path)
np.testing.assert_array_equal(
    pretrained.predict(x_test, verbose=0), source.predict(x_test, verbose=0)
)

# 2. Feature extraction: the pretrained layers up to "features", frozen, under a new head.
base = ge.Model(pretrained.input, pretrained.get_layer("features").output, name="base")
base.trainable = False
inputs = ge.Input(shape=(8, 8, 1), name="digit")
# training=False as the guide writes it: a base with BatchNormalization keeps its statistics
x = base(inputs, training=False)
outputs = L.Dense(10, activation="softmax", name="new_head")(x)
model = ge.Model(inputs, outputs, name="transfer")
model.summary(show_trainable=True)

frozen = [w.copy() for w in base.get_weights()]
compile_classifier(model, 3e-3)
model.fit(x_few, y_few, batch_size=16, epochs=40, verbose=0)
unchanged = all(np.array_equal(a, b) for a, b in zip(frozen, base.get_weights()))
assert unchanged, "the frozen base changed while the head trained"
print(f"base weights unchanged while the head trained: {unchanged}")
head_only = accuracies(model)

# The Sequential spelling of the same model: the base, then the (trained) head.
sequential = ge.Sequential([base, model.get_layer("new_head")], name="transfer_sequential")
np.testing.assert_allclose(sequential.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
print(f"ge.Sequential([base, head]): the same predictions, {sequential.count_params():,} params")

# 3. Fine-tuning: unfreeze the base and train everything on with a low learning rate, so the
# pretrained features shift a little rather than being overwritten. Compile again after a change
# of `trainable`, as Keras requires.
base.trainable = True
model.summary(show_trainable=True)
compile_classifier(model, 1e-4)
model.fit(x_few, y_few, batch_size=16, epochs=10, verbose=0)
fine_tuned = accuracies(model)

# The baseline: the transfer model's architecture with fresh weights, on the same 30 images.
ge.utils.set_random_seed(SEED)
scratch = ge.Sequential(
    convolutional_base() + [L.Dense(10, activation="softmax", name="new_head")],
    name="from_scratch",
)
compile_classifier(scratch, 3e-3)
scratch.fit(x_few, y_few, batch_size=16, epochs=50, verbose=0)
baseline = accuracies(scratch)

print(f"all ten digits from {len(x_few)} labels, accuracy on {len(x_test)} held-out digits:")
for what, (overall, seen, new) in [
    ("from scratch (baseline)", baseline),
    ("head only, frozen base", head_only),
    ("fine-tuned, base unfrozen", fine_tuned),
]:
    print(f"  {what:<26} {overall:.2%} (digits 0-4: {seen:.2%}, digits 5-9: {new:.2%})")
print(f"gain from transfer: {100 * (fine_tuned[0] - baseline[0]):+.2f} points of accuracy")
