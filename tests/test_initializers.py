"""The transfers' initializers: values, seeds, serialization, errors, the default."""

import keras
import numpy as np
import pytest

from keras_mgic.initializers import ChannelAveraging, ChannelHeNormal, NoisyChannelAveraging
from keras_mgic.layers import ChannelProlongation, ChannelRestriction, GroupedConv2D

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


# ------------------------------------------------------------------ seeds: one draw per call


def test_seeded_jitter_draws_anew_on_each_call_and_restarts_on_a_fresh_instance():
    init = ChannelAveraging(jitter=0.3, seed=3)
    first, second = _np(init((1, 1, 8, 4))), _np(init((1, 1, 8, 4)))
    assert not np.allclose(first, second)
    again = ChannelAveraging(jitter=0.3, seed=3)
    np.testing.assert_array_equal(_np(again((1, 1, 8, 4))), first)
    np.testing.assert_array_equal(_np(again((1, 1, 8, 4))), second)


# ------------------------------------------------------------------- NoisyChannelAveraging


@pytest.mark.parametrize(
    "shape, mode, stddev",
    [
        ((1, 1, 8, 32), "fan_out", 0.25),  # sqrt(2 / 32)
        ((1, 1, 8, 32), "fan_in", 0.5),  # sqrt(2 / 8)
        ((1, 1, 8, 32), "fan_avg", 0.3162278),  # sqrt(2 / 20)
        ((3, 3, 4, 8), "fan_out", 1 / 6),  # sqrt(2 / 72)
        ((3, 3, 4, 8), "fan_in", 0.2357023),  # sqrt(2 / 36)
        ((5, 8), "fan_out", 0.5),  # dense kernel: sqrt(2 / 8)
    ],
)
@pytest.mark.parametrize("cls", [ChannelHeNormal, NoisyChannelAveraging])
def test_stddev(cls, shape, mode, stddev):
    np.testing.assert_allclose(cls(mode=mode).stddev(shape), stddev, rtol=1e-6)


def test_he_normal_is_zero_mean_he_fan_out():
    shape = (1, 1, 16, 4096)
    w = _np(ChannelHeNormal(seed=11)(shape))
    assert w.shape == shape and w.dtype == np.float32
    np.testing.assert_allclose(w.mean(), 0.0, atol=3e-4)
    np.testing.assert_allclose(w.std(), 0.0220971, rtol=0.01)  # sqrt(2 / 4096)
    assert np.unique(w.reshape(16, 4096), axis=1).shape[1] == 4096


def test_he_normal_first_draw_is_the_seeded_standard_normal():
    shape = (1, 1, 8, 16)
    w = _np(ChannelHeNormal(seed=5)(shape))
    noise = _np(keras.random.normal(shape, seed=5))
    np.testing.assert_allclose(w, np.sqrt(2 / 16) * noise, rtol=1e-5, atol=1e-6)
    # Noisy averaging draws the same noise around the averaging weight 1 / 8.
    noisy = _np(NoisyChannelAveraging(seed=5)(shape))
    np.testing.assert_allclose(noisy, w + 1 / 8, rtol=1e-5, atol=1e-6)


def test_noisy_averaging_is_averaging_plus_he_fan_out_normal_noise():
    shape = (1, 1, 16, 4096)  # fan_in 16, fan_out 4096
    w = _np(NoisyChannelAveraging(seed=11)(shape))
    assert w.shape == shape and w.dtype == np.float32
    # Mean 1 / fan_in = 0.0625, stddev sqrt(2 / 4096) = 0.0221 (65,536 draws: tight bounds).
    np.testing.assert_allclose(w.mean(), 0.0625, atol=3e-4)
    np.testing.assert_allclose(w.std(), 0.0220971, rtol=0.01)
    # Every output's sum is 1 in expectation: mean 1, stddev 4 * 0.0221 = 0.0884.
    sums = w.reshape(16, 4096).sum(axis=0)
    np.testing.assert_allclose(sums.mean(), 1.0, atol=0.005)
    np.testing.assert_allclose(sums.std(), 0.0883883, rtol=0.03)
    # Zero-mean noise: weights of both signs at this scale; outputs all differ.
    assert (w < 0).any()
    assert np.unique(w.reshape(16, 4096), axis=1).shape[1] == 4096


def test_noisy_averaging_first_draw_is_the_seeded_standard_normal():
    shape = (1, 1, 8, 16)
    w = _np(NoisyChannelAveraging(seed=5)(shape))
    noise = _np(keras.random.normal(shape, seed=5))
    np.testing.assert_allclose(w, 1 / 8 + np.sqrt(2 / 16) * noise, rtol=1e-5, atol=1e-6)


def test_noisy_averaging_scale_zero_is_exact_averaging():
    w = _np(NoisyChannelAveraging(scale=0.0, seed=1)((1, 1, 4, 6)))
    np.testing.assert_allclose(w, np.full((1, 1, 4, 6), 0.25), rtol=1e-6)


