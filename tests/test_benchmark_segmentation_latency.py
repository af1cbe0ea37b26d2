"""The latency table of benchmarks/segmentation_latency.py from hand-made timings."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "segmentation_latency.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_ratios_are_medians_of_per_round_ratios_against_each_twin(script):
    converted = {
        "LR-ASPP-Small": ("a", 1e6, 2e9),
        "MGIC-Small (default)": ("b", 5e5, 1e9),
        "LR-ASPP-Large": ("c", 3e6, 8e9),
        "MGIC-Large (default)": ("d", 1e6, 2e9),
    }
    ms = {
        "LR-ASPP-Small": [10.0, 20.0, 10.0],
        "MGIC-Small (default)": [5.0, 16.0, 6.0],  # per round 0.5, 0.8, 0.6
        "LR-ASPP-Large": [40.0, 40.0, 40.0],
        "MGIC-Large (default)": [10.0, 30.0, 20.0],  # per round 0.25, 0.75, 0.5
    }
    comparison = script["bench"].Comparison("LR-ASPP-Small", ms)
    lines = script["table"](converted, {1: comparison, 2: comparison}).splitlines()
    assert lines[2] == "| LR-ASPP-Small | 1.000M | 2.00B | 10 | 10 | – | – | – |"
    small = "0.60 (0.50-0.80, 3 rounds)"
    assert (
        lines[3] == f"| MGIC-Small (default) | 0.500M | 1.00B | 6 | 6 | 0.50 | {small} | {small} |"
    )
    large = "0.50 (0.25-0.75, 3 rounds)"
    assert lines[5].endswith(f"| 20 | 20 | 0.25 | {large} | {large} |")
