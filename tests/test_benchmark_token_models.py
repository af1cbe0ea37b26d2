"""benchmarks/token_models.py: the summary table and the figure from given results (the
training and timing themselves run in the benchmark, not here)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "token_models.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def _run(accuracy, seconds):
    return {
        "accuracy": accuracy,
        "curve": [accuracy / 2, accuracy],
        "epoch_s": seconds,
        "params": 2_500_000,
        "macs": 140_000_000,
    }


def _results():
    return [
        {"ViT": _run(0.98, 10.0), "MGIC-ViT": _run(0.96, 8.0)},
        {"ViT": _run(0.99, 12.0), "MGIC-ViT": _run(0.94, 9.0)},
    ]


def test_summary_has_mean_range_params_macs_and_seconds(script):
    rows = script["bench"].training_summary(_results())
    assert rows == [
        ("ViT", "98.5 (98.0-99.0)", "2.50M", "140M", "11.0"),
        ("MGIC-ViT", "95.0 (94.0-96.0)", "2.50M", "140M", "8.5"),
    ]


def test_plot_writes_the_figure(script, saved_figures):
    pytest.importorskip("matplotlib")
    script["plot"](_results(), epochs=2)
    assert [path.name for path in saved_figures] == ["token_models.png"]
    assert saved_figures[0].stat().st_size


def test_from_json_prints_the_section_without_running_anything(script, tmp_path, capsys):
    import json

    saved = {
        "training": _results(),
        "argv": ["token_models.py", "--write"],
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(saved))
    script["main"](["--from-json", str(path)])
    out = capsys.readouterr().out
    assert "`python benchmarks/token_models.py --write`" in out
    assert "| MGIC-ViT | 95.0 (94.0-96.0) | 2.50M | 140M | 8.5 |" in out
    assert "token_speed.py" in out  # the timings are that script's
    assert "2 seeds" in out and "docs/token_models.png" in out
