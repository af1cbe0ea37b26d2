"""ResNet builders: the paper's reference numbers, dense vs MGIC from one builder, errors."""

import keras
import numpy as np
import pytest

from keras_mgic import profiling
from keras_mgic.layers import ChannelTransition, MGICBlock, ResidualBlock
from keras_mgic.models import resnet


def _count(model):
    return profiling.count_params(model), profiling.count_flops(model)


def _layers_of(model, cls):
    return [layer for layer in model.layers if isinstance(layer, cls)]


# ------------------------------------------------------------------ paper reference numbers


def test_dense_resnet56_matches_paper_table_2():
    params, macs = _count(resnet.ResNet56())
    assert params == pytest.approx(0.85e6, rel=0.02)
    assert macs == pytest.approx(125e6, rel=0.02)
    # The exact counts of the documented architecture (projection shortcuts).
    assert (params, macs) == (855_770, 125_747_840)


@pytest.mark.parametrize(
    "builder, params_millions",
    [(resnet.ResNet20, 0.27), (resnet.ResNet110, 1.7)],  # He et al. 2016, Table 6
)
def test_dense_cifar_resnets_match_he_et_al(builder, params_millions):
    assert profiling.count_params(builder()) == pytest.approx(params_millions * 1e6, rel=0.03)


def test_dense_resnet50_matches_paper_table_3():
    params, macs = _count(resnet.ResNet50())
    assert params == pytest.approx(25.6e6, rel=0.02)
    assert macs == pytest.approx(4.1e9, rel=0.02)


# s_g = 64, the paper's default, in the default suite; the other two group sizes repeat the
# same build with other numbers and run in ``make test-slow``.
@pytest.mark.parametrize(
    "group_size, params_millions",
    [
        pytest.param(16, 6.2, marks=pytest.mark.slow),
        pytest.param(32, 9.4, marks=pytest.mark.slow),
        (64, 15.1),
    ],
)
def test_mgic_resnet50_parameters_match_paper_table_3(group_size, params_millions):
    # Parameters do not depend on the input size: build small.
    model = resnet.MGICResNet50(group_size=group_size, coarsest_size=64, input_shape=(32, 32, 3))
    assert profiling.count_params(model) == pytest.approx(params_millions * 1e6, rel=0.15)


@pytest.mark.slow  # four MGIC-ResNet-56 builds; the reference-code counts below stay fast
def test_mgic_resnet56_follows_table_8_trend():
    # s_c = 16: parameters and MACs grow with the group size (paper: 0.29, 0.41, 0.53, 0.79M).
    counts = [
        _count(resnet.MGICResNet56(group_size=group_size, coarsest_size=16))
        for group_size in (4, 8, 16, 32)
    ]
    assert counts == sorted(counts)
    assert [p for p, _ in counts] == sorted(p for p, _ in counts)
    assert [m for _, m in counts] == sorted(m for _, m in counts)
    dense_params, dense_macs = 855_770, 125_747_840
    assert all(p < dense_params for p, _ in counts[:3])
    assert all(m < dense_macs for _, m in counts[:3])


@pytest.mark.parametrize(
    "group_size, coarsest_size, params, macs",
    [
        (16, 32, 498_682, 108_491_392),  # paper Table 7: 0.50M
        (16, 64, 534_394, 110_850_688),  # paper Table 7: 0.53M
    ],
)
def test_mgic_resnet56_equals_the_reference_code(group_size, coarsest_size, params, macs):
    """The reference code's (BGUCompSci/MultigridInChannelsCNNs, resnetMG.py) parameter and
    MAC counts, integer for integer: the builder's stem, transitions and block layout."""
    model = resnet.MGICResNet56(group_size=group_size, coarsest_size=coarsest_size)
    assert _count(model) == (params, macs)


# ------------------------------------------------------------- dense and MGIC, one builder


