"""``metrics.json``: what a run measured and the settings it ran with."""

import math
import platform
import statistics


def count(net, input_shape=None):
    """``(trainable parameters, multiply-adds)`` of ``net`` (MACs at ``input_shape``, default
    the model's input); MACs are None when a user's layer is unknown to the counter."""
    from keras_mgic import profiling

    params = int(profiling.count_params(net))
    try:
        flops = int(profiling.count_flops(net, input_shape))
    except Exception as error:  # a user's builder may hold layers the counter lacks.
        print(f"keras_mgic.training: could not count FLOPs ({error}); writing null.")
        flops = None
    return params, flops


def results(net, data, log_columns, evaluation, logger, task):
    """The measured part: the task's test and train figures (``keras_mgic.training.tasks``),
    counts, epochs and timings."""
    params, flops = count(net, task.counting_shape(data))
    per_epoch, excluded = steady_seconds(
        log_columns.get("train_seconds", []), int(logger.initial_epoch)
    )
    facts = {
        "task": task.name,
        **task.results(evaluation, log_columns),
        "params": params,
        "flops": flops,
        "epochs_completed": int(logger.epochs_completed),
        "resumed_from_epoch": int(logger.initial_epoch),
        "seconds_per_epoch": per_epoch,
        # Which epochs the median leaves out: those that traced the training step.
        "seconds_per_epoch_excludes_first": bool(excluded),
        "seconds_per_epoch_note": _seconds_note(excluded),
        "num_classes": int(data.num_classes),
        "num_train": data.num_train,
        "num_test": data.num_test,
        "input_shape": list(data.input_shape),
    }
    if task.takes_raw_pixels:  # the model rescales its input itself (include_preprocessing)
        facts["input_range"] = [0, 255]
    return facts


def steady_seconds(train_seconds, initial_epoch=0):
    """The median training seconds of an epoch without the epochs that traced the step.

    The first epoch of a process (epoch 0, and ``initial_epoch`` after a resume) includes
    tracing and compiling the training step, often several times a steady epoch; with more
    than one epoch those are left out of the median.

    Args:
        train_seconds: seconds of each logged epoch, in order (NaN for unknown).
        initial_epoch: the epoch this process started at (0 unless resumed).

    Returns:
        ``(median seconds or None, the indices of the epochs left out)``.

    Example:

    >>> steady_seconds([600.0, 10.0, 12.0])
    (11.0, [0])
    >>> steady_seconds([600.0])
    (600.0, [])
    """
    timed = {i: s for i, s in enumerate(train_seconds) if math.isfinite(s)}
    tracing = sorted({0, initial_epoch} & set(timed))
    steady = [s for i, s in timed.items() if i not in tracing]
    if not steady:  # one epoch: its time, tracing included, is all there is
        return (statistics.median(timed.values()) if timed else None), []
    return statistics.median(steady), tracing


def _seconds_note(excluded):
    if not excluded:
        return "median of every epoch (a single epoch includes tracing the training step)"
    epochs = ", ".join(str(i + 1) for i in excluded)
    return f"median of the epochs after tracing: epoch {epochs} (tracing) left out"


def environment():
    """Versions and devices of the machine that ran the run."""
    import keras
    import tensorflow as tf

    return {
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        "devices": [d.name for d in tf.config.list_logical_devices()],
    }
