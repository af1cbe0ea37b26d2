"""Property tests: every configuration either works (finite output of the right shape) or
raises a ValueError, and the ValueError comes exactly when the documented rules say so."""

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from keras_mgic import MGICBlock
from keras_mgic.layers import ChannelProlongation, ChannelRestriction, ChannelTransition
from keras_mgic.layers.channel_hierarchy import level_groups, level_widths

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

widths = st.integers(2, 160)


def _weighted(common, rare, rare_share=0.3):
    """``common`` most of the time, ``rare`` with probability about ``rare_share``."""
    return st.floats(0, 1).flatmap(lambda u: rare if u < rare_share else common)


# Mostly valid sizes; otherwise odd, zero, negative, or of the wrong type.
group_sizes = _weighted(
    st.sampled_from([2, 4, 6, 8, 12, 16, 32, 64]),
    st.one_of(st.integers(-4, 40), st.sampled_from([2.0, 8.0, True, None, "8"])),
    rare_share=0.4,
)
coarsest_sizes = _weighted(
    st.integers(1, 48), st.one_of(st.integers(-4, 0), st.sampled_from([1.5, None, "4"]))
)


@st.composite
def mgic_configs(draw):
    """(channels, group_size, coarsest_size); half the valid group sizes get a multiple."""
    group_size = draw(group_sizes)
    if _valid_group_size(group_size) and group_size <= 160 and draw(st.booleans()):
        channels = group_size * draw(st.integers(1, 160 // group_size))
    else:
        channels = draw(widths)
    return channels, group_size, draw(coarsest_sizes)


def _valid_group_size(value):
    return type(value) is int and value > 0 and value % 2 == 0


def _valid_positive(value):
    return type(value) is int and value > 0


def _run(layer, channels):
    x = np.random.default_rng(channels).normal(size=(1, 4, 4, channels)).astype("float32")
    return keras.ops.convert_to_numpy(layer(x, training=False))


@SETTINGS
@given(config=mgic_configs())
def test_mgic_block_builds_or_raises_value_error(config):
    channels, group_size, coarsest_size = config
    expect_error = not (_valid_group_size(group_size) and _valid_positive(coarsest_size))
    if not expect_error:
        levels = level_widths(channels, coarsest_size)
        expect_error = len(levels) > 1 and channels >= group_size and channels % group_size != 0
    try:
        y = _run(MGICBlock(group_size, coarsest_size), channels)
    except ValueError as error:
        event(f"ValueError {str(error)[:60]}")
        assert expect_error, (channels, group_size, coarsest_size)
        return
    event("built")
    assert not expect_error, (channels, group_size, coarsest_size)
    assert y.shape == (1, 4, 4, channels)
    assert np.all(np.isfinite(y))


@SETTINGS
@given(config=mgic_configs(), block=st.sampled_from(["bottleneck", "inverted_residual"]))
def test_mgic_block_with_other_level_blocks_builds_or_raises_value_error(config, block):
    channels, group_size, coarsest_size = config
    try:
        y = _run(MGICBlock(group_size, coarsest_size, block=block), channels)
    except ValueError as error:
        event(f"ValueError {str(error)[:60]}")
        return
    event("built")
    assert y.shape == (1, 4, 4, channels)
    assert np.all(np.isfinite(y))


@SETTINGS
@given(channels=widths, group_size=group_sizes)
def test_transfers_build_or_raise_value_error(channels, group_size):
    for layer_class, out_channels in [
        (ChannelRestriction, channels // 2),
        (ChannelProlongation, channels * 2),
    ]:
        expect_error = not _valid_group_size(group_size)
        if layer_class is ChannelRestriction:
            expect_error = expect_error or channels % 2 == 1
        try:
            layer = layer_class(group_size)
            y = _run(layer, channels)
        except ValueError:
            assert expect_error, (layer_class.__name__, channels, group_size)
            continue
        assert not expect_error
        assert y.shape == (1, 4, 4, out_channels)
        assert np.all(np.isfinite(y))
        fine = channels if layer_class is ChannelRestriction else 2 * channels
        assert layer.groups == level_groups(fine, group_size)


@SETTINGS
@given(
    channels=st.integers(1, 64),
    filters=st.one_of(st.integers(-2, 64), st.sampled_from([8.0, None])),
    strides=st.one_of(st.integers(-1, 3), st.sampled_from([(2, 2), 2.0])),
)
def test_channel_transition_builds_or_raises_value_error(channels, filters, strides):
    expect_error = not (_valid_positive(filters) and _valid_positive(strides))
    try:
        y = _run(ChannelTransition(filters, strides=strides), channels)
    except ValueError:
        assert expect_error, (channels, filters, strides)
        return
    assert not expect_error
    size = -(-4 // strides)
    assert y.shape == (1, size, size, filters)
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("channels", [1, 2, 3, 17, 64, 96, 160])
@pytest.mark.parametrize("coarsest_size", [1, 5, 16])
@pytest.mark.parametrize("coarsening", ["reference", "literal"])
def test_level_widths_halve_down_to_the_coarsest_size(channels, coarsest_size, coarsening):
    widths = level_widths(channels, coarsest_size, coarsening)
    assert widths[0] == channels
    for level, (fine, coarse) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        first_of_reference = level == 0 and coarsening == "reference"
        assert fine % 2 == 0 and coarse == fine // 2
        assert fine >= coarsest_size or first_of_reference
    last = widths[-1]
    restricted_once = len(widths) > 1 or coarsening == "literal"
    assert last % 2 == 1 or (last < coarsest_size and restricted_once)


@pytest.mark.parametrize("width", [2, 6, 16, 24, 48, 96, 100])
@pytest.mark.parametrize("group_size", [2, 4, 8, 16, 32])
def test_level_groups_divide_the_half_width(width, group_size):
    groups = level_groups(width, group_size)
    assert (width // 2) % groups == 0 and width % groups == 0
    if width % group_size == 0:
        assert groups == width // group_size
    if width < group_size:
        assert groups == 1
    assert width // groups >= min(group_size, width)
