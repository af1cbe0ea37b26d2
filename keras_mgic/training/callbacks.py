"""The run's own callback: per-epoch timing and learning rate in the logs."""

import time

import keras

from keras_mgic.training.optimizer import current_learning_rate


class EpochLogger(keras.callbacks.Callback):
    """Adds ``train_seconds`` (the epoch's training part, without its test evaluation) and
    ``learning_rate`` (at the epoch's start) to every epoch's logs, and records the epoch the
    run started at (``initial_epoch``, what ``fit`` gets) and the epochs completed. Put it
    before the callbacks that write the logs (``RunCheckpoint``)."""

    def __init__(self, initial_epoch=0):
        super().__init__()
        self.initial_epoch = int(initial_epoch)
        self.epochs_completed = self.initial_epoch
        self._start = None
        self._train_seconds = None
        self._learning_rate = None

    def on_train_begin(self, logs=None):
        self.epochs_completed = self.initial_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._learning_rate = current_learning_rate(self.model.optimizer)
        self._start = time.perf_counter()
        self._train_seconds = None

    def on_test_begin(self, logs=None):
        if self._start is not None and self._train_seconds is None:
            self._train_seconds = time.perf_counter() - self._start

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if self._train_seconds is None:
            self._train_seconds = time.perf_counter() - self._start
        logs["train_seconds"] = self._train_seconds
        logs["learning_rate"] = self._learning_rate
        self.epochs_completed = epoch + 1
