"""EdgeConv: the graph convolution of DGCNN (Wang et al., ACM TOG 2019)."""

import keras

from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.layer_utils import fresh_initializer
from keras_mgic.layers.point_cloud.base import GraphConv, check_groups, graph_or_knn
from keras_mgic.layers.point_cloud.graph_ops import gather_neighbors, grouped_pointwise
from keras_mgic.layers.validation import point_channels


@keras.saving.register_keras_serializable(package="keras_mgic")
class EdgeConv(GraphConv):
    """Edge convolution: a shared linear map of every edge's features, max over neighbours.

    For point ``i`` with neighbours ``j`` (``neighbors[b, i]``)::

        y_i = max_j act(BN(W [x_j - x_i, x_i]))

    as in DGCNN's public code (WangYueFt/dgcnn, ``model.py``: the edge feature is the
    concatenation ``(x_j - x_i, x_i)``, then a bias-free 1x1 convolution, BatchNorm,
    LeakyReLU with slope 0.2 and the maximum over the ``k`` neighbours). ``kernel`` holds
    ``W`` transposed, ``(2 * channels / groups, filters)``: rows ``[0, c/g)`` act on the
    group's ``x_j - x_i``, rows ``[c/g, 2c/g)`` on its ``x_i``.

    The linear map is computed per point, not per edge: ``W [x_j - x_i, x_i] = A x_j +
    (B - A) x_i`` with ``W = [A, B]``, so the cost is ``2 * channels * filters / groups``
    multiply-adds per point (what ``keras_mgic.count_flops`` counts), then a gather of the
    ``(batch, points, k, filters)`` edge values; DGCNN's code forms the edge features and
    pays ``k`` times that.

    With ``groups > 1`` (an MGIC fine level) the channels split into contiguous groups and
    group ``g``'s outputs read only group ``g``'s edge features.

    Args:
        filters: positive int, output channels.
        groups: positive int dividing the input channels and ``filters``.
        activation: activation after the BatchNorm; default ``"leaky_relu"`` (slope 0.2,
            DGCNN's).
        kernel_initializer: initializer of ``kernel``; default ``"he_normal"``.
        kernel_regularizer: optional regularizer of ``kernel``.
        k: optional positive int: a call without ``neighbors`` uses the k-NN graph of its
            ``inputs`` (DGCNN's dynamic graph), built inside.
        **kwargs: base ``keras.layers.Layer`` arguments.

    Call arguments: ``inputs`` ``(batch, points, channels)``, ``neighbors`` ``(batch,
    points, k)`` integer indices (e.g. from ``KNNGraph``; optional with ``k``),
    ``training``.

    Example:

    >>> from keras_mgic.layers import KNNGraph
    >>> x = keras.random.normal((2, 32, 3))
    >>> neighbors = KNNGraph(k=4)(x)
    >>> tuple(EdgeConv(16)(x, neighbors=neighbors).shape)
    (2, 32, 16)
    >>> tuple(EdgeConv(16, k=4)(x).shape)  # the graph of x, built inside
    (2, 32, 16)
    """

    def __init__(
        self,
        filters,
        groups=1,
        activation="leaky_relu",
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        k=None,
        **kwargs,
    ):
        super().__init__(
            filters,
            groups,
            activation=activation,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            k=k,
            **kwargs,
        )
        # The fused kernel trains faster on the rank-4 edge tensor; in inference tf2onnx
        # turns it into a graph ONNX Runtime rejects (BatchNormalization's docstring).
        self.bn = BatchNormalization(
            momentum=BN_MOMENTUM,
            epsilon=BN_EPSILON,
            fused="training",
            dtype=self.dtype_policy,
            name="bn",
        )

    def build(self, input_shape):
        channels = point_channels("EdgeConv", input_shape)
        check_groups("EdgeConv", channels, self.filters, self.groups)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(2 * channels // self.groups, self.filters),
            initializer=fresh_initializer(self.kernel_initializer),
            regularizer=self.kernel_regularizer,
        )
        self.bn.build((None, None, None, self.filters))

    def call(self, inputs, neighbors=None, training=None):
        neighbors = graph_or_knn("EdgeConv", inputs, neighbors, self.k)
        group_channels = self.kernel.shape[0] // 2
        on_neighbor, on_center = self.kernel[:group_channels], self.kernel[group_channels:]
        neighbor_part = grouped_pointwise(inputs, on_neighbor, self.groups)
        center_part = grouped_pointwise(inputs, on_center - on_neighbor, self.groups)
        edges = gather_neighbors(neighbor_part, neighbors) + keras.ops.expand_dims(center_part, 2)
        edges = self.activation(self.bn(edges, training=training))
        return keras.ops.max(edges, axis=2)
