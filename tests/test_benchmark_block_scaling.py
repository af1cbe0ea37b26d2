"""The table rows of benchmarks/block_scaling.py from hand-made timings (no block built)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "block_scaling.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_rows_give_growth_from_the_first_width_and_median_per_round_ratios(script):
    comparison = script["bench"].Comparison
    results = [
        (128, comparison("dense", {"dense": [10.0, 20.0], "mgic": [5.0, 10.0]}), 10, 20),
        # per round MGIC / dense: 0.2, 0.3
        (256, comparison("dense", {"dense": [40.0, 80.0], "mgic": [8.0, 24.0]}), 1000, 2000),
    ]
    rows = script["scaling_rows"](results)
    assert rows[0] == (
        128,
        "7.5",
        "15.0",
        "1.00x",
        "1.00x",
        "0.50 (0.50-0.50, 2 rounds)",
        "10",
        "20",
    )
    assert rows[1] == (
        256,
        "16.0",
        "60.0",
        "2.13x",
        "4.00x",
        "0.25 (0.20-0.30, 2 rounds)",
        "1,000",
        "2,000",
    )
