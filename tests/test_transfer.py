"""ChannelRestriction (c -> c/2) and ChannelProlongation (c/2 -> c)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mgic.initializers import ChannelAveraging
from keras_mgic.layers import ChannelProlongation, ChannelRestriction


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "channels, group_size, groups",
    [(32, 8, 4), (64, 16, 4), (48, 16, 3), (16, 16, 1), (8, 16, 1), (32, 2, 16)],
)
def test_groups_and_kernel_shapes(channels, group_size, groups):
    restrict = ChannelRestriction(group_size)
    y = restrict(np.ones((1, 2, 2, channels), "float32"))
    assert restrict.groups == groups
    assert tuple(restrict.kernel.shape) == (1, 1, channels // groups, channels // 2)
    assert y.shape == (1, 2, 2, channels // 2)

    prolong = ChannelProlongation(group_size)
    z = prolong(y)
    assert prolong.groups == groups  # the groups of the fine level it prolongs to
    assert tuple(prolong.kernel.shape) == (1, 1, channels // 2 // groups, channels)
    assert z.shape == (1, 2, 2, channels)


@pytest.mark.parametrize(
    "layer_class, channels", [(ChannelRestriction, 32), (ChannelProlongation, 16)]
)
def test_averaging_init_maps_a_constant_to_the_same_constant(layer_class, channels):
    layer = layer_class(group_size=8, kernel_initializer=ChannelAveraging())
    x = np.full((2, 3, 3, channels), -1.75, "float32")
    y = _np(layer(x))
    assert isinstance(layer.kernel_initializer, ChannelAveraging)
    np.testing.assert_allclose(y, np.full(y.shape, -1.75), rtol=1e-6)
    kernel = _np(layer.kernel)
    assert np.all(kernel > 0)
    np.testing.assert_allclose(kernel.sum(axis=(0, 1, 2)), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "layer_class, channels", [(ChannelRestriction, 48), (ChannelProlongation, 24)]
)
def test_matches_numpy_grouped_1x1_with_random_weights(np_conv, layer_class, channels):
    layer = layer_class(group_size=16, kernel_initializer="random_normal")
    x = np.random.default_rng(0).normal(size=(2, 3, 4, channels)).astype("float32")
    layer.build(x.shape)
    kernel = np.random.default_rng(1).normal(size=layer.kernel.shape).astype("float32")
    layer.set_weights([kernel])
    np.testing.assert_allclose(_np(layer(x)), np_conv(x, kernel), atol=1e-5)
    np.testing.assert_allclose(tf.function(layer)(x).numpy(), np_conv(x, kernel), atol=1e-5)


@pytest.mark.parametrize(
    "layer_class, channels", [(ChannelRestriction, 32), (ChannelProlongation, 16)]
)
def test_transfers_are_trainable(layer_class, channels):
    layer = layer_class(group_size=8)
    model = keras.Sequential([keras.Input((3, 3, channels)), layer])
    assert [v.path for v in model.trainable_variables] == [layer.kernel.path]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = _np(layer.kernel).copy()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3, 3, channels)).astype("float32")
    y = rng.normal(size=(4, *model.output_shape[1:])).astype("float32")
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(_np(layer.kernel), before)


def _dependency(layer, channels):
    """dep[o, i]: whether output channel o depends on input channel i (via gradients)."""
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 3, 3, channels)), "float32")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = layer(x)
        sums = [tf.reduce_sum(y[..., o]) for o in range(y.shape[-1])]
    return np.stack([np.abs(tape.gradient(s, x).numpy()).sum(axis=(0, 1, 2)) > 0 for s in sums])


def test_restriction_group_i_only_reads_group_i():
    # s_g = 8 on 32 channels: group i of the fine level is channels [8i, 8i + 8); it is
    # summarized into coarse channels [4i, 4i + 4).
    layer = ChannelRestriction(group_size=8, kernel_initializer="random_normal")
    dep = _dependency(layer, 32)
    expected = np.kron(np.eye(4, dtype=bool), np.ones((4, 8), dtype=bool))
    np.testing.assert_array_equal(dep, expected)


def test_prolongation_has_the_transposed_structure():
    layer = ChannelProlongation(group_size=8, kernel_initializer="random_normal")
    dep = _dependency(layer, 16)
    expected = np.kron(np.eye(4, dtype=bool), np.ones((8, 4), dtype=bool))
    np.testing.assert_array_equal(dep, expected)


@pytest.mark.parametrize("layer_class", [ChannelRestriction, ChannelProlongation])
@pytest.mark.parametrize("group_size", [0, -2, 3, 7, 2.0, "8", True, None])
def test_bad_group_size_raises(layer_class, group_size):
    with pytest.raises(ValueError, match=f"group_size={group_size!r}"):
        layer_class(group_size=group_size)


def test_restriction_needs_even_channels():
    with pytest.raises(ValueError, match="channels=15"):
        ChannelRestriction(group_size=4)(np.ones((1, 2, 2, 15), "float32"))


@pytest.mark.parametrize("layer_class", [ChannelRestriction, ChannelProlongation])
def test_bad_input_shapes_raise(layer_class):
    with pytest.raises(ValueError, match=r"input_shape=\(None, 4, 8\)"):
        layer_class(group_size=4).build((None, 4, 8))
    with pytest.raises(ValueError, match=r"input_shape=\(None, 4, 4, None\)"):
        layer_class(group_size=4).build((None, 4, 4, None))
    with pytest.raises(ValueError, match="ndim=4"):
        layer_class(group_size=4)(np.ones((2, 4, 8), "float32"))


def test_compute_output_shape():
    assert ChannelRestriction(4).compute_output_shape((None, 5, None, 12)) == (None, 5, None, 6)
    assert ChannelProlongation(4).compute_output_shape((3, 5, 7, 6)) == (3, 5, 7, 12)


@pytest.mark.parametrize(
    "layer_class, channels", [(ChannelRestriction, 16), (ChannelProlongation, 8)]
)
def test_channels_first_is_the_transposed_channels_last(layer_class, channels):
    x = np.random.default_rng(0).normal(size=(2, 3, 4, channels)).astype("float32")
    last = layer_class(4, data_format="channels_last")
    first = layer_class(4, data_format="channels_first")
    last.build(x.shape)
    first.build((2, channels, 3, 4))
    first.set_weights(last.get_weights())
    y = keras.ops.convert_to_numpy(first(np.transpose(x, (0, 3, 1, 2))))
    want = keras.ops.convert_to_numpy(last(x))
    np.testing.assert_allclose(np.transpose(y, (0, 2, 3, 1)), want, atol=1e-6)
    out = want.shape[-1]
    assert first.compute_output_shape((None, channels, 3, None)) == (None, out, 3, None)
    assert first.get_config()["data_format"] == "channels_first"


def test_bad_data_format_raises():
    with pytest.raises(ValueError, match="Received: data_format='NCHW'"):
        ChannelRestriction(4, data_format="NCHW")
