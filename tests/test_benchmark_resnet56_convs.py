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
