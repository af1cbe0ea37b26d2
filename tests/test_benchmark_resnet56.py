"""The timing and table of benchmarks/resnet56.py with hand-made timings (no model built)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "resnet56.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_compare_interleaved_times_every_mode_of_every_model(script):
    calls = []
    prepared = {
        key: (
            lambda k=key: calls.append((k, "train")),
            lambda k=key: calls.append((k, "infer")),
            {},
        )
        for key in ("dense", "mgic")
    }
    comparison = script["compare_interleaved"](prepared, rounds=3, repeat=1)
    assert comparison.baseline == ("dense", "train") and comparison.rounds == 3
    assert set(comparison.ms) == {(k, m) for k in prepared for m in ("train", "infer")}
    assert calls[-4:] == [
        ("dense", "train"),
        ("dense", "infer"),
        ("mgic", "train"),
        ("mgic", "infer"),
    ]


def test_table_ratios_are_medians_of_per_round_ratios_per_mode(script):
    ms = {
        ("dense", "train"): [10.0, 20.0, 10.0],
        ("mgic", "train"): [5.0, 14.0, 6.0],  # per round 0.5, 0.7, 0.6
        ("dense", "infer"): [4.0, 4.0, 4.0],
        ("mgic", "infer"): [2.0, 3.0, 1.0],  # per round 0.5, 0.75, 0.25
    }
    comparison = script["bench"].Comparison(("dense", "train"), ms)
    infos = {"dense": {"params": 2e6, "flops": 4e8}, "mgic": {"params": 1e6, "flops": 1e8}}
    lines = script["table"](infos, comparison).splitlines()
    assert lines[2] == "| ResNet-56 | 2.000M | 400.0M | 10 | 4 |"
    assert lines[3] == "| MGIC-ResNet-56 (8/16) | 1.000M | 100.0M | 6 | 2 |"
    assert lines[4] == (
        "| ratio MGIC / dense | 0.50 | 0.25 | 0.60 (0.50-0.70, 3 rounds) "
        "| 0.50 (0.25-0.75, 3 rounds) |"
    )
