"""PointPooling and PointUnpooling: multigrid pooling of point sets with static shapes.

DiffGCN (Eliasof & Treister, "DiffGCN: Graph Convolutional Networks via Differential
Operators and Algebraic Multigrid Pooling", NeurIPS 2020, Sec. 3) pools a graph as algebraic
multigrid coarsens it: the points are matched into clusters along the graph's edges, a
prolongation ``P`` (``points x clusters``, ``P[i, c] = 1`` when point ``i`` is in cluster
``c``) gives the coarse features ``P^T X`` and positions, and unpooling is ``P Y``. The
public code (BGUCompSci/DiffGCNs.py, ``mgpool.py``) matches with graclus, whose cluster
count varies from cloud to cloud (singletons stay), and builds the coarse graph by Galerkin
coarsening ``P^T A P``. Here every cloud of ``N`` points (``N`` even) becomes exactly
``N / 2`` clusters of two points, so that shapes are static: models keep exporting to TFLite
with builtin ops and run on TensorFlow, JAX and PyTorch. The layers take the coarse graph
from the caller (the models build a k-NN graph on the coarse level).
"""

import keras

from keras_mgic.layers.point_cloud.knn import check_enough_points, knn_indices
from keras_mgic.layers.validation import point_channels, positive_int

#: How the coarse features aggregate their cluster's fine features.
AGGREGATIONS = ("sum", "mean")

#: A fixed direction in general position (the plastic-number sequence), whose projection
#: orders the points for the pairs the matching leaves over.
_DIRECTION = (1.0, 0.7548776662466927, 0.5698402909980532, 0.4301597090019468)


def gather_points(values, indices):
    """``out[b, i] = values[b, indices[b, i]]``: one flat ``take`` (TFLite ``GATHER``).

    Args:
        values: ``(batch, points, ...)`` tensor.
        indices: ``(batch, n)`` integer tensor of indices in ``[0, points)``.

    Returns:
        ``(batch, n, ...)``.

    Example:

    >>> x = keras.ops.convert_to_tensor([[[0.0], [1.0], [2.0]]])
    >>> keras.ops.convert_to_numpy(gather_points(x, [[2, 2, 0]]))[0, :, 0].tolist()
    [2.0, 2.0, 0.0]
    """
    indices = keras.ops.cast(keras.ops.convert_to_tensor(indices), "int32")
    shape = keras.ops.shape(values)
    batch, points = shape[0], shape[1]
    offsets = keras.ops.reshape(keras.ops.arange(batch, dtype="int32") * points, (-1, 1))
    flat = keras.ops.reshape(indices + offsets, (-1,))
    rows = keras.ops.reshape(values, (-1, *values.shape[2:]))
    gathered = keras.ops.take(rows, flat, axis=0)
    n = -1 if indices.shape[1] is None else indices.shape[1]
    return keras.ops.reshape(gathered, (batch, n, *values.shape[2:]))


def _argsort(x):
    """Ascending argsort of ``(batch, n)`` floats with ``top_k`` (TFLite ``TOPK_V2``)."""
    n = keras.ops.shape(x)[-1] if x.shape[-1] is None else x.shape[-1]
    _, order = keras.ops.top_k(-x, n)
    return keras.ops.cast(order, "int32")


