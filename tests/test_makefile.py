"""``make demo`` installs only what the demo needs; ``make test`` adds the other backends.

Checked with ``make -n`` (print the commands, run nothing) in a fresh virtual environment path.
"""

import io
import os
import shutil
import subprocess
import sys

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
    assert commands.rstrip().endswith("tools/run_tests.py fast")
    assert _dry_run("test-slow", tmp_path).rstrip().endswith("tools/run_tests.py slow")


def test_every_backend_has_a_stage_in_both_suites():
    sys.path.insert(0, os.path.join(REPO_DIR, "tools"))
    try:
        import run_tests
    finally:
        sys.path.pop(0)
    for suite in ("fast", "slow"):
        assert [stage[1] for stage in run_tests.STAGES[suite]] == ["tensorflow", "jax", "torch"]
    fast_markers = [stage[2] for stage in run_tests.STAGES["fast"]]
    assert all("not slow" in marker for marker in fast_markers)
    assert fast_markers[1:] == ["backends and not slow"] * 2


def test_the_stage_runner_reads_pytest_summary_lines():
    sys.path.insert(0, os.path.join(REPO_DIR, "tools"))
    try:
        import run_tests
    finally:
        sys.path.pop(0)
    lines = ["....\n", "==== 3 passed, 1 failed in 2.00s ====\n", "\n"]
    assert run_tests.last_summary_line(lines) == "3 passed, 1 failed in 2.00s"
    assert run_tests.last_summary_line(["3 passed, 2 skipped in 9.1s\n"]) == (
        "3 passed, 2 skipped in 9.1s"
    )
    assert "did not finish" in run_tests.last_summary_line(["Killed\n"])


def test_ci_runs_make_test_then_make_test_slow():
    with open(os.path.join(REPO_DIR, ".ci", "run")) as f:
        script = f.read()
    assert "make test ||" in script and "make test-slow ||" in script
    assert script.index("make test ||") < script.index("make test-slow ||")
    assert "set -e" not in script.replace("set -euo", "")  # the second runs after a failure


def test_only_the_default_suite_compiles_with_light_settings(monkeypatch):
    """``make test`` turns off Grappler and XLA's CPU optimizations; ``make test-slow`` runs
    with the libraries' defaults; a value set by the caller is kept."""
    sys.path.insert(0, os.path.join(REPO_DIR, "tools"))
    try:
        import run_tests
    finally:
        sys.path.pop(0)
    environments = []

    class FakeProcess:
        def __init__(self, command, env, **kwargs):
            environments.append(env)
            self.stdout = iter(["1 passed in 0.10s\n"])

        def wait(self):
            return 0

    monkeypatch.setattr(run_tests.subprocess, "Popen", FakeProcess)
    monkeypatch.setattr(run_tests.sys, "stdout", io.StringIO())
    monkeypatch.delenv("MGIC_TEST_GRAPPLER", raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--mine")
    assert run_tests.main(["fast"]) == 0 and run_tests.main(["slow"]) == 0
    fast, slow = environments[:3], environments[3:]
    assert [env["MGIC_TEST_GRAPPLER"] for env in fast] == ["0"] * 3
    assert all("MGIC_TEST_GRAPPLER" not in env for env in slow)
    assert all(env["XLA_FLAGS"] == "--mine" for env in fast + slow)
