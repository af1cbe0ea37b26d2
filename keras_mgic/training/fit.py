"""``train``: one run from its arguments to its files, in short steps."""

import contextlib
import os
import sys
import time

import keras

from keras_mgic import compat
from keras_mgic.training import arguments, report, run_dir, tasks
from keras_mgic.training import distribute as strategies
from keras_mgic.training.callbacks import EpochLogger
from keras_mgic.training.checkpoint import InterruptGuard, LossNaNError, RunCheckpoint, restore
from keras_mgic.training.model import build_model, model_name, resolve_builder
from keras_mgic.training.optimizer import make_optimizer
from keras_mgic.training.plots import plot_learning_curves, plotting_available
from keras_mgic.training.schedule import learning_rate_schedule

#: Default learning rate for ``batch_size`` 128 (per replica): the paper's CIFAR recipe.
DEFAULT_LEARNING_RATE = 0.1
DEFAULT_BATCH_SIZE = 128
#: Per data set defaults. The digits have 1,437 training images, 11 steps an epoch at batch
#: 128: a 3-epoch MGIC-ResNet-20 run stayed at chance there (11.7% test accuracy; 12.2% with
#: learning rate 0.02, 10.0% with one epoch of warmup), and reached 93.6% with batch 32 and
#: learning rate 0.05 (3 epochs, 135 steps; measured on a 2-core CPU, seed 0).
#: The digit mosaics (segmentation, 600 training mosaics of 128x128): MGIC-LR-ASPP-Small
#: reached a test mean IoU of 0.82 after 15 epochs with batch 16 and learning rate 0.2, 0.78
#: with 0.1; on the 64x64 mosaics first tried, batch 32 with learning rate 0.05 gave 0.51
#: after 12 epochs and 0.2 gave 0.66 after 20 (2-core CPU, seed 0).
#: The digit points (1,437 training clouds of 128 points): batch 32 and learning rate 0.05
#: took DGCNN, DiffGCN and MGIC-DiffGCN to 96% test accuracy in 30 epochs (BENCHMARKS.md,
#: section point_clouds).
DATASET_DEFAULTS = {
    "digits": {"batch_size": 32, "learning_rate": 0.05},
    "digit_mosaics": {"batch_size": 16, "learning_rate": 0.2},
    "digit_points": {"batch_size": 32, "learning_rate": 0.05},
}
#: Default epochs of linear learning-rate warmup (cosine schedule): none, as in the paper.
DEFAULT_WARMUP_EPOCHS = 0


