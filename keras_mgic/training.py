"""Training with ``model.fit``: the paper's recipe, mixed precision, distribution, resumable runs.

``train(...)`` (and the ``keras-mgic train`` command on top of it) builds a model from
``keras_mgic.models`` (or a builder you pass), trains it on a ``keras_mgic.data`` pipeline and
writes everything a run needs into one output directory::

    DIR/model.keras              the final model (Keras format)
    DIR/metrics.json             test accuracy/loss, params, FLOPs, epochs, s/epoch, settings
    DIR/log.csv                  one row per epoch (appended across restarts)
    DIR/learning_curves.png      loss and accuracy, train and test, per epoch
    DIR/checkpoints/last.keras   the model after the latest epoch (overwritten every epoch)
    DIR/backup/                  keras.callbacks.BackupAndRestore state (deleted on success)

Decisions (paper Sec. 5.2 and DESIGN.md §3):

- Optimizer: SGD, momentum 0.9, weight decay 1e-4, cross-entropy loss. Weight decay is
  *decoupled* (Keras's ``SGD(weight_decay=...)``: every step ``w <- w - lr * wd * w``, outside
  the momentum buffer), applied to every trainable variable as the paper's PyTorch code does.
  Without momentum it equals the paper's coupled L2 term exactly; with momentum 0.9, PyTorch's
  coupled L2 passes through the momentum buffer and decays about ``1 / (1 - 0.9) = 10x`` more
  per step at steady state, so pass ``weight_decay=1e-3`` to approximate that. Decoupled decay
  was chosen because it is Keras's native form: it works unchanged with loss scaling,
  distribution strategies and ``.keras`` saving, and needs no regularizer inside the models.
- Learning rate: 0.1 for a batch of 128 (the reference code's driver; the paper's "0.001" for
  CIFAR-10 is not what its code ran). Schedules, both per step:
  ``"cosine"`` (default; cosine decay from the learning rate to 0 over the run) or
  ``"step"`` (the paper: divide by 10 every 30 of 180 epochs, scaled to the run's length:
  every ``max(1, round(epochs / 6))`` epochs, so 180 epochs give exactly the paper's
  schedule and 12 epochs divide every 2).
- Distribution: ``batch_size`` and ``learning_rate`` are per replica. With ``R`` replicas
  (``MirroredStrategy`` over all GPUs, or all logical CPUs if there is no GPU;
  ``MultiWorkerMirroredStrategy`` across the workers in ``TF_CONFIG``) the global batch is
  ``R * batch_size`` and the learning rate ``R * learning_rate`` (the linear scaling rule of
  Goyal et al. 2017). Only the chief writes ``DIR``; other workers write their own backup and
  checkpoints under ``DIR/workers/<type>_<index>``.
- Mixed precision: ``mixed_float16`` on a GPU, ``mixed_bfloat16`` on a CPU (no float16 matmul
  units there). Under ``mixed_float16`` ``model.compile`` wraps the optimizer in a
  ``LossScaleOptimizer`` (dynamic loss scaling); bfloat16 has float32's range and needs none.
  The models keep their logits in float32.
- Resuming: ``BackupAndRestore`` saves the weights, optimizer state and epoch after every
  epoch; running again with the same output directory continues at the next epoch (the data
  order is not restored). After a complete run the backup is deleted, so a new run into the
  same directory starts over.
- ``seconds_per_epoch`` is the median wall time of the training part of an epoch (without the
  per-epoch test evaluation), so the first epoch's tracing does not skew it.
- Evaluation: the test split is evaluated after every epoch for the learning curves only; no
  setting is chosen on it.

Example:

>>> metrics = train("mgic_resnet20", "digits", epochs=1, batch_size=64,
...                 output="runs/example", verbose=0)  # doctest: +SKIP
>>> sorted(metrics)[:3]  # doctest: +SKIP
['batch_size', 'dataset', 'distribute']
"""

import contextlib
import csv
import json
import math
import os
import platform
import statistics
import time

