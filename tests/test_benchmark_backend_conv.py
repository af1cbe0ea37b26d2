"""The table row of benchmarks/backend_conv.py from hand-made timings (nothing timed)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "backend_conv.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def _comparison(script, matmul, matmul_ms):
    ms = {
        "keras.ops.conv": [100.0, 200.0],
        "keras_mgic": [1.0, 4.0],
        "split+concat": [5.0, 5.0],
        "block-diag": [2.0, 2.0],
        matmul: matmul_ms,
        "dense conv": [3.0, 3.0],
    }
    return script["bench"].Comparison("keras.ops.conv", ms)


def test_row_gives_speed_up_and_best_alternative_as_median_per_round_ratios(script):
    # per round keras.ops.conv / keras_mgic: 100, 50; keras_mgic / block-diag: 0.5, 2.0
    row = script["case_row"](3, 64, 8, _comparison(script, "shift+einsum", [8.0, 8.0]))
    assert row == [
        "3x3",
        64,
        8,
        8,
        "150.00",
        "2.50",
        "5.00",
        "2.00",
        "8.00",
        "3.00",
        "75.00 (50.00-100.00, 2 rounds)",
        "block-diag",
        "1.25 (0.50-2.00, 2 rounds)",
    ]


def test_einsum_and_shift_einsum_share_a_column(script):
    # per round keras_mgic / einsum: 1.0, 4.0
    row = script["case_row"](1, 256, 16, _comparison(script, "einsum", [1.0, 1.0]))
    assert row[8] == "1.00"
    assert row[-2:] == ["einsum / shift+einsum", "2.50 (1.00-4.00, 2 rounds)"]
