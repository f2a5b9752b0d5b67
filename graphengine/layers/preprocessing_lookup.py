"""IntegerLookup and StringLookup (Keras 3's IndexLookup): a vocabulary learned by `adapt` or
given, tokens to indices (or back, `invert`), encoded as one_hot / multi_hot / count / tf_idf.
They run on the host (a HostLookup op): vocabularies are Python dicts; the encoding runs the
CategoryEncode kernel there. The vocabulary saves with the model in the layer's build config."""

from __future__ import annotations

import collections
import hashlib
import os
from typing import Any, Iterable

import numpy as np

from graphengine import common
from graphengine.graph.tensor import STRING, SymbolicTensor
from graphengine.layers.base import Layer
from graphengine.layers.preprocessing import adapt_batches, check_choice, encode_categorical
from graphengine.ops.base import apply
from graphengine.ops.lookup import HostLookup

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_OOV = -2  # a token missing from the table, before OOV indices are given out
_MASKED = -1  # a mask token outside "int" mode: skipped by the encoding


class HostLayer(Layer):
    """A layer whose NumPy code runs on the host: eager calls take strings as well as numbers
    (the layer checks its own input kinds); a symbolic call is one HostLookup node."""

    def _eager_arrays(self, flat: list) -> list:
        return [np.asarray(x) for x in flat]

    def _host_call(self, inputs: Any, fn: Any, shape_fn: Any, dtype: str) -> Any:
        if isinstance(inputs, SymbolicTensor):
            return apply(HostLookup(fn, shape_fn, dtype, self.name), inputs)
        return fn(np.asarray(inputs))


