"""ChannelTransition: the lightweight shortcut for a change of width or stride."""

import math

import keras

from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.grouped_conv import GroupedConv2D
from keras_mgic.layers.layer_utils import (
    channel_axis,
    fresh_initializer,
    from_channels_last,
    shape_from_channels_last,
    shape_to_channels_last,
    standardize_data_format,
    to_channels_last,
)
from keras_mgic.layers.validation import image_channels, positive_int


def symmetric_padding(kernel_size):
    """``(before, after)`` zero padding of a strided convolution: ``kernel_size // 2`` on both
    sides for an odd kernel, as PyTorch's ``padding=kernel_size // 2`` (the paper's reference
    code); one less before than after for an even kernel. The output has
    ``ceil(size / strides)`` pixels, as with ``"same"`` padding."""
    return (kernel_size - 1) // 2, kernel_size // 2


@keras.saving.register_keras_serializable(package="keras_mgic")
class ChannelTransition(keras.layers.Layer):
    """Brings a tensor from ``c_in`` to ``filters`` channels and/or a new stride, cheaply.

    A depthwise-style ``kernel_size`` convolution with ``groups = gcd(c_in, filters)``
    (``c_in`` groups when ``filters`` is a multiple of ``c_in``, the paper's case), then
    BatchNorm and the activation (paper Sec. 4.3, "changing resolution blocks"). An MGIC
    block at ``filters`` channels follows it.

    With ``strides > 1`` the input is zero-padded by ``kernel_size // 2`` pixels on every
    side and convolved without padding, as PyTorch's ``padding=1`` in the paper's reference
    code (BGUCompSci/MultigridInChannelsCNNs) and ``keras.applications``' ResNet stems do.
    TensorFlow's ``"same"`` padding would pad only the bottom and right for stride 2, which
    shifts the sampling grid by one pixel. With stride 1 the convolution pads ``"same"``;
    it may then be dilated (``dilation_rate``), as the segmentation encoders' last stage is,
    where a stride-2 transition of the classification network keeps stride 1 (output stride
    16, Howard et al. 2019, Sec. 6.4).

    Args:
        filters: output channels.
        strides: int stride of the convolution.
        kernel_size: spatial kernel size (3 in the paper).
        activation: activation after the BatchNorm.
        kernel_initializer: initializer of the convolution kernel.
        kernel_regularizer: optional regularizer of the convolution kernel.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.
        dilation_rate: positive int, the convolution's dilation; above 1 only with
            ``strides=1``.

    Example:

    >>> layer = ChannelTransition(filters=32, strides=2)
    >>> tuple(layer(keras.ops.ones((1, 16, 16, 16))).shape)
    (1, 8, 8, 32)
    """

    def __init__(
        self,
        filters,
        strides=1,
        kernel_size=3,
        activation="relu",
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        data_format=None,
        dilation_rate=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.filters = positive_int("filters", filters)
        self.strides = positive_int("strides", strides)
        self.dilation_rate = positive_int("dilation_rate", dilation_rate)
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError(
                "A strided ChannelTransition cannot be dilated: pass `strides=1` with "
                f"`dilation_rate` > 1. Received: strides={strides}, dilation_rate={dilation_rate}"
            )
        self.kernel_size = positive_int("kernel_size", kernel_size)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        channels = image_channels("ChannelTransition", input_shape, self.data_format)
        self.conv = GroupedConv2D(
            self.filters,
            self.kernel_size,
            strides=self.strides,
            padding="same" if self.strides == 1 else "valid",
            dilation_rate=self.dilation_rate,
            groups=math.gcd(channels, self.filters),
            use_bias=False,
            kernel_initializer=fresh_initializer(self.kernel_initializer),
            kernel_regularizer=self.kernel_regularizer,
            data_format="channels_last",
            dtype=self.dtype_policy,
            name="conv",
        )
        shape = shape_to_channels_last(input_shape, self.data_format)
        self.conv.build(self._padded_shape(shape))
        self.bn = BatchNormalization(
            momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=self.dtype_policy, name="bn"
        )
        self.bn.build(self.conv.compute_output_shape(self._padded_shape(shape)))
        self.input_spec = keras.layers.InputSpec(
            ndim=4, axes={channel_axis(self.data_format): channels}
        )

    def _padded_shape(self, shape):
        if self.strides == 1:
            return shape
        pad = sum(symmetric_padding(self.kernel_size))
        batch, height, width, channels = shape
        return (
            batch,
            None if height is None else height + pad,
            None if width is None else width + pad,
            channels,
        )

    def call(self, inputs, training=None):
        x = to_channels_last(inputs, self.data_format)
        if self.strides > 1:
            pads = symmetric_padding(self.kernel_size)
            x = keras.ops.pad(x, ((0, 0), pads, pads, (0, 0)))
        x = self.activation(self.bn(self.conv(x), training=training))
        return from_channels_last(x, self.data_format)

    def compute_output_shape(self, input_shape):
        image_channels("ChannelTransition", input_shape, self.data_format)
        batch, height, width, _ = shape_to_channels_last(input_shape, self.data_format)

        def out(size):
            return None if size is None else -(-size // self.strides)

        shape = (batch, out(height), out(width), self.filters)
        return shape_from_channels_last(shape, self.data_format)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "strides": self.strides,
                "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
            }
        )
        return config
