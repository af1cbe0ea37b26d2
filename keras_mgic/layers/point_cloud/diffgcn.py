"""DiffGCNConv: the DiffGCN graph convolution (Eliasof & Treister, NeurIPS 2020)."""

import keras

from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.layer_utils import fresh_initializer
from keras_mgic.layers.point_cloud.base import GraphConv, check_groups, graph_or_knn
from keras_mgic.layers.point_cloud.graph_ops import (
    gather_neighbors,
    grouped_pointwise,
    scatter_to_neighbors,
)
from keras_mgic.layers.validation import point_channels, positive_int

#: The operators a DiffGCN convolution can combine, in the order its kernel reads them.
TERMS = ("mass", "gradient", "laplacian")


def _edge_sums(features, neighbors, coordinates, weight):
    """Sums over the edges of DiffGCN's auxiliary graph, shared by its two operators.

    For each edge ``j -> i`` (``j`` a neighbour of ``i``): ``delta = x_i - x_j`` and the
    per-coordinate edge weight ``w = weight(p_j - p_i)``. Returns ``(own, chosen, count)``:
    ``own[i] = sum_j w_ij delta_ij`` over the edges of which ``i`` is the centre, ``chosen[i]``
    the same sum over the edges of which ``i`` is the neighbour (``(batch, points, dims,
    channels)`` each), and ``count`` the edges each point belongs to, ``(batch, points, 1,
    1)``: its ``k`` own ones plus the in-degree. No ``(points, k, dims * channels)`` tensor.
    """
    coordinates = keras.ops.cast(coordinates, features.dtype)
    neighbors = keras.ops.convert_to_tensor(neighbors)
    delta = keras.ops.expand_dims(features, 2) - gather_neighbors(features, neighbors)
    w = weight(gather_neighbors(coordinates, neighbors) - keras.ops.expand_dims(coordinates, 2))
    own = keras.ops.einsum("bnkd,bnkc->bndc", w, delta)
    chosen = [
        scatter_to_neighbors(delta * w[..., d : d + 1], neighbors)
        for d in range(coordinates.shape[-1])
    ]
    in_degree = scatter_to_neighbors(keras.ops.ones_like(w[..., :1]), neighbors)
    count = keras.ops.expand_dims(in_degree + float(neighbors.shape[-1]), -1)
    return own, keras.ops.stack(chosen, axis=2), count


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
    own, chosen, count = _edge_sums(features, neighbors, coordinates, lambda offset: offset)
    return (own + chosen) / (4.0 * count)


def graph_laplacian(features, neighbors, coordinates):
    """DiffGCN's graph Laplacian of ``features``, per coordinate, as the public code has it.

    In BGUCompSci/DiffGCNs.py (``GraphTranspose``) every point averages, over the edges it
    belongs to, the edge vertex's gradient value times ``p_v - midpoint`` coordinate by
    coordinate (the components of a divergence, not summed). For an edge between ``v`` and
    ``u`` that is ``(x_u - x_v) (p_u[d] - p_v[d])^2 / 8``: a Laplacian per axis, weighted by
    the squared offsets. The public code computes it but its ``DiffGCNLayer`` returns before
    using it; ``DiffGCNConv(terms=...)`` can.

    Args:
        features: ``(batch, points, channels)``.
        neighbors: ``(batch, points, k)`` integer neighbour indices.
        coordinates: ``(batch, points, dims)``.

    Returns:
        ``(batch, points, dims, channels)``.

    Example:

    >>> x = keras.ops.convert_to_tensor([[[0.0], [2.0]]])
    >>> p = keras.ops.convert_to_tensor([[[0.0, 0.0], [1.0, 0.0]]])
    >>> keras.ops.convert_to_numpy(graph_laplacian(x, [[[1], [0]]], p))[0, :, :, 0].tolist()
    [[0.25, 0.0], [-0.25, 0.0]]
    """
    own, chosen, count = _edge_sums(features, neighbors, coordinates, keras.ops.square)
    return (chosen - own) / (8.0 * count)


