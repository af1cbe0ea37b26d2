"""Keras's own layer harness (``keras.src.testing.TestCase.run_layer_test``) over every layer
in ``keras_mgic.layers.__all__``: build, config and serialization round trips, eager and
symbolic calls, output shapes and dtypes, weight counts, a training step (``model.fit``,
which passes no call arguments: the point-cloud layers build their k-NN graph inside from
``k``) and a ``mixed_float16`` call. Plus, for the graph layers, the graph built inside
against the same layer given ``KNNGraph``'s graph.
"""

import keras
import numpy as np
import pytest
from keras.src import testing
from small_models import off_tensorflow, slow_off_tensorflow

from keras_mgic import layers
from keras_mgic.layers import DiffGCNConv, DiffGCNResidualBlock, EdgeConv, KNNGraph, MGICBlock

pytestmark = pytest.mark.backends

POINTS = 12
#: layer name -> list of run_layer_test keyword arguments (one per case).
CASES = {
    "BatchNormalization": [
        dict(
            init_kwargs={"momentum": 0.9},
            input_shape=(2, 3, 3, 4),
            expected_output_shape=(2, 3, 3, 4),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=2,
        )
    ],
    "BottleneckBlock": [
        dict(
            init_kwargs={"filters": 16, "groups": 2},
            input_shape=(2, 3, 3, 16),
            expected_output_shape=(2, 3, 3, 16),
        )
    ],
    "ChannelProlongation": [
        dict(
            init_kwargs={"group_size": 2},
            input_shape=(2, 3, 3, 4),
            expected_output_shape=(2, 3, 3, 8),
            expected_num_trainable_weights=1,
        )
    ],
    "ChannelRestriction": [
        dict(
            init_kwargs={"group_size": 2},
            input_shape=(2, 3, 3, 8),
            expected_output_shape=(2, 3, 3, 4),
            expected_num_trainable_weights=1,
        ),
        dict(
            init_kwargs={"group_size": 2, "points": True},
            input_shape=(2, POINTS, 8),
            expected_output_shape=(2, POINTS, 4),
        ),
    ],
    "MGICFeedForward": [
        dict(
            init_kwargs={"hidden_dim": 64, "group_size": 4, "coarsest_size": 8},
            input_shape=(2, 5, 16),
            expected_output_shape=(2, 5, 16),
        ),
        dict(  # the former default kernels, LeCun-normal
            init_kwargs={
                "hidden_dim": 32,
                "group_size": 4,
                "coarsest_size": 8,
                "kernel_initializer": "lecun_normal",
            },
            input_shape=(2, 5, 16),
            expected_output_shape=(2, 5, 16),
        ),
    ],
    "ChannelTransition": [
        dict(
            init_kwargs={"filters": 8, "strides": 2},
            input_shape=(2, 4, 4, 4),
            expected_output_shape=(2, 2, 2, 8),
        )
    ],
    "DiffGCNConv": [
        dict(
            init_kwargs={"filters": 8, "k": 4},
            input_shape=(2, POINTS, 3),
            expected_output_shape=(2, POINTS, 8),
            expected_num_trainable_weights=3,  # kernel, BN gamma and beta
            expected_num_non_trainable_weights=2,
        )
    ],
    "DiffGCNResidualBlock": [
        dict(
            init_kwargs={"filters": 8, "groups": 2, "k": 4},
            input_shape=(2, POINTS, 8),
            expected_output_shape=(2, POINTS, 8),
            expected_num_trainable_weights=3,
        )
    ],
    "EdgeConv": [
        dict(
            init_kwargs={"filters": 8, "k": 4},
            input_shape=(2, POINTS, 3),
            expected_output_shape=(2, POINTS, 8),
            expected_num_trainable_weights=3,
            expected_num_non_trainable_weights=2,
        )
    ],
    "GroupedConv2D": [
        dict(
            init_kwargs={"filters": 8, "kernel_size": 3, "groups": 2, "padding": "same"},
            input_shape=(2, 4, 4, 4),
            expected_output_shape=(2, 4, 4, 8),
            expected_num_trainable_weights=2,
        )
    ],
    "InvertedResidualBlock": [
        dict(
            init_kwargs={"filters": 8, "groups": 2, "se_ratio": 0.25},
            input_shape=(2, 4, 4, 8),
            expected_output_shape=(2, 4, 4, 8),
        ),
        dict(
            init_kwargs={
                "filters": 8,
                "groups": 2,
                "se_ratio": 0.25,
                "grouped_squeeze_excite": False,
            },
            input_shape=(2, 4, 4, 8),
            expected_output_shape=(2, 4, 4, 8),
        ),
    ],
    "KNNGraph": [
        dict(
            init_kwargs={"k": 3},
            input_shape=(2, POINTS, 3),
            expected_output_shape=(2, POINTS, 3),
            expected_output_dtype="int32",
            expected_num_trainable_weights=0,
            run_training_check=False,  # integer indices, nothing to train
        )
    ],
    "MGICBlock": [
        dict(
            init_kwargs={"group_size": 4, "coarsest_size": 4},
            input_shape=(2, 3, 3, 16),
            expected_output_shape=(2, 3, 3, 16),
        ),
        dict(
            init_kwargs={
                "group_size": 4,
                "coarsest_size": 4,
                "block": "diffgcn",
                "block_kwargs": {"k": 4},
            },
            input_shape=(2, POINTS, 16),
            expected_output_shape=(2, POINTS, 16),
        ),
    ],
    "PointCoordinates": [
        dict(
            init_kwargs={"coordinate_dim": 2},
            input_shape=(2, POINTS, 3),
            expected_output_shape=(2, POINTS, 2),
            expected_num_trainable_weights=0,
            run_training_check=False,  # no weights
        )
    ],
    "PointPooling": [
        dict(
            init_kwargs={"k": 3, "aggregation": "mean"},
            input_shape=(2, POINTS, 3),  # a set pooled by its own positions
            expected_output_shape=((2, POINTS // 2, 3), (2, POINTS // 2, 3), (2, POINTS)),
            expected_num_trainable_weights=0,
            run_training_check=False,  # no weights
            run_mixed_precision_check=False,  # float16 coordinates would change the matching
        )
    ],
    "PointRestriction": [
        dict(
            init_kwargs={"aggregation": "sum"},
            input_shape=[(2, POINTS, 4), (2, POINTS)],
            input_dtype=["float32", "int32"],
            expected_output_shape=(2, POINTS // 2, 4),
            expected_num_trainable_weights=0,
            run_training_check=False,  # no weights
        )
    ],
    "PointUnpooling": [
        dict(
            init_kwargs={},
            input_shape=[(2, POINTS // 2, 4), (2, POINTS)],
            input_dtype=["float32", "int32"],
            expected_output_shape=(2, POINTS, 4),
            expected_num_trainable_weights=0,
            run_training_check=False,  # no weights
        )
    ],
    "PointTransition": [
        dict(
            init_kwargs={"filters": 8},
            input_shape=(2, POINTS, 4),
            expected_output_shape=(2, POINTS, 8),
        )
    ],
    "PreActResidualBlock": [
        dict(
            init_kwargs={"filters": 8},
            input_shape=(2, 3, 3, 8),
            expected_output_shape=(2, 3, 3, 8),
        )
    ],
    "ResidualBlock": [
        dict(
            init_kwargs={"filters": 8, "groups": 2},
            input_shape=(2, 3, 3, 8),
            expected_output_shape=(2, 3, 3, 8),
        )
    ],
    "ResizeLike": [
        dict(
            init_kwargs={"interpolation": "bilinear"},
            input_shape=[(2, 2, 2, 4), (2, 6, 5, 3)],
            expected_output_shape=(2, 6, 5, 4),
            expected_num_trainable_weights=0,
            run_training_check=False,  # no weights
        )
    ],
    "SqueezeExcite": [
        dict(
            init_kwargs={"filters": 8, "squeeze_filters": 4},
            input_shape=(2, 3, 3, 8),
            expected_output_shape=(2, 3, 3, 8),
        )
    ],
}

#: Cases whose XLA-compiled training step takes long: run with the slow tests.
SLOW = {("MGICBlock", 1)}
#: Second cases that change an initializer only: with the slow tests off TensorFlow.
SLOW_OFF_TENSORFLOW = off_tensorflow([("MGICFeedForward", 1)])
PARAMS = [
    pytest.param(
        name,
        index,
        id=f"{name}-{index}",
        marks=(pytest.mark.slow,) if (name, index) in SLOW | SLOW_OFF_TENSORFLOW else (),
    )
    for name in layers.__all__
    for index in range(len(CASES.get(name, [None])))
]


@pytest.fixture(scope="module")
def harness():
    return testing.TestCase("run_layer_test")


def test_every_public_layer_has_a_case():
    assert sorted(CASES) == sorted(layers.__all__)


@pytest.mark.parametrize("name, index", PARAMS)
def test_keras_layer_harness(harness, name, index):
    harness.run_layer_test(getattr(layers, name), **CASES[name][index])


def _cloud(channels, seed=0):
    return np.random.default_rng(seed).normal(size=(2, POINTS, channels)).astype("float32")


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("layer_class", [EdgeConv, DiffGCNConv])
def test_graph_built_inside_equals_knn_graph(layer_class):
    x = _cloud(3)
    neighbors = KNNGraph(k=4)(x)
    inside = layer_class(8, k=4)
    given = layer_class(8)
    expected_inside = inside(x, training=False)
    given.build(x.shape)
    given.set_weights(inside.get_weights())
    kwargs = {"coordinates": x} if layer_class is DiffGCNConv else {}
    expected = given(x, neighbors=neighbors, training=False, **kwargs)
    np.testing.assert_allclose(_numpy(expected_inside), _numpy(expected), rtol=1e-5, atol=1e-6)


@slow_off_tensorflow  # which graph is built is the layers' Python, the same on every backend
def test_residual_block_and_mgic_block_build_one_graph_of_their_input():
    x = _cloud(16)
    neighbors = KNNGraph(k=4)(x)
    block = DiffGCNResidualBlock(16, k=4)
    np.testing.assert_allclose(
        _numpy(block(x, training=False)),
        _numpy(block(x, neighbors=neighbors, coordinates=x[..., :3], training=False)),
        rtol=1e-5,
        atol=1e-6,
    )
    mgic = MGICBlock(4, 4, block="diffgcn", block_kwargs={"k": 4})
    np.testing.assert_allclose(
        _numpy(mgic(x, training=False)),
        _numpy(mgic(x, neighbors=neighbors, coordinates=x[..., :3], training=False)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_graph_layers_without_graph_or_k_say_so():
    x = _cloud(8)
    with pytest.raises(ValueError, match="EdgeConv needs `neighbors`.*neighbors=None, k=None"):
        EdgeConv(8)(x)
    with pytest.raises(ValueError, match="`k`.*k=0"):
        DiffGCNConv(8, k=0)
    with pytest.raises(ValueError, match=r"k \+ 1 points.*points=12, k=12"):
        EdgeConv(8, k=12)(x)
    with pytest.raises(ValueError, match="first 3 channels.*inputs.shape=\\(2, 12, 2\\)"):
        DiffGCNConv(8, k=4)(_cloud(2))


def test_k_is_in_the_config():
    layer = DiffGCNResidualBlock(8, k=5)
    assert layer.get_config()["k"] == 5
    assert DiffGCNResidualBlock.from_config(layer.get_config()).conv.k == 5
    assert EdgeConv.from_config(EdgeConv(8, k=3).get_config()).k == 3
