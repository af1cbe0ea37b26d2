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
        want = np.maximum(
            np_bn(_symmetric_conv(np_conv, x, kernel, strides), layer.bn, training), 0
        )
        np.testing.assert_allclose(y, want, atol=1e-4, err_msg=f"{training=}")


def _symmetric_conv(np_conv, x, kernel, strides):
    """PyTorch's ``padding=1`` (the paper's reference code): one zero pixel on every side
    when strided, TensorFlow's "same" (also symmetric for a 3x3 kernel) with stride 1."""
    if strides == 1:
        return np_conv(x, kernel, 1, "same")
    return np_conv(np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), kernel, strides, "valid")


@pytest.mark.parametrize("size", [8, 7])
def test_strided_conv_pads_both_sides_like_pytorch(np_conv, size):
    """Stride 2 on an even size: TensorFlow's "same" would pad only bottom/right, so the
    first output pixel would see input rows 0-2 instead of the zero row and rows 0-1."""
    layer = ChannelTransition(8, strides=2, activation=None)
    x = np.random.default_rng(1).normal(size=(1, size, size, 8)).astype("float32")
    layer.build(x.shape)
    kernel = layer.conv.get_weights()[0]
    y = keras.ops.convert_to_numpy(layer(x, training=False))
    bn_scale = 1 / np.sqrt(1 + 1e-5)  # fresh BatchNorm: mean 0, variance 1
    want = _symmetric_conv(np_conv, x, kernel, 2) * bn_scale
    np.testing.assert_allclose(y, want, atol=1e-4)
    same = np_conv(x, kernel, 2, "same") * bn_scale
    assert (np.abs(y - same).max() > 0.1) == (size % 2 == 0)


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
        (dict(filters=8, data_format="channels_middle"), "data_format='channels_middle'"),
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


@pytest.mark.parametrize("strides", [1, 2])
def test_channels_first_is_the_transposed_channels_last(strides):
    x = np.random.default_rng(0).normal(size=(2, 8, 7, 16)).astype("float32")
    last = ChannelTransition(32, strides=strides, data_format="channels_last")
    first = ChannelTransition(32, strides=strides, data_format="channels_first")
    last.build(x.shape)
    first.build((2, 16, 8, 7))
    first.set_weights(last.get_weights())
    y = keras.ops.convert_to_numpy(first(np.transpose(x, (0, 3, 1, 2)), training=False))
    want = keras.ops.convert_to_numpy(last(x, training=False))
    np.testing.assert_allclose(np.transpose(y, (0, 2, 3, 1)), want, atol=1e-5)
    size = (-(-8 // strides), -(-7 // strides))
    assert first.compute_output_shape((None, 16, 8, 7)) == (None, 32, *size)
    assert first.get_config()["data_format"] == "channels_first"