#: The learning-rate schedules ``train`` accepts.
SCHEDULES = ("step", "cosine")
#: The ``distribute`` values ``train`` accepts.
DISTRIBUTE = ("none", "mirrored", "multi-worker")
#: Default learning rate for ``batch_size`` 128 (per replica).
DEFAULT_LEARNING_RATE = 0.1
#: The paper's step schedule: divide by ``STEP_FACTOR`` every ``1/STEP_FRACTION`` of the run
#: (30 of 180 epochs).
STEP_FACTOR = 10.0
STEP_FRACTION = 30 / 180


def _positive(name, value, kind=int):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and isinstance(value, int)
    if not ok or value <= 0 or (isinstance(value, float) and not math.isfinite(value)):
        article = "a positive integer" if kind is int else "a positive number"
        raise ValueError(f"`{name}` must be {article}. Received: {name}={value!r}")
    return value


def _choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}. Received: {name}={value!r}")
    return value


# ------------------------------------------------------------------------ strategy / policy


def make_strategy(distribute="none"):
    """Returns the ``tf.distribute`` strategy for ``distribute``.

    Call it before anything else touches TensorFlow's devices: ``MultiWorkerMirroredStrategy``
    must configure collective ops at program start.

    Args:
        distribute: ``"none"`` (the default strategy), ``"mirrored"`` (``MirroredStrategy``
            over every GPU, or every logical CPU when there is no GPU) or ``"multi-worker"``
            (``MultiWorkerMirroredStrategy``, cluster taken from the ``TF_CONFIG``
            environment variable).

    Returns:
        A ``tf.distribute.Strategy``.

    Example:

    >>> make_strategy("none").num_replicas_in_sync
    1
    """
    import tensorflow as tf

    _choice("distribute", distribute, DISTRIBUTE)
    if distribute == "none":
        return tf.distribute.get_strategy()
    if distribute == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(
            devices=cpus, cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
    if not os.environ.get("TF_CONFIG"):
        raise ValueError(
            "`distribute='multi-worker'` needs the cluster in the TF_CONFIG environment "
            'variable, e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}. Received: TF_CONFIG=None'
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def mixed_precision_policy():
    """The mixed-precision policy for this machine: ``mixed_float16`` on a GPU, else
    ``mixed_bfloat16``.

    Example:

    >>> mixed_precision_policy() in ("mixed_float16", "mixed_bfloat16")
    True
    """
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


def _worker_role(strategy):
    """Returns ``(is_chief, "type_index")`` of this process in a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", None)
    if task_type is None:
        return True, None
    cluster = resolver.cluster_spec().as_dict()
    if task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in cluster):
        return True, f"{task_type}_{task_id}"
    return False, f"{task_type}_{task_id}"


# ---------------------------------------------------------------------------------- schedule


def step_interval(epochs):
    """Epochs between the step schedule's divisions: the paper's 30 of 180, scaled.

    Example:

    >>> step_interval(180), step_interval(12), step_interval(3)
    (30, 2, 1)
    """
    _positive("epochs", epochs)
    return max(1, round(epochs * STEP_FRACTION))


def learning_rate_schedule(learning_rate, schedule, epochs, steps_per_epoch):
    """The per-step learning-rate schedule (built-in Keras schedules, so ``.keras`` files
    reload without this module).

    Args:
        learning_rate: the initial learning rate.
        schedule: ``"cosine"`` (decay to 0 over ``epochs``) or ``"step"`` (divide by 10
            every ``step_interval(epochs)`` epochs).
        epochs: the run's length in epochs.
        steps_per_epoch: optimizer steps per epoch.

    Returns:
        A ``keras.optimizers.schedules.LearningRateSchedule``.

    Example:

    >>> s = learning_rate_schedule(0.1, "step", epochs=12, steps_per_epoch=10)
    >>> [round(float(s(step)), 6) for step in (0, 19, 20, 40, 119)]
    [0.1, 0.1, 0.01, 0.001, 1e-06]
    """
    import keras

    _positive("learning_rate", learning_rate, float)
    _choice("schedule", schedule, SCHEDULES)
    _positive("epochs", epochs)
    _positive("steps_per_epoch", steps_per_epoch)
    total = epochs * steps_per_epoch
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            float(learning_rate), decay_steps=total, alpha=0.0
        )
    interval = step_interval(epochs)
    # PiecewiseConstantDecay keeps values[k] while step <= boundaries[k]: the division takes
    # effect from the first step of epoch k * interval on.
    boundaries = [
        k * interval * steps_per_epoch - 1 for k in range(1, math.ceil(epochs / interval))
    ]
    values = [float(learning_rate) / STEP_FACTOR**k for k in range(len(boundaries) + 1)]
    if not boundaries:
        return keras.optimizers.schedules.PiecewiseConstantDecay([total], values * 2)
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def _check_optimizer_args(weight_decay, momentum):
    if weight_decay is not None and (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, (int, float))
        or not weight_decay >= 0
    ):
        raise ValueError(
            f"`weight_decay` must be a number >= 0. Received: weight_decay={weight_decay!r}"
        )
    if (
        isinstance(momentum, bool)
        or not isinstance(momentum, (int, float))
        or not (0 <= momentum < 1)
    ):
        raise ValueError(f"`momentum` must be in [0, 1). Received: momentum={momentum!r}")


def make_optimizer(learning_rate, weight_decay=1e-4, momentum=0.9):
    """SGD with momentum and decoupled weight decay (see the module docstring).

    Example:

    >>> opt = make_optimizer(0.1)
    >>> float(opt.momentum), float(opt.weight_decay)
    (0.9, 0.0001)
    """
    import keras

    _check_optimizer_args(weight_decay, momentum)
    return keras.optimizers.SGD(
        learning_rate=learning_rate,
        momentum=float(momentum),
        weight_decay=float(weight_decay) if weight_decay else None,
    )


# --------------------------------------------------------------------------------- callbacks


def _callback_base():
    import keras

    return keras.callbacks.Callback


def _make_epoch_logger():
    base = _callback_base()

    class EpochLogger(base):
        """Adds ``train_seconds`` and ``learning_rate`` (at the epoch's start) to every epoch's
        logs, and records the
        epochs this run started at and completed (it must run before the CSV logger)."""

        def __init__(self):
            super().__init__()
            self.initial_epoch = 0
            self.epochs_completed = 0
            self._start = None
            self._train_seconds = None
            self._learning_rate = None

        def on_train_begin(self, logs=None):
            # BackupAndRestore (earlier in the list) has set the epoch to resume at.
            self.initial_epoch = int(getattr(self.model, "_initial_epoch", 0) or 0)
            self.epochs_completed = self.initial_epoch

        def on_epoch_begin(self, epoch, logs=None):
            self._learning_rate = _current_learning_rate(self.model.optimizer)
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

    return EpochLogger()


def _current_learning_rate(optimizer):
    import keras

    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return float(keras.ops.convert_to_numpy(inner.learning_rate))


# --------------------------------------------------------------------------------- artifacts


def read_log(path):
    """Reads a ``log.csv`` written by ``train`` into ``{column: [floats]}``.

    Example:

    >>> read_log("runs/demo/mgic_resnet20/log.csv")["accuracy"][-1]  # doctest: +SKIP
    0.98
    """
    columns = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for key, value in row.items():
                try:
                    columns.setdefault(key, []).append(float(value))
                except (TypeError, ValueError):
                    columns.setdefault(key, []).append(float("nan"))
    return columns


def plot_learning_curves(logs, path, title=None):
    """Writes a PNG with loss (log scale) and accuracy per epoch (train solid, test dashed).

    Args:
        logs: ``{label: log.csv path}``; one line pair per label.
        path: the PNG to write.
        title: optional figure title.

    Returns:
        ``path``.

    Example:

    >>> plot_learning_curves({"MGIC-ResNet-20": "runs/demo/mgic_resnet20/log.csv"},
    ...                      "runs/demo/curves.png")  # doctest: +SKIP
    'runs/demo/curves.png'
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for index, (label, log_path) in enumerate(logs.items()):
        columns = read_log(log_path)
        epochs = [int(e) + 1 for e in columns.get("epoch", [])]
        color = f"C{index}"
        for axis, key in zip(axes, ("loss", "accuracy"), strict=True):
            if key in columns:
                axis.plot(epochs, columns[key], color=color, label=f"{label} train")
            if f"val_{key}" in columns:
                axis.plot(epochs, columns[f"val_{key}"], "--", color=color, label=f"{label} test")
    axes[0].set_yscale("log")  # early test losses can be orders of magnitude above the rest
    for axis, key in zip(axes, ("loss", "accuracy"), strict=True):
        axis.set_xlabel("epoch")
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _steps(dataset):
    count = int(dataset.cardinality())
    if count < 0:  # unknown (e.g. some TFDS mocks): count once.
        count = sum(1 for _ in dataset)
    return count


# -------------------------------------------------------------------------------------- train


def train(
    model="mgic_resnet20",
    dataset="digits",
    *,
    epochs=30,
    batch_size=128,
    learning_rate=DEFAULT_LEARNING_RATE,
    schedule="cosine",
    weight_decay=1e-4,
    momentum=0.9,
    mixed_precision=False,
    jit_compile=False,
    output="runs/train",
    data_dir=None,
    download=False,
    distribute="none",
    image_size=None,
    model_kwargs=None,
    augment=True,
    max_train_examples=None,
    max_test_examples=None,
    seed=0,
    verbose=1,
    callbacks=None,
):
    """Trains a model with ``model.fit`` and writes the run's artifacts to ``output``.

    Args:
        model: a name from ``keras_mgic.models.MODELS`` (e.g. ``"mgic_resnet20"``) or a
            callable ``builder(input_shape=..., num_classes=..., **model_kwargs)`` returning
            an uncompiled ``keras.Model`` (logits in float32, softmax or no activation).
        dataset: ``"digits"`` (offline) or a TFDS image-classification name (``"cifar10"``).
        epochs: total epochs of the run (a resumed run counts the epochs already done).
        batch_size: per-replica batch size.
        learning_rate: per-replica initial learning rate (scaled by the replica count).
        schedule: ``"cosine"`` or ``"step"``.
        weight_decay: decoupled weight decay (0 disables it).
        momentum: SGD momentum.
        mixed_precision: train with ``mixed_float16`` (GPU) or ``mixed_bfloat16`` (CPU).
        jit_compile: ``model.compile(jit_compile=...)`` (XLA).
        output: the run's directory.
        data_dir: TFDS data directory.
        download: allow TFDS to download the data set.
        distribute: ``"none"``, ``"mirrored"`` or ``"multi-worker"``.
        image_size: input height/width (default: the data set's own).
        model_kwargs: extra builder arguments (``group_size``, ``coarsest_size``,
            ``dropout_rate``, ...).
        augment: augment the training data.
        max_train_examples: train on the first ``n`` examples only (tests, smoke runs).
        max_test_examples: evaluate on the first ``n`` test examples only.
        seed: seed of the weights, the shuffle and the augmentation.
        verbose: ``model.fit`` verbosity (1: progress bar, 2: one line per epoch, 0: silent).
        callbacks: extra ``keras.callbacks.Callback`` objects, run after the built-in ones.

    Returns:
        The dict written to ``output/metrics.json``.

    Example:

    >>> metrics = train("mgic_resnet20", "digits", epochs=2, batch_size=64,
    ...                 output="runs/example", verbose=0)  # doctest: +SKIP
    >>> metrics["epochs_completed"]  # doctest: +SKIP
    2
    """
    _positive("epochs", epochs)
    _positive("batch_size", batch_size)
    _positive("learning_rate", learning_rate, float)
    _choice("schedule", schedule, SCHEDULES)
    _choice("distribute", distribute, DISTRIBUTE)
    _check_optimizer_args(weight_decay, momentum)
    if not isinstance(output, (str, os.PathLike)) or not str(output):
        raise ValueError(f"`output` must be a directory path. Received: output={output!r}")
    if model_kwargs is not None and not isinstance(model_kwargs, dict):
        raise ValueError(
            f"`model_kwargs` must be a dict or None. Received: model_kwargs={model_kwargs!r}"
        )
    builder = _resolve_builder(model)

    # The strategy first: MultiWorkerMirroredStrategy must start before TF's devices do.
    strategy = make_strategy(distribute)

    import keras
    import tensorflow as tf

    from keras_mgic import profiling
    from keras_mgic.data import load_dataset

    previous_policy = keras.config.dtype_policy()
    policy = mixed_precision_policy() if mixed_precision else "float32"
    with contextlib.ExitStack() as stack:
        stack.callback(keras.config.set_dtype_policy, previous_policy)
        keras.utils.set_random_seed(seed)
        keras.config.set_dtype_policy(policy)
        replicas = strategy.num_replicas_in_sync
        global_batch = batch_size * replicas
        scaled_lr = float(learning_rate) * replicas
        data = load_dataset(
            dataset,
            batch_size=global_batch,
            image_size=image_size,
            data_dir=data_dir,
            download=download,
            augment=augment,
            max_train_examples=max_train_examples,
            max_test_examples=max_test_examples,
            seed=seed,
        )
        steps_per_epoch = _steps(data.train)
        is_chief, worker = _worker_role(strategy)
        output = os.fspath(output)
        work_dir = output if is_chief else os.path.join(output, "workers", worker)
        os.makedirs(work_dir, exist_ok=True)

        log_path = os.path.join(work_dir, "log.csv")
        resuming = os.path.exists(os.path.join(work_dir, "backup", "training_metadata.json"))
        if not resuming and os.path.exists(log_path):
            os.remove(log_path)  # a fresh run into a used directory starts a fresh log.

        with strategy.scope():
            try:
                net = builder(
                    input_shape=data.input_shape,
                    num_classes=data.num_classes,
                    **(model_kwargs or {}),
                )
            except TypeError as error:
                raise ValueError(
                    f"Could not build the model with these arguments ({error}). "
                    f"Received: model={model!r}, model_kwargs={model_kwargs!r}"
                ) from error
            _check_model(net, data.num_classes)
            if distribute == "multi-worker":
                _patch_multi_worker_build(net, strategy)
                stack.enter_context(_multi_worker_scalar_reduce())
            optimizer = make_optimizer(
                learning_rate_schedule(scaled_lr, schedule, epochs, steps_per_epoch),
                weight_decay=weight_decay,
                momentum=momentum,
            )
            net.compile(
                optimizer=optimizer,
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=_outputs_logits(net)),
                metrics=["accuracy"],
                jit_compile=bool(jit_compile),
            )

        epoch_logger = _make_epoch_logger()
        run_callbacks = [
            keras.callbacks.BackupAndRestore(os.path.join(work_dir, "backup")),
            epoch_logger,
            keras.callbacks.ModelCheckpoint(os.path.join(work_dir, "checkpoints", "last.keras")),
            keras.callbacks.CSVLogger(log_path, append=True),
            keras.callbacks.TerminateOnNaN(),
            *(callbacks or []),
        ]
        start = time.perf_counter()
        net.fit(
            data.train,
            validation_data=data.test,
            epochs=epochs,
            callbacks=run_callbacks,
            shuffle=False,  # the pipeline shuffles
            verbose=verbose,
        )
        fit_seconds = time.perf_counter() - start
        results = net.evaluate(data.test, verbose=0, return_dict=True)

        params = int(profiling.count_params(net))
        try:
            flops = int(profiling.count_flops(net))
        except Exception as error:  # a user's builder may hold layers the counter lacks.
            print(f"keras_mgic.training: could not count FLOPs ({error}); writing null.")
            flops = None

        columns = read_log(log_path) if os.path.exists(log_path) else {}
        epoch_seconds = [s for s in columns.get("train_seconds", []) if math.isfinite(s)]
        metrics = {
            "model": model if isinstance(model, str) else getattr(model, "__name__", repr(model)),
            "dataset": data.name,
            "test_accuracy": float(results["accuracy"]),
            "test_loss": float(results["loss"]),
            "train_accuracy": _last(columns.get("accuracy")),
            "train_loss": _last(columns.get("loss")),
            "params": params,
            "flops": flops,
            "epochs": int(epochs),
            "epochs_completed": int(epoch_logger.epochs_completed),
            "resumed_from_epoch": int(epoch_logger.initial_epoch),
            "terminated_on_nan": bool(getattr(net, "stop_training", False))
            and epoch_logger.epochs_completed < epochs,
            "seconds_per_epoch": statistics.median(epoch_seconds) if epoch_seconds else None,
            "fit_seconds": fit_seconds,
            "steps_per_epoch": steps_per_epoch,
            "batch_size": int(batch_size),
            "global_batch_size": int(global_batch),
            "learning_rate": float(learning_rate),
            "scaled_learning_rate": scaled_lr,
            "schedule": schedule,
            "weight_decay": float(weight_decay or 0.0),
            "weight_decay_mode": "decoupled",
            "momentum": float(momentum),
            "dtype_policy": policy,
            "loss_scaling": type(net.optimizer).__name__ == "LossScaleOptimizer",
            "jit_compile": bool(jit_compile),
            "distribute": distribute,
            "replicas": int(replicas),
            "input_shape": list(data.input_shape),
            # The model expects images as (pixels / 255 - mean) / std, per channel.
            "normalization": {"mean": list(data.mean), "std": list(data.std)},
            "num_classes": int(data.num_classes),
            "num_train": data.num_train,
            "num_test": data.num_test,
            "model_kwargs": model_kwargs or {},
            "seed": seed,
            "versions": {
                "python": platform.python_version(),
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
            },
            "devices": [d.name for d in tf.config.list_logical_devices()],
        }
        if is_chief:
            net.save(os.path.join(work_dir, "model.keras"))
            if columns:
                try:
                    plot_learning_curves(
                        {metrics["model"]: log_path},
                        os.path.join(work_dir, "learning_curves.png"),
                        title=f"{metrics['model']} on {data.name}",
                    )
                except ImportError:
                    print(
                        "keras_mgic.training: matplotlib is not installed; no learning-curve PNG."
                    )
        with open(os.path.join(work_dir, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
        return metrics


def _patch_multi_worker_build(net, strategy):
    """Works around keras-team/keras#20585 (tensorflow/tensorflow#72388): under
    ``MultiWorkerMirroredStrategy`` with several workers, Keras 3's ``fit``/``evaluate`` take a
    sample batch for the symbolic build with ``strategy.reduce("MEAN", batch)``, which fails on
    the nested ``PerReplica`` batch. The build only needs shapes and dtypes, so this instance
    patch hands it this worker's first local replica batch instead.
    """
    import tensorflow as tf

    original = net._maybe_symbolic_build

    def local_value(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None and data_batch is None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local_value, next(batches))
                break
        return original(data_batch=data_batch)

    net._maybe_symbolic_build = maybe_symbolic_build


@contextlib.contextmanager
def _multi_worker_scalar_reduce():
    """Works around the second half of keras-team/keras#20585: under a multi-worker
    ``MultiWorkerMirroredStrategy``, Keras 3 averages each step's scalar logs (loss, metric
    results) with ``strategy.reduce("MEAN", v, axis=0)``, which fails on rank-0 values. While
    active, rank-0 values are averaged over replicas with ``axis=None`` instead; everything
    else goes to Keras's own ``reduce_per_replica``.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica

    def rank(value):
        if isinstance(value, tf.distribute.DistributedValues):
            value = value.values[0]
        shape = getattr(value, "shape", None)
        return None if shape is None else shape.rank

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(
            strategy
        ):

            def reduce(value):
                if rank(value) == 0:
                    return strategy.reduce("MEAN", value, axis=None)
                return original(value, strategy, reduction)

            return tf.nest.map_structure(reduce, values)
        return original(values, strategy, reduction)

    tf_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = original


def _last(values):
    return float(values[-1]) if values else None


def _resolve_builder(model):
    if callable(model) and not isinstance(model, str):
        return model
    from keras_mgic.models import MODELS

    if not isinstance(model, str) or model not in MODELS:
        raise ValueError(
            f"Unknown model: expected one of {sorted(MODELS)}. Received: model={model!r}"
        )
    return MODELS[model]


def _check_model(net, num_classes):
    output = net.outputs[0] if getattr(net, "outputs", None) else None
    if output is None:
        return
    if output.shape[-1] != num_classes:
        raise ValueError(
            "The model's output must have one unit per class. "
            f"Received: output_shape={tuple(output.shape)}, num_classes={num_classes}"
        )
    if str(output.dtype) != "float32":
        raise ValueError(
            "The model's outputs must be float32 (keep the logits layer in float32 under "
            f"mixed precision). Received: output_dtype={output.dtype}"
        )


def _outputs_logits(net):
    """True unless the last layer ends in a softmax (then the loss takes probabilities)."""
    import keras

    layer = net.layers[-1] if net.layers else None
    activation = getattr(layer, "activation", None)
    return activation is not keras.activations.softmax and (
        getattr(activation, "__name__", "") != "softmax"
    )
