"""`ge.preprocessing.sequence`, as `keras.preprocessing.sequence`: `pad_sequences`."""

from graphengine.training.dataset_arrays import pad_sequences

__all__ = ["pad_sequences"]
