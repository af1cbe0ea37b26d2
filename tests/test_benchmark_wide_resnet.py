"""The table of benchmarks/wide_resnet.py with hand-made timings (no model built)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "wide_resnet.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_table_ratios_are_medians_of_per_round_ratios_per_mode(script):
    comparison = script["bench"].Comparison
    tensorflow = comparison(
        ("dense", "train"),
        {
            ("dense", "train"): [10.0, 20.0, 10.0],
            ("mgic", "train"): [5.0, 14.0, 6.0],  # per round 0.5, 0.7, 0.6
            ("dense", "infer"): [4.0, 4.0, 4.0],
            ("mgic", "infer"): [2.0, 3.0, 1.0],  # per round 0.5, 0.75, 0.25
        },
    )
    tflite = comparison(
        ("dense", "tflite"),
        {("dense", "tflite"): [2.0, 4.0, 2.0], ("mgic", "tflite"): [1.0, 1.0, 0.8]},
    )  # per round 0.5, 0.25, 0.4
    infos = {"dense": {"params": 2e6, "flops": 4e9}, "mgic": {"params": 1e6, "flops": 1e8}}
    labels = {"dense": "WRN", "mgic": "MGIC-WRN"}
    lines = script["table"](infos, {"tf": tensorflow, "tflite": tflite}, labels).splitlines()
    assert lines[2] == "| WRN | 2.00M | 4.00G | 10 | 4 | 2.0 |"
    assert lines[3] == "| MGIC-WRN | 1.00M | 100.0M | 6 | 2 | 1.0 |"
    assert lines[4] == (
        "| ratio MGIC / dense | 0.50 | 0.03 | 0.60 (0.50-0.70, 3 rounds) "
        "| 0.50 (0.25-0.75, 3 rounds) | 0.40 (0.25-0.50, 3 rounds) |"
    )
