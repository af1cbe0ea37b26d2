"""MobileNetV3 and MGIC-MobileNetV3 builders: shapes, the dense twin, parameter counts against
keras.applications and the paper (Table 4), mixed precision, argument errors."""

import functools
import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mgic import models
from keras_mgic.layers import ChannelTransition, MGICBlock
from keras_mgic.layers.channel_hierarchy import make_divisible
from keras_mgic.models.mobilenet_v3 import (
    LARGE_BLOCKS,
    MGIC_DEFAULTS,
    SMALL_BLOCKS,
    MGICMobileNetV3Large,
    MGICMobileNetV3Small,
    MobileNetV3Large,
    MobileNetV3Small,
    block_group_size,
    build_mobilenet_v3,
)
from keras_mgic.profiling import count_flops, count_params

# Small and fast: 32x32 inputs, narrow widths, and s_g = s_c = 8 so the MGIC blocks really
# have several levels (with the paper's 64 nothing this narrow coarsens).
SMALL = {"input_shape": (32, 32, 3), "alpha": 0.35, "classes": 5}
MGIC_SMALL = {**SMALL, "group_size": 8, "coarsest_size": 8}
BUILDERS = {
    "large": (MobileNetV3Large, SMALL),
    "small": (MobileNetV3Small, SMALL),
    "mgic_large": (MGICMobileNetV3Large, MGIC_SMALL),
    "mgic_small": (MGICMobileNetV3Small, MGIC_SMALL),
}


def _mgic_blocks(model):
    return [layer for layer in model.layers if isinstance(layer, MGICBlock)]


def _images(batch=2, size=32, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, 3)).astype("float32")


# --------------------------------------------------------------------------- forward passes


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_classifier_output(builder):
    build, kwargs = BUILDERS[builder]
    model = build(**kwargs)
    probabilities = keras.ops.convert_to_numpy(model(_images(), training=False))
    assert probabilities.shape == (2, 5)
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
    if builder.startswith("mgic"):  # the hierarchies are real: 56 or 32 wide, down to 7 or 4
        assert max(len(block.widths) for block in _mgic_blocks(model)) == 4


@pytest.mark.parametrize(
    "build, kwargs, top_width",
    [
        # Large at 0.35: last block 56 wide, top conv 6 * 56 = 336; Small: 32 -> 192.
        (MobileNetV3Large, SMALL, 336),
        (MGICMobileNetV3Large, MGIC_SMALL, 336),
        (MobileNetV3Small, SMALL, 192),
        (MGICMobileNetV3Small, MGIC_SMALL, 192),
    ],
)
def test_feature_map_without_top(build, kwargs, top_width):
    x = _images(size=64)
    kwargs = {**kwargs, "input_shape": (64, 64, 3), "include_top": False}
    features = keras.ops.convert_to_numpy(build(**kwargs)(x, training=False))
    assert features.shape == (2, 2, 2, top_width)  # 64 / 32
    assert np.all(np.isfinite(features))


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_pooling_without_top(pooling):
    model = MGICMobileNetV3Small(**MGIC_SMALL, include_top=False, pooling=pooling)
    assert tuple(model.output.shape) == (None, 192)
    assert model.layers[-1].name == f"{pooling}_pool"


def test_unknown_spatial_size_and_logits_output():
    kwargs = {**MGIC_SMALL, "input_shape": (None, None, 3), "classifier_activation": None}
    model = MGICMobileNetV3Large(**kwargs)
    assert tuple(model.output.shape) == (None, 5)
    for size in (32, 48):
        logits = keras.ops.convert_to_numpy(model(_images(size=size), training=False))
        assert logits.shape == (2, 5) and not np.allclose(logits.sum(axis=-1), 1.0)


def test_every_weight_of_the_mgic_model_gets_a_gradient():
    model = MGICMobileNetV3Small(**MGIC_SMALL)
    x, y = _images(batch=4), np.arange(4) % 5
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    missing = [w.path for w, g in zip(model.trainable_weights, grads, strict=True) if g is None]
    assert not missing
    assert all(np.all(np.isfinite(keras.ops.convert_to_numpy(g))) for g in grads)


