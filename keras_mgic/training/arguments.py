"""Checks of ``train``'s arguments: each raises a ValueError naming the argument and value."""

import math
import os

#: The learning-rate schedules ``train`` accepts.
SCHEDULES = ("step", "cosine")
#: The ``distribute`` values ``train`` accepts.
DISTRIBUTE = ("none", "mirrored", "multi-worker")


def positive(name, value, kind=int):
    """``value`` if it is a positive int (``kind=int``) or finite positive number."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and isinstance(value, int)
    if not ok or value <= 0 or (isinstance(value, float) and not math.isfinite(value)):
        article = "a positive integer" if kind is int else "a positive number"
        raise ValueError(f"`{name}` must be {article}. Received: {name}={value!r}")
    return value


def optional_positive(name, value):
    return None if value is None else positive(name, value)


def non_negative_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0. Received: {name}={value!r}")
    return value


def choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}. Received: {name}={value!r}")
    return value


def optimizer_arguments(weight_decay, momentum):
    """Checks SGD's ``weight_decay`` (a number >= 0 or None) and ``momentum`` (in [0, 1))."""
    if weight_decay is not None and (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, (int, float))
        or not weight_decay >= 0
        or not math.isfinite(weight_decay)
    ):
        raise ValueError(
            f"`weight_decay` must be a number >= 0. Received: weight_decay={weight_decay!r}"
        )
    if (
        isinstance(momentum, bool)
        or not isinstance(momentum, (int, float))
        or not 0 <= momentum < 1
    ):
        raise ValueError(f"`momentum` must be in [0, 1). Received: momentum={momentum!r}")


def train_arguments(
    *,
    epochs,
    batch_size,
    learning_rate,
    schedule,
    weight_decay,
    momentum,
    distribute,
    output,
    model_kwargs,
    image_size,
    num_points,
    max_train_examples,
    max_test_examples,
    warmup_epochs,
):
    """Checks every plain argument of ``train`` before anything is built or written."""
    positive("epochs", epochs)
    positive("batch_size", batch_size)
    positive("learning_rate", learning_rate, float)
    choice("schedule", schedule, SCHEDULES)
    choice("distribute", distribute, DISTRIBUTE)
    optimizer_arguments(weight_decay, momentum)
    optional_positive("image_size", image_size)
    optional_positive("num_points", num_points)
    optional_positive("max_train_examples", max_train_examples)
    optional_positive("max_test_examples", max_test_examples)
    if (
        isinstance(warmup_epochs, bool)
        or not isinstance(warmup_epochs, (int, float))
        or not (0 <= warmup_epochs < epochs)
    ):
        raise ValueError(
            "`warmup_epochs` must be a number in [0, epochs). "
            f"Received: warmup_epochs={warmup_epochs!r}, epochs={epochs!r}"
        )
    if not isinstance(output, (str, os.PathLike)) or not os.fspath(output):
        raise ValueError(f"`output` must be a directory path. Received: output={output!r}")
    if model_kwargs is not None and not isinstance(model_kwargs, dict):
        raise ValueError(
            f"`model_kwargs` must be a dict or None. Received: model_kwargs={model_kwargs!r}"
        )
