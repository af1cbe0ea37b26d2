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
    seconds = [s for s in log_columns.get("train_seconds", []) if math.isfinite(s)]
    facts = {
        "task": task.name,
        **task.results(evaluation, log_columns),
        "params": params,
        "flops": flops,
        "epochs_completed": int(logger.epochs_completed),
        "resumed_from_epoch": int(logger.initial_epoch),
        # The median: the first epoch's tracing does not skew it.
        "seconds_per_epoch": statistics.median(seconds) if seconds else None,
        "num_classes": int(data.num_classes),
        "num_train": data.num_train,
        "num_test": data.num_test,
        "input_shape": list(data.input_shape),
    }
    if task.takes_raw_pixels:  # the model rescales its input itself (include_preprocessing)
        facts["input_range"] = [0, 255]
    return facts


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
