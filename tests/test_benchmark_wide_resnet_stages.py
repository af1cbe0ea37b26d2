"""The stage table of benchmarks/wide_resnet_stages.py from hand-made timings (no timing)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "wide_resnet_stages.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def _stage(script, mgic_infer, mgic_train):
    ms = {
        ("dense", "infer"): [10.0, 20.0, 10.0],
        ("mgic", "infer"): mgic_infer,
        ("dense", "train"): [4.0, 4.0, 8.0],
        ("mgic", "train"): mgic_train,
    }
    return script["bench"].Comparison(("dense", "infer"), ms)


def test_stage_ratios_are_medians_of_per_round_ratios_per_mode(script):
    rows = [
        ("32x32x160", [160, 80], _stage(script, [5.0, 16.0, 6.0], [2.0, 3.0, 2.0])),
        ("16x16x320", [320, 160], _stage(script, [3.0, 6.0, 3.0], [4.0, 4.0, 8.0])),
    ]
    lines = script["stage_table"](rows).splitlines()
    # inference per round 0.5, 0.8, 0.6; train 0.5, 0.75, 0.25
    assert lines[2] == (
        "| 32x32x160 | [160, 80] | 0.60 (0.50-0.80, 3 rounds) | 0.50 (0.25-0.75, 3 rounds) |"
    )
    assert lines[3].endswith("| 0.30 (0.30-0.30, 3 rounds) | 1.00 (1.00-1.00, 3 rounds) |")
    assert lines[4] == "| mean (equal dense cost per stage) |  | 0.45 | 0.75 |"