def train(
    model="mgic_resnet20",
    dataset="digits",
    *,
    epochs=30,
    batch_size=None,
    learning_rate=None,
    schedule="cosine",
    warmup_epochs=DEFAULT_WARMUP_EPOCHS,
    weight_decay=1e-4,
    momentum=0.9,
    mixed_precision=False,
    jit_compile=False,
    output="runs/train",
    data_dir=None,
    download=False,
    distribute="none",
    image_size=None,
    num_points=None,
    model_kwargs=None,
    augment=True,
    max_train_examples=None,
    max_test_examples=None,
    seed=0,
    deterministic=True,
    overwrite=False,
    verbose="auto",
    callbacks=None,
):
    """Trains a model with ``model.fit`` and writes the run's files to ``output``.

    Args:
        model: a name from ``keras_mgic.models.MODELS`` (e.g. ``"mgic_resnet20"``) or a
            callable ``builder(input_shape=..., classes=..., **model_kwargs)`` returning an
            uncompiled ``keras.Model`` with float32 outputs (logits, or a softmax). A builder
            with an ``include_preprocessing`` argument gets ``True``; any other gets a
            ``Rescaling(1 / 127.5, offset=-1)`` layer in front (the data are raw 0-255).
        dataset: ``"digits"`` (offline) or a TFDS image-classification name (``"cifar10"``);
            for a segmentation model ``"digit_mosaics"`` (offline), ``"oxford_iiit_pet"`` or
            ``"cityscapes"``: the data set's task (``keras_mgic.training.tasks``) decides the
            loss, the metrics and the figures (mean IoU, pixel accuracy, a prediction PNG).
        epochs: total epochs of the run (a resumed run counts the epochs already done).
        batch_size: per-replica batch size (default: ``DATASET_DEFAULTS``: 32 for the
            digits and the digit points, 16 for the digit mosaics, else 128).
        learning_rate: per-replica peak learning rate, scaled by the replica count (default:
            0.05 for the digits and the digit points, 0.2 for the digit mosaics, else 0.1).
        schedule: ``"cosine"`` or ``"step"`` (the paper's: divide by 10 every sixth).
        warmup_epochs: epochs of linear warmup from 0 (cosine only; may be fractional).
        weight_decay: decoupled weight decay (0 disables it).
        momentum: SGD momentum.
        mixed_precision: ``mixed_float16`` (GPU, loss scaling) or ``mixed_bfloat16`` (CPU).
        jit_compile: ``model.compile(jit_compile=...)`` (XLA).
        output: the run's folder; running again after an interruption (a kill, Ctrl-C)
            resumes at the epoch after the last completed one.
        data_dir: TFDS data folder.
        download: allow TFDS to download the data set.
        distribute: ``"none"``, ``"mirrored"`` or ``"multi-worker"``.
        image_size: input height and width (default: the data set's own).
        num_points: points per cloud of a point-set data set (default: the data set's own,
            256 for ``"digit_points"``, 1,024 for ``"modelnet10"``).
        model_kwargs: extra builder arguments (``group_size``, ``coarsest_size``, ...).
        augment: augment the training data.
        max_train_examples: train on the first ``n`` examples only (tests, smoke runs).
        max_test_examples: evaluate on the first ``n`` test examples only.
        seed: seed of the weights, the shuffle and the augmentation: on TensorFlow with
            ``deterministic``, the same seed, data and machine give the same weights and
            metrics (README, "Training").
        deterministic: on the TensorFlow backend, run with
            ``tf.config.experimental.enable_op_determinism()`` (restored afterwards); it
            also runs the augmentation serially (no cost measurable on a 2-core CPU).
        overwrite: replace a finished run in ``output`` (its ``model.keras`` and
            ``metrics.json``) and remove the files that describe its model (``.tflite`` files,
            SavedModel folders, figures this run does not write); without it such a folder
            is refused. The old files are replaced only when the new run succeeds.
        verbose: ``model.fit`` verbosity; ``"auto"``: a progress bar on a terminal, one line
            per epoch otherwise (e.g. piped to a file).
        callbacks: extra ``keras.callbacks.Callback`` objects, run after the built-in ones.

    Returns:
        The dict written to ``output/metrics.json``.

    Raises:
        ValueError: a bad argument or an unusable ``output`` (a file, read-only, a finished
            run without ``overwrite``), before any work is done.
        LossNaNError: the loss or the weights became NaN or infinite; nothing was published
            (an earlier run's files stay) and the last finite epoch's checkpoint is kept.
        TrainingInterrupted: SIGINT or SIGTERM (a ``KeyboardInterrupt``); every completed
            epoch's checkpoint is kept, so running again resumes.

    Example:

    >>> metrics = train("mgic_resnet20", "digits", epochs=2, batch_size=64,
    ...                 output="runs/example", verbose=0)  # doctest: +SKIP
    >>> metrics["epochs_completed"]  # doctest: +SKIP
    2
    """
    settings = {**dict(locals()), **recipe_defaults(dataset, batch_size, learning_rate)}
    _check(settings)
    builder = resolve_builder(model)
    output = run_dir.check_output(output)
    run_dir.check_not_finished(output, overwrite)
    # The strategy first: MultiWorkerMirroredStrategy must start before TF's devices do.
    strategy = strategies.make_strategy(distribute)
    with _dtype_policy(mixed_precision) as policy, _determinism(deterministic):
        keras.utils.set_random_seed(seed)
        data = _load_data(settings, strategy.num_replicas_in_sync)
        task = tasks.task_for(data)
        is_chief, role = strategies.worker_role(strategy)
        settings["steps_per_epoch"] = _steps(data.train)
        run = run_dir.RunDir(output if is_chief else os.path.join(output, "workers", role))
        with strategy.scope():
            shape = task.model_input_shape(data)
            kwargs = {**task.model_arguments(data), **(model_kwargs or {})}
            net = build_model(builder, shape, data.num_classes, kwargs, task.takes_raw_pixels)
            task.check_model(net, data)
            _compile(
                net, settings, strategy.num_replicas_in_sync, task.compile_arguments(net, data)
            )
            compat.build_training_state(net, data.train.element_spec)
        with InterruptGuard() as guard:
            logger, saver, fit_seconds = _fit(net, data, run, strategy, settings, guard)
            evaluation = net.evaluate(data.test, verbose=0, return_dict=True)
            metrics = _metrics(
                settings, net, data, saver.rows, evaluation, logger, strategy, policy, task
            )
            metrics["fit_seconds"] = fit_seconds
            _publish(net, run, metrics, is_chief, task, data, saver)
    return metrics


