"""MGIC on point features: Algorithm 1 with DiffGCN and EdgeConv level blocks against NumPy,
the MGIC properties on point sets (identity, full channel coupling, cost linear in width),
the transfers with ``points=True``, the graph inputs' errors and ``.keras`` round trips.

Backend-neutral; the tests marked ``backends`` also run on JAX and PyTorch.
"""

import keras
import numpy as np
import pytest
from numpy_reference import np_mgic_algorithm_1
from point_reference import (
    np_diffgcn_conv,
    np_diffgcn_residual_block,
    np_edge_conv,
    np_grouped_linear,
    np_knn,
    np_point_bn,
)

import keras_mgic
from keras_mgic import MGICBlock
from keras_mgic.initializers import ChannelAveraging
from keras_mgic.layers import (
    ChannelProlongation,
    ChannelRestriction,
    DiffGCNConv,
    EdgeConv,
    KNNGraph,
    ResidualBlock,
)


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), np.float64)


def _normal(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _np_point_conv(x, kernel):
    """A point transfer's kernel ``(1, c/g, f)`` applied group by group."""
    kernel = np.asarray(kernel)[0]
    return np_grouped_linear(x, kernel, x.shape[-1] // kernel.shape[0])


@keras.saving.register_keras_serializable(package="mgic_point_tests")
class PointIdentityBlock(keras.layers.Layer):
    """A point-set per-level block that returns its input (it takes ``neighbors``)."""

    def __init__(self, filters, groups, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.groups = filters, groups

    def call(self, inputs, neighbors, training=None):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "groups": self.groups}


def _graph(points=24, k=4, seed=1):
    coordinates = _normal((2, points, 3), seed=seed)
    return coordinates, np_knn(coordinates, k).astype("int32")


def _randomize(block, rng):
    for transfer in [*block.restrictions, *block.prolongations]:
        transfer.set_weights([rng.normal(0, 0.5, transfer.kernel.shape)])
    for layer in block._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, channels),
                    rng.normal(0, 0.1, channels),
                    rng.normal(0, 0.1, channels),
                    rng.uniform(0.5, 1.5, channels),
                ]
            )


# --------------------------------------------------------------- Algorithm 1 on point sets


@pytest.mark.parametrize(
    "block_name",
    [pytest.param("diffgcn", marks=pytest.mark.backends), "diffgcn_residual", "edgeconv"],
)
def test_mgic_on_points_matches_numpy_algorithm_1(block_name):
    coordinates, neighbors = _graph()
    x = _normal((2, 24, 16), seed=2)
    block = MGICBlock(4, 8, block=block_name)
    block.build(x.shape)
    assert block.widths == [16, 8, 4] and [r.groups for r in block.restrictions] == [4, 2]
    assert [b.groups for b in block.level_blocks] == [4, 2, 1]
    _randomize(block, np.random.default_rng(3))
    graph = {"neighbors": neighbors}
    if block_name != "edgeconv":
        graph["coordinates"] = coordinates
    reference = {"diffgcn": np_diffgcn_conv, "diffgcn_residual": np_diffgcn_residual_block}
    for training in (False, True):

        def cnn(level, h, training=training):
            layer = block.level_blocks[level]
            if block_name in reference:
                return reference[block_name](layer, h, neighbors, coordinates, training)
            return np_edge_conv(layer, h, neighbors, training)

        def bn(h, layer, training_=False, training=training):
            return np_point_bn(h, layer, training)

        expected = np_mgic_algorithm_1(block, x, training, _np_point_conv, bn, cnn)
        y = _np(block(x, training=training, **graph))
        np.testing.assert_allclose(y, expected, atol=5e-4, err_msg=f"training={training}")


@pytest.mark.backends
def test_point_transfers_match_numpy_and_keep_the_points():
    x = _normal((2, 9, 16), seed=4)
    restriction = ChannelRestriction(4, points=True)
    prolongation = ChannelProlongation(4, points=True)
    coarse = restriction(x)
    assert tuple(coarse.shape) == (2, 9, 8) and restriction.kernel.shape == (1, 4, 8)
    np.testing.assert_allclose(_np(coarse), _np_point_conv(x, _np(restriction.kernel)), atol=1e-5)
    fine = prolongation(coarse)
    assert tuple(fine.shape) == (2, 9, 16) and prolongation.kernel.shape == (1, 2, 16)
    np.testing.assert_allclose(
        _np(fine), _np_point_conv(_np(coarse), _np(prolongation.kernel)), atol=1e-5
    )
    assert restriction.compute_output_shape((None, 9, 16)) == (None, 9, 8)


