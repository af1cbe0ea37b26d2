"""``metrics.json``: what a run measured and the settings it ran with."""

import math
import platform
import statistics


def count(net):
    """``(trainable parameters, multiply-adds)`` of ``net``; MACs are None when a user's
    layer is unknown to the counter."""
    from keras_mgic import profiling

    params = int(profiling.count_params(net))
    try:
        flops = int(profiling.count_flops(net))
    except Exception as error:  # a user's builder may hold layers the counter lacks.
        print(f"keras_mgic.training: could not count FLOPs ({error}); writing null.")
        flops = None
    return params, flops


def _last(values):
    return float(values[-1]) if values else None


def results(net, data, log_columns, evaluation, logger):
    """The measured part: test and train figures, counts, epochs and timings."""
    params, flops = count(net)
    seconds = [s for s in log_columns.get("train_seconds", []) if math.isfinite(s)]
    return {
        "test_accuracy": float(evaluation["accuracy"]),
        "test_loss": float(evaluation["loss"]),
        "train_accuracy": _last(log_columns.get("accuracy")),
        "train_loss": _last(log_columns.get("loss")),
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
        # The model rescales its input itself (include_preprocessing=True).
        "input_range": [0, 255],
    }


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