def check_terms(terms):
    """``terms`` as a tuple: a non-empty selection of :data:`TERMS`, in their order."""
    if isinstance(terms, str) or not isinstance(terms, (list, tuple)):
        raise ValueError(f"`terms` must be a list of {TERMS}. Received: terms={terms!r}")
    if not terms or any(term not in TERMS for term in terms) or len(set(terms)) < len(terms):
        raise ValueError(
            f"`terms` must name each of {TERMS} at most once, at least one. "
            f"Received: terms={terms!r}"
        )
    return tuple(term for term in TERMS if term in terms)


def input_coordinates(layer_name, inputs, coordinates, coordinate_dim):
    """``coordinates`` as a tensor, or the first ``coordinate_dim`` channels of ``inputs``."""
    if coordinates is not None:
        return keras.ops.convert_to_tensor(coordinates)
    if inputs.shape[-1] is not None and inputs.shape[-1] < coordinate_dim:
        raise ValueError(
            f"{layer_name} without `coordinates` takes the first {coordinate_dim} channels "
            "(`coordinate_dim`) of its input as the coordinates. Received: "
            f"inputs.shape={tuple(inputs.shape)}"
        )
    return inputs[..., :coordinate_dim]


@keras.saving.register_keras_serializable(package="keras_mgic")
class DiffGCNConv(GraphConv):
    """DiffGCN convolution: differential operators of the features, then a point-wise map.

    ``y_i = act(BN(W [x_i, grad(x)_i, lap(x)_i]))``: the DiffGCN paper's convolution
    (Eliasof & Treister, NeurIPS 2020) combines a mass term (the features themselves), the
    graph gradient (:func:`graph_gradient`, ``dims * channels`` values per point) and the
    graph Laplacian per axis (:func:`graph_laplacian`, ``dims * channels`` values) with one
    learned point-wise map. ``terms`` chooses which of the three ``W`` reads. The public code
    (BGUCompSci/DiffGCNs.py, ``DiffGCN.py``) computes all three, but its ``DiffGCNLayer``
    returns ``relu(combine(gradAggr))`` before its branch that concatenates
    ``[x, gradAggr, laplacianAggr]``: ``terms=("gradient",)`` is that published forward
    pass. The default takes all three: on the digit point sets the gradient alone learned
    far more slowly than DGCNN, and with the mass term about as well (BENCHMARKS.md, section
    ``point_clouds``). The code's Linear layer has a bias, which the BatchNorm after it
    cancels: none here.

    ``kernel`` is ``W`` transposed, ``(terms_width * channels / groups, filters)`` with
    ``terms_width`` = 1 (mass) + ``dims`` (gradient) + ``dims`` (Laplacian) for the chosen
    terms; within a group its rows are ordered term by term, coordinate-major inside each
    term (``t * (channels / groups) + c`` for the ``t``-th of the ``[x, dx, dy, ..., lx, ly,
    ...]`` components; the public code's ``cat([dx, dy, dz])`` order when ``groups=1`` and
    ``terms=("gradient",)``). With ``groups > 1`` (an MGIC fine level) group ``g``'s outputs
    read the components of group ``g``'s channels only. Cost: ``terms_width * channels *
    filters / groups`` multiply-adds per point (what ``keras_mgic.count_flops`` counts); the
    operators themselves are element-wise products, gathers and scatters over the
    ``(batch, points, k, channels)`` edge values.

    Args:
        filters: positive int, output channels.
        groups: positive int dividing the input channels and ``filters``.
        coordinate_dim: positive int, the dimension of the coordinates (3 for point clouds,
            2 for points in a plane); fixes the kernel's shape.
        terms: the operators ``W`` reads, a selection of ``("mass", "gradient",
            "laplacian")``; default all three.
        activation: activation after the BatchNorm; default ``"relu"`` (the public code's).
        kernel_initializer: initializer of ``kernel``; default ``"he_normal"``.
        kernel_regularizer: optional regularizer of ``kernel``.
        k: optional positive int: a call without ``neighbors`` uses the k-NN graph of its
            ``inputs``, built inside.
        **kwargs: base ``keras.layers.Layer`` arguments.

    Call arguments: ``inputs`` ``(batch, points, channels)``, ``neighbors`` ``(batch,
    points, k)`` integer indices (DiffGCN builds the k-NN graph on the layer's input
    features; optional with ``k``), ``coordinates`` ``(batch, points, coordinate_dim)``
    (default: the first ``coordinate_dim`` channels of ``inputs``, the package's point
    layout), ``training``.

    Example:

    >>> from keras_mgic.layers import KNNGraph
    >>> points = keras.random.normal((2, 32, 3))
    >>> neighbors = KNNGraph(k=4)(points)
    >>> layer = DiffGCNConv(16)
    >>> tuple(layer(points, neighbors=neighbors, coordinates=points).shape)
    (2, 32, 16)
    >>> tuple(layer.kernel.shape)  # (1 + 3 + 3) * 3 inputs
    (21, 16)
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
        super().__init__(
            filters,
            groups,
            activation=activation,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            k=k,
            **kwargs,
        )
        self.coordinate_dim = positive_int("coordinate_dim", coordinate_dim)
        self.terms = check_terms(terms)
        self.bn = BatchNormalization(
            momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=self.dtype_policy, name="bn"
        )

    @property
    def terms_width(self):
        """Components per input channel that ``W`` reads: 1 + dims + dims for all terms."""
        widths = {"mass": 1, "gradient": self.coordinate_dim, "laplacian": self.coordinate_dim}
        return sum(widths[term] for term in self.terms)

    def build(self, input_shape):
        channels = point_channels("DiffGCNConv", input_shape)
        check_groups("DiffGCNConv", channels, self.filters, self.groups)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.terms_width * channels // self.groups, self.filters),
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

    def _components(self, inputs, neighbors, coordinates):
        """``(batch, points, terms_width, channels)``: the chosen terms, stacked."""
        parts = []
        if "mass" in self.terms:
            parts.append(keras.ops.expand_dims(inputs, 2))
        if "gradient" in self.terms:
            parts.append(graph_gradient(inputs, neighbors, coordinates))
        if "laplacian" in self.terms:
            parts.append(graph_laplacian(inputs, neighbors, coordinates))
        return parts[0] if len(parts) == 1 else keras.ops.concatenate(parts, axis=2)

    def call(self, inputs, neighbors=None, coordinates=None, training=None):
        neighbors = graph_or_knn("DiffGCNConv", inputs, neighbors, self.k)
        coordinates = input_coordinates("DiffGCNConv", inputs, coordinates, self.coordinate_dim)
        self._check_coordinates(coordinates)
        components = self._components(inputs, neighbors, coordinates)
        shape = keras.ops.shape(components)
        width, channels = self.terms_width, components.shape[-1]
        # (batch, points, width, channels) -> group-major (batch, points, groups * width * c/g)
        grouped = keras.ops.reshape(
            components, (shape[0], shape[1], width, self.groups, channels // self.groups)
        )
        grouped = keras.ops.transpose(grouped, (0, 1, 3, 2, 4))
        # The channel count spelled out (not -1): a static shape for TFLite's CONV_2D.
        grouped = keras.ops.reshape(grouped, (shape[0], shape[1], width * channels))
        outputs = grouped_pointwise(grouped, self.kernel, self.groups)
        return self.activation(self.bn(outputs, training=training))

    def get_config(self):
        config = super().get_config()
        config["coordinate_dim"] = self.coordinate_dim
        config["terms"] = list(self.terms)
        return config
