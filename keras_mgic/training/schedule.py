"""The per-step learning-rate schedules, built from Keras's own schedule classes so that a
``.keras`` file with its optimizer reloads without this package."""

import math

from keras_mgic.training.arguments import SCHEDULES, choice, positive

#: The paper's step schedule: divide by ``STEP_FACTOR`` every ``STEP_FRACTION`` of the run
#: (30 of 180 epochs, Eliasof et al. 2023, Sec. 5.2).
STEP_FACTOR = 10.0
STEP_FRACTION = 30 / 180


def step_interval(epochs):
    """Epochs between the step schedule's divisions: the paper's 30 of 180, scaled.

    Example:

    >>> step_interval(180), step_interval(12), step_interval(3)
    (30, 2, 1)
    """
    positive("epochs", epochs)
    return max(1, round(epochs * STEP_FRACTION))


def learning_rate_schedule(learning_rate, schedule, epochs, steps_per_epoch, warmup_steps=0):
    """The per-step learning-rate schedule.

    Args:
        learning_rate: the peak learning rate.
        schedule: ``"cosine"`` (decay to 0 by the end of the run) or ``"step"`` (divide by 10
            every ``step_interval(epochs)`` epochs).
        epochs: the run's length in epochs.
        steps_per_epoch: optimizer steps per epoch.
        warmup_steps: steps of linear warmup from 0 to ``learning_rate`` (cosine only: Keras's
            ``CosineDecay(warmup_steps=...)``); the cosine then decays over the other steps.

    Returns:
        A ``keras.optimizers.schedules.LearningRateSchedule``.

    Example:

    >>> s = learning_rate_schedule(0.1, "step", epochs=12, steps_per_epoch=10)
    >>> [round(float(s(step)), 6) for step in (0, 19, 20, 40, 119)]
    [0.1, 0.1, 0.01, 0.001, 1e-06]
    """
    import keras

    positive("learning_rate", learning_rate, float)
    choice("schedule", schedule, SCHEDULES)
    positive("epochs", epochs)
    positive("steps_per_epoch", steps_per_epoch)
    total = epochs * steps_per_epoch
    if (
        isinstance(warmup_steps, bool)
        or not isinstance(warmup_steps, int)
        or not (0 <= warmup_steps < total)
    ):
        raise ValueError(
            "`warmup_steps` must be an integer in [0, epochs * steps_per_epoch). "
            f"Received: warmup_steps={warmup_steps!r}, total_steps={total}"
        )
    if schedule == "cosine":
        if not warmup_steps:
            return keras.optimizers.schedules.CosineDecay(float(learning_rate), total, alpha=0.0)
        return keras.optimizers.schedules.CosineDecay(
            0.0,
            decay_steps=total - warmup_steps,
            alpha=0.0,
            warmup_target=float(learning_rate),
            warmup_steps=warmup_steps,
        )
    if warmup_steps:
        raise ValueError(
            "Warmup is available with the cosine schedule only. "
            f"Received: schedule='step', warmup_steps={warmup_steps}"
        )
    return _step_schedule(float(learning_rate), epochs, steps_per_epoch)


def _step_schedule(learning_rate, epochs, steps_per_epoch):
    import keras

    interval = step_interval(epochs)
    # PiecewiseConstantDecay keeps values[k] while step <= boundaries[k]: the division takes
    # effect from the first step of epoch k * interval on.
    boundaries = [
        k * interval * steps_per_epoch - 1 for k in range(1, math.ceil(epochs / interval))
    ]
    values = [learning_rate / STEP_FACTOR**k for k in range(len(boundaries) + 1)]
    if not boundaries:
        total = epochs * steps_per_epoch
        return keras.optimizers.schedules.PiecewiseConstantDecay([total], values * 2)
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
