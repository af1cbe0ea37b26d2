"""``train`` on a segmentation data set: the task seam (loss and metrics with the ignore label,
metrics.json, the prediction PNG, learning curves), resume, mixed precision, distribution,
and the metrics against NumPy."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from process_limits import SUBPROCESS_TIMEOUT

import keras_mgic
from keras_mgic import training
from keras_mgic.data import digit_mosaics
from keras_mgic.export.parity_check import mean_iou
from keras_mgic.metrics import MeanIoU, PixelAccuracy
from keras_mgic.training import tasks

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 32  # the mosaics' canvas in these tests


def tiny_segmenter(input_shape, classes):
    """A small real MGIC segmenter: a strided conv, an MGICBlock, per-pixel logits resized
    to the input (quick to trace)."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras_mgic.MGICBlock(group_size=4, coarsest_size=4)(x)
    x = keras.layers.Conv2D(classes, 1, dtype="float32")(x)
    outputs = keras_mgic.layers.ResizeLike(dtype="float32")([x, inputs])
    return keras.Model(inputs, outputs, name="tiny_segmenter")


TINY = dict(
    batch_size=8,
    image_size=SIZE,
    max_train_examples=16,
    max_test_examples=8,
    learning_rate=0.05,
    verbose=0,
)


def _test_mosaics():
    (_, _), (images, masks) = digit_mosaics.load_digit_mosaic_arrays(size=SIZE)
    return images[: TINY["max_test_examples"]], masks[: TINY["max_test_examples"]]


@pytest.fixture(scope="module")
def segmentation_run(tmp_path_factory):
    output = str(tmp_path_factory.mktemp("segmentation") / "run")
    metrics = training.train(tiny_segmenter, "digit_mosaics", epochs=2, output=output, **TINY)
    return output, metrics


def test_metrics_json_has_the_segmentation_figures(segmentation_run):
    """mean_iou, pixel_accuracy and per_class_iou are those of the written model's
    predictions on the test mosaics, computed again here with NumPy."""
    output, metrics = segmentation_run
    with open(os.path.join(output, "metrics.json")) as f:
        written = json.load(f)
    assert written == json.loads(json.dumps(metrics))
    assert written["task"] == "semantic_segmentation" and written["num_classes"] == 11
    assert "test_accuracy" not in written and written["input_shape"] == [SIZE, SIZE, 3]
    model = keras.saving.load_model(os.path.join(output, "model.keras"))
    assert model.input_shape == (None, None, None, 3)  # any size
    images, masks = _test_mosaics()
    predicted = np.argmax(model.predict(images.astype("float32"), verbose=0), axis=-1)
    assert written["mean_iou"] == pytest.approx(mean_iou(masks, predicted, 11), abs=1e-5)
    assert written["pixel_accuracy"] == pytest.approx(np.mean(predicted == masks), abs=1e-5)
    per_class = written["per_class_iou"]
    assert len(per_class) == 11
    present = [value for value in per_class if value is not None]
    assert written["mean_iou"] == pytest.approx(np.mean(present), abs=1e-5)
    assert written["flops"] == keras_mgic.count_flops(model, (SIZE, SIZE, 3))
    log = training.read_log(os.path.join(output, "log.csv"))
    assert {"mean_iou", "val_mean_iou", "pixel_accuracy", "val_pixel_accuracy"} <= set(log)


def test_run_writes_curves_and_the_prediction_grid(segmentation_run):
    output, metrics = segmentation_run
    assert sorted(os.listdir(output)) == sorted(metrics["files"])
    assert "predictions.png" in metrics["files"] and "learning_curves.png" in metrics["files"]
    for name in ("predictions.png", "learning_curves.png"):
        with open(os.path.join(output, name), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


class _KillAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise RuntimeError("simulated kill")


def test_resume_and_mixed_precision(tmp_path, capsys):
    output = str(tmp_path / "run")
    kwargs = dict(epochs=2, output=output, mixed_precision=True, **TINY)
    with pytest.raises(RuntimeError, match="simulated kill"):
        training.train(
            tiny_segmenter, "digit_mosaics", callbacks=[_KillAfterFirstEpoch()], **kwargs
        )
    metrics = training.train(tiny_segmenter, "digit_mosaics", **{**kwargs, "verbose": 2})
    assert "Resuming from epoch 2 of 2" in capsys.readouterr().out
    assert metrics["resumed_from_epoch"] == 1 and metrics["epochs_completed"] == 2
    assert metrics["dtype_policy"] == "mixed_bfloat16" and np.isfinite(metrics["test_loss"])
    assert 0 <= metrics["mean_iou"] <= 1


def test_task_and_model_must_agree_before_anything_is_written(tmp_path):
    output = tmp_path / "out"
    with pytest.raises(ValueError, match="per-pixel class scores.*output_shape=\\(None, 11\\)"):
        training.train("resnet20", "digit_mosaics", epochs=1, output=str(output), **TINY)
    with pytest.raises(ValueError, match="one label per image.*digit_mosaics"):
        training.train(tiny_segmenter, "digits", epochs=1, output=str(output), **TINY)
    assert not output.exists()


def test_loss_skips_the_ignore_label():
    """The compiled loss is the mean cross-entropy over the pixels that are not ignored."""
    task = tasks.task_for(_FakeSegmentationData())
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(3, 1)])
    loss = task.compile_arguments(model, _FakeSegmentationData())["loss"]
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    labels = rng.integers(0, 3, (2, 4, 4))
    labels[0, :2] = 255
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    kept = labels != 255
    expected = -np.mean(
        np.take_along_axis(log_probabilities, np.where(kept, labels, 0)[..., None], -1)[kept]
    )
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-5)


