"""Training with ``model.fit``: the paper's recipe, mixed precision, distribution, resumable runs.

``train(...)`` (and ``keras-mgic train`` on top of it) builds a model from
``keras_mgic.models`` (or a builder you pass) for raw 0-255 images, trains it on a
``keras_mgic.data`` pipeline and writes the run into one folder::

    DIR/model.keras              the final model; it takes raw 0-255 RGB images
    DIR/metrics.json             test accuracy/loss, params, FLOPs, epochs, s/epoch, settings
    DIR/log.csv                  one row per epoch (across restarts)
    DIR/learning_curves.png      loss and accuracy (segmentation: mean IoU) per epoch (when
                                 matplotlib is installed)
    DIR/predictions.png          segmentation: test images, their masks and the predictions
    DIR/in_progress/             while the run lasts: a checkpoint after each epoch
                                 (epoch_NNNN.keras: the model and its optimizer state, then
                                 epoch_NNNN.json: its checksum and the log rows) and log.csv
    DIR/set_aside/               checkpoints that did not load on a resume (never deleted)

Every file is written to a temporary name in its folder, synced and renamed (mode 0o666 less
the umask), so no kill leaves half a file. A run's final files appear only when it succeeds,
and replace a finished run's only with ``overwrite=True``; the same command again resumes an
interrupted run after its last completed epoch (``keras_mgic.training.checkpoint``).

The data set's task decides the loss, the metrics and the figures
(``keras_mgic.training.tasks``): image classification (cross-entropy, accuracy) or semantic
segmentation (per-pixel cross-entropy, mean IoU, pixel accuracy and per-class IoU, all skipping
the ignore label 255; the model is built for any input size).

The recipe (Eliasof et al. 2023, Sec. 5.2, with He et al. 2016's CIFAR pipeline):

- SGD, momentum 0.9, decoupled weight decay 1e-4 (``make_optimizer``), cross-entropy.
- Learning rate 0.1 for a batch of 128 (0.05 and 32 on the small digits set, where 128 gives
  11 steps an epoch: ``fit.DATASET_DEFAULTS`` has the measurement), scaled linearly with the
  replica count. Schedules per step: ``"cosine"`` (default: decay to 0 over the run, after an
  optional linear warmup of ``warmup_epochs``) or ``"step"`` (the paper's divide-by-10 every
  30 of 180 epochs, scaled to the run).
- Mixed precision (``mixed_precision_policy``): ``mixed_float16`` with loss scaling on a GPU,
  ``mixed_bfloat16`` on a CPU; the logits stay float32.
- Distribution (``make_strategy``): ``MirroredStrategy`` over all GPUs (or logical CPUs),
  ``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``; batch size and learning rate are per
  replica. The private Keras code multi-worker ``fit`` needs patched is in
  ``keras_mgic.compat``.
- ``seconds_per_epoch`` is the median training time of an epoch, without its test evaluation
  and, when more than one epoch ran, without the first epoch of the run (and of a resumed
  process), which traces the training step; ``seconds_per_epoch_excludes_first`` and
  ``seconds_per_epoch_note`` in ``metrics.json`` say which epochs were left out.
- The test split is evaluated after every epoch for the learning curves only; no setting is
  chosen on it.

Example:

>>> metrics = train("mgic_resnet20", "digits", epochs=1, batch_size=64,
...                 output="runs/example", verbose=0)  # doctest: +SKIP
>>> metrics["epochs_completed"]  # doctest: +SKIP
1
"""

from keras_mgic.training.arguments import DISTRIBUTE, SCHEDULES
from keras_mgic.training.callbacks import EpochLogger
from keras_mgic.training.checkpoint import LossNaNError, RunCheckpoint, TrainingInterrupted
from keras_mgic.training.distribute import make_strategy, mixed_precision_policy
from keras_mgic.training.fit import (
    DATASET_DEFAULTS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_LEARNING_RATE,
    DEFAULT_WARMUP_EPOCHS,
    train,
)
from keras_mgic.training.optimizer import make_optimizer
from keras_mgic.training.plots import plot_learning_curves, read_log
from keras_mgic.training.run_dir import OutputError, check_output
from keras_mgic.training.schedule import (
    STEP_FACTOR,
    STEP_FRACTION,
    learning_rate_schedule,
    step_interval,
)

__all__ = [
    "DATASET_DEFAULTS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LEARNING_RATE",
    "DEFAULT_WARMUP_EPOCHS",
    "DISTRIBUTE",
    "EpochLogger",
    "LossNaNError",
    "OutputError",
    "RunCheckpoint",
    "SCHEDULES",
    "STEP_FACTOR",
    "STEP_FRACTION",
    "TrainingInterrupted",
    "check_output",
    "learning_rate_schedule",
    "make_optimizer",
    "make_strategy",
    "mixed_precision_policy",
    "plot_learning_curves",
    "read_log",
    "step_interval",
    "train",
]
