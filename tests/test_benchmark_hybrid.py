"""The selection logic of benchmarks/hybrid.py (no model built, no timing)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "hybrid.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def _row(threshold, params, macs, layout="default"):
    return {"layout": layout, "threshold": threshold, "params": params, "macs": macs}


def _comparison(script, per_round):
    """A comparison of keys 0, 1, ... (row indices, 0 the dense row) from per-round ms."""
    return script["bench"].Comparison(0, dict(enumerate(per_round)))


@pytest.fixture()
def rows(script):
    counts = [
        _row(None, 100, 1000, layout="dense"),
        _row(None, 20, 400),  # slow in TFLite: max ratio 0.9
        _row(512, 30, 500),  # max ratio 0.7, the best
        _row(1024, 60, 700),  # max ratio 0.75
        _row(2048, 110, 800),  # fastest, but more parameters than dense
        _row(80, 90, 1000),  # fast, but as many MACs as dense
    ]
    tf = [10.0, 5.0, 7.0, 7.5, 1.0, 2.0]
    tflite = [4.0, 3.6, 2.8, 2.0, 1.0, 2.0]
    comparisons = {
        "tf": _comparison(script, [[t] for t in tf]),
        "tflite": _comparison(script, [[t] for t in tflite]),
    }
    return script["add_ratios"](counts, comparisons)


def test_ratios_are_relative_to_the_dense_row(rows):
    assert rows[0]["params_ratio"] == rows[0]["tflite_ratio"] == 1.0
    assert rows[2]["params_ratio"] == pytest.approx(0.3)
    assert rows[2]["macs_ratio"] == pytest.approx(0.5)
    assert rows[2]["tf_ratio"] == pytest.approx(0.7)
    assert rows[2]["tflite_ratio"] == pytest.approx(0.7)
    assert rows[2]["tf"] == 7.0 and rows[2]["tflite_text"] == "0.70 (0.70-0.70, 1 round)"


def test_time_ratios_are_medians_of_per_round_ratios(script):
    # per round 0.5, 0.8, 0.6: the median 0.6; the ratio of the medians would be 0.5
    tf = _comparison(script, [[10.0, 20.0, 10.0], [5.0, 16.0, 6.0]])
    tflite = _comparison(script, [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    counts = [_row(None, 100, 1000, layout="dense"), _row(None, 50, 500)]
    rows = script["add_ratios"](counts, {"tf": tf, "tflite": tflite})
    row = rows[1]
    assert row["tf"] == 6.0 and row["tf_ratio"] == pytest.approx(0.6)
    assert row["tf_text"] == "0.60 (0.50-0.80, 3 rounds)"
    assert (
        script["table"](rows)
        .splitlines()[-1]
        .endswith("| 0.50 | 0.50 | 0.60 (0.50-0.80, 3 rounds) | 1.00 (1.00-1.00, 3 rounds) |")
    )


def test_best_row_minimizes_the_worse_ratio_among_smaller_rows(script, rows):
    best = script["best_row"](rows)
    assert best["threshold"] == 512
    assert script["meets_target"](best)


def test_best_row_skips_rows_not_smaller_than_dense(script, rows):
    # the fastest rows have more parameters or as many MACs as the dense model
    assert script["best_row"](rows[:1] + rows[4:]) is None
    assert script["best_row"](rows[:2] + rows[4:])["threshold"] is None


def test_meets_target_needs_both_ratios_at_most_the_limit(script, rows):
    assert not script["meets_target"](rows[1])  # TFLite 0.9
    assert script["meets_target"](rows[3])
    assert not script["meets_target"](rows[4])  # more parameters than dense
    assert not script["meets_target"](rows[0])


def test_best_line_reports_a_missing_hybrid(script, rows):
    line = script["best_line"]("resnet50", rows[:1] + rows[4:])
    assert line.startswith("- ResNet-50: no hybrid")
    assert "target met" in script["best_line"]("resnet50", rows)


def test_sweep_covers_every_threshold_and_layout(script):
    resnet = list(script["variants"]("resnet50"))
    assert [v[1] for v in resnet] == [None, None, 512, 1024, 2048]
    assert resnet[0][2] == "resnet50" and resnet[1][3] == {"mgic_min_width": None}
    mobilenet = list(script["variants"]("mobilenet_v3_large"))
    assert len(mobilenet) == 1 + 4 * 4
    assert mobilenet[1][3] == {"mgic_min_width": None}  # the builders' default layout
    former = {"group_size": 64, "grouped_squeeze_excite": True, "mgic_min_width": 160}
    assert mobilenet[8][3] == {**former, "coarsening": "reference", "coarsest_size": 64}
    assert mobilenet[12][3] == {**former, "coarsening": "literal", "coarsest_size": 128}
    assert mobilenet[-1][3] == {
        **former,
        "coarsening": "reference",
        "group_size": 32,
        "coarsest_size": 64,
    }
