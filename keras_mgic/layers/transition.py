"""ChannelTransition: the lightweight shortcut for a change of width or stride."""

import math

import keras

from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.grouped_conv import GroupedConv2D
from keras_mgic.layers.validation import image_channels, positive_int


@keras.saving.register_keras_serializable(package="keras_mgic")
class ChannelTransition(keras.layers.Layer):
    """Brings a tensor from ``c_in`` to ``filters`` channels and/or a new stride, cheaply.

    A depthwise-style ``kernel_size`` convolution with ``groups = gcd(c_in, filters)``
    (``c_in`` groups when ``filters`` is a multiple of ``c_in``, the paper's case), then
    BatchNorm and the activation (paper Sec. 4.3, "changing resolution blocks"). An MGIC
    block at ``filters`` channels follows it.

    Args:
        filters: output channels.
        strides: int stride of the convolution.
        kernel_size: spatial kernel size (3 in the paper).
        activation: activation after the BatchNorm.
        kernel_initializer: initializer of the convolution kernel.
        kernel_regularizer: optional regularizer of the convolution kernel.

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
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = positive_int("filters", filters)
        self.strides = positive_int("strides", strides)
        self.kernel_size = positive_int("kernel_size", kernel_size)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        channels = image_channels("ChannelTransition", input_shape)
        self.conv = GroupedConv2D(
            self.filters,
            self.kernel_size,
            strides=self.strides,
            padding="same",
            groups=math.gcd(channels, self.filters),
            use_bias=False,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer,
            dtype=self.dtype_policy,
            name="conv",
        )
        self.conv.build(input_shape)
        self.bn = BatchNormalization(
            momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=self.dtype_policy, name="bn"
        )
        self.bn.build(self.conv.compute_output_shape(input_shape))
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={-1: channels})

    def call(self, inputs, training=None):
        return self.activation(self.bn(self.conv(inputs), training=training))

    def compute_output_shape(self, input_shape):
        image_channels("ChannelTransition", input_shape)
        batch, height, width, _ = input_shape

        def out(size):
            return None if size is None else -(-size // self.strides)

        return (batch, out(height), out(width), self.filters)

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
            }
        )
        return config
