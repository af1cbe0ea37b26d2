"""Channel transfer operators: restriction R_j (c -> c/2) and prolongation P_j (c/2 -> c).

Both act on images ``(batch, height, width, channels)`` (the default) or, with
``points=True``, on point features ``(batch, points, channels)``: a grouped 1x1 convolution
either way, with the kernel ``(1, 1, c / groups, filters)`` of ``keras.layers.Conv2D`` for
images and ``(1, c / groups, filters)`` of ``keras.layers.Conv1D`` for point sets.
"""

import keras

from keras_mgic import ops
from keras_mgic.initializers import ChannelHeNormal
from keras_mgic.layers.channel_hierarchy import level_groups
from keras_mgic.layers.layer_utils import (
    channel_axis,
    fresh_initializer,
    from_channels_last,
    shape_from_channels_last,
    shape_to_channels_last,
    standardize_data_format,
    to_channels_last,
)
from keras_mgic.layers.validation import boolean, feature_channels, positive_even_int


class _ChannelTransfer(keras.layers.Layer):
    """A grouped 1x1 convolution between two adjacent levels of the channel hierarchy.

    Subclasses set ``_output_channels(channels)`` and ``_fine_width(channels)``.
    """

    def __init__(
        self,
        group_size,
        kernel_initializer=None,
        kernel_regularizer=None,
        kernel_constraint=None,
        data_format=None,
        points=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.points = boolean("points", points)
        self.group_size = positive_even_int("group_size", group_size)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer if kernel_initializer is not None else ChannelHeNormal()
        )
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.input_spec = keras.layers.InputSpec(ndim=self._ndim())

    def _ndim(self):
        return 3 if self.points else 4

    def _channels(self, input_shape):
        return feature_channels(
            self.__class__.__name__, input_shape, self.data_format, points=self.points
        )

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self._check_channels(channels)
        self.groups = level_groups(self._fine_width(channels), self.group_size)
        self.filters = self._output_channels(channels)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*(1,) * (self._ndim() - 2), channels // self.groups, self.filters),
            initializer=fresh_initializer(self.kernel_initializer),
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        axis = -1 if self.points else channel_axis(self.data_format)
        self.input_spec = keras.layers.InputSpec(ndim=self._ndim(), axes={axis: channels})

    def call(self, inputs):
        if self.points:  # (batch, points, c) as a (batch, 1, points, c) image
            kernel = keras.ops.expand_dims(self.kernel, 0)
            x = ops.grouped_conv2d(
                keras.ops.expand_dims(inputs, 1),
                kernel,
                padding="valid",
                data_format="channels_last",
            )
            return keras.ops.squeeze(x, 1)
        x = to_channels_last(inputs, self.data_format)
        x = ops.grouped_conv2d(x, self.kernel, padding="valid", data_format="channels_last")
        return from_channels_last(x, self.data_format)

    def compute_output_shape(self, input_shape):
        channels = self._channels(input_shape)
        if self.points:
            return (*tuple(input_shape)[:-1], self._output_channels(channels))
        shape = shape_to_channels_last(input_shape, self.data_format)
        shape = (*shape[:-1], self._output_channels(channels))
        return shape_from_channels_last(shape, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "group_size": self.group_size,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "data_format": self.data_format,
                "points": self.points,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_mgic")
class ChannelRestriction(_ChannelTransfer):
    """Restriction R_j: halves the channels with a grouped 1x1 convolution.

    The input's ``c`` channels are split into ``level_groups(c, group_size)`` contiguous
    groups (``c / group_size`` when ``group_size`` divides ``c``, one group when
    ``c < group_size``); each group of ``c / groups`` channels is summarized into half as
    many. Weights start zero-mean normal of He fan-out scale
    (:class:`keras_mgic.initializers.ChannelHeNormal`, the paper's reference code's effective
    start, so the coarse channels of a group do not start equal) and are learned;
    ``kernel_initializer="channel_averaging"`` gives the paper's exact averaging.

    Args:
        group_size: positive even int, the group size ``s_g`` of the level.
        kernel_initializer: defaults to ``ChannelHeNormal()`` (a fresh draw per
            layer); ``"channel_averaging"`` for exact averaging.
        kernel_regularizer: optional regularizer for the kernel.
        kernel_constraint: optional constraint for the kernel.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()`` (images only).
        points: bool; True for point features ``(batch, points, channels)``
            (a Conv1D-style kernel ``(1, c / groups, c / 2)``), False (default) for images.

    Example:

    >>> layer = ChannelRestriction(group_size=8)
    >>> tuple(layer(keras.ops.ones((2, 4, 4, 32))).shape)
    (2, 4, 4, 16)
    >>> tuple(ChannelRestriction(8, points=True)(keras.ops.ones((2, 100, 32))).shape)
    (2, 100, 16)
    """

    def _check_channels(self, channels):
        if channels % 2:
            raise ValueError(
                "ChannelRestriction halves the channels, so their number must be even. "
                f"Received: channels={channels}"
            )

    def _fine_width(self, channels):
        return channels

    def _output_channels(self, channels):
        return channels // 2


@keras.saving.register_keras_serializable(package="keras_mgic")
class ChannelProlongation(_ChannelTransfer):
    """Prolongation P_j: doubles the channels with a grouped 1x1 convolution.

    The transpose structure of :class:`ChannelRestriction` for the fine width ``2c``: the
    same number of groups, each of ``c / groups`` coarse channels interpolated back to twice
    as many fine channels. Weights start zero-mean normal of He fan-out scale (as for the
    restriction) and are learned.

    Args:
        group_size: positive even int, the group size ``s_g`` of the fine level.
        kernel_initializer: defaults to ``ChannelHeNormal()`` (a fresh draw per
            layer); ``"channel_averaging"`` for exact averaging.
        kernel_regularizer: optional regularizer for the kernel.
        kernel_constraint: optional constraint for the kernel.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()`` (images only).
        points: bool; True for point features ``(batch, points, channels)``
            (a Conv1D-style kernel ``(1, c / groups, 2c)``), False (default) for images.

    Example:

    >>> layer = ChannelProlongation(group_size=8)
    >>> tuple(layer(keras.ops.ones((2, 4, 4, 16))).shape)
    (2, 4, 4, 32)
    >>> tuple(ChannelProlongation(8, points=True)(keras.ops.ones((2, 100, 16))).shape)
    (2, 100, 32)
    """

    def _check_channels(self, channels):
        pass  # any width doubles

    def _fine_width(self, channels):
        return 2 * channels

    def _output_channels(self, channels):
        return channels * 2