def match_points(coordinates, neighbors, rounds=4):
    """Pairs the points of every cloud along its k-NN graph: the clusters of point pooling.

    Round after round (``rounds`` of them), every unmatched point proposes to its nearest
    neighbour that is still unmatched (``neighbors`` lists them nearest first); two points
    that propose to each other are matched (a handshake, or mutual-nearest-neighbour,
    matching, done for all points at once). The points no round matched are then paired in
    the order of their projection on a fixed direction. Clusters are numbered by the rank of
    their first point on that direction, so the clusters and their order follow the
    geometry, not the order of the points (up to ties among equal distances or
    projections).

    Differences from graclus (which DiffGCN's code uses): graclus visits the vertices one
    by one in a random order and matches each to its unmatched neighbour of largest
    normalized-cut weight, leaving a vertex without unmatched neighbours a singleton; here
    the matching is parallel, deterministic and independent of the point order, and every
    point is in a pair, so ``N`` points (``N`` even) always give ``N / 2`` clusters. No
    gradient flows through the matching.

    Args:
        coordinates: ``(batch, points, dims)`` positions (``points`` even).
        neighbors: ``(batch, points, k)`` integer indices of every point's neighbours,
            nearest first (``KNNGraph``).
        rounds: positive int, the handshake rounds.

    Returns:
        ``(order, clusters)``, int32: ``order`` ``(batch, points)`` lists the points cluster
        by cluster (cluster ``c`` is ``order[:, 2c]`` and ``order[:, 2c + 1]``);
        ``clusters`` ``(batch, points)`` is every point's cluster (the columns of ``P``).

    Example:

    >>> p = keras.ops.convert_to_tensor([[[0.0], [5.0], [1.0], [6.0]]])
    >>> order, clusters = match_points(p, knn_indices(p, 1))
    >>> keras.ops.convert_to_numpy(clusters)[0].tolist()
    [0, 1, 0, 1]
    """
    coordinates = keras.ops.stop_gradient(keras.ops.cast(coordinates, "float32"))
    neighbors = keras.ops.cast(keras.ops.convert_to_tensor(neighbors), "int32")
    shape = keras.ops.shape(neighbors)
    batch, points, k = shape[0], shape[1], neighbors.shape[-1]
    edges = -1 if neighbors.shape[1] is None else neighbors.shape[1] * k
    flat_neighbors = keras.ops.reshape(neighbors, (batch, edges))
    zeros = keras.ops.zeros_like(neighbors[..., 0])  # (batch, points), of known rank
    itself = zeros + keras.ops.expand_dims(keras.ops.arange(points, dtype="int32"), 0)
    # The nearest valid neighbour is the valid one of highest priority: k, k - 1, ..., 1.
    priority = keras.ops.cast(keras.ops.arange(k, 0, -1), "int32")
    matched = zeros
    partner = itself
    for _ in range(rounds):
        taken = keras.ops.reshape(gather_points(matched, flat_neighbors), (batch, points, k))
        score = (1 - taken) * priority
        first = keras.ops.argmax(score, axis=-1)
        proposes = keras.ops.logical_and(keras.ops.max(score, axis=-1) > 0, matched == 0)
        choice = keras.ops.take_along_axis(
            neighbors, keras.ops.expand_dims(keras.ops.cast(first, "int32"), -1), axis=-1
        )[..., 0]
        proposal = keras.ops.where(proposes, choice, itself)
        mutual = keras.ops.logical_and(proposes, gather_points(proposal, proposal) == itself)
        partner = keras.ops.where(mutual, proposal, partner)
        matched = keras.ops.maximum(matched, keras.ops.cast(mutual, "int32"))
    dims = coordinates.shape[-1]
    direction = keras.ops.convert_to_tensor(
        [_DIRECTION[d % len(_DIRECTION)] for d in range(dims)], "float32"
    )
    projection = keras.ops.sum(coordinates * direction, axis=-1)
    rank = _argsort(keras.ops.cast(_argsort(projection), "float32"))
    partner_rank = gather_points(rank, partner)
    is_matched = matched > 0
    pair_key = keras.ops.where(is_matched, keras.ops.minimum(rank, partner_rank), points + rank)
    second = keras.ops.cast(keras.ops.logical_and(is_matched, rank > partner_rank), "int32")
    order = _argsort(keras.ops.cast(2 * pair_key + second, "float32"))
    clusters = _argsort(keras.ops.cast(order, "float32")) // 2
    return order, clusters


def _check_aggregation(aggregation):
    if aggregation not in AGGREGATIONS:
        raise ValueError(
            f"`aggregation` must be one of {AGGREGATIONS}. Received: aggregation={aggregation!r}"
        )
    return aggregation


def _check_even(layer_name, points):
    if points is not None and points % 2:
        raise ValueError(
            f"{layer_name} pairs the points, so it needs an even number of them. "
            f"Received: points={points}"
        )


def pair_sum(values, order):
    """``P^T`` applied to ``values`` ``(batch, points, channels)``: the sum over each cluster
    of two (``order`` from :func:`match_points`), ``(batch, points / 2, channels)``."""
    gathered = gather_points(values, order)
    half = -1 if values.shape[1] is None else values.shape[1] // 2
    pairs = keras.ops.reshape(gathered, (keras.ops.shape(values)[0], half, 2, values.shape[-1]))
    return keras.ops.sum(pairs, 2)


