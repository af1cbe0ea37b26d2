"""benchmarks/token_speed.py: its tables and section from given worker payloads (the timing
itself runs in the benchmark, not here), and the worker command it starts."""

import argparse
import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "token_speed.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def _row(ratio, dense_ms, load=(1.0, 1.5)):
    return {
        "ratio": ratio,
        "low": ratio - 0.05,
        "high": ratio + 0.05,
        "rounds": 15,
        "dense_ms": dense_ms,
        "mgic_ms": ratio * dense_ms,
        "load": list(load),
    }


def _results():
    tensorflow = {
        "versions": {"keras": "3"},
        "rows": [
            {
                "subject": "feed-forward",
                "width": "ViT-S",
                "counts": {"params": [1000, 250], "macs": [2000, 600]},
                "modes": {
                    "train": _row(0.5, 60.0, load=(0.5, 0.7)),
                    "infer": _row(0.75, 20.0),
                    "tflite": _row(0.4, 2.0),
                },
            }
        ],
    }
    jax = {
        "versions": {"keras": "3"},
        "rows": [
            {
                "subject": "feed-forward",
                "width": "ViT-S",
                "modes": {"train": _row(0.9, 70.0), "infer": _row(0.8, 19.0, load=(1.1, 2.5))},
            }
        ],
    }
    return {"tensorflow": tensorflow, "jax": jax}


def _args(**kwargs):
    defaults = dict(
        widths=["ViT-S"], subjects=["feed-forward"], rounds=15, repeat=2, depth=2, batch=8
    )
    defaults.update(tokens=197, image=224, backends=["tensorflow", "tflite", "jax"])
    return argparse.Namespace(**{**defaults, **kwargs})


def test_tables_put_each_backend_and_mode_in_its_column(script):
    ratios, dense_ms = script["tables"](_results(), _args())
    row = ratios.splitlines()[2]
    assert row == (
        "| feed-forward | ViT-S (384 -> 1536) | 0.250 | 0.300 | 0.50 (0.45-0.55) | "
        "0.75 (0.70-0.80) | 0.90 (0.85-0.95) | 0.80 (0.75-0.85) | 0.40 (0.35-0.45) |"
    )
    assert dense_ms.splitlines()[2] == (
        "| feed-forward | ViT-S (384 -> 1536) | 60.0 | 20.0 | 70.0 | 19.0 | 2.0 |"
    )


def test_a_missing_backend_or_subject_shows_a_dash(script):
    results = _results()
    results["jax"] = {"skipped": "not installed"}
    ratios, _ = script["tables"](results, _args(subjects=["feed-forward", "ViT"]))
    jax_cells = ratios.splitlines()[2].split("|")[7:9]
    assert [cell.strip() for cell in jax_cells] == ["—", "—"]
    assert ratios.splitlines()[3].count("—") == 7  # ViT: no counts, no timings


def test_section_names_the_rounds_and_the_load_of_the_whole_run(script):
    text = script["section"](_results(), _args(), ["machine"], argv=["token_speed.py"])
    assert text.startswith("## Token models on TensorFlow, JAX and TFLite: MGIC over dense")
    assert "`python benchmarks/token_speed.py`" in text
    assert "load average 0.5 before the first pair, 2.5 after the last" in text
    assert "15 interleaved rounds" in text


def test_the_worker_command_carries_every_setting(script):
    args = _args(widths=["ViT-B"], subjects=["ViT", "Mixer"], depth=1, rounds=3)
    command = script["_worker_command"](args, "jax")
    assert command[1:4] == [str(SCRIPT), "--worker", "jax"]
    parsed = script["parse_args"](command[2:])
    for name in ("widths", "subjects", "depth", "rounds", "repeat", "batch", "backends"):
        assert getattr(parsed, name) == getattr(args, name), name
    assert parsed.worker == "jax"
