"""The point-set layers against NumPy references: k-NN indices, gather and scatter,
EdgeConv, DiffGCN's gradient and convolution (grouped too), PointTransition; their
argument errors and config round trips.

Backend-neutral (``keras.ops`` and NumPy only): the tests marked ``backends`` also run on
JAX and PyTorch (``KERAS_BACKEND=jax python -m pytest -m backends tests/test_point_layers.py``).
"""

import keras
import numpy as np
import pytest
from point_reference import (
    np_diffgcn_conv,
    np_diffgcn_gradient,
    np_diffgcn_laplacian,
    np_diffgcn_residual_block,
    np_edge_conv,
    np_grouped_linear,
    np_knn,
    np_point_bn,
    relu,
)

from keras_mgic.layers import (
    DiffGCNConv,
    DiffGCNResidualBlock,
    EdgeConv,
    KNNGraph,
    PointTransition,
)
from keras_mgic.layers.point_cloud import (
    gather_neighbors,
    graph_gradient,
    graph_laplacian,
    grouped_pointwise,
    scatter_to_neighbors,
)


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), np.float64)


def _normal(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _randomize_bn(layer, rng):
    """Random gamma, beta and moving statistics for a built BatchNormalization."""
    channels = layer.gamma.shape[0]
    layer.set_weights(
        [
            rng.uniform(0.5, 1.5, channels),
            rng.normal(0, 0.1, channels),
            rng.normal(0, 0.1, channels),
            rng.uniform(0.5, 1.5, channels),
        ]
    )


# ---------------------------------------------------------------------------- the graph


@pytest.mark.parametrize("k", [1, pytest.param(4, marks=pytest.mark.backends), 10])
def test_knn_graph_matches_numpy(k):
    points = _normal((3, 24, 3), seed=k)
    neighbors = keras.ops.convert_to_numpy(KNNGraph(k)(points))
    assert neighbors.dtype == np.int32 and neighbors.shape == (3, 24, k)
    np.testing.assert_array_equal(neighbors, np_knn(points, k))
    assert not np.any(neighbors == np.arange(24)[None, :, None])  # never itself


def test_knn_graph_on_features_is_dynamic_and_symbolic_int32():
    features = _normal((2, 16, 32), seed=1)
    np.testing.assert_array_equal(_np(KNNGraph(5)(features)), np_knn(features, 5))
    symbolic = KNNGraph(5)(keras.Input((16, 32)))
    assert symbolic.shape == (None, 16, 5) and symbolic.dtype == "int32"


@pytest.mark.parametrize(
    "shape, k, match",
    [
        ((None, 10, 3), 10, "at least k \\+ 1 points.*Received: points=10, k=10"),
        ((None, 10), 3, "rank-3.*Received: input_shape=\\(None, 10\\)"),
    ],
)
def test_knn_graph_rejects_too_few_points_and_bad_ranks(shape, k, match):
    with pytest.raises(ValueError, match=match):
        KNNGraph(k).build(shape)


@pytest.mark.parametrize("k", [0, -1, 2.0, None])
def test_knn_graph_rejects_bad_k(k):
    with pytest.raises(ValueError, match=f"Received: k={k!r}$"):
        KNNGraph(k)


@pytest.mark.backends
def test_gather_and_scatter_match_numpy():
    values = _normal((2, 7, 3), seed=2)
    neighbors = np.random.default_rng(3).integers(0, 7, size=(2, 7, 4)).astype("int32")
    gathered = _np(gather_neighbors(values, neighbors))
    np.testing.assert_allclose(gathered, values[np.arange(2)[:, None, None], neighbors])
    edge_values = _normal((2, 7, 4, 5), seed=4)
    expected = np.zeros((2, 7, 5))
    for b, i, m in np.ndindex(2, 7, 4):
        expected[b, neighbors[b, i, m]] += edge_values[b, i, m]
    np.testing.assert_allclose(
        _np(scatter_to_neighbors(edge_values, neighbors)), expected, atol=1e-5
    )


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_grouped_pointwise_matches_numpy_on_points_and_edges(groups):
    kernel = _normal((8 // groups, 12), seed=5)
    for shape in ((2, 5, 8), (2, 5, 3, 8)):
        x = _normal(shape, seed=6)
        np.testing.assert_allclose(
            _np(grouped_pointwise(x, kernel, groups)),
            np_grouped_linear(x, kernel, groups),
            atol=1e-5,
        )


# ------------------------------------------------------------------------------ EdgeConv


@pytest.mark.parametrize(
    "channels, filters, groups", [(3, 8, 1), pytest.param(8, 12, 4, marks=pytest.mark.backends)]
)
def test_edge_conv_matches_numpy(channels, filters, groups):
    x = _normal((2, 12, channels), seed=7)
    neighbors = np_knn(x, 4).astype("int32")
    layer = EdgeConv(filters, groups=groups)
    layer.build(x.shape)
    assert layer.kernel.shape == (2 * channels // groups, filters)
    _randomize_bn(layer.bn, np.random.default_rng(8))
    for training in (False, True):
        y = _np(layer(x, neighbors=neighbors, training=training))
        expected = np_edge_conv(layer, x, neighbors, training)
        np.testing.assert_allclose(y, expected, atol=2e-4, err_msg=f"training={training}")


def test_edge_conv_on_the_dgcnn_layout_equals_the_per_edge_convolution():
    """With groups=1 the kernel is DGCNN's 1x1 convolution on ``cat(x_j - x_i, x_i)``."""
    x = _normal((1, 9, 4), seed=9)
    neighbors = np_knn(x, 3).astype("int32")
    layer = EdgeConv(6, activation=None)
    layer.build(x.shape)
    edges = np.concatenate(
        [x[0][neighbors[0]] - x[0][:, None], np.repeat(x[0][:, None], 3, axis=1)], axis=-1
    )
    pre_bn = edges @ _np(layer.kernel)  # (9, 3, 6)
    expected = np_point_bn(pre_bn[None], layer.bn, training=False).max(axis=2)
    np.testing.assert_allclose(_np(layer(x, neighbors=neighbors)), expected, atol=1e-4)


# ------------------------------------------------------------------------------- DiffGCN


@pytest.mark.parametrize("dims", [2, pytest.param(3, marks=pytest.mark.backends)])
def test_diffgcn_gradient_matches_the_auxiliary_graph(dims):
    x = _normal((2, 11, 5), seed=10)
    coordinates = _normal((2, 11, dims), seed=11)
    neighbors = np_knn(x, 3).astype("int32")  # DiffGCN's graph is on the features
    np.testing.assert_allclose(
        _np(graph_gradient(x, neighbors, coordinates)),
        np_diffgcn_gradient(x, neighbors, coordinates),
        atol=1e-5,
    )


@pytest.mark.parametrize("dims", [2, 3])
def test_diffgcn_laplacian_matches_the_auxiliary_graph(dims):
    x = _normal((2, 11, 5), seed=40)
    coordinates = _normal((2, 11, dims), seed=41)
    neighbors = np_knn(x, 3).astype("int32")
    np.testing.assert_allclose(
        _np(graph_laplacian(x, neighbors, coordinates)),
        np_diffgcn_laplacian(x, neighbors, coordinates),
        atol=1e-5,
    )


def test_diffgcn_laplacian_of_a_linear_field_on_a_symmetric_stencil_vanishes():
    """On a line where every inner point's neighbours sit at equal and opposite offsets, the
    per-axis Laplacian of a linear field is zero (each edge's ``(x_u - x_v) d^2`` cancels its
    mirror's), and that of a quadratic field is not."""
    n = 9
    coordinates = np.stack([np.arange(n), np.zeros(n)], -1)[None].astype("float32")
    neighbors = np.stack(
        [np.clip(np.arange(n) + 1, 0, n - 1), np.clip(np.arange(n) - 1, 0, n - 1)], -1
    )
    neighbors[0, 0], neighbors[-1, 1] = 2, n - 3  # the ends: one-sided, not checked
    neighbors = neighbors[None].astype("int32")
    linear = (2.0 * coordinates[..., :1] + 1.0).astype("float32")
    lap = _np(graph_laplacian(linear, neighbors, coordinates))
    inner = slice(3, n - 3)  # points whose incident edges are all symmetric pairs
    np.testing.assert_allclose(lap[0, inner], 0, atol=1e-6)
    quadratic = (coordinates[..., :1] ** 2).astype("float32")
    assert np.all(_np(graph_laplacian(quadratic, neighbors, coordinates))[0, inner, 0] > 0)


@pytest.mark.parametrize(
    "terms, width",
    [(["gradient"], 2), (["mass"], 1), (["laplacian", "mass"], 3)],
)
def test_diffgcn_conv_terms_select_the_kernel_rows(terms, width):
    """``terms=["gradient"]`` is the public code's forward pass; the kernel reads the chosen
    terms in the order mass, gradient, Laplacian."""
    x = _normal((2, 10, 4), seed=42)
    coordinates = _normal((2, 10, 2), seed=43)
    neighbors = np_knn(coordinates, 4).astype("int32")
    layer = DiffGCNConv(6, groups=2, coordinate_dim=2, terms=terms)
    layer.build(x.shape)
    assert layer.kernel.shape == (width * 4 // 2, 6)
    _randomize_bn(layer.bn, np.random.default_rng(44))
    y = _np(layer(x, neighbors=neighbors, coordinates=coordinates, training=False))
    expected = np_diffgcn_conv(layer, x, neighbors, coordinates, False)
    np.testing.assert_allclose(y, expected, atol=2e-4)


@pytest.mark.parametrize("terms", ["gradient", [], ["mass", "mass"], ["curl"]])
def test_diffgcn_conv_rejects_bad_terms(terms):
    with pytest.raises(ValueError, match=r"`terms` must .*Received: terms="):
        DiffGCNConv(4, terms=terms)


def test_diffgcn_gradient_of_a_linear_field_points_along_its_slope():
    """For f(p) = a . p every edge value is -(a . d) d / 4 with d = p_j - p_i: the averaged
    gradient is minus a quarter of the local second-moment matrix times a."""
    coordinates = _normal((1, 30, 3), seed=12)
    slope = np.array([1.0, -2.0, 0.5])
    field = (coordinates @ slope)[..., None].astype("float32")
    neighbors = np_knn(coordinates, 6).astype("int32")
    gradient = _np(graph_gradient(field, neighbors, coordinates))[0, :, :, 0]
    np.testing.assert_allclose(
        gradient, np_diffgcn_gradient(field, neighbors, coordinates)[0, :, :, 0], atol=1e-5
    )
    cosine = (gradient @ slope) / np.linalg.norm(gradient, axis=1) / np.linalg.norm(slope)
    assert np.all(cosine < 0)  # -M a with M positive semi-definite: never along +a


@pytest.mark.parametrize(
    "channels, filters, groups, dims",
    [(3, 8, 1, 3), pytest.param(8, 8, 4, 3, marks=pytest.mark.backends), (6, 4, 2, 2)],
)
def test_diffgcn_conv_matches_numpy(channels, filters, groups, dims):
    x = _normal((2, 10, channels), seed=13)
    coordinates = _normal((2, 10, dims), seed=14)
    neighbors = np_knn(x, 4).astype("int32")
    layer = DiffGCNConv(filters, groups=groups, coordinate_dim=dims)
    layer.build(x.shape)
    assert layer.terms == ("mass", "gradient", "laplacian")
    assert layer.kernel.shape == ((1 + 2 * dims) * channels // groups, filters)
    _randomize_bn(layer.bn, np.random.default_rng(15))
    for training in (False, True):
        y = _np(layer(x, neighbors=neighbors, coordinates=coordinates, training=training))
        expected = np_diffgcn_conv(layer, x, neighbors, coordinates, training)
        np.testing.assert_allclose(y, expected, atol=2e-4, err_msg=f"training={training}")


@pytest.mark.parametrize("groups", [1, pytest.param(4, marks=pytest.mark.backends)])
def test_diffgcn_residual_block_matches_numpy(groups):
    x = _normal((2, 10, 8), seed=31)
    coordinates = _normal((2, 10, 2), seed=32)
    neighbors = np_knn(coordinates, 4).astype("int32")
    block = DiffGCNResidualBlock(8, groups=groups, coordinate_dim=2)
    block.build(x.shape)
    assert block.conv.kernel.shape == ((1 + 2 + 2) * 8 // groups, 8)
    _randomize_bn(block.conv.bn, np.random.default_rng(33))
    for training in (False, True):
        y = _np(block(x, neighbors=neighbors, coordinates=coordinates, training=training))
        expected = np_diffgcn_residual_block(block, x, neighbors, coordinates, training)
        np.testing.assert_allclose(y, expected, atol=2e-4, err_msg=f"training={training}")


def test_diffgcn_residual_block_without_update_is_the_identity():
    """A zero kernel and BN offset leave ``act(x + 0)``: the identity for a linear act."""
    x = _normal((2, 10, 6), seed=34)
    coordinates = _normal((2, 10, 3), seed=35)
    neighbors = np_knn(coordinates, 4).astype("int32")
    block = DiffGCNResidualBlock(6, activation=None, kernel_initializer="zeros")
    y = block(x, neighbors=neighbors, coordinates=coordinates, training=False)
    np.testing.assert_allclose(_np(y), x, atol=1e-6)
    with pytest.raises(ValueError, match="keeps the width.*Received: channels=6, filters=8"):
        DiffGCNResidualBlock(8).build((None, 10, 6))


def test_grouped_diffgcn_is_block_diagonal():
    """Group g's outputs move only with group g's inputs."""
    x = _normal((1, 10, 8), seed=16)
    coordinates = _normal((1, 10, 3), seed=17)
    neighbors = np_knn(coordinates, 4).astype("int32")
    layer = DiffGCNConv(8, groups=4, activation=None)
    base = _np(layer(x, neighbors=neighbors, coordinates=coordinates))
    for channel in range(8):
        moved = x.copy()
        moved[..., channel] += _normal((1, 10), seed=channel)
        delta = np.abs(_np(layer(moved, neighbors=neighbors, coordinates=coordinates)) - base)
        changed = delta.max(axis=(0, 1)) > 1e-6
        expected = np.zeros(8, bool)
        expected[2 * (channel // 2) : 2 * (channel // 2) + 2] = True
        np.testing.assert_array_equal(changed, expected)


def test_diffgcn_conv_rejects_other_coordinate_dims():
    x = _normal((1, 10, 4), seed=18)
    neighbors = np_knn(x, 3).astype("int32")
    with pytest.raises(ValueError, match=r"`coordinate_dim`.*coordinates.shape=\(1, 10, 2\)"):
        DiffGCNConv(8)(x, neighbors=neighbors, coordinates=x[..., :2])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: DiffGCNConv(8, groups=3), "Received: filters=8, groups=3"),
        (lambda: EdgeConv(0), "Received: filters=0"),
        (lambda: DiffGCNConv(8, coordinate_dim=0), "Received: coordinate_dim=0"),
        (lambda: PointTransition(-2), "Received: filters=-2"),
    ],
)
def test_bad_arguments_raise_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_groups_must_divide_the_input_channels():
    with pytest.raises(ValueError, match="Received: channels=6, filters=8, groups=4"):
        EdgeConv(8, groups=4).build((None, 10, 6))


# ----------------------------------------------------------------------- PointTransition


def test_point_transition_matches_numpy():
    x = _normal((2, 6, 12), seed=19)
    layer = PointTransition(8)
    layer.build(x.shape)
    assert layer.groups == 4 and layer.kernel.shape == (3, 8)
    _randomize_bn(layer.bn, np.random.default_rng(20))
    expected = relu(np_point_bn(np_grouped_linear(x, _np(layer.kernel), 4), layer.bn, False))
    np.testing.assert_allclose(_np(layer(x)), expected, atol=1e-5)


# --------------------------------------------------------------------------- serialization

LAYERS = {
    "KNNGraph": lambda: KNNGraph(4, name="layer"),
    "EdgeConv": lambda: EdgeConv(8, groups=2, kernel_regularizer="l2", name="layer"),
    "DiffGCNConv": lambda: DiffGCNConv(8, groups=2, coordinate_dim=2, name="layer"),
    "DiffGCNResidualBlock": lambda: DiffGCNResidualBlock(
        8, groups=2, coordinate_dim=2, kernel_regularizer="l2", name="layer"
    ),
    "PointTransition": lambda: PointTransition(16, activation="hard_swish", name="layer"),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_config_round_trip_holds_the_init_arguments(name):
    layer = LAYERS[name]()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert config["name"] == "layer"