@keras.saving.register_keras_serializable(package="keras_mgic")
class PointPooling(keras.layers.Layer):
    """Multigrid pooling of a point set into ``points / 2`` clusters of two points.

    The clusters come from :func:`match_points` on the k-NN graph ``neighbors`` (or, without
    it, the ``k``-NN graph of the coordinates): a handshake matching that, unlike the
    graclus matching of DiffGCN's code, is parallel, independent of the point order and
    leaves no point alone, so the coarse level always has exactly ``points / 2`` points.
    With ``P`` the ``points x points / 2`` prolongation (``P[i, c] = 1`` when point ``i`` is
    in cluster ``c``), the coarse features are ``P^T X`` (``aggregation="sum"``, as in
    DiffGCN's ``mgpool.py``) or the cluster means (``"mean"``), and the coarse coordinates
    are the cluster means (the centre of each pair). The returned ``clusters`` give
    :class:`PointUnpooling` ``P``. No gradient flows through the clusters.

    Args:
        k: None, or a positive int: the neighbours of the k-NN graph of the coordinates to
            match on when the call gets no ``neighbors``.
        rounds: positive int, the handshake rounds of the matching; default 4.
        aggregation: ``"sum"`` (default, ``P^T X``) or ``"mean"``.
        **kwargs: base ``keras.layers.Layer`` arguments.

    Call arguments: ``features`` ``(batch, points, channels)``, ``coordinates`` ``(batch,
    points, dims)`` (default: ``features``, a set pooled by its own positions),
    ``neighbors`` ``(batch, points, k)`` (optional with ``k``). ``points`` must be even.

    Returns: ``(features, coordinates, clusters)``: ``(batch, points / 2, channels)``,
    ``(batch, points / 2, dims)`` and int32 ``(batch, points)``.

    Example:

    >>> x = keras.ops.ones((2, 8, 5))
    >>> p = keras.random.normal((2, 8, 3), seed=1)
    >>> features, coordinates, clusters = PointPooling(k=3)(x, p)
    >>> tuple(features.shape), tuple(coordinates.shape), tuple(clusters.shape)
    ((2, 4, 5), (2, 4, 3), (2, 8))
    """

    def __init__(self, k=None, rounds=4, aggregation="sum", **kwargs):
        super().__init__(**kwargs)
        self.k = None if k is None else positive_int("k", k)
        self.rounds = positive_int("rounds", rounds)
        self.aggregation = _check_aggregation(aggregation)

    def build(self, input_shape):
        point_channels("PointPooling", input_shape)
        _check_even("PointPooling", input_shape[1])
        if self.k is not None:
            check_enough_points("PointPooling", input_shape[1], self.k)

    def call(self, features, coordinates=None, neighbors=None):
        if coordinates is None:
            coordinates = features
        if neighbors is None:
            if self.k is None:
                raise ValueError(
                    "PointPooling needs `neighbors` (e.g. from KNNGraph), or `k` to build the "
                    "k-NN graph of the coordinates. Received: neighbors=None, k=None"
                )
            neighbors = knn_indices(coordinates, self.k)
        order, clusters = match_points(coordinates, neighbors, self.rounds)
        pooled = pair_sum(features, order)
        if self.aggregation == "mean":
            pooled = pooled * 0.5
        centres = pair_sum(keras.ops.cast(coordinates, features.dtype), order) * 0.5
        return pooled, keras.ops.cast(centres, coordinates.dtype), clusters

    def compute_output_spec(self, features, coordinates=None, neighbors=None):
        coordinates = features if coordinates is None else coordinates
        batch, points = features.shape[:2]
        half = None if points is None else points // 2
        return (
            keras.KerasTensor((batch, half, features.shape[-1]), dtype=features.dtype),
            keras.KerasTensor((batch, half, coordinates.shape[-1]), dtype=coordinates.dtype),
            keras.KerasTensor((batch, points), dtype="int32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"k": self.k, "rounds": self.rounds, "aggregation": self.aggregation})
        return config


@keras.saving.register_keras_serializable(package="keras_mgic")
class PointUnpooling(keras.layers.Layer):
    """Multigrid unpooling: ``P Y``, every fine point takes its cluster's coarse features.

    The inverse direction of :class:`PointPooling`: with the ``clusters`` it returned,
    ``out[b, i] = coarse[b, clusters[b, i]]`` (one ``GATHER``). Gradients flow to the coarse
    features (``P^T`` of the fine gradient).

    Args:
        **kwargs: base ``keras.layers.Layer`` arguments.

    Call arguments: ``coarse`` ``(batch, clusters, channels)``, ``clusters`` int ``(batch,
    points)``, or the list ``[coarse, clusters]``. Returns ``(batch, points, channels)``.

    Example:

    >>> y = keras.ops.convert_to_tensor([[[1.0], [2.0]]])
    >>> clusters = keras.ops.convert_to_tensor([[1, 0, 0, 1]])
    >>> keras.ops.convert_to_numpy(PointUnpooling()(y, clusters))[0, :, 0].tolist()
    [2.0, 1.0, 1.0, 2.0]
    """

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        point_channels("PointUnpooling", input_shape)

    def call(self, coarse, clusters=None):
        if clusters is None:
            coarse, clusters = coarse
        return gather_points(coarse, clusters)

    def compute_output_spec(self, coarse, clusters=None):
        if clusters is None:
            coarse, clusters = coarse
        return keras.KerasTensor(
            (coarse.shape[0], clusters.shape[1], coarse.shape[-1]), coarse.dtype
        )


@keras.saving.register_keras_serializable(package="keras_mgic")
class PointRestriction(keras.layers.Layer):
    """``P^T X`` with the clusters of a :class:`PointPooling`: other fine features carried to
    the coarse level of a pooling already done (a stage's output to a coarser stage).

    Args:
        aggregation: ``"sum"`` (``P^T X``) or ``"mean"`` (default: the cluster means).
        **kwargs: base ``keras.layers.Layer`` arguments.

    Call arguments: ``fine`` ``(batch, points, channels)``, ``clusters`` int ``(batch,
    points)`` (``points / 2`` clusters of two), or the list ``[fine, clusters]``. Returns
    ``(batch, points / 2, channels)``, clusters in the pooling's order (one
    ``UNSORTED_SEGMENT_SUM``).

    Example:

    >>> x = keras.ops.convert_to_tensor([[[1.0], [2.0], [3.0], [5.0]]])
    >>> clusters = keras.ops.convert_to_tensor([[1, 0, 0, 1]])
    >>> keras.ops.convert_to_numpy(PointRestriction()(x, clusters))[0, :, 0].tolist()
    [2.5, 3.0]
    """

    def __init__(self, aggregation="mean", **kwargs):
        super().__init__(**kwargs)
        self.aggregation = _check_aggregation(aggregation)

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        point_channels("PointRestriction", input_shape)
        _check_even("PointRestriction", input_shape[1])

    def call(self, fine, clusters=None):
        if clusters is None:
            fine, clusters = fine
        clusters = keras.ops.cast(keras.ops.convert_to_tensor(clusters), "int32")
        shape = keras.ops.shape(fine)
        batch, channels = shape[0], fine.shape[-1]
        half = shape[1] // 2 if fine.shape[1] is None else fine.shape[1] // 2
        offsets = keras.ops.reshape(keras.ops.arange(batch, dtype="int32") * half, (-1, 1))
        segments = keras.ops.reshape(clusters + offsets, (-1,))
        rows = keras.ops.reshape(fine, (-1, channels))
        summed = keras.ops.segment_sum(rows, segments, num_segments=batch * half)
        summed = keras.ops.cast(summed, fine.dtype)  # PyTorch's segment_sum returns float32
        if self.aggregation == "mean":
            summed = summed * 0.5
        return keras.ops.reshape(summed, (batch, half, channels))

    def compute_output_spec(self, fine, clusters=None):
        if clusters is None:
            fine, clusters = fine
        points = fine.shape[1]
        half = None if points is None else points // 2
        return keras.KerasTensor((fine.shape[0], half, fine.shape[-1]), fine.dtype)

    def get_config(self):
        config = super().get_config()
        config["aggregation"] = self.aggregation
        return config
