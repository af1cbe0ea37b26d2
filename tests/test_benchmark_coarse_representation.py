"""benchmarks/coarse_representation.py: levels, parameter readings, the transfer autoencoder."""

import pathlib
import runpy

import keras
import numpy as np
import pytest

from keras_mgic.initializers import ChannelAveraging

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "coarse_representation.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_level_widths(script):
    assert script["level_widths"](64, 8) == [64, 32, 16, 8]
    assert script["level_widths"](64, 8, reference_rule=True) == [64, 32, 16, 8, 4]
    assert script["level_widths"](64, 16, reference_rule=True) == [64, 32, 16, 8]
    assert script["level_widths"](16, 32) == [16, 8]


@pytest.mark.parametrize(
    "group_size, readings",
    [
        (32, (3328, 1664, 3392)),  # paper: 3.3K
        (16, (1792, 896, 1856)),  # 1.8K
        (8, (896, 448, 960)),  # 0.9K
        (4, (448, 224, 480)),  # 0.4K
    ],
)
def test_parameter_readings_and_the_layers_agree(script, group_size, readings):
    assert tuple(script["parameter_readings"](group_size).values()) == readings
    # The package's transfers give the first reading: 3 restrictions + 3 prolongations.
    assert script["build_autoencoder"](group_size).count_params() == readings[0]


def test_distinct_coarse_maps(script):
    assert [script["distinct_coarse_maps"](g) for g in (32, 16, 8, 4)] == [1, 1, 2, 4]


def test_mse_trend(script):
    holds = script["mse_trend_holds"]
    assert holds([0.10, 0.12, 0.2, 0.4])
    assert holds([0.1259, 0.1256, 0.2, 0.4])  # a tie within 1%
    assert not holds([0.13, 0.12, 0.2, 0.4])  # 8% lower for the smaller s_g
    assert not holds([0.1, 0.12, 0.11, 0.4])


def test_restriction_weights(script):
    assert script["restriction_weights"](64, 16) == 512  # w * s_g / 2
    assert script["restriction_weights"](16, 32) == 128  # w^2 / 2: fully coupled


def test_averaging_autoencoder_reconstructs_half_means(script):
    # Exact averaging with s_g = 8: every restriction averages channel pairs of s_g-groups,
    # so the 8 coarse channels hold the means of the two 32-channel halves (the coarsest of
    # 16 -> 8 channels is still 2 groups) and the prolongations copy them back.
    model = script["build_autoencoder"](8, ChannelAveraging())
    group_values = np.repeat(np.arange(8, dtype=np.float32), 8)  # 0 x 8, 1 x 8, ..., 7 x 8
    x = np.broadcast_to(group_values, (2, 3, 3, 64)).copy()
    expected = np.broadcast_to(np.repeat([1.5, 5.5], 32), x.shape)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)
    assert script["mse"](model, x) == pytest.approx(np.mean((x - expected) ** 2), rel=1e-5)


def test_fit_transfers_lowers_the_error_of_low_rank_features(script):
    rng = np.random.default_rng(0)
    # 64 channels spanned by 8 directions: 8 coarse channels can carry them exactly.
    features = (rng.normal(size=(4, 8, 8, 8)) @ rng.normal(size=(8, 64)) / 8).astype("f4")
    keras.utils.set_random_seed(0)
    model = script["build_autoencoder"](32)
    before = script["mse"](model, features)
    script["fit_transfers"](model, features, epochs=30, lr=1e-2)
    after = script["mse"](model, features)
    assert after < 0.2 * before


def test_photo_crops_do_not_overlap_between_training_and_test(script):
    train = script["photo_crops"](4, seed=0)
    test = script["photo_crops"](4, seed=0, test=True)
    assert train.shape == (4, 32, 32, 3) and train.dtype == np.uint8
    np.testing.assert_array_equal(train[..., 0], train[..., 2])  # gray
    np.testing.assert_array_equal(script["photo_crops"](4, seed=0), train)
    assert not any(np.array_equal(a, b) for a in train for b in test)


def test_pick_map(script):
    features = np.zeros((3, 4, 4, 5), np.float32)
    features[2, 1, 1, 4] = 1.0
    assert script["pick_map"](features) == (2, 4)


@pytest.mark.slow
def test_smoke_run(script):
    summary = script["main"](["--smoke"])
    assert [row["group_size"] for row in summary["rows"]] == [32, 16, 8, 4]
    assert [row["params"] for row in summary["rows"]] == [3328, 1792, 896, 448]
    assert all(np.isfinite(row["mse_trained"]) for row in summary["rows"])
