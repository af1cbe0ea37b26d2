"""The block builders of benchmarks/alternatives.py: shapes, the channel shuffle and the
parameter matching of the shuffle block (no timing)."""

import pathlib
import runpy

import numpy as np
import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "alternatives.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_channel_shuffle_interleaves_the_groups(script):
    x = np.arange(6, dtype="float32").reshape(1, 1, 1, 6)
    out = np.asarray(script["ChannelShuffle"](2)(x)).ravel()
    np.testing.assert_array_equal(out, [0, 3, 1, 4, 2, 5])


@pytest.mark.parametrize("width, groups", [(64, 2), (256, 8), (1024, 32)])
def test_match_groups_is_closest_on_a_log_scale(script, width, groups):
    # the MGIC block's parameter counts at these widths (group size 16, coarsest size 32)
    target = {64: 34_432, 256: 153_472, 1024: 629_632}[width]
    assert script["match_groups"](width, target) == groups
    ratio = script["shuffle_params"](width, groups) / target
    assert 2**-0.5 <= ratio <= 2**0.5


def test_build_blocks(script):
    from keras_mgic import count_params

    models, groups = script["build_blocks"](64, 4)
    assert tuple(models) == script["NAMES"]
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 64)).astype("float32")
    for model in models.values():
        assert tuple(model(x).shape) == (2, 4, 4, 64)
    assert count_params(models["shuffle"]) == script["shuffle_params"](64, groups)
    assert count_params(models["mgic"]) == 34_432