def recipe_defaults(dataset, batch_size=None, learning_rate=None):
    """``{"batch_size", "learning_rate"}``: the given values, else the data set's defaults."""
    defaults = {"batch_size": DEFAULT_BATCH_SIZE, "learning_rate": DEFAULT_LEARNING_RATE}
    if isinstance(dataset, str):
        defaults.update(DATASET_DEFAULTS.get(dataset.lower(), {}))
    given = {"batch_size": batch_size, "learning_rate": learning_rate}
    return {key: defaults[key] if value is None else value for key, value in given.items()}


def _check(settings):
    names = (
        "epochs batch_size learning_rate schedule weight_decay momentum distribute output "
        "model_kwargs image_size num_points max_train_examples max_test_examples warmup_epochs"
    ).split()
    arguments.train_arguments(**{name: settings[name] for name in names})
    arguments.choice("verbose", settings["verbose"], ("auto", 0, 1, 2))
    for name in ("deterministic", "overwrite"):
        if not isinstance(settings[name], bool):
            raise ValueError(f"`{name}` must be True or False. Received: {name}={settings[name]!r}")


@contextlib.contextmanager
def _dtype_policy(mixed_precision):
    """Sets the global dtype policy for the run and restores the previous one after it."""
    previous = keras.config.dtype_policy()
    policy = strategies.mixed_precision_policy() if mixed_precision else "float32"
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:
        keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def _determinism(deterministic):
    """TensorFlow's deterministic kernels for the run, the previous setting after it.

    TensorFlow has no public call that reads or clears the setting: its own
    ``tensorflow.python.framework.config`` functions do it where present; elsewhere the
    setting stays on after the run."""
    if not deterministic or keras.backend.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf

    try:
        from tensorflow.python.framework import config as tf_config

        previous = tf_config.is_op_determinism_enabled()
        disable = tf_config.disable_op_determinism
    except (ImportError, AttributeError):
        previous, disable = True, None
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not previous and disable is not None:
            disable()


def _load_data(settings, replicas):
    from keras_mgic.data import load_dataset

    names = "image_size data_dir download augment max_train_examples max_test_examples seed"
    kwargs = {name: settings[name] for name in names.split()}
    if settings["num_points"] is not None:  # point-set data sets only
        kwargs["num_points"] = settings["num_points"]
    return load_dataset(settings["dataset"], batch_size=settings["batch_size"] * replicas, **kwargs)


def _steps(dataset):
    steps = int(dataset.cardinality())
    return steps if steps >= 0 else sum(1 for _ in dataset)  # unknown (some TFDS mocks)


def _compile(net, settings, replicas, loss_and_metrics):
    steps_per_epoch = settings["steps_per_epoch"]
    warmup_steps = 0
    if settings["schedule"] == "cosine":
        warmup_steps = round(settings["warmup_epochs"] * steps_per_epoch)
    schedule = learning_rate_schedule(
        float(settings["learning_rate"]) * replicas,
        settings["schedule"],
        settings["epochs"],
        steps_per_epoch,
        warmup_steps=warmup_steps,
    )
    net.compile(
        optimizer=make_optimizer(schedule, settings["weight_decay"], settings["momentum"]),
        jit_compile=bool(settings["jit_compile"]),
        **loss_and_metrics,
    )


def _verbosity(verbose):
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return verbose