def test_save_and_load_round_trip(tmp_path):
    model = MGICMobileNetV3Small(**MGIC_SMALL)
    x = _images()
    path = str(tmp_path / "mgic_mobilenet_v3_small.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        rtol=1e-5,
        atol=1e-6,
    )


# ------------------------------------------------------------------------------ dense twin


@pytest.mark.parametrize(
    "dense, mgic, blocks",
    [
        (MobileNetV3Large, MGICMobileNetV3Large, LARGE_BLOCKS),
        (MobileNetV3Small, MGICMobileNetV3Small, SMALL_BLOCKS),
    ],
)
def test_dense_twin_differs_only_in_the_blocks(dense, mgic, blocks):
    """Same builder: stem, top conv and head are the same layers; only blocks differ."""
    kwargs = {"input_shape": (64, 64, 3), "alpha": 0.75, "classes": 7}
    dense_model = dense(**kwargs)
    mgic_model = mgic(**kwargs)

    def outside_blocks(model):
        return [
            (layer.name, type(layer), [tuple(w.shape) for w in layer.weights])
            for layer in model.layers
            if not layer.name.startswith("block")
        ]

    assert outside_blocks(dense_model) == outside_blocks(mgic_model)

    in_filters = 16  # the stem
    for index, spec in enumerate(blocks):
        prefix = f"block{index}_"
        mgic_layers = [layer for layer in mgic_model.layers if layer.name.startswith(prefix)]
        dense_depthwise = dense_model.get_layer(f"{prefix}depthwise")
        dense_out = dense_model.get_layer(f"{prefix}project").filters
        changes = spec.strides != 1 or dense_out != in_filters
        expected = [ChannelTransition, MGICBlock] if changes else [MGICBlock]
        assert [type(layer) for layer in mgic_layers] == expected, index
        assert dense_depthwise.strides == (spec.strides, spec.strides)
        if changes:
            transition = mgic_layers[0]
            assert (transition.filters, transition.strides) == (dense_out, spec.strides)
        # The MGIC block keeps the row's expanded width, kernel, squeeze-excite, activation.
        level_0 = mgic_layers[-1].level_blocks[0]
        names = {layer.name for layer in dense_model.layers}
        expand = f"{prefix}expand"
        dense_expanded = dense_model.get_layer(expand).filters if expand in names else in_filters
        assert level_0.filters == dense_out
        # (rounded up to a multiple of 8 * groups where the level's 1x1 convs are grouped)
        expected = max(dense_expanded, dense_out)
        if dense_expanded > dense_out:
            expected = make_divisible(dense_expanded, 8 * level_0.groups)
        assert level_0.expanded_filters == expected
        assert level_0.kernel_size == spec.kernel_size
        assert (level_0.squeeze_excite is not None) == spec.squeeze_excite
        assert level_0.activation is keras.activations.get(spec.activation)
        in_filters = dense_out


def test_strided_convolutions_pad_symmetrically_like_pytorch():
    """The stem and the stride-2 depthwise convs get ZeroPadding2D(kernel_size // 2) and
    "valid" padding (PyTorch's padding=k // 2); stride-1 convs keep "same"."""
    dense = MobileNetV3Large(input_shape=(64, 64, 3))
    pads = {"stem_conv_pad": 1, "block1_depthwise_pad": 1, "block3_depthwise_pad": 2}
    for name, pad in pads.items():
        assert dense.get_layer(name).padding == ((pad, pad), (pad, pad))
    for name in ("stem_conv", "block1_depthwise", "block3_depthwise", "block12_depthwise"):
        assert dense.get_layer(name).padding == "valid"
    assert dense.get_layer("block2_depthwise").padding == "same"
    assert dense.get_layer("block3_depthwise").output.shape[1:3] == (8, 8)
    mgic = MGICMobileNetV3Small(input_shape=(64, 64, 3))
    assert mgic.get_layer("stem_conv_pad").padding == ((1, 1), (1, 1))


