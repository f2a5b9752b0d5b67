"""Compiling the kernels ahead of time: `python -m graphengine warmup [--layers lstm,conv,...]`
runs one training step and one prediction of a tiny model per layer family, so that Numba's disk
cache holds their kernels before a user's first step (for images, CI and servers).

A kernel compiles once per argument types (dtype and number of dimensions, never the sizes) and
per fused activation, so the tiny models below compile what models of any size with the same
layers, dtype, activations, optimizer and loss run. The families cover Keras's defaults (Adam,
sparse categorical cross-entropy from logits, relu / sigmoid / tanh / linear activations).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

import graphengine as ge
from graphengine.config import get_compile_notice, set_compile_notice

L = ge.layers


def _dense():
    x = ge.Input((6,))
    h = x
    for act in ("relu", "sigmoid", "tanh", None):
        h = L.Dense(8, activation=act)(h)
    return ge.Model(x, L.Dense(3)(h))


def _conv():
    return ge.Sequential([
        ge.Input((8, 8, 2)), L.Conv2D(4, 3, activation="relu", padding="same"),
        L.MaxPooling2D(2), L.Conv2D(4, 3), L.AveragePooling2D(2),
        L.GlobalAveragePooling2D(), L.Dense(3),
    ])  # fmt: skip


def _conv1d():
    return ge.Sequential([
        ge.Input((8, 2)), L.Conv1D(4, 3, activation="relu"), L.MaxPooling1D(2), L.Flatten(),
        L.Dense(3),
    ])  # fmt: skip


def _recurrent(cell):
    def build():
        return ge.Sequential([
            ge.Input((5, 4)), cell(8, return_sequences=True), cell(8), L.Dense(3),
        ])  # fmt: skip

    return build


def _normalization():
    return ge.Sequential([
        ge.Input((6,)), L.Dense(8), L.BatchNormalization(), L.LayerNormalization(),
        L.Dropout(0.5), L.Dense(3),
    ])  # fmt: skip


def _embedding():
    return ge.Sequential([
        ge.Input((5,), dtype="int64"), L.Embedding(10, 4), L.GlobalAveragePooling1D(), L.Dense(3),
    ])  # fmt: skip


# family -> (model builder, input shape of a batch; int inputs for embedding)
FAMILIES: dict[str, tuple[Callable, tuple[int, ...]]] = {
    "dense": (_dense, (4, 6)),
    "conv": (_conv, (4, 8, 8, 2)),
    "conv1d": (_conv1d, (4, 8, 2)),
    "lstm": (_recurrent(L.LSTM), (4, 5, 4)),
    "gru": (_recurrent(L.GRU), (4, 5, 4)),
    "simple_rnn": (_recurrent(L.SimpleRNN), (4, 5, 4)),
    "normalization": (_normalization, (4, 6)),
    "embedding": (_embedding, (4, 5)),
}


def warmup(families=None, verbose: bool = True) -> dict[str, float]:
    """Compiles (or loads from the disk cache) the kernels of each family named (all of FAMILIES
    by default): one train_on_batch and one predict of its tiny model, float32. Returns the
    seconds each family took."""
    names = list(FAMILIES) if families is None else list(families)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ValueError(
            f"warmup: unknown layer families {unknown}; choose from {', '.join(FAMILIES)}"
        )
    rng = np.random.default_rng(0)
    seconds = {}
    notice = get_compile_notice()
    set_compile_notice(False)  # this command says what it compiles itself
    try:
        for name in names:
            build, shape = FAMILIES[name]
            t0 = time.perf_counter()
            model = build()
            model.compile("adam", ge.losses.SparseCategoricalCrossentropy(from_logits=True))
            x = rng.integers(0, 10, shape) if name == "embedding" else rng.random(shape, "float32")
            y = rng.integers(0, 3, shape[0])
            model.train_on_batch(x, y)
            model.predict(x, verbose=0)
            seconds[name] = time.perf_counter() - t0
            if verbose:
                print(f"{name:14s} {seconds[name]:6.2f} s", flush=True)
    finally:
        set_compile_notice(notice)
    return seconds
