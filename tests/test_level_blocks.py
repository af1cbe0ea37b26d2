"""Per-level blocks: ResidualBlock, BottleneckBlock, InvertedResidualBlock, SqueezeExcite."""

import keras
import numpy as np
import pytest
from numpy_reference import np_level_block, np_squeeze_excite

from keras_mgic.layers import (
    BottleneckBlock,
    GroupedConv2D,
    InvertedResidualBlock,
    ResidualBlock,
    SqueezeExcite,
)
from keras_mgic.layers.level_blocks import LEVEL_BLOCKS

CONFIGS = [
    ("residual", dict(groups=1)),
    ("residual", dict(groups=4)),
    ("residual", dict(groups=2, kernel_size=5, activation="hard_swish")),
    ("bottleneck", dict(groups=2)),
    ("bottleneck", dict(groups=4, bottleneck_ratio=2)),
    ("inverted_residual", dict(groups=2)),
    ("inverted_residual", dict(groups=2, se_ratio=0.25, activation="hard_swish")),
    ("inverted_residual", dict(groups=4, se_ratio=0.25, activation="relu", kernel_size=5)),
    ("inverted_residual", dict(groups=1, expansion_ratio=3, activation="hard_swish")),
    ("inverted_residual", dict(groups=2, expansion_ratio=1, se_ratio=0.25)),
]


def _built_block(name, kwargs, rng, randomize_bn, filters=16):
    block = LEVEL_BLOCKS[name](filters=filters, **kwargs)
    block.build((None, 6, 5, filters))
    for layer in block._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            randomize_bn(layer, rng)
    return block


@pytest.mark.parametrize("name, kwargs", CONFIGS)
def test_matches_numpy_reference(np_conv, np_bn, randomize_bn, name, kwargs):
    rng = np.random.default_rng(0)
    block = _built_block(name, kwargs, rng, randomize_bn)
    x = rng.normal(size=(2, 6, 5, 16)).astype("float32")
    for training in (False, True):
        y = keras.ops.convert_to_numpy(block(x, training=training))
        assert y.shape == x.shape
        expected = np_level_block(block, x, training, np_conv, np_bn)
        np.testing.assert_allclose(y, expected, atol=2e-4, err_msg=f"training={training}")
    assert tuple(block.compute_output_shape((None, 6, 5, 16))) == (None, 6, 5, 16)


