"""The table of benchmarks/jit_compile.py from hand-made timings (no model built)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "jit_compile.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_rows_give_the_median_ratio_xla_over_default_with_its_spread(script):
    comparison = script["bench"].Comparison(
        "default", {"default": [10.0, 20.0, 10.0], "xla": [20.0, 60.0, 25.0]}
    )  # per round 2.0, 3.0, 2.5
    lines = script["table"]({"resnet20": comparison, "mgic_resnet50": comparison}).splitlines()
    assert lines[2] == "| resnet20 | 32x32 | 10 | 25 | 2.50 (2.00-3.00, 3 rounds) |"
    assert lines[3].startswith("| mgic_resnet50 | 64x64 |")


def test_default_models_are_the_image_classifiers(script):
    assert set(script["QUICK_MODELS"]) <= set(script["MODELS"])
    assert "mgic_resnet50" in script["MODELS"] and "mgic_mobilenet_v3_small" in script["MODELS"]
    assert not any(
        name.startswith(("wide", "mgic_wide", "lraspp", "vit")) for name in script["MODELS"]
    )
