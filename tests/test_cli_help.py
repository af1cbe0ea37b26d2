"""``keras-mgic --help`` answers without importing Keras or TensorFlow, and ``import
keras_mgic`` imports the core only, not the tools."""

import os
import subprocess
import sys

import pytest
from process_limits import SUBPROCESS_TIMEOUT

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(os.path.dirname(sys.executable), "keras-mgic")


def _python(code):
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        timeout=SUBPROCESS_TIMEOUT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def test_the_parser_imports_neither_keras_nor_tensorflow():
    code = (
        "import sys; sys.argv = ['keras-mgic']; import keras_mgic.cli as cli; "
        "cli.build_parser(); print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))"
    )
    assert _python(code) == "[]"


@pytest.mark.skipif(not os.path.exists(SCRIPT), reason="the console script is not installed")
def test_help_answers_without_tensorflow_log_lines():
    result = subprocess.run(
        [SCRIPT, "--help"], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT
    )
    assert result.returncode == 0 and result.stderr == ""
    assert "train" in result.stdout and "bench" in result.stdout


@pytest.mark.skipif(not os.path.exists(SCRIPT), reason="the console script is not installed")
def test_help_imports_neither_keras_nor_tensorflow():
    """``--help`` answers at once because it imports no framework (checked by what is
    imported, not by a clock: importing TensorFlow alone takes seconds)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", SCRIPT, "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert result.returncode == 0 and "train" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "keras_mgic.cli" in imported
    assert not {name for name in imported if name.split(".")[0] in ("keras", "tensorflow")}


def test_import_keras_mgic_imports_the_core_but_not_the_tools():
    code = (
        "import sys, keras_mgic; "
        "tools = ('data', 'training', 'export', 'demo', 'compat'); "
        "print(sorted(t for t in tools if 'keras_mgic.' + t in sys.modules), "
        "keras_mgic.MGICBlock.__name__, callable(keras_mgic.count_flops), "
        "keras_mgic.training.train.__name__, 'keras_mgic.training' in sys.modules)"
    )
    assert _python(code) == "[] MGICBlock True train True"