@pytest.mark.parametrize("name, kwargs", CONFIGS)
def test_grouped_convolutions_have_the_requested_groups(name, kwargs):
    block = LEVEL_BLOCKS[name](filters=16, **kwargs)
    block.build((None, 4, 4, 16))
    groups = kwargs["groups"]
    convs = [layer for layer in block._flatten_layers() if isinstance(layer, GroupedConv2D)]
    has_se = kwargs.get("se_ratio") is not None
    has_expand = kwargs.get("expansion_ratio", 4) != 1
    expected_count = {
        "residual": 2,
        "bottleneck": 3,
        "inverted_residual": 1 + has_expand + 2 * has_se,
    }[name]
    assert len(convs) == expected_count
    for conv in convs:
        assert conv.groups == groups
    k = kwargs.get("kernel_size", 3)
    if name == "residual":
        assert [c.kernel.shape for c in convs] == [(k, k, 16 // groups, 16)] * 2
    if name == "bottleneck":
        width = 16 // kwargs.get("bottleneck_ratio", 4)
        assert [c.kernel.shape for c in convs] == [
            (1, 1, 16 // groups, width),
            (k, k, width // groups, width),
            (1, 1, width // groups, 16),
        ]
    if name == "inverted_residual":
        if has_expand:
            assert block.expand.kernel.shape == (1, 1, 16 // groups, block.expanded_filters)
            assert block.expanded_filters % (8 * groups) == 0
        else:
            assert block.expand is None and block.expanded_filters == 16
        assert block.project.kernel.shape == (1, 1, block.expanded_filters // groups, 16)
        assert block.depthwise.kernel.shape[-2:] == (block.expanded_filters, 1)
        assert (block.squeeze_excite is not None) == has_se
        if has_se:  # the squeeze-excite convolutions are grouped like the other 1x1 convs
            squeeze = block.squeeze_excite
            assert squeeze.reduce.kernel.shape == (
                1,
                1,
                block.expanded_filters // groups,
                squeeze.squeeze_filters,
            )
            assert squeeze.squeeze_filters % groups == 0
    activation = kwargs.get("activation", "relu")
    assert block.activation is keras.activations.get(activation)


def test_inverted_residual_expanded_width():
    assert InvertedResidualBlock(16, groups=2).expanded_filters == 64
    assert InvertedResidualBlock(24, groups=1, expansion_ratio=4.5).expanded_filters == 112
    assert InvertedResidualBlock(4, groups=2, expansion_ratio=1.0).expanded_filters == 4
    se = InvertedResidualBlock(16, groups=2, se_ratio=0.25).squeeze_excite
    assert (se.filters, se.squeeze_filters) == (64, 16)


@pytest.mark.parametrize("groups", [1, 2])
def test_squeeze_excite_matches_numpy(groups, np_conv):
    se = SqueezeExcite(filters=8, squeeze_filters=4, groups=groups)
    x = np.random.default_rng(1).normal(size=(2, 3, 3, 8)).astype("float32")
    se.build(x.shape)
    rng = np.random.default_rng(2)
    se.set_weights([rng.normal(size=w.shape).astype("float32") for w in se.get_weights()])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(se(x)), np_squeeze_excite(se, x, np_conv), atol=1e-5
    )


@pytest.mark.parametrize("name", sorted(LEVEL_BLOCKS))
def test_fit_step_gives_every_weight_a_gradient(name):
    block = LEVEL_BLOCKS[name](filters=16, groups=2)
    model = keras.Sequential([keras.Input((4, 4, 16)), block])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 4, 4, 16)).astype("float32")
    before = [v.numpy().copy() for v in model.trainable_variables]
    history = model.fit(x, rng.normal(size=x.shape), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for variable, old in zip(model.trainable_variables, before, strict=True):
        assert not np.array_equal(variable.numpy(), old), variable.path


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (ResidualBlock, dict(filters=0), "filters=0"),
        (ResidualBlock, dict(filters=-4), "filters=-4"),
        (ResidualBlock, dict(filters=16.0), r"filters=16\.0"),
        (ResidualBlock, dict(filters=16, groups=0), "groups=0"),
        (ResidualBlock, dict(filters=16, groups=3), "filters=16, groups=3"),
        (ResidualBlock, dict(filters=16, kernel_size=0), "kernel_size=0"),
        (ResidualBlock, dict(filters=16, activation="no_such_activation"), "no_such_activation"),
        (BottleneckBlock, dict(filters=16, bottleneck_ratio=0), "bottleneck_ratio=0"),
        (BottleneckBlock, dict(filters=18, bottleneck_ratio=4), "filters=18, bottleneck_ratio=4"),
        (BottleneckBlock, dict(filters=16, groups=8), "filters=16, bottleneck_ratio=4, groups=8"),
        (InvertedResidualBlock, dict(filters=16, expansion_ratio=0.5), r"expansion_ratio=0\.5"),
        (InvertedResidualBlock, dict(filters=16, expansion_ratio="4"), "expansion_ratio='4'"),
        (InvertedResidualBlock, dict(filters=16, expansion_ratio=True), "expansion_ratio=True"),
        (InvertedResidualBlock, dict(filters=16, se_ratio=0), "se_ratio=0"),
        (InvertedResidualBlock, dict(filters=16, se_ratio=1.5), r"se_ratio=1\.5"),
        (InvertedResidualBlock, dict(filters=16, se_ratio="0.25"), "se_ratio='0.25'"),
        (SqueezeExcite, dict(filters=16, squeeze_filters=0), "squeeze_filters=0"),
    ],
)
def test_bad_arguments_raise(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("name", sorted(LEVEL_BLOCKS))
def test_bad_input_shapes_raise(name):
    cls = LEVEL_BLOCKS[name]
    with pytest.raises(ValueError, match="channels=8, filters=16"):
        cls(filters=16).build((None, 4, 4, 8))
    with pytest.raises(ValueError, match=r"input_shape=\(None, 4, 16\)"):
        cls(filters=16).build((None, 4, 16))
    with pytest.raises(ValueError, match=r"input_shape=\(None, 4, 4, None\)"):
        cls(filters=16).build((None, 4, 4, None))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 16"):
        cls(filters=16)(np.ones((1, 4, 4, 8), "float32"))


def test_squeeze_excite_bad_input_shapes_raise():
    with pytest.raises(ValueError, match="channels=8, filters=16"):
        SqueezeExcite(16, 4).build((None, 4, 4, 8))
    with pytest.raises(ValueError, match=r"input_shape=\(None, 4, 4, None\)"):
        SqueezeExcite(16, 4).build((None, 4, 4, None))
    with pytest.raises(ValueError, match="expected ndim=4"):
        SqueezeExcite(16, 4)(keras.Input((4, 16)))
