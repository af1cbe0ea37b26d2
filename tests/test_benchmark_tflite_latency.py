"""The tables of benchmarks/tflite_latency.py from hand-made timings (no model converted)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "tflite_latency.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_latency_ratios_are_medians_of_per_round_ratios_against_dense(script):
    ms = {
        "dense": [10.0, 20.0, 10.0],
        "mgic_default": [8.0, 16.0, 9.0],  # per round 0.8, 0.8, 0.9
        "mgic": [12.0, 30.0, 14.0],  # per round 1.2, 1.5, 1.4
        "mgic_literal": [9.0, 20.0, 11.0],  # per round 0.9, 1.0, 1.1
    }
    comparison = script["bench"].Comparison("dense", ms)
    lines = script["latency_table"]({1: comparison, 2: comparison}).splitlines()
    assert lines[2] == (
        "| 1 | 10.0 | 9.0 | 14.0 | 11.0 | 0.80 (0.80-0.90, 3 rounds) | 1.40 (1.20-1.50, 3 rounds) "
        "| 1.00 (0.90-1.10, 3 rounds) |"
    )
    assert lines[3].startswith("| 2 | 10.0 |")


def test_sizes_table_counts_macs_against_dense(script):
    info = {"dense": (5e6, 2e8, 2e7), "mgic": (4e6, 1e8, 1e7), "mgic_literal": (3e6, 3e8, 1e6)}
    info = {"dense": info["dense"], "mgic_default": (5e6, 1.3e8, 2e7), **info}
    lines = script["sizes_table"](info).splitlines()
    assert lines[2] == "| MobileNetV3-Large | 5.00M | 200M | 1.00 | 20.0 |"
    assert lines[3] == "| MGIC (default) | 5.00M | 130M | 0.65 | 20.0 |"
    assert lines[5] == "| MGIC (literal, s_c=128) | 3.00M | 300M | 1.50 | 1.0 |"
