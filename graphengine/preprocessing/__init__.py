"""`ge.preprocessing`: what Keras 3 keeps in `keras.preprocessing`, the datasets made from
directories of images and from timeseries arrays, and `sequence.pad_sequences`."""

from graphengine.preprocessing import sequence
from graphengine.training.dataset_images import image_dataset_from_directory
from graphengine.training.dataset_timeseries import timeseries_dataset_from_array

__all__ = ["image_dataset_from_directory", "sequence", "timeseries_dataset_from_array"]
