"""PointTransition: the cheap width change in front of an MGIC block on point features."""

import math

import keras

from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.layer_utils import fresh_initializer
from keras_mgic.layers.point_cloud.graph_ops import grouped_pointwise
from keras_mgic.layers.validation import point_channels, positive_int


@keras.saving.register_keras_serializable(package="keras_mgic")
class PointTransition(keras.layers.Layer):
    """Changes the width of point features with a grouped point-wise linear map, BN and act.

    The point-set counterpart of ``ChannelTransition`` (which MGIC image networks put in
    front of an MGIC block whose width differs from its input's): ``groups =
    gcd(channels, filters)``, so each output channel reads ``channels / groups`` input
    channels and the cost is ``channels * filters / groups`` multiply-adds per point (64
    to 128 channels: 2 weights per output channel); channel mixing is left to the MGIC
    block after it. Three coordinates to 64 channels (``gcd = 1``) is a dense map.

    Args:
        filters: positive int, output channels.
        activation: activation after the BatchNorm; default ``"relu"``.
        kernel_initializer: initializer of ``kernel`` ``(channels / groups, filters)``.
        kernel_regularizer: optional regularizer of ``kernel``.
        **kwargs: base ``keras.layers.Layer`` arguments.

    Example:

    >>> layer = PointTransition(128)
    >>> tuple(layer(keras.ops.ones((2, 10, 64))).shape), layer.groups
    ((2, 10, 128), 64)
    """

    def __init__(
        self,
        filters,
        activation="relu",
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = positive_int("filters", filters)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=3)
        self.bn = BatchNormalization(
            momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=self.dtype_policy, name="bn"
        )

    def build(self, input_shape):
        channels = point_channels("PointTransition", input_shape)
        self.groups = math.gcd(channels, self.filters)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(channels // self.groups, self.filters),
            initializer=fresh_initializer(self.kernel_initializer),
            regularizer=self.kernel_regularizer,
        )
        self.bn.build((None, None, self.filters))

    def call(self, inputs, training=None):
        outputs = grouped_pointwise(inputs, self.kernel, self.groups)
        return self.activation(self.bn(outputs, training=training))

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            }
        )
        return config
