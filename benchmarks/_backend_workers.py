"""One worker process per Keras backend, for the benchmarks that compare backends.

Keras fixes its backend when it is first imported, so a script that times TensorFlow, JAX and
PyTorch starts itself again once per backend (``KERAS_BACKEND=...``, a hidden ``--worker``
argument); the worker prints its results as one JSON line on stdout, and the parent collects
them (``run_worker``). TFLite runs inside the TensorFlow worker (``worker_backends``).
"""

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

#: The module each worker's backend needs.
MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def worker_backends(backends):
    """The worker processes to start for ``backends``: TFLite runs in the TensorFlow one."""
    wanted = {"tensorflow" if b == "tflite" else b for b in backends}
    return [b for b in MODULES if b in wanted]


def distribution_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def version_line():
    """The versions of the optional backends installed here, for the parent's header."""
    names = ("jax", "jaxlib", "torch", "ai-edge-litert")
    found = [f"{n} {v}" for n in names if (v := distribution_version(n))]
    return ", ".join(found) or "no jax, torch or ai-edge-litert installed"


def versions(backend, tflite=False):
    """``{library: version}`` of the running worker's backend (and its TFLite runtime)."""
    info = {"keras": importlib.metadata.version("keras")}
    if backend == "tensorflow":
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        if tflite:
            from keras_mgic import export

            runtime = export.interpreter_class().__module__.split(".")[0]
            version = distribution_version(runtime.replace("_", "-"))
            info["tflite runtime"] = f"{runtime} {version}"
    elif backend == "jax":
        import jax

        info["jax"] = f"{jax.__version__} ({jax.default_backend()}, {jax.device_count()} device)"
    elif backend == "torch":
        import torch

        info["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    return info


def run_worker(command, backend):
    """Runs ``command`` with ``KERAS_BACKEND=backend`` and returns the JSON payload of its
    last ``{...}`` stdout line, or ``{"skipped": reason}`` when it cannot run or fails."""
    if importlib.util.find_spec(MODULES[backend]) is None:
        print(f"[{backend}] skipped: {MODULES[backend]} is not installed", flush=True)
        return {"skipped": "not installed"}
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        print(f"[{backend}] failed (exit {done.returncode})", flush=True)
        return {"skipped": f"failed (exit {done.returncode})"}
    return json.loads(lines[-1])


def worker_lines(results):
    """One line per worker: its library versions, or why it was skipped."""
    lines = []
    for backend, payload in results.items():
        if "skipped" in payload:
            lines.append(f"{backend} worker: {payload['skipped']}")
        else:
            versions = ", ".join(f"{k} {v}" for k, v in payload["versions"].items())
            lines.append(f"{backend} worker: {versions}")
    return lines


def check_backend(backend):
    """Imports Keras in a worker and checks it runs on ``backend``."""
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(f"expected Keras backend {backend}, got {keras.backend.backend()}")


def emit(payload):
    """Prints a worker's payload as its last stdout line."""
    print(json.dumps(payload), flush=True)


def stdout_to_stderr():
    """Keras's export prints to stdout; a worker keeps stdout for its JSON line."""
    return contextlib.redirect_stdout(sys.stderr)


def serve(backend, tflite, measure_rows):
    """A worker's whole life: checks its backend, runs ``measure_rows(tmp)`` (the rows, a
    list; ``tmp`` a scratch folder for exported files) with stdout kept for the payload, and
    prints ``{"backend", "versions", "rows"}`` as its last line."""
    with stdout_to_stderr():
        check_backend(backend)
        payload = {"backend": backend, "versions": versions(backend, tflite=tflite)}
        with tempfile.TemporaryDirectory() as tmp:
            payload["rows"] = measure_rows(tmp)
    emit(payload)
