"""MGICFeedForward: a multigrid-in-channels token feed-forward (transformer MLP block)."""

import keras

from keras_mgic.layers.channel_hierarchy import check_coarsening, level_groups, level_widths
from keras_mgic.layers.layer_utils import fresh_initializer
from keras_mgic.layers.validation import boolean, positive_even_int, positive_int

#: ``scale`` of the default kernel initializer, ``VarianceScaling(scale, "fan_in",
#: "truncated_normal")`` (LeCun-normal is scale 1).
DEFAULT_KERNEL_SCALE = 0.7


def default_kernel_initializer():
    """A new instance of ``MGICFeedForward``'s default kernel initializer,
    ``VarianceScaling(0.7, "fan_in", "truncated_normal")``: LeCun-normal scaled down, so that
    the sum of the levels' outputs starts no larger than a dense feed-forward's (see the
    class docstring)."""
    return keras.initializers.VarianceScaling(
        scale=DEFAULT_KERNEL_SCALE, mode="fan_in", distribution="truncated_normal"
    )


def _initializer(name, value):
    """``keras.initializers.get(value)``; a ValueError that names the argument otherwise."""
    try:
        initializer = keras.initializers.get(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"Unknown `{name}`. Received: {name}={value!r} ({error})") from error
    if initializer is None:
        raise ValueError(f"`{name}` must be an initializer. Received: {name}={value!r}")
    return initializer


