"""Per-level blocks: ResidualBlock, BottleneckBlock, InvertedResidualBlock, SqueezeExcite."""

import keras
import numpy as np
import pytest
from numpy_reference import np_level_block, np_squeeze_excite

from keras_mgic.layers import (
    BottleneckBlock,
    GroupedConv2D,
    InvertedResidualBlock,
    PreActResidualBlock,
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
    ("bottleneck", dict(groups=1, activate_before_skip=True)),
    ("inverted_residual", dict(groups=2)),
    ("inverted_residual", dict(groups=2, se_ratio=0.25, activation="hard_swish")),
    ("inverted_residual", dict(groups=4, se_ratio=0.25, activation="relu", kernel_size=5)),
    ("inverted_residual", dict(groups=1, expansion_ratio=3, activation="hard_swish")),
    ("inverted_residual", dict(groups=2, expansion_ratio=1, se_ratio=0.25)),
    ("inverted_residual", dict(groups=4, se_ratio=0.25, grouped_squeeze_excite=False)),
    ("preact_residual", dict(groups=1)),
    ("preact_residual", dict(groups=4, kernel_size=5)),
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
    grouped_se = kwargs.get("grouped_squeeze_excite", True)
    expected_count = {
        "residual": 2,
        "preact_residual": 2,
        "bottleneck": 3,
        "inverted_residual": 1 + has_expand + 2 * has_se,
    }[name]
    assert len(convs) == expected_count
    for conv in convs:
        in_se = has_se and conv.path.split("/")[-2] == "squeeze_excite"
        assert conv.groups == (1 if in_se and not grouped_se else groups), conv.path
    k = kwargs.get("kernel_size", 3)
    if name in ("residual", "preact_residual"):
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
            squeeze = block.squeeze_excite  # (or dense with grouped_squeeze_excite=False)
            se_groups = groups if grouped_se else 1
            assert squeeze.reduce.kernel.shape == (
                1,
                1,
                block.expanded_filters // se_groups,
                squeeze.squeeze_filters,
            )
            assert squeeze.squeeze_filters % se_groups == 0
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
        (
            InvertedResidualBlock,
            dict(filters=16, grouped_squeeze_excite=1),
            "Received: grouped_squeeze_excite=1$",
        ),
        (BottleneckBlock, dict(filters=16, activate_before_skip=1), "activate_before_skip=1"),
        (SqueezeExcite, dict(filters=16, squeeze_filters=0), "squeeze_filters=0"),
        (PreActResidualBlock, dict(filters=16, dropout_rate=1.0), r"dropout_rate=1\.0"),
        (PreActResidualBlock, dict(filters=16, dropout_rate="0.3"), "dropout_rate='0.3'"),
        (ResidualBlock, dict(filters=16, data_format="NCHW"), "data_format='NCHW'"),
        (SqueezeExcite, dict(filters=16, squeeze_filters=4, data_format=1), "data_format=1"),
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


def test_bottleneck_activation_before_the_skip():
    """``act(x + act(BN3(...)))``: a negative BN3 output adds nothing to the skip."""
    x = np.full((1, 2, 2, 16), 0.5, "float32")
    outputs = []
    for before in (False, True):
        block = BottleneckBlock(16, activate_before_skip=before)
        block.build(x.shape)
        block.bn3.beta.assign(-np.ones(16, "float32"))  # BN3 output: roughly -1
        block.bn3.gamma.assign(np.zeros(16, "float32"))
        outputs.append(keras.ops.convert_to_numpy(block(x, training=False)))
    np.testing.assert_allclose(outputs[0], 0.0, atol=1e-6)  # relu(0.5 - 1)
    np.testing.assert_allclose(outputs[1], 0.5, atol=1e-6)  # relu(0.5 + relu(-1))


def _kernels(block):
    return [
        keras.ops.convert_to_numpy(w)
        for w in block.weights
        if w.path.endswith("kernel") and len(w.shape) == 4
    ]


@pytest.mark.parametrize(
    "initializer",
    [
        "he_normal",
        keras.initializers.HeNormal(),
        keras.initializers.HeNormal(seed=7),
        keras.initializers.GlorotUniform(seed=7),
    ],
)
def test_every_kernel_gets_its_own_draw(initializer):
    """One (seeded) initializer instance used for two weights of one shape draws the same
    values twice; every kernel of a block must start different from the others."""
    block = ResidualBlock(16, groups=2, kernel_initializer=initializer)
    block.build((None, 4, 4, 16))
    conv1, conv2 = _kernels(block)
    assert conv1.shape == conv2.shape
    assert not np.allclose(conv1, conv2)


def test_shared_initializer_instance_gives_different_blocks():
    init = keras.initializers.HeNormal()
    first, second = (
        ResidualBlock(16, kernel_initializer=init),
        ResidualBlock(16, kernel_initializer=init),
    )
    first.build((None, 4, 4, 16))
    second.build((None, 4, 4, 16))
    assert not np.allclose(_kernels(first)[0], _kernels(second)[0])


def test_integer_seed_is_reproducible():
    blocks = [
        ResidualBlock(16, kernel_initializer=keras.initializers.HeNormal(seed=3)) for _ in "ab"
    ]
    for block in blocks:
        block.build((None, 4, 4, 16))
    for a, b in zip(_kernels(blocks[0]), _kernels(blocks[1]), strict=True):
        np.testing.assert_array_equal(a, b)
    assert blocks[0].get_config()["kernel_initializer"]["config"]["seed"] == 3


@pytest.mark.parametrize("name, kwargs", CONFIGS)
def test_channels_first_is_the_transposed_channels_last(name, kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 5, 16)).astype("float32")
    last = LEVEL_BLOCKS[name](filters=16, data_format="channels_last", **kwargs)
    first = LEVEL_BLOCKS[name](filters=16, data_format="channels_first", **kwargs)
    last.build(x.shape)
    first.build((2, 16, 6, 5))
    first.set_weights(last.get_weights())
    x_first = np.transpose(x, (0, 3, 1, 2))
    for training in (False, True):
        y_last = keras.ops.convert_to_numpy(last(x, training=training))
        y_first = keras.ops.convert_to_numpy(first(x_first, training=training))
        np.testing.assert_allclose(np.transpose(y_first, (0, 2, 3, 1)), y_last, atol=1e-5)
    assert first.get_config()["data_format"] == "channels_first"
    assert tuple(first.compute_output_shape((None, 16, 6, 5))) == (None, 16, 6, 5)
    with pytest.raises(ValueError, match="expected axis 1 of input shape to have value 16"):
        first(x)