def test_generic_builder_is_the_named_variants():
    kwargs = {"input_shape": (32, 32, 3), "alpha": 0.5, "classes": 3}
    generic = build_mobilenet_v3("small", mgic=True, name="MGICMobileNetV3Small", **kwargs)
    named = MGICMobileNetV3Small(**kwargs)
    assert generic.name == named.name
    assert [layer.get_config() for layer in generic.layers] == [
        layer.get_config() for layer in named.layers
    ]


# ---------------------------------------------------------------- parameters and MACs at 224


@pytest.mark.parametrize(
    "ours, theirs, macs",
    [
        (MobileNetV3Large, keras.applications.MobileNetV3Large, 216_589_760),  # paper: 219M
        (MobileNetV3Small, keras.applications.MobileNetV3Small, 56_510_400),  # paper: 56M
    ],
)
def test_dense_counts_match_keras_applications(ours, theirs, macs):
    reference = theirs(weights=None, include_preprocessing=False, input_shape=(224, 224, 3))
    model = ours()
    assert count_params(model) == pytest.approx(count_params(reference), rel=0.01)
    assert count_params(model) == count_params(reference)  # the same layers exactly
    assert count_flops(model) == count_flops(reference) == macs


#: The package's MGIC-MobileNetV3 layout before it was chosen against Table 4: the reference
#: code's coarsening with s_g = s_c = 64 (every block restricts at least once).
REFERENCE = (("coarsening", "reference"), ("group_size", 64), ("coarsest_size", 64))
REFERENCE += (("mgic_min_width", None), ("grouped_squeeze_excite", True))
#: Algorithm 1 read literally with s_c = 128: only blocks >= 128 wide coarsen.
LITERAL_128 = (("coarsening", "literal"), ("group_size", 64), ("coarsest_size", 128))
LITERAL_128 += (("mgic_min_width", None), ("grouped_squeeze_excite", True))


@functools.cache
def _model_224(architecture, mgic, width, reading=None):
    """(MGIC-)MobileNetV3 at 224x224, built once per configuration; ``reading``: the MGIC
    builder's layout arguments as ``(name, value)`` pairs, None for its defaults."""
    if not mgic:
        build = MobileNetV3Large if architecture == "large" else MobileNetV3Small
        return build(alpha=width)
    build = MGICMobileNetV3Large if architecture == "large" else MGICMobileNetV3Small
    return build(alpha=width, **dict(reading or ()))


@functools.cache
def _counts_224(architecture, mgic, width, reading=None):
    model = _model_224(architecture, mgic, width, reading)
    return count_params(model), count_flops(model)


def _large_224(mgic, width, reading=None):
    return _model_224("large", mgic, width, reading)


# Paper Table 4, MGIC-MobileNetV3 0.6x / 1.0x / 1.2x: 2.3M / 5.2M / 7.1M parameters, 48M / 145M
# / 233M MACs (docs/models.md). The default layout was chosen against it by
# benchmarks/mobilenet_v3_layouts.py; the other readings stay reachable through arguments.
@pytest.mark.parametrize(
    "width, reading, params, macs",
    [
        (0.6, None, 3_074_928, 72_232_672),  # the default: literal, s_g 16, s_c 64, dense SE
        (1.0, None, 5_215_280, 129_683_880),
        (1.2, None, 7_319_576, 203_961_600),
        (1.0, REFERENCE, 5_594_224, 255_615_736),
        (1.0, LITERAL_128, 5_147_624, 192_013_360),
    ],
)
def test_mgic_large_counts(width, reading, params, macs):
    assert _counts_224("large", True, width, reading) == (params, macs)


# Table 4's widths; 0.75 (between two of them) in ``make test-slow``.
@pytest.mark.parametrize("width", [0.6, pytest.param(0.75, marks=pytest.mark.slow), 1.0, 1.2])
@pytest.mark.parametrize("architecture", ["large", "small"])
def test_default_mgic_costs_fewer_macs_than_dense(architecture, width):
    dense_params, dense_macs = _counts_224(architecture, False, width)
    params, macs = _counts_224(architecture, True, width)
    assert macs < dense_macs, (params, macs, dense_params, dense_macs)