def test_point_transfers_check_ranks():
    with pytest.raises(ValueError, match=r"rank-3.*Received: input_shape=\(None, 4, 4, 8\)"):
        ChannelRestriction(4, points=True).build((None, 4, 4, 8))
    with pytest.raises(ValueError, match="Received: points='yes'"):
        ChannelRestriction(4, points="yes")


# ------------------------------------------------------------------------ MGIC properties


@pytest.mark.parametrize("channels, group_size, coarsest_size", [(32, 8, 4), (24, 4, 6)])
def test_identity_block_gives_identity_mgic_block_on_points(channels, group_size, coarsest_size):
    _, neighbors = _graph()
    x = _normal((2, 24, channels), seed=5)
    block = MGICBlock(group_size, coarsest_size, block=PointIdentityBlock)
    block.build(x.shape)
    assert len(block.widths) >= 3
    rng = np.random.default_rng(6)
    for transfer in [*block.restrictions, *block.prolongations]:
        transfer.set_weights([rng.normal(size=transfer.kernel.shape)])
    for training in (False, True):
        np.testing.assert_allclose(
            _np(block(x, training=training, neighbors=neighbors)), x, atol=1e-6
        )


def _channel_dependency(block, channels, coordinates, neighbors, eps=0.1, samples=3):
    """dep[i, o]: how much output channel o moves when input channel i is perturbed
    (finite differences in inference mode, summed over points and a few inputs). The
    perturbation varies over the points: DiffGCN sees feature differences only, so a shift
    of a whole channel by a constant moves nothing."""
    dep = 0
    points = coordinates.shape[1]
    for seed in range(samples):
        x = _normal((1, points, channels), seed=7 + seed)
        batch = np.repeat(x, channels + 1, axis=0)
        for i in range(channels):
            batch[i + 1, :, i] += eps * _normal((points,), seed=100 + i)
        graph = {
            "neighbors": np.repeat(neighbors[:1], channels + 1, axis=0),
            "coordinates": np.repeat(coordinates[:1], channels + 1, axis=0),
        }
        y = _np(block(batch, training=False, **graph))
        dep = dep + np.abs(y[1:] - y[:1]).sum(axis=1)
    return dep / dep.max()


def test_mgic_diffgcn_couples_every_channel_pair():
    coordinates, neighbors = _graph(points=20)
    # DiffGCN's gradient scales with the neighbour offsets: spread points keep the gain of
    # the coarse levels' blocks near one, so the coarse path is not lost in round-off.
    coordinates = 6 * coordinates
    block = MGICBlock(group_size=4, coarsest_size=8, block="diffgcn")  # 32, 16, 8, 4
    block.build((None, 20, 32))
    # Averaging transfers (positive weights): the test is about which paths exist. Kernels
    # drawn by NumPy: the same numbers on every backend.
    for transfer in [*block.restrictions, *block.prolongations]:
        transfer.set_weights([_np(ChannelAveraging()(transfer.kernel.shape))])
    rng = np.random.default_rng(11)
    for level_block in block.level_blocks:
        level_block.kernel.assign(rng.normal(0, 0.5, level_block.kernel.shape))
    assert [layer.groups for layer in block.restrictions] == [8, 4, 2]
    dep = _channel_dependency(block, 32, coordinates, neighbors)
    assert np.all(dep > 1e-4), np.argwhere(dep <= 1e-4)
    # A grouped DiffGCN convolution alone is block-diagonal: MGIC's coupling is its own.
    alone = _channel_dependency(DiffGCNConv(32, groups=8), 32, coordinates, neighbors)
    block_diagonal = np.kron(np.eye(8), np.ones((4, 4))) > 0
    assert np.all(alone[~block_diagonal] < 1e-6) and np.all(alone[block_diagonal] > 1e-4)


