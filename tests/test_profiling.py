"""count_params / count_flops: hand-computed counts, nested MGIC layers, TensorFlow's profiler."""

import warnings

import keras
import numpy as np
import pytest

from keras_mgic import profiling
from keras_mgic.layers import (
    ChannelTransition,
    GroupedConv2D,
    InvertedResidualBlock,
    MGICBlock,
    SqueezeExcite,
)
from keras_mgic.models import resnet


def _model(input_shape, *layers):
    return keras.Sequential([keras.Input(input_shape), *layers])


# --------------------------------------------------------------------------------- params


def test_count_params_is_the_sum_of_trainable_weight_sizes():
    model = resnet.MGICResNet20(input_shape=(8, 8, 3))
    expected = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert profiling.count_params(model) == expected
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert non_trainable > 0  # BatchNorm moving statistics are not counted
    assert profiling.count_params(model) == model.count_params() - non_trainable


def test_count_params_counts_a_shared_layer_once():
    shared = keras.layers.Dense(4)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, shared(shared(inputs)))
    assert profiling.count_params(model) == 4 * 4 + 4


def test_count_params_excludes_frozen_layers():
    model = _model((4,), keras.layers.Dense(3), keras.layers.Dense(2))
    model.layers[0].trainable = False
    assert profiling.count_params(model) == 3 * 2 + 2


def test_count_params_needs_a_built_model():
    with pytest.raises(ValueError, match="needs a built model"):
        profiling.count_params(keras.Sequential([keras.layers.Dense(2)]))


# ------------------------------------------------------------------------ hand-computed MACs


@pytest.mark.parametrize(
    "input_shape, layer, expected",
    [
        # valid 3x3: 6x6x8 outputs, 3*3*4 MACs each
        ((8, 8, 4), keras.layers.Conv2D(8, 3), 6 * 6 * 8 * 36),
        # bias and activation are not counted
        ((8, 8, 4), keras.layers.Conv2D(8, 3, activation="relu", use_bias=True), 6 * 6 * 8 * 36),
        # stride 2, same padding: ceil(9 / 2) = 5
        ((9, 9, 4), keras.layers.Conv2D(6, 3, strides=2, padding="same"), 5 * 5 * 6 * 36),
        # grouped (Keras): 2 groups, 2 input channels per output
        ((8, 8, 4), keras.layers.Conv2D(8, 3, padding="same", groups=2), 8 * 8 * 8 * 9 * 2),
        # grouped (ours), strided: 4 groups of 4 input channels
        (
            (8, 8, 16),
            GroupedConv2D(8, 3, strides=2, padding="same", groups=4),
            4 * 4 * 8 * 9 * 4,
        ),
        # 1x1 conv
        ((5, 5, 6), keras.layers.Conv2D(10, 1), 5 * 5 * 10 * 6),
        # depthwise, depth multiplier 2: 8 output channels, 9 MACs each
        (
            (8, 8, 4),
            keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2),
            8 * 8 * 8 * 9,
        ),
        # depthwise, strided
        ((8, 8, 4), keras.layers.DepthwiseConv2D(5, strides=2, padding="same"), 4 * 4 * 4 * 25),
        # separable: depthwise 3x3 on 4 channels + pointwise 4 -> 6
        (
            (8, 8, 4),
            keras.layers.SeparableConv2D(6, 3, padding="same"),
            8 * 8 * (4 * 9 + 4 * 6),
        ),
        # transposed: each of 4x4x3 inputs is scattered through 2*2*5 products
        ((4, 4, 3), keras.layers.Conv2DTranspose(5, 2, strides=2), 4 * 4 * 3 * 2 * 2 * 5),
        # Conv1D
        ((10, 3), keras.layers.Conv1D(4, 3), 8 * 4 * 9),
        # Dense on a vector and on a sequence (applied per position)
        ((10,), keras.layers.Dense(7), 70),
        ((5, 10), keras.layers.Dense(7), 5 * 70),
        # layers without multiply-adds
        ((8, 8, 4), keras.layers.BatchNormalization(), 0),
        ((8, 8, 4), keras.layers.MaxPooling2D(), 0),
        ((8, 8, 4), keras.layers.GlobalAveragePooling2D(), 0),
    ],
)
def test_count_flops_hand_computed(input_shape, layer, expected):
    assert profiling.count_flops(_model(input_shape, layer)) == expected


