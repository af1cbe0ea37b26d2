"""A run's checkpoints: one after every completed epoch, checked before a resume uses it.

Keras' ``BackupAndRestore`` writes its weights file in place (a kill mid-write leaves a file
that never loads again) and ``CSVLogger`` appends rows that a resumed run then repeats or
misses. :class:`RunCheckpoint` replaces both (and ``ModelCheckpoint`` and
``TerminateOnNaN``): after each epoch whose loss and weights are finite it writes the model
with its optimizer state (``epoch_NNNN.keras``: weights, optimizer variables, the step count
the learning-rate schedule reads), then the epoch's metadata with the log rows so far
(``epoch_NNNN.json``), then ``log.csv`` from those rows, each atomically
(``run_dir.RunDir.save_checkpoint``). :func:`restore` takes the newest checkpoint whose file
matches its checksum and loads, moving any other to ``DIR/set_aside/`` with a one-line message.

:class:`InterruptGuard` turns SIGINT and SIGTERM into a stop at the next batch (or after the
checkpoint being written): :class:`TrainingInterrupted` is raised with every completed epoch
saved; a second signal acts at once.
"""

import math
import signal
import threading
import warnings

import keras
import numpy as np

from keras_mgic.training import run_dir as run_dir_module

#: Exit statuses of an interrupted command (the shell's 128 + the signal's number).
EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


class LossNaNError(RuntimeError):
    """Training diverged (a NaN or infinite loss or weight); nothing was published."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the run; every completed epoch's checkpoint is saved."""

    def __init__(self, signum, epochs_done, epochs, in_progress):
        self.signum = signum
        self.epochs_done = epochs_done
        name = signal.Signals(signum).name
        super().__init__(
            f"Interrupted ({name}) after {epochs_done} of {epochs} epochs; the checkpoint is "
            f"in {in_progress}: run the same command again to resume."
            if epochs_done
            else f"Interrupted ({name}) before the first epoch was done; nothing was written."
        )

    @property
    def exit_status(self):
        return EXIT_STATUS.get(self.signum, 130)


class InterruptGuard:
    """While active (``with``), SIGINT and SIGTERM set ``received`` instead of raising; the
    signal's previous handler is put back at once, so a second signal acts as usual. Signals
    can only be caught on the main thread: elsewhere the guard does nothing."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                previous = signal.signal(signum, self._handle)
                self._previous[signum] = signal.SIG_DFL if previous is None else previous
        return self

    def _handle(self, signum, frame):
        if self.received is None:
            self.received = signum
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def __exit__(self, *exc_info):
        for signum, previous in self._previous.items():
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, previous)
        self._previous = {}
        return False


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _finite(model):
    return all(np.isfinite(np.asarray(v)).all() for v in model.weights)


class RunCheckpoint(keras.callbacks.Callback):
    """Saves a checkpoint of the run after every epoch whose loss and weights are finite,
    and stops training at a NaN or infinite loss (``diverged_epoch``) or a caught signal.

    Args:
        run: the ``run_dir.RunDir``.
        rows: the log rows of the epochs done before (a resumed run's).
        metadata: extra keys of every checkpoint's ``.json``.
        epochs: the run's epochs (for the messages).
        guard: an :class:`InterruptGuard`, or None.
    """

    def __init__(self, run, rows=(), metadata=None, epochs=None, guard=None):
        super().__init__()
        self.run = run
        self.rows = [dict(row) for row in rows]
        self.metadata = dict(metadata or {})
        self.epochs = epochs
        self.guard = guard
        self.diverged_epoch = None
        self.saved_epochs = len(self.rows)
        self._epoch = len(self.rows)

    def _check_interrupt(self):
        if self.guard is not None and self.guard.received is not None:
            raise TrainingInterrupted(
                self.guard.received, self.saved_epochs, self.epochs, self.run.in_progress
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._check_interrupt()

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(np.asarray(loss))):
            self.diverged_epoch = self._epoch
            self.model.stop_training = True
        self._check_interrupt()

    def on_test_batch_end(self, batch, logs=None):
        self._check_interrupt()

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged_epoch is None and not _finite(self.model):
            self.diverged_epoch = epoch
            self.model.stop_training = True
        if self.diverged_epoch is not None:
            return  # never a checkpoint of a diverged model
        self.rows.append({"epoch": epoch, **{k: _number(v) for k, v in (logs or {}).items()}})
        self.run.save_checkpoint(self.model.save, epoch + 1, {**self.metadata, "log": self.rows})
        run_dir_module.write_log(self.run.partial_log, self.rows)
        self.saved_epochs = epoch + 1
        self._check_interrupt()


def _variables(model):
    variables = list(model.variables)
    if model.optimizer is not None:
        variables += list(model.optimizer.variables)
    return variables


def restore(model, run, say=print):
    """Loads the newest usable checkpoint of ``run`` into ``model`` (compiled).

    A checkpoint that is incomplete, does not match its checksum or does not load is moved
    to ``DIR/set_aside/`` with a one-line message (``say``), and the one before it is tried;
    the model's variables are put back as they were after a failed load.

    Returns:
        ``(epochs done, their log rows, the checkpoint's metadata)``; ``(0, [], {})`` when
        none is usable.
    """
    complete = sorted(
        (epoch for epoch, kinds in run.checkpoint_files().items() if "json" in kinds),
        reverse=True,
    )
    saved, set_aside = None, False
    for epoch in complete:
        try:
            metadata = run.read_checkpoint(epoch)
            if model.optimizer is not None and not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)  # its variables get loaded too
            if saved is None:
                saved = [(v, np.array(v)) for v in _variables(model)]
            with warnings.catch_warnings():
                # Keras only warns when it skips variables (another model's file, an
                # optimizer with other variables): such a checkpoint would resume wrongly.
                warnings.filterwarnings("error", message="Skipping", category=UserWarning)
                model.load_weights(run.checkpoint_path(epoch, "keras"))
        except Exception as error:  # noqa: BLE001  (any failure: the checkpoint is unusable)
            if saved is not None:
                for variable, value in saved:
                    variable.assign(value)
            folder = run.set_aside(epoch)
            reason = " ".join(str(error).split())[:200] or type(error).__name__
            say(f"Set aside the checkpoint after epoch {epoch} ({reason}): moved to {folder}")
            set_aside = True
            continue
        return epoch, metadata["log"], metadata
    if set_aside:
        say("No usable checkpoint left: starting again from epoch 1")
    return 0, [], {}
