"""ChannelTransition: width change and stride with a cheap grouped 3x3 conv, BN, activation."""

import keras
import numpy as np
import pytest

from keras_mgic.layers import ChannelTransition, GroupedConv2D


@pytest.mark.parametrize(
    "channels, filters, strides, groups",
    [
        (16, 32, 2, 16),
        (16, 32, 1, 16),
        (16, 16, 1, 16),
        (24, 16, 2, 8),
        (12, 18, 2, 6),
        (5, 7, 1, 1),
    ],
)
def test_groups_shape_and_numpy_reference(
    np_conv, np_bn, randomize_bn, channels, filters, strides, groups
):
    layer = ChannelTransition(filters, strides=strides)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 6, channels)).astype("float32")
    layer.build(x.shape)
    assert isinstance(layer.conv, GroupedConv2D)
    assert layer.conv.groups == groups == np.gcd(channels, filters)
    assert layer.conv.kernel.shape == (3, 3, channels // groups, filters)
    assert layer.conv.strides == (strides, strides)
    randomize_bn(layer.bn, rng)
    expected_shape = (2, -(-7 // strides), -(-6 // strides), filters)
    assert tuple(layer.compute_output_shape(x.shape)) == expected_shape
    kernel = layer.conv.get_weights()[0]
    for training in (False, True):
        y = keras.ops.convert_to_numpy(layer(x, training=training))
        assert y.shape == expected_shape
        want = np.maximum(np_bn(np_conv(x, kernel, strides, "same"), layer.bn, training), 0)
        np.testing.assert_allclose(y, want, atol=1e-4, err_msg=f"{training=}")


def test_activation_and_kernel_size():
    layer = ChannelTransition(8, kernel_size=1, activation="hard_swish")
    y = layer(np.ones((1, 4, 4, 8), "float32"))
    assert layer.conv.kernel.shape == (1, 1, 1, 8)
    assert layer.activation is keras.activations.get("hard_swish")
    assert y.shape == (1, 4, 4, 8)


@pytest.mark.parametrize(
    "input_shape, strides, expected",
    [
        ((None, 8, 8, 16), 2, (None, 4, 4, 32)),
        ((3, 7, 5, 16), 2, (3, 4, 3, 32)),
        ((None, None, None, 16), 2, (None, None, None, 32)),
        ((1, 9, 9, 16), 3, (1, 3, 3, 32)),
    ],
)
def test_compute_output_shape(input_shape, strides, expected):
    assert ChannelTransition(32, strides=strides).compute_output_shape(input_shape) == expected


def test_in_a_functional_model_with_unknown_spatial_size():
    inputs = keras.Input((None, None, 8))
    outputs = ChannelTransition(16, strides=2)(inputs)
    assert tuple(outputs.shape) == (None, None, None, 16)
    model = keras.Model(inputs, outputs)
    assert model.predict(np.ones((2, 9, 6, 8), "float32"), verbose=0).shape == (2, 5, 3, 16)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(filters=0), "filters=0"),
        (dict(filters=8.0), r"filters=8\.0"),
        (dict(filters=8, strides=0), "strides=0"),
        (dict(filters=8, strides=(2, 2)), r"strides=\(2, 2\)"),
        (dict(filters=8, kernel_size=-3), "kernel_size=-3"),
        (dict(filters=8, activation="no_such_activation"), "no_such_activation"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ChannelTransition(**kwargs)


def test_bad_input_shapes_raise():
    with pytest.raises(ValueError, match=r"input_shape=\(None, 8, 16\)"):
        ChannelTransition(8).build((None, 8, 16))
    with pytest.raises(ValueError, match=r"input_shape=\(None, 4, 4, None\)"):
        ChannelTransition(8)(keras.Input((4, 4, None)))
    with pytest.raises(ValueError, match="expected ndim=4"):
        ChannelTransition(8)(keras.Input((4, 16)))
