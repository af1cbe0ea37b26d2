"""The latency cells of benchmarks/export_parity.py's lowering table from hand-made timings."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "export_parity.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_latency_cells_give_the_median_per_round_ratio_lowered_over_native(script):
    # per round lowered / native: 2.0, 1.5
    ms = {"native": [1.0, 2.0], "lowered": [2.0, 3.0]}
    cells = script["latency_cells"](script["bench"].Comparison("native", ms))
    assert cells == ["1.50", "2.50", "1.75 (1.50-2.00, 2 rounds)"]
