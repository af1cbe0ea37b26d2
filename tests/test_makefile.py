"""``make demo`` installs only what the demo needs; ``make test`` adds the other backends.

Checked with ``make -n`` (print the commands, run nothing) in a fresh virtual environment path.
"""

import os
import shutil
import subprocess

import pytest

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(target, tmp_path):
    # Under `make test` the parent make's settings would reach this one (and make it print
    # "Entering directory" lines): run it as a top-level make.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", target, f"VENV={tmp_path / 'venv'}"],
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_demo_installs_tensorflow_cpu_and_the_data_extras_only(tmp_path):
    commands = _dry_run("demo", tmp_path)
    assert '-e ".[tensorflow-cpu,datasets]"' in commands
    for package in ("torch", "jax", "tests]"):
        assert package not in commands
    assert commands.rstrip().endswith("-m keras_mgic.demo")


def test_test_adds_the_other_backends_and_the_test_tools(tmp_path):
    commands = _dry_run("test", tmp_path)
    assert "torch==" in commands and "jax jaxlib" in commands
    assert '-e ".[tensorflow-cpu,tests]"' in commands
    assert "KERAS_BACKEND=jax" in commands and "KERAS_BACKEND=torch" in commands


def test_ci_runs_make_test():
    with open(os.path.join(REPO_DIR, ".ci", "run")) as f:
        assert "make test" in f.read()
