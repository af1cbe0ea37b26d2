"""``train(distribute=...)`` on this CPU: MirroredStrategy over two logical CPUs, and
MultiWorkerMirroredStrategy with two local worker processes on loopback ports.

Both run in subprocesses: logical devices and collective ops must be configured before
TensorFlow initialises its devices, which the test process has already done. Whole training
runs in new processes (about a minute of CPU together): ``make test-slow``. The default
suite checks the segmentation metric under MirroredStrategy in-process
(tests/test_segmentation_training.py).
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from process_limits import SUBPROCESS_TIMEOUT

pytestmark = pytest.mark.slow

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = SUBPROCESS_TIMEOUT

_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf

    if sys.argv[2] == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )

    import keras
    import keras_mgic
    from keras_mgic.training import train


    def tiny_mgic(input_shape, classes):
        inputs = keras.Input(input_shape)
        x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras_mgic.MGICBlock(group_size=4, coarsest_size=4)(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        outputs = keras.layers.Dense(classes, activation="softmax")(x)
        return keras.Model(inputs, outputs, name="tiny_mgic")


    metrics = train(
        tiny_mgic, "digits", epochs=2, batch_size=8, learning_rate=0.05, image_size=16,
        max_train_examples=64, max_test_examples=16, output=sys.argv[1],
        distribute=sys.argv[2], verbose=0,
    )
    print("METRICS " + json.dumps(metrics))
    """
)


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _metrics(output):
    lines = [line for line in output.splitlines() if line.startswith("METRICS ")]
    assert lines, output[-4000:]
    return json.loads(lines[-1][len("METRICS ") :])


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    output = str(tmp_path / "mirrored")
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, output, "mirrored"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=REPO_DIR,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    metrics = _metrics(result.stdout)
    assert metrics["replicas"] == 2 and metrics["distribute"] == "mirrored"
    # Global batch = per-replica batch x replicas; learning rate scaled linearly.
    assert metrics["global_batch_size"] == 16 and metrics["steps_per_epoch"] == 4
    assert metrics["scaled_learning_rate"] == pytest.approx(0.1)
    assert metrics["epochs_completed"] == 2
    assert sum("CPU" in device for device in metrics["devices"]) == 2
    assert os.path.exists(os.path.join(output, "model.keras"))


def test_multi_worker_strategy_with_two_local_workers(tmp_path):
    output = str(tmp_path / "multi_worker")
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", _SCRIPT, output, "multi-worker"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=_env(TF_CONFIG=tf_config),
                cwd=REPO_DIR,
            )
        )
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=TIMEOUT)[0])
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for worker, text in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, text[-4000:]
    chief, other = (_metrics(text) for text in outputs)
    for metrics in (chief, other):
        assert metrics["replicas"] == 2 and metrics["distribute"] == "multi-worker"
        assert metrics["global_batch_size"] == 16 and metrics["epochs_completed"] == 2
        assert metrics["scaled_learning_rate"] == pytest.approx(0.1)
    # The workers trained one model: same final test accuracy, same parameter count.
    assert chief["test_accuracy"] == pytest.approx(other["test_accuracy"])
    assert chief["params"] == other["params"]
    # Only the chief writes the run directory; the other worker writes under workers/.
    assert os.path.exists(os.path.join(output, "model.keras"))
    assert os.path.exists(os.path.join(output, "learning_curves.png"))
    assert os.path.exists(os.path.join(output, "workers", "worker_1", "metrics.json"))
    assert not os.path.exists(os.path.join(output, "workers", "worker_1", "model.keras"))