@pytest.mark.parametrize("block_name, kwargs", [("diffgcn", {}), ("edgeconv", {})])
def test_parameters_and_macs_grow_linearly_with_the_width(block_name, kwargs):
    """MGIC on points: doubling the width doubles parameters and MACs (within the coarse
    levels' share), where the dense graph convolution quadruples them."""
    counts, dense = [], []
    for width in (64, 128, 256, 512):
        inputs = keras.Input((32, width))
        neighbors = KNNGraph(4)(inputs)
        coordinates = keras.Input((32, 3))
        mgic = MGICBlock(8, 16, block=block_name, block_kwargs=kwargs)
        graph = {"neighbors": neighbors}
        layer = DiffGCNConv(width) if block_name == "diffgcn" else EdgeConv(width)
        if block_name == "diffgcn":
            graph["coordinates"] = coordinates
        outputs = mgic(inputs, **graph)
        dense_outputs = layer(inputs, **graph)
        model = keras.Model([inputs, coordinates], [outputs, dense_outputs])
        shapes = [(32, width), (32, 3)]
        mgic_macs = sum(
            macs
            for path, _, macs in keras_mgic.profiling.profile_flops(model, shapes)
            if path.startswith(mgic.name)
        )
        counts.append((keras_mgic.count_params(mgic), mgic_macs))
        dense.append(keras_mgic.count_params(layer))
    for (p1, m1), (p2, m2) in zip(counts[:-1], counts[1:], strict=True):
        assert 1.9 < p2 / p1 < 2.1 and 1.9 < m2 / m1 < 2.1, counts
    assert all(3.9 < b / a < 4.1 for a, b in zip(dense[:-1], dense[1:], strict=True)), dense


# ------------------------------------------------------------------------------- errors


def test_graph_inputs_are_checked():
    coordinates, neighbors = _graph()
    x = _normal((2, 24, 16), seed=8)
    # Without coordinates, the input's first coordinate_dim channels are the coordinates.
    block = MGICBlock(4, 8, block="diffgcn")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(block(x, neighbors=neighbors)),
        keras.ops.convert_to_numpy(block(x, neighbors=neighbors, coordinates=x[..., :3])),
    )
    with pytest.raises(ValueError, match="EdgeConv needs `neighbors`.*neighbors=None"):
        MGICBlock(4, 8, block="edgeconv")(x)
    with pytest.raises(ValueError, match="EdgeConv does not take `coordinates`"):
        MGICBlock(4, 8, block="edgeconv")(x, neighbors=neighbors, coordinates=coordinates)
    images = _normal((2, 4, 4, 16), seed=9)
    with pytest.raises(ValueError, match="ResidualBlock does not take `neighbors`"):
        MGICBlock(4, 8)(images, neighbors=neighbors)
    with pytest.raises(ValueError, match=r"rank-3.*Received: input_shape=\(None, 4, 4, 16\)"):
        MGICBlock(4, 8, block="diffgcn").build((None, 4, 4, 16))
    with pytest.raises(ValueError, match="expected ndim=4"):
        MGICBlock(4, 8, block=ResidualBlock)(keras.Input((24, 16)))


# --------------------------------------------------------------------------- serialization


@pytest.mark.backends
def test_point_mgic_model_round_trips_through_keras_files(tmp_path):
    inputs = keras.Input((24, 3))
    neighbors = KNNGraph(4, name="knn")(inputs)
    h = EdgeConv(16, name="edge")(inputs, neighbors=neighbors)
    h = MGICBlock(4, 8, block="diffgcn", block_kwargs={"coordinate_dim": 3}, name="mgic")(
        h, neighbors=neighbors, coordinates=inputs
    )
    h = MGICBlock(4, 8, block="edgeconv", name="mgic_edge")(h, neighbors=neighbors)
    model = keras.Model(inputs, keras.layers.GlobalMaxPooling1D()(h))
    x = _normal((2, 24, 3), seed=10)
    model(x, training=True)
    expected = _np(model(x, training=False))
    path = str(tmp_path / "points.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_np(loaded(x, training=False)), expected, atol=1e-6)
    config = loaded.get_layer("mgic").get_config()
    assert config["block"] == "diffgcn" and config["block_kwargs"] == {"coordinate_dim": 3}
    assert loaded.get_layer("mgic_edge").block_class is EdgeConv
