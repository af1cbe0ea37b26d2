"""DiffGCNResidualBlock: a DiffGCN convolution with a skip, the MGIC per-level block on points."""

import keras

from keras_mgic.layers.point_cloud.diffgcn import TERMS, DiffGCNConv
from keras_mgic.layers.validation import point_channels, positive_int


@keras.saving.register_keras_serializable(package="keras_mgic")
class DiffGCNResidualBlock(keras.layers.Layer):
    """``act(x + BN(W grad(x)))``: a DiffGCN convolution added to its input.

    The point-set counterpart of the ResNet basic block that an image ``MGICBlock`` runs on
    every level. A DiffGCN convolution alone (``DiffGCNConv``, as DiffGCN's public code
    computes it) sees only the graph gradient of its input, differences along the edges,
    and returns new features in place of the old ones; inside an MGIC cycle, which adds a
    prolonged coarse correction to each level's input and subtracts ``R_j x_j`` from the
    coarse output (paper Algorithm 1), each level must carry its input forward, as a
    residual block does. With ``W = 0`` and a linear ``activation`` the block is the
    identity, and so is an ``MGICBlock`` of them (paper Sec. 4.3).

    Args:
        filters: positive int, input and output channels.
        groups: positive int dividing ``filters``: the convolution's channel groups.
        coordinate_dim: positive int, the dimension of the coordinates.
        terms: the operators the convolution reads (``DiffGCNConv``'s); default all three.
        activation: activation after the sum; default ``"relu"``.
        kernel_initializer: initializer of the convolution's kernel; default
            ``"he_normal"``.
        kernel_regularizer: optional regularizer of the convolution's kernel.
        k: optional positive int: a call without ``neighbors`` uses the k-NN graph of its
            ``inputs``, built inside.
        **kwargs: base ``keras.layers.Layer`` arguments.

    Call arguments: ``inputs`` ``(batch, points, filters)``, ``neighbors`` ``(batch,
    points, k)`` integer indices (optional with ``k``), ``coordinates`` ``(batch, points,
    coordinate_dim)`` (default: the first ``coordinate_dim`` channels of ``inputs``),
    ``training``.

    Example:

    >>> from keras_mgic.layers import KNNGraph
    >>> points = keras.random.normal((2, 32, 3))
    >>> features = keras.random.normal((2, 32, 16))
    >>> block = DiffGCNResidualBlock(16, groups=2)
    >>> y = block(features, neighbors=KNNGraph(k=4)(points), coordinates=points)
    >>> tuple(y.shape)
    (2, 32, 16)
    """

    def __init__(
        self,
        filters,
        groups=1,
        coordinate_dim=3,
        terms=TERMS,
        activation="relu",
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        k=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = positive_int("filters", filters)
        self.activation = keras.activations.get(activation)
        self.conv = DiffGCNConv(
            filters,
            groups,
            coordinate_dim=coordinate_dim,
            terms=terms,
            activation=None,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            k=k,
            dtype=self.dtype_policy,
            name="conv",
        )
        self.groups = self.conv.groups
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def build(self, input_shape):
        channels = point_channels("DiffGCNResidualBlock", input_shape)
        if channels != self.filters:
            raise ValueError(
                "DiffGCNResidualBlock keeps the width: its input must have `filters` channels. "
                f"Received: channels={channels}, filters={self.filters}"
            )
        self.conv.build(input_shape)

    @property
    def coordinate_dim(self):
        """The dimension of the coordinates (the convolution's)."""
        return self.conv.coordinate_dim

    def call(self, inputs, neighbors=None, coordinates=None, training=None):
        update = self.conv(inputs, neighbors=neighbors, coordinates=coordinates, training=training)
        return self.activation(inputs + update)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        conv = self.conv.get_config()
        config.update(
            {
                "filters": self.filters,
                "groups": self.groups,
                "coordinate_dim": self.conv.coordinate_dim,
                "terms": list(self.conv.terms),
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": conv["kernel_initializer"],
                "kernel_regularizer": conv["kernel_regularizer"],
                "k": self.conv.k,
            }
        )
        return config
