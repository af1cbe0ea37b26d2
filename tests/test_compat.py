"""keras_mgic.compat: each patch of private Keras code applies only while Keras needs it.

Each ``*_still_needed`` test fails once the installed Keras has fixed its bug: then set the
fixed version in ``keras_mgic.compat`` (``*_VERSIONS``) and delete the patch.
"""

import inspect
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.backend.tensorflow import trainer as tf_trainer
from process_limits import SUBPROCESS_TIMEOUT

from keras_mgic import compat


def test_version_gate():
    assert compat.applies(((3, 0, 0), None), version=(3, 15, 1))
    assert compat.applies(((3, 0, 0), (3, 16, 0)), version=(3, 15, 9))
    assert not compat.applies(((3, 0, 0), (3, 16, 0)), version=(3, 16, 0))
    assert not compat.applies(((3, 0, 0), None), version=(2, 15, 0))
    assert len(compat.keras_version()) == 3


def test_scalar_logs_patch_still_needed(monkeypatch):
    """Keras averages each step's logs with ``reduce("MEAN", v, axis=0)`` under a multi-worker
    strategy, which raises on a rank-0 loss; the patched reduction averages it."""
    assert compat.applies(compat.SCALAR_LOGS_VERSIONS)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    loss = strategy.run(lambda: tf.constant(2.0))
    monkeypatch.setattr(tf_trainer, "_collective_all_reduce_multi_worker", lambda s: True)
    with pytest.raises(ValueError, match="Invalid reduction dimension 0"):
        tf_trainer.reduce_per_replica(loss, strategy, "auto")
    monkeypatch.setattr(compat, "_multi_worker", lambda s: True)
    patched = compat.scalar_safe_reduce_per_replica(tf_trainer.reduce_per_replica)
    assert float(patched(loss, strategy, "auto")) == 2.0


def test_symbolic_build_patch_still_needed():
    """Keras still builds from a sample batch reduced across replicas, which fails under a
    multi-worker strategy (``Attempt to convert a value (PerReplica...) to a Tensor``: seen
    with Keras 3.15.1 and TensorFlow 2.21; ``test_multi_worker_fit_fails_without_patches``
    reproduces it)."""
    assert compat.applies(compat.SYMBOLIC_BUILD_VERSIONS)
    source = inspect.getsource(tf_trainer.TensorFlowTrainer._maybe_symbolic_build)
    assert "distribute_strategy.reduce(" in source


def test_no_patch_outside_multi_worker():
    import keras

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    original = tf_trainer.reduce_per_replica
    with compat.multi_worker_fit(model, tf.distribute.get_strategy()):
        assert tf_trainer.reduce_per_replica is original
        assert "_maybe_symbolic_build" not in vars(model)


@pytest.mark.slow
def test_multi_worker_fit_fails_without_patches(tmp_path):
    """Two local workers train with both patches switched off: Keras's multi-worker fit
    fails. Once this passes no more, the patches can go."""
    from test_distribute import _SCRIPT, _env, _free_port

    script = _SCRIPT.replace(
        "from keras_mgic.training import train",
        "from keras_mgic.training import train\nfrom keras_mgic import compat\n"
        "compat.SCALAR_LOGS_VERSIONS = compat.SYMBOLIC_BUILD_VERSIONS = ((99, 0, 0), None)",
    )
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", script, str(tmp_path / "run"), "multi-worker"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=_env(TF_CONFIG=tf_config),
                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            )
        )
    outputs = [worker.communicate(timeout=SUBPROCESS_TIMEOUT)[0] for worker in workers]
    assert all(worker.returncode != 0 for worker in workers)
    assert any("PerReplica" in text for text in outputs)


class TraceCountingModel(keras.Model):
    """Counts how often its training step is traced (Python runs once a trace)."""

    traces = 0

    def train_step(self, data):
        type(self).traces += 1
        return super().train_step(data)


def _fit_counting_traces(build_first):
    TraceCountingModel.traces = 0
    inputs = keras.Input((4,))
    model = TraceCountingModel(inputs, keras.layers.Dense(3)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse", metrics=["mae"])
    x, y = np.zeros((32, 4), "float32"), np.zeros((32, 3), "float32")
    if build_first:
        compat.build_training_state(model, (x[:1], y[:1]))
        assert model.optimizer.built and len(model.optimizer.variables) > 1
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    return TraceCountingModel.traces


def test_training_state_built_before_fit_leaves_one_trace():
    """Keras builds the optimizer and metrics inside the first traced step, so ``tf.function``
    traces the step twice; built first, once. (Once Keras traces once by itself, the first
    count fails: ``build_training_state`` can then go.)"""
    assert _fit_counting_traces(build_first=False) == 2
    assert _fit_counting_traces(build_first=True) == 1