def test_default_large_against_table_4_and_the_former_default():
    dense_params, dense_macs = _counts_224("large", False, 1.0)
    assert (dense_params, dense_macs) == (5_483_032, 216_589_760)
    params, macs = _counts_224("large", True, 1.0)
    assert macs <= 0.8 * dense_macs
    assert abs(params - 5.2e6) <= 0.2 * 5.2e6  # Table 4: 5.2M
    # The reference code's coarsening with s_g = s_c = 64 costs more than the dense model.
    assert _counts_224("large", True, 1.0, REFERENCE)[1] > dense_macs


def test_where_the_mgic_blocks_coarsen():
    def hierarchy(model):
        return {layer.name: (layer.widths, layer.group_size) for layer in _mgic_blocks(model)}

    # Reference rule, s_c = 64: every block restricts at least once; 160 is not a multiple
    # of s_g = 64 and gets floor(160 / 64) = 2 equal groups (group size 80).
    levels = hierarchy(_large_224(True, 1.0, REFERENCE))
    assert levels["block0_mgic"] == ([16, 8], 64)
    assert levels["block10_mgic"] == ([112, 56], 112)
    assert levels["block14_mgic"] == ([160, 80, 40], 80)
    assert all(len(widths) > 1 for widths, _ in levels.values())
    # Literal rule, s_c = 128: only blocks of >= 128 channels coarsen.
    literal = {
        name: value
        for name, value in hierarchy(_large_224(True, 1.2, LITERAL_128)).items()
        if len(value[0]) > 1
    }
    assert literal == {
        **{f"block{i}_mgic": ([136, 68], 68) for i in (10, 11)},
        **{f"block{i}_mgic": ([192, 96], 64) for i in (12, 13, 14)},
    }
    assert _large_224(True, 1.0, REFERENCE).get_layer("block13_mgic").level_blocks[0].groups == 2


@pytest.mark.parametrize(
    "channels, group_size, coarsest_size, coarsening, expected",
    [
        (160, 64, 64, "reference", 80),  # 2 groups of 80
        (136, 64, 64, "reference", 68),  # 2 groups of 68
        (192, 64, 64, "reference", 64),  # divisible: unchanged
        (112, 64, 64, "reference", 112),  # one group of 112
        (112, 64, 128, "literal", 64),  # no coarsening: unchanged
        (48, 64, 8, "reference", 64),  # narrower than a group: one group, unchanged
        (200, 64, 64, "reference", 100),  # floor(200 / 64) = 3 does not divide 100: 2 groups
    ],
)
def test_block_group_size(channels, group_size, coarsest_size, coarsening, expected):
    assert block_group_size(channels, group_size, coarsest_size, coarsening) == expected


# ------------------------------------------------------------------------- mixed precision


@pytest.mark.parametrize("build, kwargs", [BUILDERS["mgic_large"], BUILDERS["large"]])
def test_mixed_precision_logits_and_softmax_are_float32(build, kwargs):
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = build(**kwargs)
    for name in ("logits", "logits_flatten", "predictions"):
        assert model.get_layer(name).compute_dtype == "float32", name
    assert model.get_layer("head_conv").compute_dtype == "float16"
    assert all(w.dtype == "float32" for w in model.weights)
    outputs = model(_images(), training=False)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"
    outputs = keras.ops.convert_to_numpy(outputs)
    assert np.all(np.isfinite(outputs))
    np.testing.assert_allclose(outputs.sum(axis=-1), 1.0, rtol=1e-5)


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": 0}, r"Received: alpha=0$"),
        ({"alpha": -0.5}, r"Received: alpha=-0\.5$"),
        ({"alpha": float("nan")}, r"Received: alpha=nan$"),
        ({"alpha": "1.0"}, r"Received: alpha='1\.0'$"),
        ({"width_multiplier": 0}, r"Received: alpha=0$"),
        ({"alpha": 0.5, "width_multiplier": 0.75}, r"width_multiplier=0\.75$"),
        ({"input_shape": (31, 31, 3)}, r"Received: input_shape=\(31, 31, 3\)$"),
        ({"input_shape": (224, 16, 3)}, r"Received: input_shape=\(224, 16, 3\)$"),
        ({"input_shape": (224, 224)}, r"Received: input_shape=\(224, 224\)$"),
        ({"classes": 0}, r"Received: classes=0$"),
        ({"num_classes": 0}, r"Received: classes=0$"),
        ({"pooling": "sum"}, r"Received: pooling='sum'$"),
        ({"dropout_rate": 1.0}, r"Received: dropout_rate=1\.0$"),
        ({"last_point_filters": 0}, r"Received: last_point_filters=0$"),
    ],
)
@pytest.mark.parametrize("build", [MobileNetV3Large, MGICMobileNetV3Small])
def test_bad_arguments_raise(build, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"group_size": 0}, r"Received: group_size=0$"),
        ({"group_size": 63}, r"Received: group_size=63$"),
        ({"group_size": -64}, r"Received: group_size=-64$"),
        ({"group_size": 64.0}, r"Received: group_size=64\.0$"),
        ({"coarsest_size": 0}, r"Received: coarsest_size=0$"),
        ({"coarsening": "paper"}, r"Received: coarsening='paper'$"),
        ({"grouped_squeeze_excite": "no"}, r"Received: grouped_squeeze_excite='no'$"),
        ({"grouped_squeeze_excite": 0}, r"Received: grouped_squeeze_excite=0$"),
        ({"mgic_min_width": 0}, r"Received: mgic_min_width=0$"),
    ],
)
def test_bad_mgic_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MGICMobileNetV3Large(**kwargs)


