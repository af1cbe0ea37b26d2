"""DiffGCNConv: the DiffGCN graph convolution (Eliasof & Treister, NeurIPS 2020)."""

import keras

from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.layer_utils import fresh_initializer
from keras_mgic.layers.point_cloud.base import GraphConv, check_groups
from keras_mgic.layers.point_cloud.graph_ops import (
    gather_neighbors,
    grouped_pointwise,
    scatter_to_neighbors,
)
from keras_mgic.layers.validation import point_channels, positive_int


def graph_gradient(features, neighbors, coordinates):
    """DiffGCN's graph gradient of ``features``, as the public code computes it.

    In BGUCompSci/DiffGCNs.py (``DiffGCN.py``, ``DiffGCNLayer.forward``) every edge
    ``j -> i`` of the k-NN graph becomes a vertex at the edge's midpoint; the edge vertex
    averages the messages ``x_v * (midpoint - p_v)`` of its two ends (``EdgeAggr``, mean of
    two), which is ``(x_i - x_j) (p_j - p_i) / 4`` for each coordinate; every point then
    averages the values of all the edges it belongs to, as centre (its ``k`` own edges) or
    as neighbour (edges of the points that chose it), in the transposed auxiliary graph
    (``AvgTranspose``). Nothing divides by the edge length (``EdgeAggr`` computes the
    squared distance but does not use it), and the edge value is symmetric in ``i`` and
    ``j``.

    Args:
        features: ``(batch, points, channels)``.
        neighbors: ``(batch, points, k)`` integer neighbour indices.
        coordinates: ``(batch, points, dims)``.

    Returns:
        ``(batch, points, dims, channels)``: per point and coordinate the averaged
        ``(x_i - x_j) * (p_j[d] - p_i[d]) / 4``.

    Example:

    >>> x = keras.ops.convert_to_tensor([[[0.0], [2.0]]])
    >>> p = keras.ops.convert_to_tensor([[[0.0, 0.0], [1.0, 0.0]]])
    >>> keras.ops.convert_to_numpy(graph_gradient(x, [[[1], [0]]], p))[0, :, :, 0].tolist()
    [[-0.5, 0.0], [-0.5, 0.0]]
    """
    coordinates = keras.ops.cast(coordinates, features.dtype)
    neighbors = keras.ops.convert_to_tensor(neighbors)
    # Per edge i <- j: x_i - x_j and p_j - p_i, (batch, points, k, channels or dims).
    differences = keras.ops.expand_dims(features, 2) - gather_neighbors(features, neighbors)
    offsets = gather_neighbors(coordinates, neighbors) - keras.ops.expand_dims(coordinates, 2)
    # The edges of which a point is the centre: a batched matrix product over the k edges,
    # with no (points, k, dims * channels) tensor.
    own = keras.ops.einsum("bnkd,bnkc->bndc", offsets, differences)
    # The edges of which it is the neighbour (the edge value is symmetric in i and j),
    # one coordinate at a time: per-edge tensors stay (points, k, channels).
    chosen = [
        scatter_to_neighbors(differences * offsets[..., d : d + 1], neighbors)
        for d in range(coordinates.shape[-1])
    ]
    total = own + keras.ops.stack(chosen, axis=2)
    # Edges per point: its k own ones plus those of the points that chose it.
    in_degree = scatter_to_neighbors(keras.ops.ones_like(offsets[..., :1]), neighbors)
    count = keras.ops.expand_dims(in_degree + float(neighbors.shape[-1]), -1)
    return total / (4.0 * count)


