"""`ge.utils`: the utilities Keras keeps in `keras.utils` (seeding, the serialization registry,
model pictures). Library code uses graphengine.common, below every other package; this module
sits at the top, so it may also name what needs a model."""

from graphengine.common import (
    CustomObjectScope,
    clear_session,
    custom_object_scope,
    get_custom_objects,
    register_keras_serializable,
    register_serializable,
    set_random_seed,
)
from graphengine.viz.plot import model_to_dot, plot_model

__all__ = [
    "CustomObjectScope",
    "clear_session",
    "custom_object_scope",
    "get_custom_objects",
    "model_to_dot",
    "plot_model",
    "register_keras_serializable",
    "register_serializable",
    "set_random_seed",
]
