"""PointPooling and PointUnpooling against NumPy: the clusters of the matching (a loop
reference), every point in exactly one of ``points / 2`` clusters, the coarse features
``P^T X`` and coordinates (cluster means), unpooling ``P Y``, independence of the point
order, config round trips and argument errors.

Backend-neutral (``keras.ops`` and NumPy only), marked ``backends``.
"""

import keras
import numpy as np
import pytest
from point_reference import np_knn, np_match_points

import keras_mgic
from keras_mgic.layers import PointPooling, PointRestriction, PointUnpooling
from keras_mgic.layers.point_cloud import match_points

pytestmark = pytest.mark.backends


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _cloud(seed, batch=2, points=24, dims=3, channels=5):
    rng = np.random.default_rng(seed)
    coordinates = rng.normal(size=(batch, points, dims)).astype("float32")
    features = rng.normal(size=(batch, points, channels)).astype("float32")
    return features, coordinates


def _prolongation(clusters):
    """``(batch, points, points / 2)`` 0/1 matrices P with ``P[i, clusters[i]] = 1``."""
    batch, points = clusters.shape
    p = np.zeros((batch, points, points // 2))
    for b in range(batch):
        p[b, np.arange(points), clusters[b]] = 1.0
    return p


@pytest.mark.parametrize("seed, k, rounds, dims", [(0, 4, 4, 3), (1, 3, 1, 2), (2, 6, 2, 3)])
def test_clusters_equal_the_numpy_reference(seed, k, rounds, dims):
    _, coordinates = _cloud(seed, points=32, dims=dims)
    neighbors = np_knn(coordinates, k)
    _, clusters = match_points(coordinates, neighbors.astype("int32"), rounds)
    np.testing.assert_array_equal(_np(clusters), np_match_points(coordinates, neighbors, rounds))


def test_every_point_is_in_exactly_one_of_half_as_many_clusters_mostly_graph_neighbours():
    _, coordinates = _cloud(3, points=64)
    neighbors = np_knn(coordinates, 6)
    order, clusters = (_np(t) for t in match_points(coordinates, neighbors.astype("int32")))
    for b in range(2):
        np.testing.assert_array_equal(np.bincount(clusters[b], minlength=32), np.full(32, 2))
        np.testing.assert_array_equal(np.sort(order[b]), np.arange(64))  # a permutation
        np.testing.assert_array_equal(clusters[b][order[b]], np.arange(64) // 2)
        first, second = order[b, 0::2], order[b, 1::2]
        pairs = zip(first, second, strict=True)
        along_edges = [s in neighbors[b, f] or f in neighbors[b, s] for f, s in pairs]
        assert np.mean(along_edges) > 0.75  # the handshake rounds pair most points


@pytest.mark.parametrize("aggregation", ["sum", "mean"])
def test_pooling_is_p_transpose_and_coordinates_are_cluster_means(aggregation):
    features, coordinates = _cloud(4)
    pooled, centres, clusters = PointPooling(k=4, aggregation=aggregation)(features, coordinates)
    p = _prolongation(_np(clusters))
    sums = np.einsum("bnc,bnf->bcf", p, features)
    expected = sums if aggregation == "sum" else sums / 2
    np.testing.assert_allclose(_np(pooled), expected, rtol=1e-5, atol=1e-5)
    means = np.einsum("bnc,bnd->bcd", p, coordinates) / p.sum(1)[..., None]
    np.testing.assert_allclose(_np(centres), means, rtol=1e-5, atol=1e-6)


def test_unpooling_is_p():
    features, coordinates = _cloud(5)
    pooled, _, clusters = PointPooling(k=4)(features, coordinates)
    fine = PointUnpooling()(pooled, clusters)
    p = _prolongation(_np(clusters))
    np.testing.assert_allclose(_np(fine), np.einsum("bnc,bcf->bnf", p, _np(pooled)), rtol=1e-6)


@pytest.mark.parametrize("aggregation", ["sum", "mean"])
def test_restriction_is_p_transpose_with_the_pooling_clusters(aggregation):
    features, coordinates = _cloud(8, channels=3)
    other = np.random.default_rng(1).normal(size=(2, 24, 6)).astype("float32")
    pooled, _, clusters = PointPooling(k=4, aggregation=aggregation)(features, coordinates)
    restricted = PointRestriction(aggregation)(other, clusters)
    p = _prolongation(_np(clusters))
    expected = np.einsum("bnc,bnf->bcf", p, other) / (2 if aggregation == "mean" else 1)
    np.testing.assert_allclose(_np(restricted), expected, rtol=1e-5, atol=1e-5)
    same = PointRestriction(aggregation)([features, clusters])  # the list form
    np.testing.assert_allclose(_np(same), _np(pooled), rtol=1e-5, atol=1e-5)


def test_pooled_features_do_not_depend_on_the_point_order():
    features, coordinates = _cloud(6, points=32)
    permutation = np.random.default_rng(0).permutation(32)
    layer = PointPooling(k=5)
    pooled, centres, clusters = (_np(t) for t in layer(features, coordinates))
    pooled_p, centres_p, clusters_p = (
        _np(t) for t in layer(features[:, permutation], coordinates[:, permutation])
    )
    # The clusters are numbered by the geometry, so even their order is the same.
    np.testing.assert_allclose(pooled_p, pooled, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(centres_p, centres, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(clusters_p, clusters[:, permutation])


def test_gradient_reaches_the_fine_features_through_pooling_and_unpooling():
    features, coordinates = _cloud(7, points=8, channels=2)
    inputs = keras.Input((8, 2))
    pooled, _, clusters = PointPooling(k=3)(inputs, keras.ops.convert_to_tensor(coordinates))
    outputs = PointUnpooling()(keras.layers.Dense(2)(pooled), clusters)
    model = keras.Model(inputs, outputs)
    model.compile("sgd", "mse")
    loss = model.train_on_batch(features, np.zeros_like(features))
    assert np.isfinite(loss)


def test_config_round_trip():
    layer = PointPooling(k=7, rounds=2, aggregation="mean", name="pool")
    clone = PointPooling.from_config(layer.get_config())
    assert (clone.k, clone.rounds, clone.aggregation, clone.name) == (7, 2, "mean", "pool")
    assert PointUnpooling.from_config(PointUnpooling(name="up").get_config()).name == "up"
    assert PointRestriction.from_config(PointRestriction("sum").get_config()).aggregation == "sum"


def test_argument_errors():
    with pytest.raises(ValueError, match="aggregation"):
        PointPooling(aggregation="max")
    with pytest.raises(ValueError, match="even number"):
        PointPooling(k=2)(keras.ops.ones((1, 7, 3)))
    with pytest.raises(ValueError, match="needs `neighbors`"):
        PointPooling()(keras.ops.ones((1, 8, 3)))


def test_count_flops_counts_p_transpose_and_p_once_per_fine_point_and_channel():
    features = keras.Input((16, 5))
    coordinates = keras.Input((16, 3))
    pooled, centres, clusters = PointPooling(k=3)(features, coordinates)
    restricted = PointRestriction()(features, clusters)
    fine = PointUnpooling()(pooled, clusters)
    model = keras.Model([features, coordinates], [centres, restricted, fine])
    # P^T on 5 features + 3 coordinates, P^T on 5 features, P on 5 features: 16 points each.
    assert keras_mgic.count_flops(model) == 16 * (5 + 3) + 16 * 5 + 16 * 5