def test_squeeze_excite_channels_first():
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 8)).astype("float32")
    last, first = (
        SqueezeExcite(8, 4, data_format="channels_last"),
        SqueezeExcite(8, 4, data_format="channels_first"),
    )
    last.build(x.shape)
    first.build((2, 8, 3, 4))
    first.set_weights(last.get_weights())
    y = keras.ops.convert_to_numpy(first(np.transpose(x, (0, 3, 1, 2))))
    np.testing.assert_allclose(
        np.transpose(y, (0, 2, 3, 1)), keras.ops.convert_to_numpy(last(x)), atol=1e-6
    )


def test_default_data_format_is_keras_image_data_format():
    previous = keras.config.image_data_format()
    try:
        keras.config.set_image_data_format("channels_first")
        block = ResidualBlock(16)
        assert block.data_format == "channels_first"
        assert block.conv1.data_format == "channels_last"  # the inside is channels-last
        assert tuple(block(np.ones((1, 16, 3, 3), "float32")).shape) == (1, 16, 3, 3)
    finally:
        keras.config.set_image_data_format(previous)


def test_preact_dropout_between_the_convolutions(np_conv, np_bn, randomize_bn):
    """Dropout acts in training only, and only between the two convolutions: the output
    of a block with dropout equals the reference with some conv2 inputs zeroed."""
    rng = np.random.default_rng(1)
    block = _built_block("preact_residual", dict(dropout_rate=0.5, groups=2), rng, randomize_bn)
    x = rng.normal(size=(2, 6, 5, 16)).astype("float32")
    inference = keras.ops.convert_to_numpy(block(x, training=False))
    np.testing.assert_allclose(
        inference, np_level_block(block, x, False, np_conv, np_bn), atol=2e-4
    )
    training = keras.ops.convert_to_numpy(block(x, training=True))
    assert not np.allclose(training, np_level_block(block, x, True, np_conv, np_bn), atol=1e-3)
    assert block.get_config()["dropout_rate"] == 0.5
    assert PreActResidualBlock.from_config(block.get_config()).dropout_rate == 0.5