def _to_groups(x, groups):
    """``(tokens, groups * size)`` -> ``(groups, tokens, size)``."""
    if groups == 1:
        return keras.ops.expand_dims(x, 0)
    x = keras.ops.reshape(x, (-1, groups, x.shape[-1] // groups))
    return keras.ops.transpose(x, (1, 0, 2))


def _from_groups(x, groups):
    """``(groups, tokens, size)`` -> ``(tokens, groups * size)``."""
    if groups == 1:
        return keras.ops.squeeze(x, 0)
    x = keras.ops.transpose(x, (1, 0, 2))
    return keras.ops.reshape(x, (-1, groups * x.shape[-1]))


@keras.saving.register_keras_serializable(package="keras_mgic")
class MGICFeedForward(keras.layers.Layer):
    """Multigrid-in-channels feed-forward: a drop-in for ``Dense(hidden_dim) -> activation ->
    Dense(d)`` whose parameters and multiply-adds grow linearly with the width ``d``.

    The ``d`` input channels form a hierarchy of levels ``d, d/2, d/4, ...`` (the coarsening
    rule of :class:`MGICBlock`, ``keras_mgic.layers.channel_hierarchy``). On every level but
    the coarsest, a grouped feed-forward ``G_j`` (``d_j / group_size`` groups, each a small
    ``Dense -> activation -> Dense`` of ``group_size`` channels and
    ``group_size * hidden_dim / d`` hidden units), a grouped restriction ``R_j`` (each group
    of ``group_size`` channels summarized into half as many, as ``ChannelRestriction``) and a
    grouped prolongation ``P_j`` (its transpose structure, as ``ChannelProlongation``); on the
    coarsest level (fewer than ``coarsest_size`` channels) a fully coupled feed-forward
    ``F_n``. Every map acts on each token (each position) alone::

        x_0 = x;  x_{j+1} = R_j x_j                  (going down)
        y_n = F_n(x_n)                               (coarsest, fully coupled)
        y_j = G_j(x_j) + P_j y_{j+1}                 (going up, grouped)

    and the output is ``y_0`` plus a bias. Each output channel is a grouped (local)
    feed-forward of its own group plus the prolongated coarse output, so every output
    channel depends on every input channel through the coarsest level. A feed-forward is
    not residual (a transformer adds its input outside), so the coarse level contributes
    its output additively rather than as ``MGICBlock``'s correction ``P_j(y_{j+1} - R_j
    x_j)``. With ``d`` below ``group_size`` every level is fully coupled.

    Parameters: about ``2 * hidden_dim / d * group_size * 2 * d`` for the grouped
    feed-forwards (the levels sum to twice the finest) plus ``group_size * d`` for the
    transfers, against ``2 * d * hidden_dim`` for the dense feed-forward: a fraction of
    about ``2 * group_size / d`` of it.

    Args:
        hidden_dim: positive int, the hidden width of the equivalent dense feed-forward
            (e.g. ``4 * d``); level ``j`` has ``hidden_dim * d_j / d`` hidden units, which
            must be an integer divisible by the level's group count.
        group_size: positive even int, the channels per group on the fine levels
            (default 64).
        coarsest_size: positive int ``s_c``: levels are halved while at least ``s_c``
            wide (and at least once), as in ``MGICBlock`` (default 128). The defaults were
            chosen by ``benchmarks/feed_forward.py`` (BENCHMARKS.md): at ViT-B width they
            keep 0.18x the dense feed-forward's parameters and meet the issue's training-step
            target; ``group_size=32, coarsest_size=64`` halves the parameters again and ran
            faster still.
        activation: the hidden activation (default ``"gelu"``).
        use_bias: bool, biases on the hidden units of every level and on the output.
        coarsening: ``"reference"`` (default) or ``"literal"``, as in ``MGICBlock``.
        kernel_initializer: initializer of every kernel, called with the 2-D shape
            ``(inputs per group, groups * outputs per group)`` (so its ``fan_in`` is the
            fan-in of one group). Default (``None``):
            ``VarianceScaling(0.7, "fan_in", "truncated_normal")``, LeCun-normal scaled
            down because every fine level adds the prolongated output of the coarser ones:
            on unit-normal tokens at ``d = 256`` (the defaults, ``hidden_dim=1024``) the
            output's standard deviation starts at about 0.58, against 1.14 with
            LeCun-normal and 0.65 for the dense feed-forward with LeCun-normal kernels
            (means of 3 seeds, ``tests/test_feed_forward.py`` checks the order). In
            the trained comparison (``benchmarks/token_models.py``, BENCHMARKS.md) the
            LeCun-normal start left MGIC-ViT 2.6 points behind the dense ViT, the default
            0.6 points (3 seeds).
            ``kernel_initializer="lecun_normal"`` gives the former default.
        bias_initializer: initializer of the biases (default ``"zeros"``).
        kernel_regularizer: optional regularizer of every kernel.
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    Input and output: ``(..., d)``, channels last (tokens ``(batch, tokens, d)``, images
    ``(batch, height, width, d)``), with ``d`` divisible by ``group_size`` when
    ``d >= group_size``.

    Example:

    >>> ffn = MGICFeedForward(hidden_dim=512, group_size=16, coarsest_size=32)
    >>> tuple(ffn(keras.ops.ones((2, 10, 128))).shape)
    (2, 10, 128)
    """

    def __init__(
        self,
        hidden_dim,
        group_size=64,
        coarsest_size=128,
        activation="gelu",
        use_bias=True,
        coarsening="reference",
        kernel_initializer=None,
        bias_initializer="zeros",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = positive_int("hidden_dim", hidden_dim)
        self.group_size = positive_even_int("group_size", group_size)
        self.coarsest_size = positive_int("coarsest_size", coarsest_size)
        self.coarsening = check_coarsening(coarsening)
        self.use_bias = boolean("use_bias", use_bias)
        try:
            self.activation = keras.activations.get(activation)
        except ValueError as error:
            raise ValueError(
                f"Unknown `activation`. Received: activation={activation!r} ({error})"
            ) from error
        if kernel_initializer is None:
            kernel_initializer = default_kernel_initializer()
        self.kernel_initializer = _initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = _initializer("bias_initializer", bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)

    # ------------------------------------------------------------------ structure

    def levels(self, channels):
        """``[(width, groups, hidden), ...]`` of the levels for ``channels`` inputs, finest
        first; raises ValueError when the widths do not divide."""
        if channels >= self.group_size and channels % self.group_size:
            raise ValueError(
                "MGICFeedForward needs the number of channels to be divisible by "
                f"`group_size` (or smaller than it). Received: channels={channels}, "
                f"group_size={self.group_size}"
            )
        widths = level_widths(channels, self.coarsest_size, self.coarsening)
        result = []
        for level, width in enumerate(widths):
            groups = 1 if level == len(widths) - 1 else level_groups(width, self.group_size)
            hidden = self.hidden_dim * width // channels
            if hidden * channels != self.hidden_dim * width or hidden % groups or hidden == 0:
                raise ValueError(
                    f"MGICFeedForward level {level} ({width} channels, {groups} groups) needs "
                    f"hidden_dim * {width} / {channels} hidden units, an integer divisible by "
                    f"{groups}: choose hidden_dim a multiple of {channels // width * groups}. "
                    f"Received: hidden_dim={self.hidden_dim}"
                )
            result.append((width, groups, hidden))
        return result

    def macs_per_position(self, channels):
        """Multiply-adds per token (per position) for ``channels`` input channels."""
        levels = self.levels(channels)
        macs = 0
        for level, (width, groups, hidden) in enumerate(levels):
            macs += 2 * width * hidden // groups
            if level < len(levels) - 1:
                macs += 2 * width * (width // 2) // groups
        return macs

    def _kernel(self, name, groups, rows, cols, offset):
        initializer = fresh_initializer(self.kernel_initializer, offset)  # one draw per kernel

        def grouped(shape, dtype=None):
            values = initializer((rows, groups * cols), dtype=dtype)
            values = keras.ops.reshape(values, (rows, groups, cols))
            return keras.ops.transpose(values, (1, 0, 2))

        return self.add_weight(
            name=name,
            shape=(groups, rows, cols),
            initializer=grouped,
            regularizer=self.kernel_regularizer,
        )

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "MGICFeedForward needs a known channel (last) dimension. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.channels = int(channels)
        self._levels = self.levels(self.channels)
        self.kernels_in, self.kernels_out, self.biases_in = [], [], []
        self.restrictions, self.prolongations = [], []
        count = 0
        for level, (width, groups, hidden) in enumerate(self._levels):
            size = width // groups
            self.kernels_in.append(
                self._kernel(f"level_{level}_in", groups, size, hidden // groups, count)
            )
            self.kernels_out.append(
                self._kernel(f"level_{level}_out", groups, hidden // groups, size, count + 1)
            )
            count += 2
            if self.use_bias:
                self.biases_in.append(
                    self.add_weight(
                        name=f"level_{level}_bias",
                        shape=(groups, 1, hidden // groups),
                        initializer=self.bias_initializer,
                    )
                )
            if level < len(self._levels) - 1:
                self.restrictions.append(
                    self._kernel(f"restrict_{level}", groups, size, size // 2, count)
                )
                self.prolongations.append(
                    self._kernel(f"prolong_{level}", groups, size // 2, size, count + 1)
                )
                count += 2
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.channels,), initializer=self.bias_initializer
            )
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: self.channels})

    # ------------------------------------------------------------------ forward pass

    def _level_ffn(self, level, grouped):
        hidden = keras.ops.matmul(grouped, self.kernels_in[level])
        if self.use_bias:
            hidden = hidden + self.biases_in[level]
        return keras.ops.matmul(self.activation(hidden), self.kernels_out[level])

    def call(self, inputs):
        leading = tuple(inputs.shape[:-1])
        if sum(d is None for d in leading) == 1:  # a symbolic batch: keep the rest static
            leading = tuple(-1 if d is None else d for d in leading)
        elif None in leading:
            leading = keras.ops.shape(inputs)[:-1]
        x = keras.ops.reshape(inputs, (-1, self.channels))
        fine = []  # each level's input in its grouped layout (groups, tokens, size)
        for level, (_, groups, _) in enumerate(self._levels):
            grouped = _to_groups(x, groups)
            fine.append(grouped)
            if level < len(self.restrictions):
                x = _from_groups(keras.ops.matmul(grouped, self.restrictions[level]), groups)
        last = len(self._levels) - 1
        y = self._level_ffn(last, fine[last])
        for level in reversed(range(last)):
            groups = self._levels[level][1]
            coarse = _from_groups(y, self._levels[level + 1][1])
            y = self._level_ffn(level, fine[level]) + keras.ops.matmul(
                _to_groups(coarse, groups), self.prolongations[level]
            )
        y = _from_groups(y, self._levels[0][1])
        if self.use_bias:
            y = y + self.bias
        return keras.ops.reshape(y, (*leading, self.channels))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "group_size": self.group_size,
                "coarsest_size": self.coarsest_size,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "coarsening": self.coarsening,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            }
        )
        return config
