"""The crossover logic and tables of benchmarks/crossover.py (no model built, no timing)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "crossover.py"
WIDTHS = [32, 64, 128, 256]


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


@pytest.mark.parametrize(
    "values, expected",
    [
        ([1.5, 0.9, 1.1, 0.8], 256),  # dips below 1 at 64, comes back at 128
        ([1.5, 1.2, 0.9, 0.7], 128),
        ([0.9, 0.8, 0.7, 0.5], 32),  # all below 1
        ([1.5, 1.2, 1.1, 1.0], None),  # never below 1 (1.0 is not below)
        ([1.5, 0.9, 0.8, 1.3], None),  # below 1 in the middle only
        ([1.5, 0.9, None, 0.8], 256),  # a missing width breaks the run
    ],
)
def test_crossover(script, values, expected):
    assert script["crossover"](dict(zip(WIDTHS, values, strict=True))) == expected


def test_format_crossover(script):
    fmt = script["format_crossover"]
    assert fmt(dict(zip(WIDTHS, [1.5, 1.2, 1.1, 1.0], strict=True))) == "none up to 256"
    assert fmt(dict(zip(WIDTHS, [1.5, 0.9, 0.8, 0.7], strict=True))) == "64"
    assert fmt(dict.fromkeys(WIDTHS)) == "—"  # backend skipped


def _results(train, infer, tflite=None):
    """A fake TensorFlow worker payload for size 8, one round: MGIC = ratio ms (infer: twice
    the ratio), dense = 1 ms (infer: 2 ms)."""
    rows = []
    for i, width in enumerate(WIDTHS):
        ms = {
            "train": {"mgic": [train[i]], "dense": [1.0]},
            "infer": {"mgic": [infer[i]], "dense": [2.0]},
        }
        if tflite:
            ms["tflite"] = {"mgic": [tflite[i]], "dense": [1.0]}
        params = {"mgic": 1000 * width, "dense": 2000 * width}
        row = {"size": 8, "width": width, "params": params, "ms": ms, "load": [0.5 + i, 1.0 + i]}
        rows.append(row)
    return {"tensorflow": {"rows": rows}, "jax": {"skipped": "not installed"}}


def test_ratios_divide_mgic_by_dense(script):
    results = _results([1.5, 1.0, 0.5, 0.25], [3.0, 2.0, 1.0, 0.5])
    table = script["ratios"](results, 8, WIDTHS)
    assert table["TF train"] == {32: 1.5, 64: 1.0, 128: 0.5, 256: 0.25}
    assert table["TF inference"] == {32: 1.5, 64: 1.0, 128: 0.5, 256: 0.25}
    assert set(table["TFLite"].values()) == {None}  # not measured
    assert set(table["JAX train"].values()) == {None}  # skipped backend


def test_ratio_table_shows_formatted_ratios_and_params(script):
    results = _results([1.5, 1.234, 0.5, 0.25], [3.0, 2.0, 1.0, 0.5], tflite=[0.9, 0.8, 0.7, 0.6])
    text = script["ratio_table"](results, 8, WIDTHS)
    lines = text.splitlines()
    assert lines[0].startswith("| width | dense params | MGIC params | TF train | TF inference")
    assert len(lines) == 2 + len(WIDTHS)
    one = "(1.23-1.23, 1 round) | 1.00 (1.00-1.00, 1 round) | 0.80 (0.80-0.80, 1 round)"
    assert lines[3] == f"| 64 | 128,000 | 64,000 | 1.23 {one} | — | — | — | — |"
    assert "| 256 | 512,000 | 256,000 | 0.25 (0.25-0.25, 1 round) | 0.25 (" in text


def test_ratios_are_medians_of_per_round_ratios(script):
    results = _results([1.0] * 4, [1.0] * 4)
    # width 32, train: per round 0.5, 0.8, 0.6 -> 0.6 (the ratio of the medians: 0.5)
    results["tensorflow"]["rows"][0]["ms"]["train"] = {
        "mgic": [5.0, 16.0, 6.0],
        "dense": [10.0, 20.0, 10.0],
    }
    assert script["ratios"](results, 8, WIDTHS)["TF train"][32] == pytest.approx(0.6)
    comparison = script["comparisons"](results, 8, WIDTHS)["TF train"][32]
    assert comparison.describe("mgic") == "0.60 (0.50-0.80, 3 rounds)"
    assert (comparison.load_before, comparison.load_after) == (0.5, 1.0)
    assert "| 32 | 64,000 | 32,000 | 0.60 (0.50-0.80, 3 rounds) |" in script["ratio_table"](
        results, 8, WIDTHS
    )


def test_run_load_spans_the_first_and_last_measurement(script):
    assert script["run_load"](_results([1.0] * 4, [1.0] * 4)) == (0.5, 4.0)
    assert script["run_load"]({"jax": {"skipped": "not installed"}}) == (None, None)


def test_crossover_table(script):
    results = _results([1.5, 1.2, 0.5, 0.25], [0.5, 0.5, 0.5, 0.5], tflite=[0.9, 1.2, 1.1, 1.0])
    text = script["crossover_table"](results, [8], WIDTHS)
    assert "| TF train | 128 |" in text
    assert "| TF inference | 32 |" in text
    assert "| TFLite | none up to 256 |" in text
    assert "| JAX train | — |" in text


def test_worker_backends_run_tflite_in_the_tensorflow_worker(script):
    assert script["workers"].worker_backends(["tflite", "torch"]) == ["tensorflow", "torch"]
    assert script["workers"].worker_backends(["jax"]) == ["jax"]
