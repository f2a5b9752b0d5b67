"""Training callbacks with Keras 3 semantics: the `Callback` hooks, the `CallbackList` that the
fit, evaluate and predict loops drive, and History, ProgbarLogger (tqdm), EarlyStopping,
ModelCheckpoint, LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN and CSVLogger."""

from graphengine.training.callbacks.base import Callback, History
from graphengine.training.callbacks.callback_list import CallbackList
from graphengine.training.callbacks.monitor import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from graphengine.training.callbacks.progbar import ProgbarLogger
from graphengine.training.callbacks.scheduling import (
    CSVLogger,
    LearningRateScheduler,
    TerminateOnNaN,
)

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