@keras.saving.register_keras_serializable(package="keras_mgic")
class DiffGCNConv(GraphConv):
    """DiffGCN convolution: the graph gradient of the features, then a point-wise linear map.

    ``y_i = act(BN(W grad(x)_i))`` with ``grad`` of :func:`graph_gradient` (``dims *
    channels`` values per point) and ``W`` of shape ``(filters, dims * channels / groups)``.
    This is what the forward pass of DiffGCN's public code computes
    (BGUCompSci/DiffGCNs.py, ``DiffGCN.py``: ``DiffGCNLayer.forward`` returns
    ``relu(combine(gradAggr))``, ``combine`` a Linear layer of ``3 * in_planes`` inputs and a
    BatchNorm). The paper's kernel also has a mass term (the features themselves) and a
    Laplacian term; the public code computes the Laplacian (``GraphTranspose``) but returns
    before using it, and its ``combine`` takes the gradient alone, so neither is here. The
    code's Linear layer has a bias, which the BatchNorm after it cancels: none here.

    ``kernel`` is ``W`` transposed, ``(dims * channels / groups, filters)``, its rows in the
    order ``d * (channels / groups) + c`` within a group (coordinate-major, the order of the
    public code's ``cat([dx, dy, dz])`` when ``groups=1``). With ``groups > 1`` (an MGIC fine
    level) group ``g``'s outputs read the ``dims`` gradient components of group ``g``'s
    channels only. Cost: ``dims * channels * filters / groups`` multiply-adds per point (what
    ``keras_mgic.count_flops`` counts); the gradient itself is element-wise products, a
    gather and a scatter over the ``(batch, points, k, dims * channels)`` edge values.

    Args:
        filters: positive int, output channels.
        groups: positive int dividing the input channels and ``filters``.
        coordinate_dim: positive int, the dimension of the coordinates (3 for point clouds,
            2 for points in a plane); fixes the kernel's shape.
        activation: activation after the BatchNorm; default ``"relu"`` (the public code's).
        kernel_initializer: initializer of ``kernel``; default ``"he_normal"``.
        kernel_regularizer: optional regularizer of ``kernel``.
        **kwargs: base ``keras.layers.Layer`` arguments.

    Call arguments: ``inputs`` ``(batch, points, channels)``, ``neighbors`` ``(batch,
    points, k)`` integer indices (DiffGCN builds the k-NN graph on the layer's input
    features), ``coordinates`` ``(batch, points, coordinate_dim)``, ``training``.

    Example:

    >>> from keras_mgic.layers import KNNGraph
    >>> points = keras.random.normal((2, 32, 3))
    >>> neighbors = KNNGraph(k=4)(points)
    >>> layer = DiffGCNConv(16)
    >>> tuple(layer(points, neighbors=neighbors, coordinates=points).shape)
    (2, 32, 16)
    """

    def __init__(
        self,
        filters,
        groups=1,
        coordinate_dim=3,
        activation="relu",
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(
            filters,
            groups,
            activation=activation,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            **kwargs,
        )
        self.coordinate_dim = positive_int("coordinate_dim", coordinate_dim)
        self.bn = BatchNormalization(
            momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=self.dtype_policy, name="bn"
        )

    def build(self, input_shape):
        channels = point_channels("DiffGCNConv", input_shape)
        check_groups("DiffGCNConv", channels, self.filters, self.groups)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.coordinate_dim * channels // self.groups, self.filters),
            initializer=fresh_initializer(self.kernel_initializer),
            regularizer=self.kernel_regularizer,
        )
        self.bn.build((None, None, self.filters))

    def _check_coordinates(self, coordinates):
        dims = coordinates.shape[-1]
        if len(coordinates.shape) != 3 or dims != self.coordinate_dim:
            raise ValueError(
                f"DiffGCNConv was built for coordinates (batch, points, {self.coordinate_dim}) "
                f"(`coordinate_dim`). Received: coordinates.shape={tuple(coordinates.shape)}"
            )

    def call(self, inputs, neighbors, coordinates, training=None):
        coordinates = keras.ops.convert_to_tensor(coordinates)
        self._check_coordinates(coordinates)
        gradient = graph_gradient(inputs, neighbors, coordinates)
        shape = keras.ops.shape(gradient)
        channels = gradient.shape[-1]
        # (batch, points, dims, channels) -> group-major (batch, points, groups * dims * c/g)
        grouped = keras.ops.reshape(
            gradient,
            (shape[0], shape[1], self.coordinate_dim, self.groups, channels // self.groups),
        )
        grouped = keras.ops.transpose(grouped, (0, 1, 3, 2, 4))
        # The channel count spelled out (not -1): a static shape for TFLite's CONV_2D.
        grouped = keras.ops.reshape(grouped, (shape[0], shape[1], self.coordinate_dim * channels))
        outputs = grouped_pointwise(grouped, self.kernel, self.groups)
        return self.activation(self.bn(outputs, training=training))

    def get_config(self):
        config = super().get_config()
        config["coordinate_dim"] = self.coordinate_dim
        return config
