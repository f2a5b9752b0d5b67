"""A small transformer text classifier: raw strings in, sentiment out, in one model.

TextVectorization (adapted on the training text) turns each review into token ids inside the
model; token and position embeddings, one transformer encoder block (MultiHeadAttention with a
residual and LayerNormalization, then a feed-forward pair of Dense layers, again with a residual
and LayerNormalization), average pooling and a sigmoid unit follow.

The text is bundled here, no download: short movie-review sentences built from the word lists
below, where word order decides the label. "not" flips the clause it stands in ("not good" is
negative), and in "X but Y" the clause after "but" wins. A bag-of-words model (the same
vectorizer in multi_hot mode, then a hidden Dense layer) cannot tell "good but dull" from "dull
but good"; it is trained beside the transformer to show what attention over positions adds.

Run: python examples/transformer_text_classifier.py
It prints a few reviews, both models' test accuracy, and the transformer's predictions on new
sentences.
"""

import numpy as np

import graphengine as ge

L = ge.layers
SUBJECTS = ["the film", "this movie", "the acting", "the plot", "the soundtrack", "the ending",
            "the cast", "the script", "the dialogue", "the pacing", "the story"]  # fmt: skip
GOOD = ["good", "great", "wonderful", "excellent", "delightful", "brilliant", "charming", "superb",
        "enjoyable", "moving", "clever", "beautiful"]  # fmt: skip
BAD = ["bad", "awful", "terrible", "boring", "dull", "poor", "weak", "clumsy", "tedious", "bland",
       "messy", "forgettable"]  # fmt: skip
ADVERBS = ["", "", "really ", "truly ", "quite ", "very "]
LENGTH = 16  # tokens per review after vectorizing (the longest review has 14)


def clause(rng: np.random.Generator) -> tuple[str, int]:
    """One clause and its polarity (1 positive, 0 negative)."""
    positive = rng.random() < 0.5
    word = rng.choice(GOOD if positive else BAD)
    negated = rng.random() < 0.35
    subject, adverb = rng.choice(SUBJECTS), rng.choice(ADVERBS)
    text = f"{subject} was {'not ' if negated else ''}{adverb}{word}"
    return text, int(positive != negated)


def review(rng: np.random.Generator) -> tuple[str, int]:
    """A review of one or two clauses: "and" joins clauses that agree, "but" ones that do not
    (the second decides)."""
    first, label = clause(rng)
    if rng.random() < 0.3:
        return first.capitalize() + ".", label
    second, second_label = clause(rng)
    if second_label == label:  # clauses that agree are joined by "and"
        return f"{first} and {second}".capitalize() + "!", label
    return f"{first}, but {second}".capitalize() + "!", second_label


def corpus(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, labels = zip(*(review(rng) for _ in range(n)))
    return np.array(texts), np.array(labels, dtype="float32")


class TokenAndPositionEmbedding(L.Layer):
    """Token embedding plus a learned embedding of each position."""

    def __init__(self, length: int, vocabulary: int, dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.length = length
        self.tokens = L.Embedding(vocabulary, dim)
        self.positions = L.Embedding(length, dim)

    def call(self, ids):
        return self.tokens(ids) + self.positions(ge.ops.arange(self.length))


def encoder_block(x, heads: int, dim: int, hidden: int):
    attended = L.MultiHeadAttention(num_heads=heads, key_dim=dim // heads)(x, x)
    x = L.LayerNormalization(epsilon=1e-6)(x + L.Dropout(0.1)(attended))
    ff = L.Dense(dim)(L.Dense(hidden, activation="relu")(x))
    return L.LayerNormalization(epsilon=1e-6)(x + L.Dropout(0.1)(ff))


def transformer(vectorizer: L.TextVectorization, dim: int = 32) -> ge.Model:
    text = ge.Input(shape=(), dtype="string", name="review")
    ids = vectorizer(text)
    x = TokenAndPositionEmbedding(LENGTH, vectorizer.vocabulary_size(), dim)(ids)
    x = encoder_block(x, heads=4, dim=dim, hidden=64)
    x = L.Dense(32, activation="relu")(L.GlobalAveragePooling1D()(x))
    return ge.Model(text, L.Dense(1, activation="sigmoid")(x), name="transformer")


def bag_of_words(vectorizer: L.TextVectorization) -> ge.Model:
    text = ge.Input(shape=(), dtype="string", name="review")
    h = L.Dense(64, activation="relu")(vectorizer(text))
    return ge.Model(text, L.Dense(1, activation="sigmoid")(h), name="bag_of_words")


def train(model: ge.Model, texts: np.ndarray, labels: np.ndarray, epochs: int) -> None:
    model.compile(
        optimizer=ge.optimizers.Adam(learning_rate=3e-3),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(texts, labels, batch_size=64, epochs=epochs, verbose=0)


def main() -> dict[str, float]:
    ge.utils.set_random_seed(0)
    x_train, y_train = corpus(2000, seed=1)
    x_test, y_test = corpus(600, seed=2)
    for text, label in zip(x_train[:4], y_train[:4]):
        print(f"  {'positive' if label else 'negative'}: {text}")

    sequences = L.TextVectorization(output_mode="int", output_sequence_length=LENGTH)
    sequences.adapt(x_train)
    bags = L.TextVectorization(output_mode="multi_hot")
    bags.adapt(x_train)
    vocabulary = sequences.get_vocabulary()
    print(f"vocabulary: {len(vocabulary)} tokens, e.g. {vocabulary[:8]}")

    results = {}
    for model, epochs in [(transformer(sequences), 10), (bag_of_words(bags), 10)]:
        train(model, x_train, y_train, epochs)
        results[model.name] = model.evaluate(x_test, y_test, verbose=0)[1]
        print(f"{model.name} test accuracy: {results[model.name]:.3f}")
        if model.name == "transformer":
            classifier = model

    fresh = np.array(["The plot was dull, but the acting was brilliant!",
                      "The acting was brilliant, but the plot was dull!",
                      "This movie was not very good."])  # fmt: skip
    for text, p in zip(fresh, classifier.predict(fresh, verbose=0)[:, 0]):
        print(f"  {p:.2f} positive: {text}")
    return results


if __name__ == "__main__":
    main()
