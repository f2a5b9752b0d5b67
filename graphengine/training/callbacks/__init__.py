"""Training callbacks with Keras 3 semantics: the `Callback` hooks, the `CallbackList` that the
fit, evaluate and predict loops drive, and History, ProgbarLogger, EarlyStopping,
ModelCheckpoint, LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN, CSVLogger,
LambdaCallback, BackupAndRestore and TensorBoard (docs/callbacks.md)."""

from graphengine.training.callbacks.backup import BackupAndRestore
from graphengine.training.callbacks.base import Callback, History
from graphengine.training.callbacks.callback_list import CallbackList
from graphengine.training.callbacks.lambda_callback import LambdaCallback
from graphengine.training.callbacks.monitor import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from graphengine.training.callbacks.progbar import ProgbarLogger
from graphengine.training.callbacks.scheduling import (
    CSVLogger,
    LearningRateScheduler,
    TerminateOnNaN,
)
from graphengine.training.callbacks.tensorboard import TensorBoard

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]