class _FakeSegmentationData:
    name, num_classes, ignore_label, task = "fake", 3, 255, "semantic_segmentation"


# -------------------------------------------------------------------------------- metrics


def _numpy_confusion(labels, logits, classes):
    labels, predicted = labels.ravel(), logits.argmax(-1).ravel()
    counted = labels != 255
    confusion = np.zeros((classes, classes))
    np.add.at(confusion, (labels[counted], predicted[counted]), 1)
    return confusion


def test_mean_iou_and_pixel_accuracy_match_numpy_over_batches():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, (6, 9, 7))
    labels[:, 0] = 255
    labels[labels == 4] = 3  # class 4 never occurs in the labels...
    logits = rng.normal(size=(6, 9, 7, 5)).astype("float32")
    logits[..., 4] -= 10  # ...nor in the predictions: it is left out of the mean
    mean_iou_metric, accuracy = MeanIoU(5), PixelAccuracy(5)
    for start in range(0, 6, 4):
        for metric in (mean_iou_metric, accuracy):
            metric.update_state(labels[start : start + 4], logits[start : start + 4])
    confusion = _numpy_confusion(labels, logits, 5)
    np.testing.assert_array_equal(mean_iou_metric.confusion_matrix(), confusion)
    hits = np.diag(confusion)
    with np.errstate(invalid="ignore"):  # class 4: 0 / 0
        iou = hits / (confusion.sum(0) + confusion.sum(1) - hits)
    assert np.isnan(iou[4]) and np.isnan(mean_iou_metric.per_class_iou()[4])
    np.testing.assert_allclose(mean_iou_metric.per_class_iou()[:4], iou[:4], rtol=1e-6)
    assert float(mean_iou_metric.result()) == pytest.approx(np.mean(iou[:4]), rel=1e-6)
    assert float(accuracy.result()) == pytest.approx(hits.sum() / confusion.sum(), rel=1e-6)
    mean_iou_metric.reset_state()
    assert float(mean_iou_metric.result()) == 0.0
    config = MeanIoU(5, name="miou").get_config()
    assert MeanIoU.from_config(config).get_config() == config


_DISTRIBUTED = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, "tests")
    from keras_mgic.metrics import MeanIoU

    strategy = tf.distribute.MirroredStrategy(
        [d.name for d in tf.config.list_logical_devices("CPU")],
        cross_device_ops=tf.distribute.ReductionToOneDevice(),
    )
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, (8, 6, 6)); labels[:, :2] = 255
    logits = rng.normal(size=(8, 6, 6, 4)).astype("float32")
    with strategy.scope():
        metric = MeanIoU(4)
    batches = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((labels, logits)).batch(8))
    for y, p in batches:
        strategy.run(tf.function(metric.update_state), (y, p))
    result = {"confusion": metric.confusion_matrix().tolist(), "result": float(metric.result())}
    if sys.argv[2] == "train":
        from keras_mgic.training import train
        from test_segmentation_training import TINY, tiny_segmenter

        result["metrics"] = train(tiny_segmenter, "digit_mosaics", epochs=1, output=sys.argv[1],
                                  distribute="mirrored", **TINY)
    print("RESULT " + json.dumps(result))
    """
)


def _mirrored(tmp_path, mode):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-c", _DISTRIBUTED, str(tmp_path / "run"), mode],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_DIR,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def test_metric_under_a_mirrored_strategy(tmp_path):
    """Two replicas each count half of a batch; the metric sums them. (A subprocess: the
    logical CPUs must be set before TensorFlow starts.)"""
    measured = _mirrored(tmp_path, "metric")
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, (8, 6, 6))
    labels[:, :2] = 255
    logits = rng.normal(size=(8, 6, 6, 4)).astype("float32")
    confusion = _numpy_confusion(labels, logits, 4)
    np.testing.assert_array_equal(measured["confusion"], confusion)
    hits = np.diag(confusion)
    expected = np.mean(hits / (confusion.sum(0) + confusion.sum(1) - hits))
    assert measured["result"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_training_under_a_mirrored_strategy(tmp_path):
    """The segmentation run on two replicas (the classification one: test_distribute.py)."""
    metrics = _mirrored(tmp_path, "train")["metrics"]
    assert metrics["replicas"] == 2 and metrics["global_batch_size"] == 16
    assert 0 <= metrics["mean_iou"] <= 1 and len(metrics["per_class_iou"]) == 11
    assert os.path.exists(tmp_path / "run" / "predictions.png")


def test_task_for_unknown_task():
    class Data:
        task = "speech"

    with pytest.raises(ValueError, match="Received: task='speech'$"):
        tasks.task_for(Data())
