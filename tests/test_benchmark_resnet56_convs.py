"""The pieces of benchmarks/resnet56_convs.py that its table rests on (no timing asserted)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "resnet56_convs.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_level_shapes_follow_the_coarsening_rule(script):
    # group size 8, coarsest size 16: halve while the width is at least 16
    assert script["level_shapes"](16) == [(16, 2), (8, 1)]
    assert script["level_shapes"](64) == [(64, 8), (32, 4), (16, 2), (8, 1)]


def test_graph_op_counts(script):
    dense = script["graph_op_counts"]("resnet56")
    # stem + 27 blocks x 2 + 2 projection shortcuts; a BatchNorm after each
    assert dense["Conv2D"] == 57 and dense["FusedBatchNormV3"] == 57
    assert dense.get("Sub", 0) == 0
    mgic = script["graph_op_counts"]("mgic_resnet56")
    # one subtraction per coarse-fine transition: 9 blocks x (1 + 2 + 3) levels below the top
    assert mgic["Sub"] == 54
    assert mgic["Conv2D"] > 4 * dense["Conv2D"]


SHAPES = [
    ("8x8", "ResNet-56", 64, 1),
    ("8x8", "MGIC level 0", 64, 4),
    ("4x4", "ResNet-56", 64, 1),
    ("4x4", "MGIC level 0", 64, 4),
]


def _comparison(script):
    """Hand-made timings of ``SHAPES`` (ms of a chain of ten convolutions per round)."""
    ms = {
        ("8x8", "ResNet-56"): [10.0, 20.0],
        ("8x8", "MGIC level 0"): [5.0, 20.0],  # per round over the stage's dense: 0.5, 1.0
        ("4x4", "ResNet-56"): [30.0, 20.0],
        ("4x4", "MGIC level 0"): [15.0, 40.0],
    }
    return script["bench"].Comparison(("8x8", "ResNet-56"), ms)


def test_conv_rows_compare_each_conv_with_its_stage_dense_conv(script):
    rows = script["conv_rows"](1, SHAPES, _comparison(script))
    assert rows[0] == ("8x8", "ResNet-56", 64, 1, "1.500", "1.00 (1.00-1.00, 2 rounds)", "2.4", "2")
    assert rows[1] == (
        "8x8",
        "MGIC level 0",
        64,
        4,
        "1.250",
        "0.75 (0.50-1.00, 2 rounds)",
        "0.6",
        "0",
    )
    assert rows[3][5] == "1.25 (0.50-2.00, 2 rounds)"


def test_summary_ratio_is_the_median_of_per_round_ratios_of_the_sums(script):
    # per round, dense: 4 and 4 ms, MGIC levels: 2 and 6 ms
    text = script["summary"](1, SHAPES, _comparison(script))
    assert "ResNet-56 4.00 ms for 3M MACs, MGIC levels 4.00 ms for 1M MACs" in text
    assert "(time ratio 1.00 (0.50-1.50, 2 rounds), MACs ratio 0.25)" in text
