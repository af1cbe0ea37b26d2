"""Every example script runs end to end in its smoke mode (subprocess, timeout).

Whole example scripts (each a new process that imports TensorFlow, trains and saves) run in
``make test-slow``; the demo's table formatting is checked in the default suite.
"""

import ast
import os
import subprocess
import sys

import pytest
from process_limits import SUBPROCESS_TIMEOUT

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = SUBPROCESS_TIMEOUT


def _run(args, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("KERAS_MGIC_SMOKE", None)
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def _example(name):
    return os.path.join(REPO_DIR, "examples", name)


@pytest.mark.slow
def test_train_cifar10_smoke(tmp_path):
    out = _run([_example("train_cifar10.py"), "--smoke", "--output", "run"], tmp_path)
    assert "dtype policy: mixed_bfloat16" in out  # CPU here; mixed_float16 on a GPU
    assert "mgic_resnet20:" in out and "test accuracy" in out
    for path in ("model.keras", "log.csv", os.path.join("checkpoints", "last.keras")):
        assert (tmp_path / "run" / path).exists(), path


@pytest.mark.slow
def test_segmentation_smoke(tmp_path):
    out = _run([_example("segmentation.py"), "--smoke", "--output", "run"], tmp_path)
    assert "MGICLRASPPMobileNetV3Small:" in out and "test mean IoU" in out
    assert "per-class IoU: {'background':" in out
    line = next(line for line in out.splitlines() if line.startswith("TFLite float32:"))
    assert "per-pixel agreement 100.00%" in line and "mean IoU" in line
    for path in ("model.keras", "model.tflite"):
        assert (tmp_path / "run" / path).exists(), path


@pytest.mark.slow
def test_sequential_mgic_smoke(tmp_path):
    out = _run([_example("sequential_mgic.py"), "--smoke"], tmp_path)
    assert "MGICBlock" in out and "test accuracy" in out
    assert "saved and reloaded: same predictions" in out


@pytest.mark.slow
def test_custom_block_smoke(tmp_path):
    out = _run([_example("custom_block.py"), "--smoke"], tmp_path)
    line = next(line for line in out.splitlines() if line.startswith("levels (filters, groups)"))
    levels = ast.literal_eval(line.split(":", 1)[1].strip())
    assert levels[:2] == [(32, 4), (16, 2)] and levels[-1][1] == 1
    assert all(b[0] * 2 == a[0] for a, b in zip(levels, levels[1:], strict=False))
    assert "block in the config: my_project>GroupedGELUBlock" in out
    assert "saved and reloaded: same predictions" in out


def test_demo_table_format():
    from keras_mgic.demo import format_table

    table = format_table(
        [
            {
                "name": "MGIC",
                "test_accuracy": 0.987,
                "params": 104890,
                "flops": 25670272,
                "seconds_per_epoch": 4.2,
            },
            {
                "name": "dense",
                "test_accuracy": 0.99,
                "params": 272474,
                "flops": None,
                "seconds_per_epoch": None,
            },
        ]
    )
    lines = table.splitlines()
    assert lines[0].split(" | ")[0].strip() == "model" and len(lines) == 4
    assert "98.70%" in lines[2] and "104.89K" in lines[2] and "25.67M" in lines[2]
    assert "n/a" in lines[3]


@pytest.mark.slow
def test_demo_quick(tmp_path):
    out = _run(["-m", "keras_mgic.demo", "--quick", "--output", "demo"], tmp_path)
    assert "MGIC-ResNet-20" in out and "ResNet-20" in out and "Total wall time" in out
    assert (tmp_path / "demo" / "learning_curves.png").exists()
    assert (tmp_path / "demo" / "results.json").exists()
