"""deepdive.training: one training loop for Keras-style models and PyTorch-style modules.

    Model, Sequential          compile / fit / evaluate / predict / summary (model.py)
    fit, evaluate, predict     the same loop for any nn.Module + loss + optimizer + DataLoaders (engine.py)
    Trainer                    the loop itself
    callbacks                  History, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, LearningRateScheduler,
                               CSVLogger, TerminateOnNaN, LambdaCallback
    metrics, losses            Keras's names and semantics
    monitor                    the overfitting monitor (history.overfitting)
"""
from . import callbacks, losses, metrics, monitor
from .callbacks import (Callback, CallbackList, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau,
                        LearningRateScheduler, CSVLogger, TerminateOnNaN, LambdaCallback)
from .history import History
from .monitor import OverfittingMonitor, detect_overfitting
from .progress import ProgressBar
from .engine import Trainer, ArrayBatches, fit, evaluate, predict
from .model import Model, Sequential
from .metrics import TopKAccuracy
from .callbacks import TensorBoard  # noqa: F401  (needs the tensorboard extra when used)

__all__ = ["Model", "Sequential", "Trainer", "ArrayBatches", "fit", "evaluate", "predict", "Callback",
           "CallbackList", "History", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau",
           "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "LambdaCallback", "OverfittingMonitor",
           "detect_overfitting", "ProgressBar", "TopKAccuracy", "callbacks", "losses", "metrics", "monitor"]