def _fit(net, data, run, strategy, settings, guard):
    """``model.fit`` from the newest usable checkpoint, saving one after every epoch; on
    failure nothing but resumable state stays. Returns ``(logger, checkpoint callback,
    seconds)``; raises ``LossNaNError`` if training diverged."""
    run.prepare()
    epochs, verbose = settings["epochs"], _verbosity(settings["verbose"])
    try:
        with strategy.scope():
            done, rows, state = restore(net, run, say=lambda line: print(line, flush=True))
        replacing = bool(state.get("overwrite")) or settings["overwrite"]
        if not done:
            run_dir.check_not_finished(run.root, replacing)  # every checkpoint was set aside
    except BaseException:
        run.discard()
        raise
    if done >= epochs and verbose:
        print(f"All {epochs} epochs were done: writing the run's files", flush=True)
    elif done and verbose:
        print(f"Resuming from epoch {done + 1} of {epochs} ({done} done)", flush=True)
    logger = EpochLogger(initial_epoch=done)
    saver = RunCheckpoint(
        run, rows, {"overwrite": replacing, "epochs": epochs}, epochs=epochs, guard=guard
    )
    run_callbacks = [logger, saver, *(settings["callbacks"] or [])]
    start = time.perf_counter()
    try:
        with compat.multi_worker_fit(net, strategy):
            net.fit(
                data.train,
                validation_data=data.test,
                epochs=epochs,
                initial_epoch=done,
                callbacks=run_callbacks,
                shuffle=False,  # the pipeline shuffles
                verbose=verbose,
            )
        if saver.diverged_epoch is not None:
            raise LossNaNError(_diverged_message(saver, epochs, run))
    except BaseException:
        run.discard()
        raise
    return logger, saver, time.perf_counter() - start


def _diverged_message(saver, epochs, run):
    kept = (
        f"the checkpoint after epoch {saver.saved_epochs} stays in {run.in_progress}"
        if saver.saved_epochs
        else "no epoch was completed"
    )
    return (
        f"The loss or the weights became NaN or infinite in epoch {saver.diverged_epoch + 1} "
        f"of {epochs}: nothing was written in place of the earlier results and {kept} (lower "
        f"the learning rate)."
    )


def _metrics(settings, net, data, rows, evaluation, logger, strategy, policy, task):
    log = {}
    for row in rows:
        for key, value in row.items():
            log.setdefault(key, []).append(value if isinstance(value, float) else float("nan"))
    replicas = strategy.num_replicas_in_sync
    metrics = {
        "model": model_name(settings["model"]),
        "dataset": data.name,
        **report.results(net, data, log, evaluation, logger, task),
        "epochs": int(settings["epochs"]),
        "terminated_on_nan": False,  # a diverged run raises LossNaNError and publishes nothing
        "steps_per_epoch": settings["steps_per_epoch"],
        "batch_size": int(settings["batch_size"]),
        "global_batch_size": int(settings["batch_size"] * replicas),
        "learning_rate": float(settings["learning_rate"]),
        "scaled_learning_rate": float(settings["learning_rate"]) * replicas,
        "schedule": settings["schedule"],
        "warmup_epochs": settings["warmup_epochs"] if settings["schedule"] == "cosine" else 0,
        "weight_decay": float(settings["weight_decay"] or 0.0),
        "weight_decay_mode": "decoupled",
        "momentum": float(settings["momentum"]),
        "dtype_policy": policy,
        "loss_scaling": type(net.optimizer).__name__ == "LossScaleOptimizer",
        "jit_compile": bool(settings["jit_compile"]),
        "distribute": settings["distribute"],
        "replicas": int(replicas),
        "model_kwargs": settings["model_kwargs"] or {},
        "seed": settings["seed"],
        "deterministic": bool(settings["deterministic"])
        and keras.backend.backend() == "tensorflow",
    }
    return {**metrics, **report.environment()}


def _publish(net, run, metrics, is_chief, task, data, saver):
    """Writes the final files (each atomically), ``metrics.json`` last; removes the files
    of an earlier run that this one replaces (``overwrite``); then drops the run's
    in-progress state. A kill in between leaves the last checkpoint: running again
    publishes again."""
    written = []
    if is_chief:
        run_dir.atomic_write(run.path("model.keras"), net.save)
        written.append("model.keras")
    if saver.rows:
        run_dir.write_log(run.path("log.csv"), saver.rows)
        written.append("log.csv")
    png = run.path("learning_curves.png")
    if is_chief and "log.csv" in written and plotting_available():
        title = f"{metrics['model']} on {metrics['dataset']}"
        plot_learning_curves(
            {metrics["model"]: run.path("log.csv")}, png, title=title, metric=task.curve_metric
        )
        written.append("learning_curves.png")
    if is_chief:
        written += task.write_figures(net, data, run.path)
    written.append("metrics.json")
    stale = run.stale_files(written)
    if not saver.metadata.get("overwrite"):  # only the figures a run always owns
        stale = [name for name in stale if name in run_dir.RUN_FILES]
    run.remove(stale)
    if stale and is_chief:
        print(f"Removed the earlier run's {', '.join(stale)}", flush=True)
    metrics["files"] = written
    run_dir.write_json(run.path("metrics.json"), metrics)
    run.finish()
