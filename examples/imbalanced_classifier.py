"""Imbalanced classification, as keras.io's credit card fraud example: a Dense classifier on
tabular data where 3% of the rows are "fraud", trained twice from the same initial weights,
without and with `class_weight` (each class weighted by 1 / its count, as keras.io does).

The data is made here from a fixed seed: 16 standard normal features for the legitimate rows;
the frauds follow one of two "schemes", each shifting six features. Without class weights the
model learns that "legitimate" is almost always right and catches a minority of the frauds;
with them it catches most, paying with more false alarms (lower precision). The validation
AUC, which does not depend on the 0.5 threshold, is high for both.

Run: python examples/imbalanced_classifier.py
"""

import numpy as np

import graphengine as ge

FEATURES, FRAUD_RATE = 16, 0.03


def make_transactions(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`n` rows of FEATURES features and their 0/1 labels, about FRAUD_RATE of them 1."""
    labels = (rng.random(n) < FRAUD_RATE).astype("int64")
    features = rng.normal(size=(n, FEATURES))
    schemes = np.zeros((2, FEATURES))
    schemes[0, :6], schemes[1, 6:12] = 1.25, -1.25  # which features each kind of fraud moves
    frauds = np.flatnonzero(labels)
    features[frauds] += schemes[rng.integers(0, 2, len(frauds))]
    return features.astype("float32"), labels


def fraud_model() -> ge.Model:
    """keras.io's model, smaller for the smaller data (it has three Dense(256) and two Dropout)."""
    return ge.Sequential(
        [
            ge.Input(shape=(FEATURES,)),
            ge.layers.Dense(64, activation="relu"),
            ge.layers.Dense(64, activation="relu"),
            ge.layers.Dropout(0.3),
            ge.layers.Dense(1, activation="sigmoid"),
        ],
        name="fraud",
    )


def train(train_data, val_data, class_weight=None) -> dict:
    """Fits a fresh model (the same initial weights each call) and returns its validation
    metrics at the end."""
    ge.utils.set_random_seed(0)
    model = fraud_model()
    model.compile(
        optimizer=ge.optimizers.Adam(1e-2),
        loss="binary_crossentropy",
        metrics=[
            ge.metrics.FalseNegatives(name="fn"),
            ge.metrics.FalsePositives(name="fp"),
            ge.metrics.TrueNegatives(name="tn"),
            ge.metrics.TruePositives(name="tp"),
            ge.metrics.Precision(name="precision"),
            ge.metrics.Recall(name="recall"),
            ge.metrics.AUC(name="auc"),
        ],
    )
    history = model.fit(
        *train_data,
        batch_size=2048,
        epochs=20,
        validation_data=val_data,
        class_weight=class_weight,
        verbose=0,
    )
    logs = history.history
    return {name.removeprefix("val_"): logs[name][-1] for name in logs if name.startswith("val_")}


def main() -> dict:
    """The validation metrics of both runs, by "unweighted" and "class_weight"."""
    rng = np.random.default_rng(0)
    features, labels = make_transactions(10_000, rng)
    split = int(0.8 * len(features))
    # normalize with the training rows' statistics, as keras.io does
    mean, std = features[:split].mean(axis=0), features[:split].std(axis=0)
    features = (features - mean) / std
    train_data = (features[:split], labels[:split])
    val_data = (features[split:], labels[split:])

    counts = np.bincount(labels[:split])
    print(f"{counts[1]} frauds out of {split} training rows ({counts[1] / split:.2%})")
    class_weight = {0: 1.0 / counts[0], 1: 1.0 / counts[1]}

    results = {
        "unweighted": train(train_data, val_data),
        "class_weight": train(train_data, val_data, class_weight),
    }
    frauds = int(labels[split:].sum())
    for name, logs in results.items():
        print(
            f"{name:>12}: caught {int(logs['tp'])} of {frauds} frauds with "
            f"{int(logs['fp'])} false alarms; validation precision {logs['precision']:.3f} "
            f"recall {logs['recall']:.3f} auc {logs['auc']:.3f}"
        )
    return results


if __name__ == "__main__":
    main()
