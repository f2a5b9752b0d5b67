"""`ge.utils`: the utilities Keras keeps in `keras.utils` (seeding, the serialization registry,
model pictures, PyDataset and the data utilities). Library code uses graphengine.common, below
every other package; this module sits at the top, so it may also name what needs a model."""

from graphengine.common import (
    CustomObjectScope,
    clear_session,
    custom_object_scope,
    get_custom_objects,
    register_keras_serializable,
    register_serializable,
    set_random_seed,
)
from graphengine.training.dataset_arrays import normalize, pad_sequences, to_categorical
from graphengine.training.dataset_images import image_dataset_from_directory
from graphengine.training.dataset_timeseries import timeseries_dataset_from_array
from graphengine.training.dataset_utils import split_dataset
from graphengine.gradient_check import GradientCheckError, check_gradients
from graphengine.training.graph_data import (
    Graph,
    GraphBatches,
    disjoint_union,
    graph_from_networkx,
)
from graphengine.training.pydataset import PyDataset
from graphengine.viz.graph_plot import plot_graph
from graphengine.viz.gradients import gradient_norms
from graphengine.viz.plot import model_to_dot, plot_model

__all__ = [
    "CustomObjectScope",
    "GradientCheckError",
    "Graph",
    "GraphBatches",
    "PyDataset",
    "check_gradients",
    "clear_session",
    "custom_object_scope",
    "disjoint_union",
    "get_custom_objects",
    "gradient_norms",
    "graph_from_networkx",
    "image_dataset_from_directory",
    "model_to_dot",
    "normalize",
    "pad_sequences",
    "plot_graph",
    "plot_model",
    "register_keras_serializable",
    "register_serializable",
    "set_random_seed",
    "split_dataset",
    "timeseries_dataset_from_array",
    "to_categorical",
]
