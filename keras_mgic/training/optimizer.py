"""The optimizer of the paper's recipe: SGD with momentum and decoupled weight decay."""

from keras_mgic.training.arguments import optimizer_arguments


def make_optimizer(learning_rate, weight_decay=1e-4, momentum=0.9):
    """SGD with momentum and decoupled weight decay.

    Keras's ``SGD(weight_decay=...)`` decays every trainable variable outside the momentum
    buffer (``w <- w - lr * wd * w`` each step). Without momentum this equals the coupled L2
    term of the paper's PyTorch code; with momentum 0.9 PyTorch's coupled term passes through
    the momentum buffer and decays about ``1 / (1 - 0.9) = 10x`` more per step at steady
    state, so ``weight_decay=1e-3`` approximates it. The decoupled form is Keras's native one:
    it works unchanged with loss scaling, distribution strategies and ``.keras`` saving.

    Args:
        learning_rate: a float or a ``LearningRateSchedule``.
        weight_decay: decoupled weight decay (0 or None disables it).
        momentum: SGD momentum in [0, 1).

    Example:

    >>> opt = make_optimizer(0.1)
    >>> float(opt.momentum), float(opt.weight_decay)
    (0.9, 0.0001)
    """
    import keras

    optimizer_arguments(weight_decay, momentum)
    return keras.optimizers.SGD(
        learning_rate=learning_rate,
        momentum=float(momentum),
        weight_decay=float(weight_decay) if weight_decay else None,
    )


def current_learning_rate(optimizer):
    """The optimizer's learning rate now (through a ``LossScaleOptimizer``)."""
    import keras

    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return float(keras.ops.convert_to_numpy(inner.learning_rate))
