"""ChannelAveraging: positive weights, unit sums per output channel, serialization, errors."""

import keras
import numpy as np
import pytest

from keras_mgic.initializers import ChannelAveraging
from keras_mgic.layers import GroupedConv2D

SHAPES = [(1, 1, 8, 4), (3, 3, 2, 8), (1, 1, 1, 3), (5, 7)]


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("shape", SHAPES)
def test_constant_weights_are_equal_positive_and_sum_to_one(shape):
    w = _np(ChannelAveraging()(shape))
    assert w.shape == shape
    assert w.dtype == np.float32
    fan_in = int(np.prod(shape[:-1]))
    np.testing.assert_allclose(w, np.full(shape, 1.0 / fan_in), rtol=1e-6)
    sums = w.reshape(-1, shape[-1]).sum(axis=0)
    np.testing.assert_allclose(sums, np.ones(shape[-1]), rtol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("jitter", [0.1, 0.5, 0.99])
def test_jitter_keeps_weights_positive_and_sums_at_one(shape, jitter):
    w = _np(ChannelAveraging(jitter=jitter, seed=7)(shape))
    assert np.all(w > 0)
    sums = w.reshape(-1, shape[-1]).sum(axis=0)
    np.testing.assert_allclose(sums, np.ones(shape[-1]), rtol=1e-5)
    flat = w.reshape(-1, shape[-1])
    if flat.shape[0] > 1:
        # The jitter breaks the symmetry, within the documented relative bounds.
        assert np.ptp(flat, axis=0).min() > 0
        ratio = flat.max(axis=0) / flat.min(axis=0)
        assert np.all(ratio <= (1 + jitter) / (1 - jitter) + 1e-4)


def test_jitter_seed_is_deterministic():
    a = _np(ChannelAveraging(jitter=0.3, seed=3)((3, 3, 4, 8)))
    b = _np(ChannelAveraging(jitter=0.3, seed=3)((3, 3, 4, 8)))
    c = _np(ChannelAveraging(jitter=0.3, seed=4)((3, 3, 4, 8)))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_dtype(dtype):
    w = ChannelAveraging()((1, 1, 4, 2), dtype=dtype)
    assert keras.backend.standardize_dtype(w.dtype) == dtype
    w = ChannelAveraging(jitter=0.2, seed=1)((1, 1, 4, 2), dtype=dtype)
    assert keras.backend.standardize_dtype(w.dtype) == dtype


def test_averages_a_constant_in_a_grouped_conv():
    layer = GroupedConv2D(
        8, 3, groups=4, padding="valid", use_bias=False, kernel_initializer=ChannelAveraging()
    )
    y = _np(layer(np.full((1, 5, 5, 16), 2.5, np.float32)))
    np.testing.assert_allclose(y, np.full((1, 3, 3, 8), 2.5), rtol=1e-5)


@pytest.mark.parametrize("kwargs", [{}, {"jitter": 0.25, "seed": 5}, {"jitter": 0.5}])
def test_config_round_trip_and_keras_serialization(kwargs):
    init = ChannelAveraging(**kwargs)
    config = init.get_config()
    assert config == {"jitter": float(kwargs.get("jitter", 0.0)), "seed": kwargs.get("seed")}
    clone = ChannelAveraging.from_config(config)
    assert clone.get_config() == config

    serialized = keras.initializers.serialize(init)
    assert serialized["registered_name"] == "keras_mgic>ChannelAveraging"
    restored = keras.initializers.deserialize(serialized)
    assert isinstance(restored, ChannelAveraging)
    assert restored.get_config() == config
    assert isinstance(keras.initializers.get("keras_mgic>ChannelAveraging"), ChannelAveraging)
    if "seed" in kwargs:
        np.testing.assert_array_equal(_np(init((1, 1, 6, 3))), _np(restored((1, 1, 6, 3))))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"jitter": -0.1}, r"jitter=-0\.1"),
        ({"jitter": 1.0}, r"jitter=1\.0"),
        ({"jitter": 2}, r"jitter=2"),
        ({"jitter": "0.1"}, r"jitter=0\.1"),
        ({"jitter": True}, r"jitter=True"),
        ({"jitter": None}, r"jitter=None"),
        ({"seed": 1.5}, r"seed=1\.5"),
        ({"seed": "1"}, r"seed=1"),
        ({"seed": True}, r"seed=True"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ChannelAveraging(**kwargs)


@pytest.mark.parametrize("shape", [(4,), ()])
def test_rank_below_two_raises(shape):
    with pytest.raises(ValueError, match=r"Received: shape="):
        ChannelAveraging()(shape)