# ------------------------------------------------------------------- layout arguments


def test_builders_default_to_the_chosen_layout():
    for build in (MGICMobileNetV3Large, MGICMobileNetV3Small):
        parameters = inspect.signature(build).parameters
        assert {name: parameters[name].default for name in MGIC_DEFAULTS} == MGIC_DEFAULTS
    parameters = inspect.signature(build_mobilenet_v3).parameters
    assert {name: parameters[name].default for name in MGIC_DEFAULTS} == MGIC_DEFAULTS
    assert "grouped_squeeze_excite" in MGICMobileNetV3Large.__doc__


def test_keras_applications_style_calls():
    # keras.applications.MobileNetV3Small's positional order, then the MGIC keywords.
    model = MGICMobileNetV3Small((32, 32, 3), 0.5, False, True, None, None, 10)
    assert model.output_shape == (None, 10) and model.name == "MGICMobileNetV3Small"
    model = models.get_model(
        "mgic_mobilenet_v3_small",
        input_shape=(32, 32, 3),
        alpha=0.35,
        classes=4,
        coarsening="reference",
        group_size=8,
        coarsest_size=8,
        grouped_squeeze_excite=False,
        mgic_min_width=None,
        include_preprocessing=False,
    )
    assert model.output_shape == (None, 4)


def test_dense_squeeze_excite_is_serialized():
    model = MGICMobileNetV3Small(**MGIC_SMALL, grouped_squeeze_excite=False)
    blocks = [block for block in _mgic_blocks(model) if block.block_kwargs.get("se_ratio")]
    assert blocks
    for block in blocks:
        assert block.block_kwargs["grouped_squeeze_excite"] is False
        assert all(level.squeeze_excite.groups == 1 for level in block.level_blocks)
        config = block.get_config()
        assert config["block_kwargs"]["grouped_squeeze_excite"] is False
        assert MGICBlock.from_config(config).get_config() == config
    grouped = MGICMobileNetV3Small(**MGIC_SMALL, grouped_squeeze_excite=True)
    assert (
        max(
            level.squeeze_excite.groups
            for block in _mgic_blocks(grouped)
            if block.block_kwargs.get("se_ratio")
            for level in block.level_blocks
        )
        > 1
    )


def test_unknown_architecture_raises():
    with pytest.raises(ValueError, match=r"Received: architecture='medium'$"):
        build_mobilenet_v3("medium")


def test_tiny_alpha_keeps_at_least_eight_channels():
    model = MGICMobileNetV3Small(input_shape=(32, 32, 3), alpha=1e-3, classes=2)
    widths = [block.widths[0] for block in _mgic_blocks(model)]
    assert min(widths) == 8 and model(_images()).shape == (2, 2)