def test_count_flops_sees_layers_in_sequence_and_every_call_of_a_shared_layer():
    shared = keras.layers.Dense(4, name="shared")
    inputs = keras.Input((4,))
    x = shared(shared(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    assert profiling.count_flops(model) == 16 + 16 + 8
    assert profiling.profile_flops(model) == [
        ("shared", "Dense", 16),
        ("shared", "Dense", 16),
        ("out", "Dense", 8),
    ]


def test_count_flops_of_a_nested_mgic_block():
    channels, size = 64, 6
    block = MGICBlock(group_size=8, coarsest_size=16, name="mgic")
    model = _model((size, size, channels), block)
    pixels = size * size
    expected = 0
    for level, width in enumerate(block.widths):
        groups = block.level_blocks[level].groups
        expected += 2 * 9 * width * (width // groups) * pixels  # two 3x3 convs
        if level < len(block.widths) - 1:
            expected += (width // 2) * (width // block.restrictions[level].groups) * pixels  # R
            expected += width * ((width // 2) // block.prolongations[level].groups) * pixels  # P
    assert len(block.widths) >= 2 and block.level_blocks[0].groups > 1
    assert profiling.count_flops(model) == expected
    paths = {path for path, _, _ in profiling.profile_flops(model)}
    assert "mgic/level_0_block/conv1" in paths
    assert "mgic/restrict_0" in paths and "mgic/prolong_0" in paths


def test_count_flops_of_a_channel_transition():
    # 16 -> 32 channels, stride 2, groups = 16: each output sees 1 input channel
    model = _model((8, 8, 16), ChannelTransition(32, strides=2))
    assert profiling.count_flops(model) == 4 * 4 * 32 * 9 * 1


def test_count_flops_of_squeeze_excite_and_inverted_residual():
    se = _model((4, 4, 16), SqueezeExcite(16, 8))
    assert profiling.count_flops(se) == 16 * 8 + 8 * 16  # on the pooled 1x1 map
    block = InvertedResidualBlock(16, groups=2, expansion_ratio=2, se_ratio=0.25)
    model = _model((4, 4, 16), block)
    expanded = block.expanded_filters
    squeeze = block.squeeze_excite.squeeze_filters
    se_groups = getattr(block.squeeze_excite, "groups", 1)
    expected = (
        16 * expanded * 16 // 2  # expand 1x1, 2 groups
        + 16 * expanded * 9  # depthwise 3x3
        + 2 * expanded * squeeze // se_groups  # squeeze-excite on the pooled map
        + 16 * 16 * expanded // 2  # project 1x1, 2 groups
    )
    assert profiling.count_flops(model) == expected


def test_count_flops_uses_the_given_input_shape_and_restores_the_layers():
    model = resnet.MGICResNet20(input_shape=(None, None, 3), include_top=False)
    with pytest.raises(ValueError, match="unknown dimensions"):
        profiling.count_flops(model)
    small = profiling.count_flops(model, input_shape=(8, 8, 3))
    large = profiling.count_flops(model, input_shape=(16, 16, 3))
    assert large == 4 * small  # every layer here is a convolution: MACs scale with pixels
    assert not any("call" in vars(layer) for layer in model._flatten_layers())


def test_count_flops_of_a_bare_layer_with_an_input_shape():
    conv = keras.layers.Conv2D(8, 3)
    assert profiling.count_flops(conv, input_shape=(8, 8, 4)) == 6 * 6 * 8 * 36  # builds it
    assert profiling.count_flops(conv, input_shape=(8, 8, 4)) == 6 * 6 * 8 * 36  # built
    block = MGICBlock(group_size=8, coarsest_size=16)
    block_model = _model((4, 4, 32), MGICBlock(group_size=8, coarsest_size=16))
    assert profiling.count_flops(block, input_shape=(4, 4, 32)) == profiling.count_flops(
        block_model
    )


def test_count_flops_warns_about_layers_it_cannot_count():
    model = _model((5, 4), keras.layers.SimpleRNN(3))
    with pytest.warns(UserWarning, match="SimpleRNNCell"):
        assert profiling.count_flops(model) == 0


def test_count_flops_counts_einsum_dense():
    """Output elements times the kernel entries each sums over (token models' attention
    projections are EinsumDense layers)."""
    model = _model((4,), keras.layers.EinsumDense("ab,bc->ac", output_shape=3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert profiling.count_flops(model) == 4 * 3


def test_register_flop_counter_for_a_custom_layer():
    @keras.saving.register_keras_serializable(package="mgic_tests_profiling")
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], input_shape[-1]))

        def call(self, x):
            return keras.ops.matmul(x, self.w)

    model = _model((3,), Scale())
    with pytest.warns(UserWarning, match="Scale"):
        profiling.count_flops(model)
    try:
        profiling.register_flop_counter(Scale)(lambda layer, inputs, outputs: 9)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert profiling.count_flops(model) == 9
    finally:
        del profiling.FLOP_COUNTERS[Scale]


# -------------------------------------------------------------------- TensorFlow's profiler


def _tensorflow_conv_and_matmul_flops(model, input_shape):
    """FLOPs TensorFlow's profiler assigns to the conv and matmul ops of the frozen graph."""
    tf = pytest.importorskip("tensorflow")
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec((1, *input_shape), tf.float32))
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    report = tf.compat.v1.profiler.profile(graph, options=options, cmd="graph")
    op_types = {op.name: op.type for op in graph.get_operations()}
    counted = {"Conv2D", "DepthwiseConv2dNative", "MatMul", "BatchMatMulV2"}
    total, stack = 0, list(report.children)
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if op_types.get(node.name) in counted:
            total += node.float_ops
    return total


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(
            lambda: _model(
                (16, 16, 3),
                keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                keras.layers.Conv2D(16, 3, strides=2, padding="same"),
                keras.layers.BatchNormalization(),
                keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2),
                keras.layers.Conv2D(12, 1),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(10),
            ),
            id="small_cnn",
        ),
        pytest.param(lambda: resnet.ResNet20(), id="resnet20"),
        pytest.param(lambda: resnet.MGICResNet20(), id="mgic_resnet20_grouped"),
    ],
)
def test_count_flops_matches_tensorflow_profiler(build):
    model = build()
    input_shape = tuple(model.inputs[0].shape[1:])
    tensorflow_flops = _tensorflow_conv_and_matmul_flops(model, input_shape)
    # TensorFlow counts 2 FLOPs per multiply-add; bias adds and BatchNorm are separate ops.
    assert tensorflow_flops > 0
    assert profiling.count_flops(model) == pytest.approx(tensorflow_flops / 2, rel=0.01)
