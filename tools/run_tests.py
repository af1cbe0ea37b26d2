"""Runs the test suite's stages, one Keras backend each, and says how each one ended.

``make test`` and ``make test-slow`` call this script. Every stage runs even when an earlier
one failed (a failure on TensorFlow must not hide the JAX and PyTorch results); the script
ends with one summary line per stage and exits non-zero if any stage failed.

Usage::

    python tools/run_tests.py fast   # the default suite (make test)
    python tools/run_tests.py slow   # the long end-to-end checks (make test-slow)

Stages (``fast``):

- ``tensorflow``: every test not marked ``slow``, on two pytest-xdist workers;
- ``jax`` and ``torch``: the tests marked ``backends`` (and not ``slow``).

``slow`` runs the tests marked ``slow`` on TensorFlow, then those also marked ``backends``
on JAX and PyTorch, with each library's default compiler settings (the default suite's are
lighter: ``LIGHT_COMPILATION``). Each stage prints its 15 slowest tests
(``--durations=15``), so growth is visible. Extra arguments after ``--`` go to every pytest
call (``-- -x -k resnet``).
"""

import os
import subprocess
import sys
import time

#: (stage name, KERAS_BACKEND, pytest marker expression, xdist workers or 0)
STAGES = {
    "fast": (
        ("tensorflow", "tensorflow", "not slow", 2),
        ("jax", "jax", "backends and not slow", 2),
        ("torch", "torch", "backends and not slow", 0),
    ),
    "slow": (
        ("tensorflow", "tensorflow", "slow", 2),
        ("jax", "jax", "backends and slow", 2),
        ("torch", "torch", "backends and slow", 2),
    ),
}
#: pytest's exit status when the marker expression selected no test: not a failure here.
NO_TESTS_COLLECTED = 5
#: With two pytest workers on two cores, each worker's kernels run on one thread: TensorFlow's
#: and OpenMP's default of one thread a core put four busy threads on two cores, which measured
#: 15% more CPU time and 25% more wall time for the same tests. (TensorFlow's inter-op pool
#: keeps its default: a MirroredStrategy's collective ops need more than one thread.) A value
#: set in the environment is kept.
ONE_THREAD_A_WORKER = {
    "TF_NUM_INTRAOP_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}

#: The default suite compiles with less optimization: its inputs are tiny, so compiling costs
#: far more than running. TensorFlow runs without its graph optimizer, Grappler
#: (tests/conftest.py reads MGIC_TEST_GRAPPLER; a small MGIC network's first ``fit`` step
#: measured 15 -> 10 s), and JAX's XLA compiles for the CPU at optimization level 0 (building
#: MGIC-LR-ASPP-Small on JAX, mostly compiling its initializers: 23 -> 11 s). ``make
#: test-slow`` runs with each library's defaults. A value set in the environment is kept.
LIGHT_COMPILATION = {
    "MGIC_TEST_GRAPPLER": "0",
    "XLA_FLAGS": "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true",
}


def pytest_command(marker, workers, extra):
    command = [sys.executable, "-m", "pytest", "-q", "-m", marker, "--durations=15"]
    if workers:
        # loadfile: a file's tests share one worker, so a module-scoped fixture (a trained
        # model, an export) is built once, not once per worker. Files go out in the order
        # tests/conftest.py sorts them (the longest first), not by their number of tests.
        command += ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"]
    return command + list(extra)


def last_summary_line(lines):
    """pytest's closing line ("== 12 passed, 1 failed in 3.4s =="), without the bars."""
    for line in reversed(lines):
        text = line.strip()
        if text.startswith("=") and " in " in text:
            return text.strip("= ")
        if text and (" passed" in text or " failed" in text or "no tests ran" in text):
            return text.strip("= ")
    return "no summary line (pytest did not finish)"


def run_stage(name, backend, marker, workers, extra, light_compilation=False):
    """Runs one stage with its output streamed through; returns (exit status, summary)."""
    print(f"\n===== stage {name}: KERAS_BACKEND={backend} pytest -m {marker!r}", flush=True)
    env = dict(os.environ, KERAS_BACKEND=backend)
    if light_compilation:
        env = {**LIGHT_COMPILATION, **env}
    if workers > 1:
        env = {**ONE_THREAD_A_WORKER, **env}
    start = time.monotonic()
    process = subprocess.Popen(
        pytest_command(marker, workers, extra),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line)
    status = process.wait()
    minutes = (time.monotonic() - start) / 60
    if status == NO_TESTS_COLLECTED:
        status = 0
    return status, f"{last_summary_line(lines)} ({minutes:.1f} min)"


def main(argv):
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    if len(argv) != 1 or argv[0] not in STAGES:
        print(f"usage: run_tests.py {{{','.join(STAGES)}}} [-- pytest args]", file=sys.stderr)
        return 2
    light = argv[0] == "fast"
    results = [
        (name, *run_stage(name, backend, marker, workers, extra, light))
        for name, backend, marker, workers in STAGES[argv[0]]
    ]
    print(f"\n===== {argv[0]} suite, one line per backend:")
    for name, status, summary in results:
        print(f"{name:>10}: {'ok    ' if status == 0 else 'FAILED'} {summary}")
    return 1 if any(status for _, status, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