def test_dense_and_mgic_resnet56_share_stem_stages_and_head():
    dense = resnet.ResNet56()
    mgic = resnet.MGICResNet56()
    for name in ("stem_conv", "stem_bn", "avg_pool", "predictions"):
        dense_config = dense.get_layer(name).get_config()
        mgic_config = mgic.get_layer(name).get_config()
        dense_config.pop("name"), mgic_config.pop("name")
        assert dense_config == mgic_config
    assert dense.output_shape == mgic.output_shape == (None, 10)
    # MGIC: 27 MGIC blocks of basic blocks, a ChannelTransition where the width doubles.
    blocks = _layers_of(mgic, MGICBlock)
    assert len(blocks) == 27 and {b.block_class for b in blocks} == {ResidualBlock}
    assert [b.name for b in blocks[:2]] == ["stage1_block1_mgic", "stage1_block2_mgic"]
    transitions = _layers_of(mgic, ChannelTransition)
    assert [(t.name, t.filters, t.strides) for t in transitions] == [
        ("stage2_block1_transition", 32, 2),
        ("stage3_block1_transition", 64, 2),
    ]
    assert [b.input.shape[-1] for b in blocks[::9]] == [16, 32, 64]
    # Dense: 25 full-width basic blocks plus two projection blocks.
    dense_blocks = _layers_of(dense, ResidualBlock)
    assert len(dense_blocks) == 25 and {b.groups for b in dense_blocks} == {1}
    for stage, width in ((2, 32), (3, 64)):
        projection = dense.get_layer(f"stage{stage}_block1_proj_conv")
        assert projection.kernel_size == (1, 1) and projection.strides == (2, 2)
        assert projection.filters == width
        assert dense.get_layer(f"stage{stage}_block1_1_conv").strides == (2, 2)


def test_generic_builder_switches_mgic_on_and_off():
    kwargs = dict(stage_widths=(16, 32), stage_depths=(2, 1), input_shape=(8, 8, 3))
    dense = resnet.ResNet(**kwargs, mgic=False)
    mgic = resnet.ResNet(**kwargs, mgic=True, group_size=8, coarsest_size=8)
    assert [layer.name for layer in _layers_of(mgic, MGICBlock)] == [
        "stage1_block1_mgic",
        "stage1_block2_mgic",
        "stage2_block1_mgic",
    ]
    assert [layer.name for layer in _layers_of(dense, ResidualBlock)] == [
        "stage1_block1",
        "stage1_block2",
    ]
    assert dense.name == "resnet" and mgic.name == "mgic_resnet"
    assert dense.output_shape == mgic.output_shape == (None, 10)


def test_mgic_resnet50_counts_group_and_coarsest_sizes_in_bottleneck_channels():
    model = resnet.MGICResNet50(group_size=32, coarsest_size=64, input_shape=(32, 32, 3))
    blocks = _layers_of(model, MGICBlock)
    assert len(blocks) == 16
    assert {(b.group_size, b.coarsest_size, b.block_class.__name__) for b in blocks} == {
        (128, 256, "BottleneckBlock")
    }
    # On the finest level of the 2048-wide stage, every bottleneck convolution has
    # 2048 / 128 = 16 groups: the 3x3 conv sees group_size = 32 channels per group.
    finest = model.get_layer("stage4_block1_mgic").level_blocks[0]
    assert finest.groups == 16
    assert finest.conv2.kernel.shape[-2] == 32
    assert finest.conv1.kernel.shape[-2] == 128
    transitions = _layers_of(model, ChannelTransition)
    assert [(t.filters, t.strides) for t in transitions] == [
        (256, 1),
        (512, 2),
        (1024, 2),
        (2048, 2),
    ]


def test_resnet50_downsampling_block_strides_on_the_3x3_convolution():
    model = resnet.ResNet50(input_shape=(32, 32, 3), classes=10)
    assert model.get_layer("stage2_block1_1_conv").strides == (1, 1)
    assert model.get_layer("stage2_block1_2_conv").strides == (2, 2)
    assert model.get_layer("stage2_block1_proj_conv").strides == (2, 2)
    assert model.get_layer("stem_conv").kernel_size == (7, 7)
    assert model.get_layer("stem_pool").output.shape[1:] == (8, 8, 64)


def test_variant_defaults_and_overrides():
    model = resnet.MGICResNet20(
        input_shape=(16, 24, 1),
        classes=7,
        classifier_activation=None,
        dropout_rate=0.5,
        name="custom",
    )
    assert model.name == "custom"
    assert model.input_shape == (None, 16, 24, 1)
    assert model.output_shape == (None, 7)
    assert model.get_layer("predictions").get_config()["activation"] == "linear"
    assert model.get_layer("dropout").rate == 0.5
    assert resnet.ResNet50(include_top=False, input_shape=(None, None, 3)).output_shape == (
        None,
        None,
        None,
        2048,
    )


