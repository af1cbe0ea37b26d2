"""The table row of benchmarks/grouped_conv.py from hand-made timings (no layer built)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "grouped_conv.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_row_gives_median_per_round_ratios_against_keras_and_ours(script):
    # per round ours / keras: 0.1, 0.2; matmul / ours: 2.0, 1.0
    ms = {"keras": [10.0, 20.0], "ours": [1.0, 4.0], "matmul": [2.0, 4.0]}
    row = script["case_row"](1, 64, 8, script["bench"].Comparison("keras", ms))
    assert row == (
        "1x1",
        64,
        8,
        "15.00",
        "2.50",
        "3.00",
        "0.150 (0.100-0.200, 2 rounds)",
        "1.50 (1.00-2.00, 2 rounds)",
    )


def test_row_without_the_matmul_lowering_leaves_its_cells_empty(script):
    ms = {"keras": [10.0, 20.0], "ours": [1.0, 4.0]}
    row = script["case_row"](3, 64, 8, script["bench"].Comparison("keras", ms))
    assert row[:3] == ("3x3", 64, 8) and row[5] == "-" and row[7] == "-"
