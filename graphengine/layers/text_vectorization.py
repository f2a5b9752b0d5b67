"""TextVectorization (Keras 3): strings standardized, split into tokens and n-grams, then looked
up in a StringLookup (mask "" and "[UNK]" first), on the host. Standardizing follows TensorFlow's
ops: lowercasing touches ASCII letters only, punctuation is Keras's regex, whitespace splitting
cuts at runs of ASCII whitespace."""

from __future__ import annotations

import collections
import re
import string
from typing import Any, Callable

import numpy as np

from graphengine import common
from graphengine.graph.tensor import STRING, SymbolicTensor
from graphengine.layers.preprocessing import adapt_batches, check_choice
from graphengine.layers.preprocessing_lookup import OUTPUT_MODES, HostLayer, StringLookup

PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')  # Keras's, as written
WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = ("whitespace", "character")


def standardize_text(text: str, mode: str | None) -> str:
    if mode in ("lower", "lower_and_strip_punctuation"):
        text = text.translate(_ASCII_LOWER)
    if mode in ("strip_punctuation", "lower_and_strip_punctuation"):
        text = PUNCTUATION.sub("", text)
    return text


def split_text(text: str, mode: str | Callable | None) -> list[str]:
    if mode is None:
        return [text]
    if mode == "whitespace":
        return [t for t in WHITESPACE.split(text) if t]
    if mode == "character":
        return list(text)
    return [str(t) for t in mode(text)]


def ngrams(tokens: list[str], widths: tuple[int, ...] | None) -> list[str]:
    """Every n-gram of each width in turn (words joined by a space), as tf.strings.ngrams."""
    if widths is None:
        return tokens
    return [" ".join(tokens[i : i + w]) for w in widths for i in range(len(tokens) - w + 1)]