@pytest.mark.parametrize("cls", [ChannelHeNormal, NoisyChannelAveraging])
def test_seeds(cls):
    init = cls(seed=2)
    first, second = _np(init((1, 1, 8, 8))), _np(init((1, 1, 8, 8)))
    assert not np.allclose(first, second)  # a shared instance: each weight its own draw
    again = cls(seed=2)
    np.testing.assert_array_equal(_np(again((1, 1, 8, 8))), first)
    np.testing.assert_array_equal(_np(again((1, 1, 8, 8))), second)
    other = _np(cls(seed=3)((1, 1, 8, 8)))
    assert not np.allclose(first, other)
    # Unseeded: reproducible under keras.utils.set_random_seed, different per call.
    keras.utils.set_random_seed(7)
    a = _np(cls()((1, 1, 8, 8)))
    keras.utils.set_random_seed(7)
    unseeded = cls()
    b, c = _np(unseeded((1, 1, 8, 8))), _np(unseeded((1, 1, 8, 8)))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(b, c)


@pytest.mark.parametrize("cls", [ChannelHeNormal, NoisyChannelAveraging])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_normal_dtype(cls, dtype):
    w = cls(seed=1)((1, 1, 4, 2), dtype=dtype)
    assert keras.backend.standardize_dtype(w.dtype) == dtype
    reference = _np(cls(seed=1)((1, 1, 4, 2)))
    np.testing.assert_allclose(_np(keras.ops.cast(w, "float32")), reference, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs", [{}, {"scale": 0.5, "mode": "fan_in", "seed": 4}, {"mode": "fan_avg"}]
)
@pytest.mark.parametrize("cls", [ChannelHeNormal, NoisyChannelAveraging])
def test_normal_config_round_trip_and_keras_serialization(cls, kwargs):
    init = cls(**kwargs)
    config = init.get_config()
    assert config == {
        "scale": float(kwargs.get("scale", 2.0)),
        "mode": kwargs.get("mode", "fan_out"),
        "seed": kwargs.get("seed"),
    }
    assert cls.from_config(config).get_config() == config
    serialized = keras.initializers.serialize(init)
    assert serialized["registered_name"] == f"keras_mgic>{cls.__name__}"
    restored = keras.initializers.deserialize(serialized)
    assert type(restored) is cls
    assert restored.get_config() == config
    if "seed" in kwargs:
        np.testing.assert_array_equal(_np(init((1, 1, 6, 3))), _np(restored((1, 1, 6, 3))))


def test_plain_names():
    assert isinstance(keras.initializers.get("channel_averaging"), ChannelAveraging)
    assert type(keras.initializers.get("channel_he_normal")) is ChannelHeNormal
    assert isinstance(keras.initializers.get("noisy_channel_averaging"), NoisyChannelAveraging)
    assert isinstance(keras.initializers.get("keras_mgic>ChannelAveraging"), ChannelAveraging)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scale": -1.0}, r"scale=-1\.0"),
        ({"scale": float("inf")}, r"scale=inf"),
        ({"scale": "2"}, r"scale=2"),
        ({"scale": True}, r"scale=True"),
        ({"mode": "fan"}, r"mode='fan'"),
        ({"seed": 1.5}, r"seed=1\.5"),
        ({"seed": True}, r"seed=True"),
    ],
)
@pytest.mark.parametrize("cls", [ChannelHeNormal, NoisyChannelAveraging])
def test_normal_bad_arguments_raise(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("shape", [(4,), ()])
@pytest.mark.parametrize("cls", [ChannelHeNormal, NoisyChannelAveraging])
def test_normal_rank_below_two_raises(cls, shape):
    with pytest.raises(ValueError, match=r"Received: shape="):
        cls()(shape)


# ------------------------------------------------------------- the transfers' initialization


@pytest.mark.parametrize("layer_class", [ChannelRestriction, ChannelProlongation])
def test_transfers_default_to_he_normal_with_distinct_coarse_channels(layer_class):
    keras.utils.set_random_seed(0)
    layer = layer_class(group_size=8)
    layer.build((None, 4, 4, 32 if layer_class is ChannelRestriction else 16))
    assert type(layer.kernel_initializer) is ChannelHeNormal
    kernel = _np(layer.kernel)  # (1, 1, 8, 16) or (1, 1, 4, 32)
    fan_in, fan_out = kernel.shape[2], kernel.shape[3]
    np.testing.assert_allclose(kernel.mean(), 0.0, atol=4 * np.sqrt(2 / fan_out / 128))
    np.testing.assert_allclose(kernel.std(), np.sqrt(2 / fan_out), rtol=0.2)
    flat = kernel.reshape(fan_in, fan_out)
    assert np.unique(flat, axis=1).shape[1] == fan_out  # no two outputs start equal
    # Two layers with the default draw different kernels.
    twin = layer_class(group_size=8)
    twin.build((None, 4, 4, 32 if layer_class is ChannelRestriction else 16))
    assert not np.allclose(_np(twin.kernel), kernel)


@pytest.mark.parametrize("initializer", ["channel_averaging", ChannelAveraging()])
def test_transfers_keep_exact_averaging_by_name(initializer):
    layer = ChannelRestriction(group_size=8, kernel_initializer=initializer)
    x = np.full((1, 2, 2, 32), -1.75, "float32")
    np.testing.assert_allclose(_np(layer(x)), np.full((1, 2, 2, 16), -1.75), rtol=1e-6)
    np.testing.assert_allclose(_np(layer.kernel), np.full((1, 1, 8, 16), 0.125))
    config = layer.get_config()["kernel_initializer"]
    assert config["registered_name"] == "keras_mgic>ChannelAveraging"
    clone = ChannelRestriction.from_config(layer.get_config())
    assert isinstance(clone.kernel_initializer, ChannelAveraging)
