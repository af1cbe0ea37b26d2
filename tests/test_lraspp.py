"""The LR-ASPP segmentation builders: the encoder's tail, the head against NumPy, gradients,
Table 5's counts, mixed precision and argument errors. (Build and predict on every backend,
``fit`` and the ``.keras`` round trip: tests/test_backends.py.)"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from numpy_reference import np_bilinear_resize, relu
from small_models import CLASSES, SEGMENTATION_NAMES, small_segmentation_kwargs

from keras_mgic import models, profiling
from keras_mgic.layers import ChannelTransition, InvertedResidualBlock, MGICBlock, ResizeLike
from keras_mgic.models import lraspp, mobilenet_v3


def _build(name, **overrides):
    return models.get_model(name, **{**small_segmentation_kwargs(name), **overrides})


# ------------------------------------------------------------------------------- encoder


@pytest.mark.parametrize(
    "architecture, low_row, low_channels, top_channels, first_expanded",
    [("small", 3, 24, 288, 144), ("large", 6, 40, 480, 336)],
)
def test_encoder_has_output_stride_16_and_a_halved_dilated_last_stage(
    architecture, low_row, low_channels, top_channels, first_expanded
):
    """The MobileNetV3 paper's segmentation encoder (Sec. 6.4): the last stride-2 row keeps
    stride 1, the last stage is dilated by 2 and halved, widths and expanded widths."""
    blocks = mobilenet_v3.ARCHITECTURES[architecture].blocks
    last = mobilenet_v3.last_stride_row(blocks)
    assert mobilenet_v3.last_stride_row(blocks, last) == low_row
    model = models.get_model(f"lraspp_mobilenet_v3_{architecture}", input_shape=(64, 128, 3))
    assert model.get_layer("low_classifier").input.shape == (None, 8, 16, low_channels)
    assert model.get_layer("head_conv").input.shape == (None, 4, 8, top_channels)
    assert model.get_layer(f"block{last}_expand").filters == first_expanded
    for row in range(last, len(blocks)):
        depthwise = model.get_layer(f"block{row}_depthwise")
        assert depthwise.strides == (1, 1) and depthwise.dilation_rate == (2, 2)
        assert model.get_layer(f"block{row}_project").filters == blocks[row].filters // 2
    for row in range(last):
        assert model.get_layer(f"block{row}_depthwise").dilation_rate == (1, 1)
    classifier = models.get_model(f"mobilenet_v3_{architecture}", input_shape=(64, 128, 3))
    assert classifier.get_layer(f"block{last}_expand").filters == 2 * first_expanded


def test_mgic_encoder_dilates_its_transition_and_every_level():
    """MGIC-Large: the last stage's first row changes the width (a transition, kept at
    stride 1 and dilated); every level of every MGIC block of the stage is dilated."""
    model = _build("mgic_lraspp_mobilenet_v3_large")
    blocks = mobilenet_v3.LARGE_BLOCKS
    last = mobilenet_v3.last_stride_row(blocks)
    transition = model.get_layer(f"block{last}_transition")
    assert isinstance(transition, ChannelTransition)
    assert (transition.strides, transition.dilation_rate) == (1, 2)
    dilated = [
        level.depthwise.dilation_rate
        for row in range(last, len(blocks))
        for level in model.get_layer(f"block{row}_mgic").level_blocks
    ]
    assert len(dilated) > len(blocks) - last and set(dilated) == {(2, 2)}
    before = model.get_layer(f"block{last - 1}_mgic")
    assert isinstance(before, MGICBlock) and before.level_blocks[0].dilation_rate == 1
    assert model.get_layer(f"block{last - 6}_transition").strides == 2


# ---------------------------------------------------------------------------------- head


def test_head_matches_numpy(np_bn, randomize_bn):
    """1x1 conv + BN + ReLU on the 1/16 features times a pooled sigmoid gate, upsampled to
    the 1/8 features, a classifier on each, summed, upsampled to the image."""
    low_in, high_in, image = (
        keras.Input((6, 5, 8)),
        keras.Input((3, 3, 12)),
        keras.Input((24, 20, 3)),
    )
    head = lraspp.lraspp_head(low_in, high_in, image, classes=4, filters=16)
    model = keras.Model([low_in, high_in, image], head)
    rng = np.random.default_rng(0)
    randomize_bn(model.get_layer("head_bn"), rng)
    low, high = rng.normal(size=(2, 6, 5, 8)), rng.normal(size=(2, 3, 3, 12))
    x = np.zeros((2, 24, 20, 3))

    def weights(name):
        return [np.asarray(w, np.float64) for w in model.get_layer(name).get_weights()]

    branch = relu(np_bn(high @ weights("head_conv")[0][0, 0], model.get_layer("head_bn")))
    gate = 1 / (
        1 + np.exp(-(high.mean(axis=(1, 2), keepdims=True) @ weights("head_gate_conv")[0][0, 0]))
    )
    upsampled = np_bilinear_resize(branch * gate, 6, 5)
    w_high, b_high = weights("high_classifier")
    w_low, b_low = weights("low_classifier")
    logits = upsampled @ w_high[0, 0] + b_high + low @ w_low[0, 0] + b_low
    expected = np_bilinear_resize(logits, 24, 20)
    outputs = keras.ops.convert_to_numpy(model([low, high, x], training=False))
    assert outputs.shape == (2, 24, 20, 4)
    np.testing.assert_allclose(outputs, expected, atol=1e-4)


# ------------------------------------------------------------------------ whole networks


def _redundant_in_training(path):
    """As in tests/test_models_registry.py: a coarse level's last BatchNorm offset reaches
    the output only through the correction BatchNorm, which removes it in training mode."""
    return "project_bn/beta" in path and "level_0_block" not in path and "_mgic/" in path


@pytest.mark.parametrize(
    "name",
    [
        # MGIC-Large's encoder is MGIC-MobileNetV3-Large's (test_models_registry.py): slow here.
        pytest.param(name, marks=pytest.mark.slow)
        if name.endswith("mgic_lraspp_mobilenet_v3_large")
        else name
        for name in SEGMENTATION_NAMES
    ],
)
def test_segmenter_forward_and_gradients(name):
    model = _build(name)
    assert model.output_shape == (None, 64, 64, CLASSES)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 64, 64, 3)).astype("float32")
    weights = tf.constant(rng.normal(size=(4, 64, 64, CLASSES)).astype("float32"))
    with tf.GradientTape() as tape:
        y = model(x, training=True)
        loss = tf.reduce_sum(y * weights)
    assert tuple(y.shape) == (4, 64, 64, CLASSES) and np.all(np.isfinite(y.numpy()))
    variables = model.trainable_variables
    grads = tape.gradient(loss, variables)
    missing = [v.path for v, g in zip(variables, grads, strict=True) if g is None]
    zero = [
        v.path
        for v, g in zip(variables, grads, strict=True)
        if g is not None and not np.any(np.asarray(g)) and not _redundant_in_training(v.path)
    ]
    assert not missing and not zero, (missing, zero)


def test_softmax_output_and_an_input_tensor():
    raw = keras.Input((40, 48, 3), name="raw")
    model = _build(
        "lraspp_mobilenet_v3_small",
        input_shape=None,
        input_tensor=keras.layers.Identity(name="identity")(raw),
        classifier_activation="softmax",
    )
    assert model.inputs[0] is raw and model.output_shape == (None, 40, 48, CLASSES)
    x = np.random.default_rng(2).uniform(0, 255, (2, 40, 48, 3)).astype("float32")
    probabilities = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)


def test_logits_stay_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = _build("mgic_lraspp_mobilenet_v3_small")
    assert str(model.outputs[0].dtype) == "float32"
    assert model.get_layer("head_conv").compute_dtype == "bfloat16"
    for name in ("low_classifier", "high_classifier", "logits_sum", "logits"):
        assert model.get_layer(name).compute_dtype == "float32", name


# ---------------------------------------------------------------------------- Table 5


@pytest.mark.parametrize(
    "name, paper_params",
    [("lraspp_mobilenet_v3_large", 1.51e6), ("lraspp_mobilenet_v3_small", 0.47e6)],
)
def test_dense_parameters_within_ten_percent_of_table_5(name, paper_params):
    """Parameters do not depend on the input size: the default model (19 classes)."""
    params = profiling.count_params(models.get_model(name, input_shape=(64, 64, 3)))
    assert abs(params / paper_params - 1) <= 0.10, params


def test_small_macs_at_1024x2048_within_ten_percent_and_mgic_below_dense():
    """Table 5's MACs (1024x2048): dense Small 2.90B; MGIC-Small 2.73B, below it. The default
    MGIC-Small (s_g = 16, s_c = 32) is below the dense twin; the layout that reproduces the
    paper's count (s_g = s_c = 64, Algorithm 1's literal coarsening) is within 10% of it."""
    shape = lraspp.TABLE5_INPUT_SHAPE
    dense = profiling.count_flops(models.LRASPPMobileNetV3Small(input_shape=shape))
    default = profiling.count_flops(models.MGICLRASPPMobileNetV3Small(input_shape=shape))
    literal = profiling.count_flops(
        models.MGICLRASPPMobileNetV3Small(
            input_shape=shape, group_size=64, coarsest_size=64, coarsening="literal"
        )
    )
    assert abs(dense / 2.90e9 - 1) <= 0.10, dense
    assert default < dense, (default, dense)
    assert abs(literal / 2.73e9 - 1) <= 0.10 and literal < dense, (literal, dense)


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"classes": 1}, "`classes` must be an integer >= 2.*Received: classes=1$"),
        ({"classes": 2.5}, "Received: classes=2.5$"),
        ({"input_shape": (8, 64, 3)}, r"at least 16 .*Received: input_shape=\(8, 64, 3\)$"),
        ({"input_shape": (64, 64)}, r"Received: input_shape=\(64, 64\)$"),
        ({"classifier_activation": "relu"}, "Received: classifier_activation='relu'$"),
        ({"head_filters": 0}, "Received: head_filters=0$"),
        ({"weights": "imagenet"}, "Received: weights='imagenet'$"),
        ({"alpha": -1.0}, "Received: alpha=-1.0$"),
    ],
)
@pytest.mark.parametrize("name", ["lraspp_mobilenet_v3_small", "mgic_lraspp_mobilenet_v3_small"])
def test_bad_arguments_are_clear_value_errors(name, overrides, match):
    with pytest.raises(ValueError, match=match):
        _build(name, **overrides)


def test_mgic_arguments_are_checked():
    with pytest.raises(ValueError, match="Received: group_size=7$"):
        _build("mgic_lraspp_mobilenet_v3_small", group_size=7)
    with pytest.raises(ValueError, match="Received: coarsening='deep'$"):
        _build("mgic_lraspp_mobilenet_v3_small", coarsening="deep")


def test_dilation_arguments_of_the_layers():
    block = InvertedResidualBlock(16, groups=2, dilation_rate=2)
    assert block.get_config()["dilation_rate"] == 2
    assert InvertedResidualBlock.from_config(block.get_config()).depthwise.dilation_rate == (2, 2)
    transition = ChannelTransition(32, dilation_rate=2)
    assert ChannelTransition.from_config(transition.get_config()).dilation_rate == 2
    with pytest.raises(ValueError, match="Received: strides=2, dilation_rate=2$"):
        ChannelTransition(32, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="Received: dilation_rate=0$"):
        InvertedResidualBlock(16, dilation_rate=0)
    with pytest.raises(ValueError, match="Received: interpolation='cubic'$"):
        ResizeLike(interpolation="cubic")
    with pytest.raises(ValueError, match="two rank-4 inputs"):
        ResizeLike()(keras.Input((4, 4, 3)))
