"""GroupedConv2D against keras.layers.Conv2D(groups=...) and NumPy, and its fast TF path."""

import inspect
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mgic import ops
from keras_mgic.layers import ChannelRestriction, GroupedConv2D, MGICBlock

GRID = list(itertools.product([1, 3], [1, 2], ["same", "valid"]))  # kernel, strides, padding
CHANNELS, FILTERS, GROUPS = 8, 12, 4


def _pair_of_layers(kernel, strides, padding, **kwargs):
    """A GroupedConv2D and a keras Conv2D with the same arguments and the same weights."""
    args = dict(
        filters=FILTERS, kernel_size=kernel, strides=strides, padding=padding, groups=GROUPS
    )
    args.update(kwargs)
    ours, theirs = GroupedConv2D(**args), keras.layers.Conv2D(**args)
    shape = (None, 7, 6, CHANNELS)
    ours.build(shape)
    theirs.build(shape)
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=w.shape).astype("float32") for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs


def _input(seed=1):
    return np.random.default_rng(seed).normal(size=(2, 7, 6, CHANNELS)).astype("float32")


@pytest.mark.parametrize("kernel, strides, padding", GRID)
def test_matches_keras_conv2d_and_numpy(np_conv, kernel, strides, padding):
    ours, theirs = _pair_of_layers(kernel, strides, padding)
    assert ours.kernel.shape == (kernel, kernel, CHANNELS // GROUPS, FILTERS)
    x = _input()
    kernel_w, bias = ours.get_weights()
    expected = np_conv(x, kernel_w, strides, padding, bias=bias)

    results = {
        "eager": (ours(x), theirs(x)),
        "function": (tf.function(ours)(x), tf.function(theirs)(x)),
        "jit": (tf.function(ours, jit_compile=True)(x), tf.function(theirs, jit_compile=True)(x)),
    }
    for mode, (y_ours, y_theirs) in results.items():
        y_ours, y_theirs = np.asarray(y_ours), np.asarray(y_theirs)
        assert y_ours.shape == expected.shape, mode
        np.testing.assert_allclose(y_ours, expected, atol=1e-4, err_msg=mode)
        np.testing.assert_allclose(y_ours, y_theirs, atol=1e-4, err_msg=mode)
    assert tuple(ours.compute_output_shape(x.shape)) == expected.shape


@pytest.mark.parametrize("kernel, strides, padding", GRID)
def test_gradients_match_keras_conv2d(kernel, strides, padding):
    ours, theirs = _pair_of_layers(kernel, strides, padding)
    x = tf.constant(_input())
    grads = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            weights = np.random.default_rng(5).normal(size=y.shape).astype("float32")
            loss = tf.reduce_sum(y * weights)
        grads.append(tape.gradient(loss, [x, layer.kernel, layer.bias]))
    for name, g_ours, g_theirs in zip(["input", "kernel", "bias"], *grads, strict=True):
        assert np.abs(g_ours.numpy()).max() > 0, name
        np.testing.assert_allclose(g_ours.numpy(), g_theirs.numpy(), atol=1e-3, err_msg=name)


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("kernel, strides, padding", [(3, 1, "same"), (1, 2, "valid")])
def test_fit_step_updates_weights_like_keras_conv2d(kernel, strides, padding, jit_compile):
    models = []
    x = _input()
    for layer in _pair_of_layers(kernel, strides, padding):
        model = keras.Sequential([keras.Input((7, 6, CHANNELS)), layer])
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse", jit_compile=jit_compile
        )
        models.append(model)
    y = np.random.default_rng(2).normal(size=(2, *models[0].output_shape[1:])).astype("float32")
    before = [w.copy() for w in models[0].get_weights()]
    losses = [m.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0) for m in models]
    np.testing.assert_allclose(losses[0].history["loss"], losses[1].history["loss"], rtol=1e-5)
    for w_ours, w_theirs, w_before in zip(
        models[0].get_weights(), models[1].get_weights(), before, strict=True
    ):
        assert not np.allclose(w_ours, w_before)  # the step did something
        np.testing.assert_allclose(w_ours, w_theirs, atol=1e-5)


def _graph_summary(concrete_function):
    """Op types of a traced graph and of every library function, plus XLA markers."""
    graph_def = concrete_function.graph.as_graph_def()
    op_types = {node.op for node in graph_def.node}
    xla_functions = []
    for function in graph_def.library.function:
        op_types |= {node.op for node in function.node_def}
        must_compile = function.attr.get("_XlaMustCompile")
        if (must_compile is not None and must_compile.b) or "xla" in function.signature.name:
            xla_functions.append(function.signature.name)
    for node in graph_def.node:
        must_compile = node.attr.get("_XlaMustCompile")
        if must_compile is not None and must_compile.b:
            xla_functions.append(node.name)
    return op_types, xla_functions