class IndexLookup(HostLayer):
    """The shared lookup of IntegerLookup and StringLookup (Keras's IndexLookup)."""

    string_keys = False

    def __init__(
        self,
        max_tokens: int | None = None,
        num_oov_indices: int = 1,
        mask_token: Any = None,
        oov_token: Any = None,
        vocabulary: Any = None,
        idf_weights: Any = None,
        invert: bool = False,
        output_mode: str = "int",
        sparse: bool = False,
        pad_to_max_tokens: bool = False,
        vocabulary_size: int | None = None,
        has_input_vocabulary: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = self._owner = f"{type(self).__name__} '{self.name}'"
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        check_choice(owner, "output_mode", output_mode, OUTPUT_MODES)
        if max_tokens is not None and common.check_int(max_tokens, "max_tokens", owner) <= 1:
            raise ValueError(f"{owner}: max_tokens must be greater than 1, received {max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{owner}: pad_to_max_tokens=True needs max_tokens")
        self.num_oov_indices = common.check_int(num_oov_indices, "num_oov_indices", owner)
        if invert and output_mode != "int":
            raise ValueError(f"{owner}: invert=True needs output_mode='int', got {output_mode!r}")
        if sparse:
            raise ValueError(f"{owner}: sparse=True is not supported (dense outputs only)")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{owner}: idf_weights are used only with output_mode='tf_idf'")
        has_input = vocabulary is not None if has_input_vocabulary is None else has_input_vocabulary
        if output_mode == "tf_idf" and has_input and idf_weights is None:
            raise ValueError(f"{owner}: a given vocabulary in tf_idf mode needs idf_weights")
        self.max_tokens, self.mask_token, self.oov_token = max_tokens, mask_token, oov_token
        self.invert, self.output_mode, self.sparse = bool(invert), output_mode, False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self._frozen_vocab_size = vocabulary_size
        self._has_input_vocabulary = bool(has_input)
        self.input_vocabulary = None if isinstance(vocabulary, str) else vocabulary
        self.input_idf_weights = idf_weights
        self._tokens: list = []
        self._table: dict = {}
        self._idf: np.ndarray | None = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # -- the vocabulary ------------------------------------------------------------------------
    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The number of indices: special tokens and learned tokens."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The token of each index: the mask token (in "int" mode), the OOV tokens, the rest."""
        vocab = [self.oov_token] * self._token_start_index() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        return vocab if include_special_tokens else vocab[self._token_start_index() :]

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Sets the tokens (a list, an array or a file with one per line), with their IDF
        weights in tf_idf mode; leading special tokens, if exactly as get_vocabulary lists
        them, are recognized and left out."""
        owner = self._owner
        if (self.output_mode == "tf_idf") != (idf_weights is not None):
            raise ValueError(f"{owner}: idf_weights must be given exactly in tf_idf mode")
        if isinstance(vocabulary, str):
            vocabulary = self._read_file(vocabulary)
        vocabulary = [self._token(v) for v in np.asarray(vocabulary, dtype=object).reshape(-1)]
        if not vocabulary:
            raise ValueError(f"{owner}: cannot set an empty vocabulary")
        start = self._token_start_index()
        specials = [self.mask_token] * self._oov_start_index() + [
            self.oov_token
        ] * self.num_oov_indices
        found = vocabulary[:start] == specials
        tokens = vocabulary[start:] if found else vocabulary
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if repeated:
            raise ValueError(f"{owner}: the vocabulary repeats the tokens {repeated}")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError(
                f"{owner}: the mask token {self.mask_token!r} may only stand first in the "
                f"vocabulary, before the OOV tokens ({specials})"
            )
        if self.invert and self.oov_token in tokens:
            raise ValueError(
                f"{owner}: the OOV token {self.oov_token!r} may only stand among the special "
                f"tokens at the start of the vocabulary ({specials})"
            )
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ValueError(
                f"{owner}: the vocabulary has {start + len(tokens)} entries, more than "
                f"max_tokens={self.max_tokens}"
            )
        idf = None if idf_weights is None else self._given_idf(idf_weights, vocabulary, found)
        self._set_tokens(tokens, idf)

    def _given_idf(self, idf_weights: Any, vocabulary: list, found: bool) -> np.ndarray:
        idf = np.asarray(idf_weights, dtype=np.float32)
        if idf.ndim != 1 or len(idf) != len(vocabulary):
            raise ValueError(
                f"{self._owner}: idf_weights must be 1-D, one per vocabulary entry "
                f"({len(vocabulary)}), received shape {idf.shape}"
            )
        front = 0 if found else self._token_start_index()
        return np.concatenate([np.full(front, np.mean(idf) if front else 0, np.float32), idf])

    def _set_tokens(self, tokens: list, idf: np.ndarray | None) -> None:
        """Installs tokens (and full-length IDF weights); the size is frozen once recorded in a
        mode whose output width is the vocabulary size, as Keras."""
        size = self._token_start_index() + len(tokens)
        frozen = self._frozen_vocab_size
        if self._width_is_vocabulary() and frozen is not None and size != frozen:
            raise RuntimeError(
                f"{self._owner}: with output_mode={self.output_mode!r} and "
                f"pad_to_max_tokens=False the vocabulary size cannot change after it was set "
                f"(was {frozen}, now {size})"
            )
        if idf is not None and self.pad_to_max_tokens:
            idf = np.concatenate([idf, np.zeros(self.max_tokens - len(idf), np.float32)])
        start = self._token_start_index()
        self._tokens = tokens
        self._table = {t: start + i for i, t in enumerate(tokens)}
        self._idf = idf
        self._frozen_vocab_size = size

    def _width_is_vocabulary(self) -> bool:
        return self.output_mode != "int" and not self.pad_to_max_tokens

    def _read_file(self, path: str) -> list:
        if self.output_mode == "tf_idf":
            raise ValueError(f"{self._owner}: tf_idf cannot read its vocabulary from a file")
        if not os.path.isfile(path):
            raise ValueError(f"{self._owner}: vocabulary file {path!r} does not exist")
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        return lines if self.string_keys else [int(v) for v in lines]

    # -- adapt ---------------------------------------------------------------------------------
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learns the vocabulary: tokens by descending frequency, ties by descending token
        (Keras's order), at most max_tokens entries in all; document frequencies for tf_idf
        (a document is one row of a batch; the elements of a 1-D array are one each)."""
        if self._has_input_vocabulary:
            raise ValueError(
                f"Cannot adapt layer '{self.name}' after setting a static vocabulary via the "
                "`vocabulary` argument"
            )
        counts: collections.Counter = collections.Counter()
        docs: collections.Counter = collections.Counter()
        n_docs = 0
        whole = isinstance(data, (np.ndarray, list, tuple))
        for batch in adapt_batches(data, batch_size, steps, self._owner, lists_are_batches=False):
            rows = _documents(self._keys(batch, "adapt() data"), whole)
            counts.update(rows.reshape(-1).tolist())
            if self.output_mode == "tf_idf":
                docs.update(t for row in rows.tolist() for t in set(row))
                n_docs += len(rows)
        self._finalize(counts, docs, n_docs)

    def _finalize(self, counts: collections.Counter, docs: collections.Counter, n: int) -> None:
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        if not counts:
            return
        ordered = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        if self.max_tokens:
            ordered = ordered[: self.max_tokens - self._token_start_index()]
        tokens = [t for t, _ in ordered]
        idf = None
        if self.output_mode == "tf_idf":
            frequency = np.array([docs[t] for t in tokens], dtype=np.float64)
            weights = np.log(1 + n / (1 + frequency)).astype(np.float32)
            front = np.full(self._token_start_index(), np.mean(weights), np.float32)
            idf = np.concatenate([front, weights])
        self._set_tokens(tokens, idf)

    # -- the lookup ----------------------------------------------------------------------------
    def _token(self, value: Any) -> Any:
        """One vocabulary entry as the key type."""
        return value

    def _keys(self, x: Any, what: str) -> np.ndarray:
        """x as an object array of keys (str or int), or TypeError naming the layer."""
        raise NotImplementedError

    def _oov_indices(self, keys: list) -> np.ndarray:
        raise NotImplementedError

    def _lookup(self, x: np.ndarray) -> np.ndarray:
        """Token indices of x (int64, x's shape); masked tokens _MASKED outside "int" mode."""
        keys = self._keys(x, "input")
        flat = keys.reshape(-1).tolist()
        get = self._table.get
        ids = np.array([get(k, _OOV) for k in flat], dtype=np.int64)
        oov = ids == _OOV
        if self.mask_token is not None:
            masked = np.array([k == self.mask_token for k in flat], dtype=bool)
            ids[masked] = 0 if self.output_mode == "int" else _MASKED
            oov &= ~masked
        if oov.any():
            if self.num_oov_indices == 0:
                found = [k for k, o in zip(flat, oov) if o][:5]
                raise ValueError(
                    f"{self._owner}: with num_oov_indices=0 every input must be in the "
                    f"vocabulary, found out-of-vocabulary values {found}; consider "
                    "num_oov_indices=1"
                )
            where = np.flatnonzero(oov)
            ids[where] = self._oov_start_index() + self._oov_indices([flat[i] for i in where])
        return ids.reshape(keys.shape)

    def _invert(self, x: np.ndarray) -> np.ndarray:
        if np.asarray(x).dtype.kind not in "iu":
            raise TypeError(f"{self._owner}: invert=True takes integer ids, got {x.dtype}")
        vocab = self.get_vocabulary()
        flat = [vocab[i] if 0 <= i < len(vocab) else self.oov_token for i in x.ravel().tolist()]
        return np.array(flat, dtype=object).reshape(x.shape)

    def _depth(self) -> int:
        if self.pad_to_max_tokens:
            return int(self.max_tokens)
        if self._frozen_vocab_size is None:
            raise RuntimeError(
                f"{self._owner}: with output_mode={self.output_mode!r} and "
                "pad_to_max_tokens=False, set the vocabulary (the `vocabulary` argument or "
                "adapt) before calling the layer"
            )
        return int(self._frozen_vocab_size)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """The whole layer on host arrays."""
        if self.invert:
            return self._invert(x)
        return self._encode(self._lookup(x))

    def _encode(self, ids: np.ndarray) -> np.ndarray:
        if self.output_mode == "int":
            return ids
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        out = encode_categorical(ids, self._depth(), mode, self.dtype, self.name, strict=False)
        return out * self._idf.astype(self.dtype) if self.output_mode == "tf_idf" else out

    def _output_shape(self, shape: tuple) -> tuple:
        if self.output_mode == "int":
            return shape
        depth = self._depth()
        if self.output_mode == "one_hot":
            return (shape[:-1] if len(shape) > 1 and shape[-1] == 1 else shape) + (depth,)
        return (shape[:-1] if shape else ()) + (depth,)

    def call(self, inputs: Any) -> Any:
        if isinstance(inputs, SymbolicTensor):
            self._check_symbolic(inputs)
        dtype = STRING if self.invert else "int64" if self.output_mode == "int" else self.dtype
        return self._host_call(inputs, self._forward, self._output_shape, dtype)

    def _check_symbolic(self, x: SymbolicTensor) -> None:
        want_strings = self.string_keys and not self.invert
        ok = x.dtype == STRING if want_strings else np.dtype(x.dtype).kind in "iu"
        if not ok:
            raise TypeError(
                f"{self._owner} takes {'string' if want_strings else 'integer'} inputs, "
                f"received dtype {x.dtype}"
            )
        if self.output_mode != "int":
            self._depth()  # the width must be known now

    # -- config --------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        idf = self.input_idf_weights
        return {
            **super().get_config(),
            "invert": self.invert,
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token,
            "mask_token": self.mask_token,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "idf_weights": None if idf is None else np.asarray(idf).tolist(),
            "vocabulary": _listify(self.input_vocabulary),
            "vocabulary_size": self._frozen_vocab_size,
        }

    def get_build_config(self) -> dict[str, Any] | None:
        """A learned vocabulary (and IDF weights): what Keras keeps in its assets."""
        if self.input_vocabulary is not None or not self._tokens:
            return None
        vocab = self.get_vocabulary()
        idf = None if self._idf is None else self._idf[: len(vocab)].tolist()
        return {"vocabulary": vocab, "idf_weights": idf}

    def build_from_config(self, config: dict[str, Any]) -> None:
        if config and config.get("vocabulary") is not None:
            self.set_vocabulary(config["vocabulary"], config.get("idf_weights"))


def _documents(keys: np.ndarray, whole: bool) -> np.ndarray:
    """Keras's documents of an adapt batch: the rows of a 2-D batch; the elements of a whole
    1-D array each, a 1-D batch of an iterable one document; a scalar one document."""
    if keys.ndim == 0:
        return keys.reshape(1, 1)
    if keys.ndim == 1:
        return keys.reshape(-1, 1) if whole else keys.reshape(1, -1)
    return keys.reshape(len(keys), -1)


def _listify(value: Any) -> Any:
    return np.asarray(value).tolist() if isinstance(value, np.ndarray) else value


def stable_hash(token: str, buckets: int) -> int:
    """The OOV bucket of a string: the first 8 bytes of its BLAKE2b digest (little endian)
    modulo `buckets`. Keras uses FarmHash's Fingerprint64 here, so with num_oov_indices > 1
    the buckets of strings differ from Keras's (one OOV index, the default, is exact)."""
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % buckets


class IntegerLookup(IndexLookup):
    """Integer tokens to indices (Keras 3): OOV tokens share num_oov_indices indices by
    floormod(token, num_oov_indices), as Keras."""

    def __init__(
        self,
        max_tokens: int | None = None,
        num_oov_indices: int = 1,
        mask_token: int | None = None,
        oov_token: int = -1,
        vocabulary: Any = None,
        vocabulary_dtype: str = "int64",
        idf_weights: Any = None,
        invert: bool = False,
        output_mode: str = "int",
        sparse: bool = False,
        pad_to_max_tokens: bool = False,
        oov_method: str = "floormod",
        salt: Any = None,
        **kwargs: Any,
    ) -> None:
        owner = f"IntegerLookup '{kwargs.get('name')}'"
        if vocabulary_dtype != "int64":
            raise ValueError(f"{owner}: only vocabulary_dtype='int64' is supported")
        if oov_method != "floormod" or salt is not None:
            raise ValueError(
                f"{owner}: only oov_method='floormod' (without salt) is supported, received "
                f"{oov_method=}, {salt=}"
            )
        self.vocabulary_dtype, self.oov_method, self.salt = "int64", "floormod", None
        super().__init__(
            max_tokens, num_oov_indices, _int_or_none(mask_token), _int_or_none(oov_token),
            vocabulary, idf_weights, invert, output_mode, sparse, pad_to_max_tokens, **kwargs,
        )  # fmt: skip

    def _token(self, value: Any) -> Any:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{self._owner}: vocabulary entries must be integers, got {value!r}")
        return int(value)

    def _keys(self, x: Any, what: str) -> np.ndarray:
        array = np.asarray(x)
        if array.dtype.kind not in "iu":
            raise TypeError(f"{self._owner}: {what} must be integers, received {array.dtype}")
        return array.astype(object)

    def _oov_indices(self, keys: list) -> np.ndarray:
        return np.mod(np.array(keys, dtype=np.int64), self.num_oov_indices)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(vocabulary_dtype="int64", oov_method="floormod", salt=None)
        if config["vocabulary"] is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


class StringLookup(IndexLookup):
    """String tokens to indices (Keras 3); bytes are decoded with `encoding`. With
    num_oov_indices > 1, OOV strings are bucketed by `stable_hash` (see there)."""

    string_keys = True

    def __init__(
        self,
        max_tokens: int | None = None,
        num_oov_indices: int = 1,
        mask_token: str | None = None,
        oov_token: str = "[UNK]",
        vocabulary: Any = None,
        idf_weights: Any = None,
        invert: bool = False,
        output_mode: str = "int",
        pad_to_max_tokens: bool = False,
        sparse: bool = False,
        encoding: str = "utf-8",
        **kwargs: Any,
    ) -> None:
        self.encoding = encoding
        super().__init__(
            max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights,
            invert, output_mode, sparse, pad_to_max_tokens, **kwargs,
        )  # fmt: skip

    def _token(self, value: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode(self.encoding)
        if not isinstance(value, str):
            raise TypeError(f"{self._owner}: vocabulary entries must be strings, got {value!r}")
        return value

    def _keys(self, x: Any, what: str) -> np.ndarray:
        array = np.asarray(x)
        if array.dtype.kind == "S":
            return np.char.decode(array, self.encoding).astype(object)
        if array.dtype.kind == "U":
            return array.astype(object)
        if array.dtype.kind == "O" and all(isinstance(v, (str, bytes)) for v in array.flat):
            return np.array([self._token(v) for v in array.flat], object).reshape(array.shape)
        raise TypeError(f"{self._owner}: {what} must be strings, received dtype {array.dtype}")

    def _oov_indices(self, keys: Iterable) -> np.ndarray:
        return np.array([stable_hash(k, self.num_oov_indices) for k in keys], dtype=np.int64)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "encoding": self.encoding}