class TextVectorization(HostLayer):
    """A preprocessing layer which maps text features to integer sequences.

    This layer has basic options for managing text in a model. It transforms a batch of strings
    (one example = one string; shape `(batch,)` or `(batch, 1)`) into either a list of token
    indices (one example = 1D tensor of integer token indices) or a dense representation (one
    example = 1D tensor of float values representing data about the example's tokens). Each
    string is processed as: standardize (lowercase and strip punctuation by default), split into
    tokens (whitespace by default), recombine into ngrams (optional), index (associate a unique
    int value with each token) and transform each example using this index (to a vector of ints
    or a dense float vector).

    The vocabulary is learned by `adapt(data)` (tokens ordered by descending count, ties by
    descending token, as Keras) or given as `vocabulary`; it is saved in the model's file. The
    layer runs on the host (Python dicts), also on CUDA.

    Example:

    >>> layer = ge.layers.TextVectorization(max_tokens=10, output_sequence_length=4)
    >>> layer.adapt(["the cat sat", "the dog ran", "the cat ran"])
    >>> layer.get_vocabulary()
    ['', '[UNK]', 'the', 'ran', 'cat', 'sat', 'dog']
    >>> layer(np.array(["the cat ran far"]))
    array([[2, 4, 3, 1]])

    Args:
        max_tokens: Maximum size of the vocabulary for this layer (special tokens included);
            None means no cap.
        standardize: `"lower_and_strip_punctuation"` (default), `"lower"`,
            `"strip_punctuation"`, None, or a callable taking the batch as an object array of
            str. Lowercasing touches ASCII letters only, as TensorFlow's.
        split: `"whitespace"` (default, ASCII whitespace), `"character"`, None (each string is
            one token), or a callable taking one string and returning its tokens.
        ngrams: None, an integer or a tuple of integers: the ngrams to create.
        output_mode: `"int"` (token indices, padded with 0), `"multi_hot"`, `"count"`,
            `"tf_idf"` (one row of vocabulary size per string), or `"one_hot"` (with
            `split=None`).
        output_sequence_length: Only for `"int"`: pad or truncate each sequence to this length.
            Inside a model it is required (plans fix shapes); eager calls pad to the longest row
            without it, as Keras.
        pad_to_max_tokens: Only for the dense modes: output `max_tokens` columns even when the
            vocabulary is smaller.
        vocabulary: Optional list of strings (or a file with one per line) to use instead of
            `adapt`.
        idf_weights: Only with `output_mode="tf_idf"` and a given `vocabulary`: its IDF weights.
        sparse: Must be False (sparse outputs are not supported).
        ragged: Must be False (ragged outputs are not supported).
        encoding: The text encoding of byte strings (default `"utf-8"`).
        vocabulary_size: Set from a saved config; leave it None.
        has_input_vocabulary: Set from a saved config; leave it None.
        **kwargs: Standard layer keyword arguments.

    Input shape:
        `(batch_size,)` or `(batch_size, 1)` strings: `ge.Input(shape=(), dtype="string")`.

    Output shape:
        `(batch_size, output_sequence_length)` int64 ids for `"int"`, else `(batch_size,
        vocabulary size)` floats.
    """

    def __init__(
        self,
        max_tokens: int | None = None,
        standardize: str | Callable | None = "lower_and_strip_punctuation",
        split: str | Callable | None = "whitespace",
        ngrams: int | tuple[int, ...] | None = None,
        output_mode: str = "int",
        output_sequence_length: int | None = None,
        pad_to_max_tokens: bool = False,
        vocabulary: Any = None,
        idf_weights: Any = None,
        sparse: bool = False,
        ragged: bool = False,
        encoding: str = "utf-8",
        vocabulary_size: int | None = None,
        has_input_vocabulary: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = self._owner = f"TextVectorization '{self.name}'"
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        check_choice(owner, "output_mode", output_mode, OUTPUT_MODES)
        self.standardize = _text_function(owner, "standardize", standardize, STANDARDIZE)
        self.split = _text_function(owner, "split", split, SPLIT)
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (
            ngrams is None
            or (isinstance(ngrams, int) and not isinstance(ngrams, bool) and ngrams >= 1)
            or (isinstance(ngrams, tuple) and all(isinstance(w, int) and w >= 1 for w in ngrams))
        ):
            raise ValueError(f"{owner}: ngrams must be None, an integer or a tuple of integers")
        self.ngrams = ngrams
        self._widths = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        if output_sequence_length is not None:
            if output_mode != "int":
                raise ValueError(f"{owner}: output_sequence_length needs output_mode='int'")
            common.check_int(output_sequence_length, "output_sequence_length", owner, minimum=1)
        if output_mode == "one_hot" and split is not None:
            raise ValueError(f"{owner}: output_mode='one_hot' needs split=None (one token each)")
        if ragged or sparse:
            raise ValueError(f"{owner}: ragged=True and sparse=True are not supported")
        self.output_mode, self.output_sequence_length = output_mode, output_sequence_length
        self.ragged, self.sparse, self.encoding = False, False, encoding
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens,
            vocabulary=vocabulary,
            idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens,
            mask_token="",
            output_mode=output_mode,
            encoding=encoding,
            vocabulary_size=vocabulary_size,
            has_input_vocabulary=has_input_vocabulary,
            name=f"{self.name}_lookup",
            dtype=self.dtype,
        )

    # -- the vocabulary (the StringLookup's) ---------------------------------------------------
    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary, in index order (with the padding and OOV tokens first unless
        `include_special_tokens=False`)."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        """The number of tokens in the vocabulary, special tokens included."""
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Sets the vocabulary (a list of strings, or a file with one per line) and, for
        `output_mode="tf_idf"`, its IDF weights."""
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights)

    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learns the vocabulary from strings (every string is one document for tf_idf)."""
        lookup = self._lookup_layer
        if lookup._has_input_vocabulary:
            raise ValueError(
                f"Cannot adapt layer '{self.name}' after setting a static vocabulary via the "
                "`vocabulary` argument"
            )
        counts: collections.Counter = collections.Counter()
        docs: collections.Counter = collections.Counter()
        n_docs = 0
        for batch in adapt_batches(data, batch_size, steps, self._owner, lists_are_batches=False):
            for tokens in self._tokens(batch, "adapt() data"):
                counts.update(tokens)
                docs.update(set(tokens))
                n_docs += 1
        lookup._finalize(counts, docs, n_docs)

    # -- the call ------------------------------------------------------------------------------
    def _strings(self, x: Any, what: str) -> list[str]:
        """The batch's strings, from an array of shape (N,), (N, 1) or ()."""
        keys = self._lookup_layer._keys(x, what)
        if keys.ndim > 1 and (keys.ndim > 2 or keys.shape[-1] != 1):
            raise ValueError(
                f"{self._owner}: {what} must have shape (batch,) or (batch, 1), received "
                f"shape {keys.shape}"
            )
        return keys.reshape(-1).tolist()

    def _tokens(self, x: Any, what: str) -> list[list[str]]:
        texts = self._strings(x, what)
        if callable(self.standardize):
            texts = [str(t) for t in np.asarray(self.standardize(np.array(texts, object))).flat]
        else:
            texts = [standardize_text(t, self.standardize) for t in texts]
        return [ngrams(split_text(t, self.split), self._widths) for t in texts]

    def _forward(self, x: np.ndarray) -> np.ndarray:
        rows = self._tokens(x, "input")
        width = self.output_sequence_length
        if width is None:
            width = max((len(r) for r in rows), default=0)
        padded = np.full((len(rows), width), "", dtype=object)  # "" is the mask: id 0
        for i, r in enumerate(rows):
            padded[i, : min(len(r), width)] = r[:width]
        return self._lookup_layer._forward(padded)

    def _output_shape(self, shape: tuple) -> tuple:
        if self.output_mode == "int":
            return (shape[0] if shape else 1, self.output_sequence_length)
        return (shape[0] if shape else 1, self._lookup_layer._depth())

    def call(self, inputs: Any) -> Any:
        if isinstance(inputs, SymbolicTensor):
            if inputs.dtype != STRING:
                raise TypeError(f"{self._owner} takes string inputs, received {inputs.dtype}")
            if self.output_mode == "int" and self.output_sequence_length is None:
                raise ValueError(
                    f"{self._owner}: inside a model, output_mode='int' needs "
                    "output_sequence_length (graphengine plans fixed shapes)"
                )
            if self.output_mode != "int":
                self._lookup_layer._depth()
        dtype = "int64" if self.output_mode == "int" else self.dtype
        return self._host_call(inputs, self._forward, self._output_shape, dtype)

    # -- config --------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        lookup = self._lookup_layer
        config = lookup.get_config()
        return {
            **super().get_config(),
            "max_tokens": lookup.max_tokens,
            "standardize": _function_name(self._owner, self.standardize),
            "split": _function_name(self._owner, self.split),
            "ngrams": list(self.ngrams) if isinstance(self.ngrams, tuple) else self.ngrams,
            "output_mode": self.output_mode,
            "output_sequence_length": self.output_sequence_length,
            "pad_to_max_tokens": lookup.pad_to_max_tokens,
            "sparse": False,
            "ragged": False,
            "vocabulary": config["vocabulary"],
            "idf_weights": config["idf_weights"],
            "encoding": self.encoding,
            "vocabulary_size": lookup._frozen_vocab_size,
        }

    def get_build_config(self) -> dict[str, Any] | None:
        return self._lookup_layer.get_build_config()

    def build_from_config(self, config: dict[str, Any]) -> None:
        self._lookup_layer.build_from_config(config)


def _text_function(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> Any:
    """A named mode, None, a callable, or the registered name of a callable (from a config)."""
    if value is None or callable(value):
        return value
    if isinstance(value, str) and value not in choices:
        try:
            return common.registered(value)
        except ValueError:
            pass
    check_choice(owner, name, value, choices)
    return value


def _function_name(owner: str, value: Any) -> Any:
    if not callable(value):
        return value
    name = common.registered_name(value)
    if name is None:
        raise ValueError(
            f"{owner}: a custom standardize or split function must be registered "
            "(@ge.saving.register_keras_serializable()) to be saved"
        )
    return name