def _trace_forward_and_backward(layer, input_shape):
    layer.build(input_shape)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            if "training" in inspect.signature(layer.call).parameters:
                y = layer(x, training=True)
            else:
                y = layer(x)
            loss = tf.reduce_sum(y * y)
        return y, tape.gradient(loss, [x, *layer.trainable_variables])

    return step.get_concrete_function(tf.TensorSpec(input_shape, "float32"))


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: GroupedConv2D(16, 3, groups=4, padding="same"),
        lambda: ChannelRestriction(group_size=4),
        lambda: MGICBlock(group_size=4, coarsest_size=4),
    ],
    ids=["GroupedConv2D", "ChannelRestriction", "MGICBlock"],
)
def test_fast_path_avoids_forced_xla(make_layer):
    op_types, xla = _graph_summary(_trace_forward_and_backward(make_layer(), (2, 4, 4, 16)))
    assert "Conv2D" in op_types
    if ops._tensorflow_has_grouped_gradients():
        assert "Conv2DBackpropFilter" in op_types and "Conv2DBackpropInput" in op_types
    else:  # TensorFlow without oneDNN: the portable lowering's gradients (tests/test_ops_portable)
        assert op_types & {"Conv2DBackpropFilter", "Einsum", "BatchMatMulV2"}
    assert xla == []


def test_xla_check_detects_keras_conv2d_groups():
    # The check above is able to fail: Keras's own grouped Conv2D is an XLA function call.
    layer = keras.layers.Conv2D(16, 3, groups=4, padding="same")
    _, xla = _graph_summary(_trace_forward_and_backward(layer, (2, 4, 4, 16)))
    assert xla != []


def test_same_config_and_weights_layout_as_conv2d():
    args = dict(filters=12, kernel_size=(3, 1), strides=(2, 1), padding="same", groups=4)
    ours, theirs = GroupedConv2D(name="c", **args), keras.layers.Conv2D(name="c", **args)
    assert ours.get_config() == theirs.get_config()
    ours.build((None, 8, 8, 8))
    theirs.build((None, 8, 8, 8))
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    assert GroupedConv2D.from_config(ours.get_config()).get_config() == ours.get_config()


def test_groups_must_divide_input_channels():
    layer = GroupedConv2D(12, 3, groups=4)
    with pytest.raises(ValueError, match="groups"):
        layer.build((None, 8, 8, 6))
    with pytest.raises(ValueError, match="groups"):
        GroupedConv2D(10, 3, groups=4)


# ---------------------------------------------------------------- TF graph-optimizer fusions
# Grappler rewrites Conv2D+BiasAdd+ReLU and Conv2D+FusedBatchNorm into fused kernels inside a
# tf.function; older TF versions rejected grouped kernels there ("Fused conv implementation does not
# support grouped convolutions"), and TF 2.21 still does where oneDNN is off (its default on
# CPUs without AVX-512 VNNI, BF16 or AMX). The raw TensorFlow pattern is checked where oneDNN
# runs it; keras_mgic's layers must give the right numbers everywhere.


def test_fused_conv_bias_relu_with_grouped_kernel(np_conv):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 6, 6, 8)).astype("float32")
    w = rng.normal(size=(3, 3, 2, 8)).astype("float32")
    b = rng.normal(size=(8,)).astype("float32")
    expected = np.maximum(np_conv(x, w, 1, "same", bias=b), 0)
    assert (expected == 0).mean() > 0.2 and (expected > 0).mean() > 0.2

    @tf.function
    def raw(x):
        return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w, 1, "SAME"), b))

    layer = GroupedConv2D(8, 3, groups=4, padding="same", activation="relu")
    layer.build(x.shape)
    layer.set_weights([w, b])
    if ops._tensorflow_has_grouped_gradients():
        np.testing.assert_allclose(raw(x).numpy(), expected, atol=1e-4)
    np.testing.assert_allclose(tf.function(layer)(x).numpy(), expected, atol=1e-4)


def test_fused_conv_batch_norm_inference_with_grouped_kernel(np_conv, np_bn, randomize_bn):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 6, 6, 8)).astype("float32")
    conv = GroupedConv2D(8, 3, groups=4, padding="same", use_bias=False)
    bn = keras.layers.BatchNormalization(epsilon=1e-3)
    conv.build(x.shape)
    bn.build((2, 6, 6, 8))
    randomize_bn(bn, rng)
    w = conv.get_weights()[0]
    gamma, beta, mean, var = bn.get_weights()
    expected = np_bn(np_conv(x, w, 1, "same"), bn)

    @tf.function
    def raw(x):
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(
            tf.nn.conv2d(x, w, 1, "SAME"),
            gamma,
            beta,
            mean=mean,
            variance=var,
            epsilon=1e-3,
            is_training=False,
        )
        return tf.nn.relu(y)

    @tf.function
    def layers(x):
        return bn(conv(x), training=False)

    if ops._tensorflow_has_grouped_gradients():
        np.testing.assert_allclose(raw(x).numpy(), np.maximum(expected, 0), atol=1e-4)
    np.testing.assert_allclose(layers(x).numpy(), expected, atol=1e-4)


def test_default_compile_keeps_mgic_models_off_xla_on_a_cpu():
    """Keras's jit_compile="auto" must not pick XLA on a CPU: XLA's grouped conv there is
    15x to 90x slower per training step (benchmarks/jit_compile.py)."""
    from keras_mgic import MGICBlock

    model = keras.Sequential([keras.Input((4, 4, 16)), MGICBlock(4, 8)])
    model.compile(optimizer="sgd", loss="mse")
    assert model.jit_compile is False
    forced = keras.Sequential([keras.Input((4, 4, 16)), MGICBlock(4, 8)])
    forced.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert forced.jit_compile is True