def test_strided_convolutions_pad_symmetrically_like_pytorch():
    """Stride-2 convs and the stem's max pooling get an explicit ZeroPadding2D of
    kernel_size // 2 and "valid" padding; stride-1 convs keep "same"."""
    model = resnet.ResNet50(input_shape=(64, 64, 3), classes=10)
    pads = {"stem_conv_pad": 3, "stem_pool_pad": 1, "stage2_block1_2_conv_pad": 1}
    for name, pad in pads.items():
        assert model.get_layer(name).padding == ((pad, pad), (pad, pad))
    for name in ("stem_conv", "stem_pool", "stage2_block1_2_conv", "stage2_block1_proj_conv"):
        assert model.get_layer(name).padding == "valid"
    assert model.get_layer("stage2_block1_1_conv").padding == "same"
    assert model.get_layer("stem_pool").output.shape[1:] == (16, 16, 64)
    cifar = resnet.ResNet20()
    assert cifar.get_layer("stem_conv").padding == "same"
    assert cifar.get_layer("stage2_block1_1_conv_pad").padding == ((1, 1), (1, 1))
    assert [layer.name for layer in cifar.layers if "pad" in layer.name] == [
        "stage2_block1_1_conv_pad",
        "stage3_block1_1_conv_pad",
    ]


def test_symmetric_padding_matches_a_centred_strided_convolution():
    """Output pixel (i, j) of a 3x3 stride-2 conv is centred on input pixel (2i, 2j), as in
    PyTorch with padding=1 (TensorFlow's "same" would centre it on (2i + 1, 2j + 1))."""
    model = resnet.ResNet20(input_shape=(8, 8, 1), include_top=False)
    conv = model.get_layer("stage2_block1_1_conv")
    kernel = np.zeros(conv.kernel.shape, "float32")
    kernel[1, 1] = np.eye(16, 32)  # the centre tap copies the 16 input channels
    conv.set_weights([kernel])
    probe = keras.Model(model.inputs, conv.output)
    stage1 = keras.Model(model.inputs, model.get_layer("stage1_block3").output)
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 1)).astype("float32")
    expected = stage1.predict(x, verbose=0)[:, ::2, ::2, :]
    actual = probe.predict(x, verbose=0)
    assert actual.shape == (1, 4, 4, 32)
    np.testing.assert_allclose(actual[..., :16], expected, rtol=1e-6, atol=1e-6)


def test_mixed_precision_keeps_logits_float32():
    keras.config.set_dtype_policy("mixed_float16")
    model = resnet.MGICResNet20(input_shape=(8, 8, 3))
    assert model.get_layer("predictions").compute_dtype == "float32"
    assert model.get_layer("stage1_block1_mgic").compute_dtype == "float16"
    assert keras.backend.standardize_dtype(model.output.dtype) == "float32"


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "builder, kwargs, match",
    [
        (resnet.ResNet56, {"input_shape": (2, 32, 3)}, "input_shape=\\(2, 32, 3\\)"),
        (resnet.ResNet50, {"input_shape": (16, 16, 3)}, "downsamples by 32"),
        (resnet.ResNet50, {"input_shape": (32, 32)}, "input_shape=\\(32, 32\\)"),
        (resnet.ResNet20, {"input_shape": (32, 32, 0)}, "channels"),
        (resnet.ResNet20, {"input_shape": (32.0, 32, 3)}, "input_shape"),
        (resnet.ResNet20, {"classes": 0}, "Received: classes=0$"),
        (resnet.ResNet20, {"classes": 2.5}, "Received: classes=2.5$"),
        (resnet.ResNet20, {"num_classes": 0}, "Received: classes=0$"),
        (resnet.ResNet20, {"classes": 3, "num_classes": 4}, "num_classes=4$"),
        (resnet.ResNet20, {"include_top": False, "pooling": "sum"}, "pooling='sum'"),
        (resnet.ResNet20, {"dropout_rate": 1.0}, "dropout_rate=1.0"),
        (resnet.MGICResNet20, {"group_size": 3}, "group_size=3"),
        (resnet.MGICResNet20, {"coarsest_size": 0}, "coarsest_size=0"),
    ],
)
def test_invalid_arguments_raise_clear_errors(builder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        builder(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"stage_widths": (16, 0), "stage_depths": (1, 1)}, "stage_widths"),
        ({"stage_widths": (16, 32), "stage_depths": (1,)}, "stage_depths"),
        ({"stage_widths": (16,), "stage_depths": (1,), "block": "dense"}, "block='dense'"),
        ({"stage_widths": (16,), "stage_depths": (1,), "stem": "tiny"}, "stem='tiny'"),
        ({"stage_widths": (18,), "stage_depths": (1,), "block": "bottleneck"}, "multiples of 4"),
    ],
)
def test_generic_builder_validates_its_table(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resnet.ResNet(**kwargs)


def test_min_input_size():
    assert resnet.min_input_size("cifar", (1, 2, 2)) == 4
    assert resnet.min_input_size("imagenet", (1, 2, 2, 2)) == 32
    model = resnet.ResNet20(input_shape=(4, 4, 3))
    assert model.get_layer("stage3_block1_out").output.shape[1:] == (1, 1, 64)
