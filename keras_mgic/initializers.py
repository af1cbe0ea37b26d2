"""Initializers for the channel transfer operators."""

import keras


@keras.saving.register_keras_serializable(package="keras_mgic")
class ChannelAveraging(keras.initializers.Initializer):
    """Averaging initialization for (grouped) convolution kernels.

    Every weight is positive and every output channel's weights sum to 1 over its
    receptive field (kernel window times the input channels of its group), so that each
    output starts as an average of the inputs it sees. This is the paper's initialization of
    the restriction and prolongation operators (Sec. 4.3): coarse feature maps neither vanish
    nor blow up through a chain of restrictions.

    With ``jitter=0`` (the default, as in the paper's reference code) all weights of an
    output channel are equal. A ``jitter`` in ``(0, 1)`` multiplies each weight by a uniform
    random factor in ``[1 - jitter, 1 + jitter]`` before normalizing, which keeps the weights
    positive and the sums at 1 while breaking the symmetry between outputs.

    Args:
        jitter: float in ``[0, 1)``, relative random perturbation of the weights.
        seed: optional int seed for the jitter.

    Example:

    >>> init = ChannelAveraging()
    >>> w = init((1, 1, 8, 4))  # a 1x1 kernel: 8 inputs per group, 4 outputs
    >>> keras.ops.convert_to_numpy(keras.ops.sum(w, axis=(0, 1, 2)))
    array([1., 1., 1., 1.], dtype=float32)
    """

    def __init__(self, jitter=0.0, seed=None):
        if (
            not isinstance(jitter, (int, float))
            or isinstance(jitter, bool)
            or not (0.0 <= jitter < 1.0)
        ):
            raise ValueError(f"`jitter` must be a float in [0, 1). Received: jitter={jitter}")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(f"`seed` must be an int or None. Received: seed={seed}")
        self.jitter = float(jitter)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(
                "ChannelAveraging initializes kernels of rank >= 2 "
                f"(..., inputs, outputs). Received: shape={shape}"
            )
        dtype = dtype or keras.config.floatx()
        if self.jitter == 0.0:
            fan_in = 1
            for dim in shape[:-1]:
                fan_in *= dim
            return keras.ops.full(shape, 1.0 / fan_in, dtype=dtype)
        weights = keras.random.uniform(
            shape, 1.0 - self.jitter, 1.0 + self.jitter, dtype=dtype, seed=self.seed
        )
        axes = tuple(range(len(shape) - 1))
        return weights / keras.ops.sum(weights, axis=axes, keepdims=True)

    def get_config(self):
        return {"jitter": self.jitter, "seed": self.seed}
