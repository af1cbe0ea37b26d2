"""A ``.keras`` file saved on one Keras backend loads on the others with the same outputs.

Every installed backend of TensorFlow, JAX and PyTorch builds a model in a fresh process,
gives every BatchNormalization random statistics (so that inference mode is not close to the
identity), saves it as ``.keras`` and records its logits; then, once every backend has saved,
each process loads every file and computes the logits again. All source/target pairs (a
backend loading its own file included) must agree within 1e-4 of the logits' scale.

- Default suite: a small functional model of the package's layers (a ChannelTransition, an
  MGICBlock of residual blocks and one of inverted residual blocks, the package's
  BatchNormalization) between TensorFlow and JAX, the whole save/load matrix in about half a
  minute. (The default suite saves and reloads the layers on PyTorch in its PyTorch stage.)
- ``slow`` (``make test-slow``): the same model on all three backends, and MGIC-ResNet-20
  (16x16) and a narrow MGIC-MobileNetV3-Small (32x32) built by ``keras_mgic.models`` (their
  JAX compilation takes minutes on two cores).

The test starts its own subprocesses with ``KERAS_BACKEND`` set, so the backend of the pytest
process does not matter.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from process_limits import SUBPROCESS_TIMEOUT
from small_models import MGIC_MODELS

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = [
    backend
    for backend in ("tensorflow", "jax", "torch")
    if importlib.util.find_spec(backend) is not None
]
TOLERANCE = 1e-4  # max |difference| over max |logits|
#: The default suite's case: the package's layers in a small model (the script builds it).
LAYERS_MODEL = {"layers": dict(input_shape=(8, 8, 3), classes=5)}

_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np
    import keras
    import keras_mgic

    job_dir = sys.argv[1]
    backend = keras.backend.backend()
    with open(os.path.join(job_dir, "job.json")) as f:
        job = json.load(f)
    def layers_model(input_shape, classes):
        layers = keras_mgic.layers
        inputs = keras.Input(input_shape)
        x = keras.layers.Conv2D(16, 3, padding="same")(inputs)
        x = keras_mgic.MGICBlock(group_size=4, coarsest_size=4)(x)
        x = layers.ChannelTransition(32, strides=2)(x)
        x = keras_mgic.MGICBlock(
            4, 8, block="inverted_residual", block_kwargs={"expansion_ratio": 2}
        )(x)
        x = layers.BatchNormalization()(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(classes)(x))

    def save(name, kwargs, x):
        keras.utils.set_random_seed(0)
        kwargs = dict(kwargs, input_shape=tuple(kwargs["input_shape"]))
        if name == "layers":
            model = layers_model(**kwargs)
        else:
            model = keras_mgic.models.get_model(name, classifier_activation=None, **kwargs)
        rng = np.random.default_rng(1)
        for layer in model._flatten_layers():
            if isinstance(layer, keras.layers.BatchNormalization):
                c = layer.moving_mean.shape[0]
                layer.set_weights([
                    rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c),
                    rng.normal(0, 0.1, c), rng.uniform(0.5, 1.5, c),
                ])
        model.save(os.path.join(job_dir, f"{name}-{backend}.keras"))
        np.save(os.path.join(job_dir, f"{name}-{backend}-logits.npy"),
                model.predict(x, verbose=0))

    inputs = {name: np.load(os.path.join(job_dir, name + "_x.npy")) for name in job["models"]}
    for name, kwargs in job["models"].items():
        save(name, kwargs, inputs[name])
    open(os.path.join(job_dir, backend + ".saved"), "w").close()
    # Every backend's files are complete once its marker exists (the test kills this
    # process if another one fails).
    while not all(os.path.exists(os.path.join(job_dir, b + ".saved")) for b in job["backends"]):
        time.sleep(0.2)
    for name in job["models"]:
        for source in job["backends"]:
            model = keras.saving.load_model(os.path.join(job_dir, f"{name}-{source}.keras"))
            np.save(os.path.join(job_dir, f"{name}-{source}-on-{backend}.npy"),
                    model.predict(inputs[name], verbose=0))
    """
)


def _run_backends(job_dir, backends):
    """One process a backend, all at once: each saves its files, waits until every backend
    has saved, then loads every file. A process that fails stops the others."""
    processes, logs = {}, {}
    for backend in backends:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        logs[backend] = open(os.path.join(job_dir, backend + ".log"), "w+")
        processes[backend] = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, job_dir],
            cwd=REPO_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=logs[backend],
        )
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT
    try:
        while any(p.poll() is None for p in processes.values()):
            failed = [b for b, p in processes.items() if p.returncode not in (None, 0)]
            if failed or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    failures = []
    for backend, process in processes.items():
        if process.returncode != 0:
            logs[backend].seek(0)
            failures.append(
                f"{backend} exited {process.returncode}:\n{logs[backend].read()[-3000:]}"
            )
        logs[backend].close()
    assert not failures, "\n\n".join(failures)


def _check_matrix(models, tmp_path, backends=BACKENDS):
    if len(backends) < 2:
        pytest.skip(f"needs two Keras backends installed; found {backends}")
    job_dir = str(tmp_path)
    with open(os.path.join(job_dir, "job.json"), "w") as f:
        json.dump({"models": models, "backends": backends}, f)
    rng = np.random.default_rng(2)
    for name, kwargs in models.items():
        x = rng.normal(size=(4, *kwargs["input_shape"])).astype("float32")
        np.save(os.path.join(job_dir, name + "_x.npy"), x)

    _run_backends(job_dir, backends)

    errors, report = {}, []
    for name in models:
        reference = {
            source: np.load(os.path.join(job_dir, f"{name}-{source}-logits.npy"))
            for source in backends
        }
        for source in backends:
            saved = reference[source]
            scale = np.abs(saved).max()
            assert saved.shape == (4, models[name]["classes"]) and scale > 0.1
            for target in backends:
                loaded = np.load(os.path.join(job_dir, f"{name}-{source}-on-{target}.npy"))
                error = float(np.abs(loaded - saved).max() / scale)
                errors[(name, source, target)] = error
                report.append(f"{name}: saved on {source}, loaded on {target}: {error:.2e}")
    print("\n".join(report))  # shown with `pytest -s`
    bad = [line for line, error in zip(report, errors.values(), strict=True) if error > TOLERANCE]
    assert not bad, "relative errors above 1e-4:\n" + "\n".join(bad)
    assert len(errors) == len(models) * len(backends) ** 2


def test_keras_files_of_the_layers_load_on_tensorflow_and_jax_with_the_same_outputs(tmp_path):
    _check_matrix(LAYERS_MODEL, tmp_path, [b for b in BACKENDS if b != "torch"])


@pytest.mark.slow
def test_keras_files_of_the_layers_load_on_every_backend_with_the_same_outputs(tmp_path):
    _check_matrix(LAYERS_MODEL, tmp_path)


@pytest.mark.slow
def test_keras_files_of_the_builders_load_on_every_backend_with_the_same_outputs(tmp_path):
    _check_matrix(MGIC_MODELS, tmp_path)
