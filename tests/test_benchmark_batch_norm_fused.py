"""The step-time row of benchmarks/batch_norm_fused.py from hand-made timings (no timing)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "batch_norm_fused.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_step_row_reports_the_median_of_per_round_ratios(script):
    # per round keras / fused: 1.5, 1.2, 2.0 (a load spike hitting keras alone in round 3)
    ms = {"fused": [10.0, 20.0, 10.0], "keras": [15.0, 24.0, 20.0]}
    comparison = script["bench"].Comparison("fused", ms)
    row = script["step_row"]("DGCNN", comparison)
    assert row == ["DGCNN", "10.0", "20.0", "1.50 (1.20-2.00, 3 rounds)"]
