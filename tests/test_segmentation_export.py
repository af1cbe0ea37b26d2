"""A segmentation model from ``keras-mgic train`` through ``keras-mgic export``: SavedModel for
any input size, TFLite float32 / float16 / int8 with builtin ops only, per-pixel parity and
each file's mean IoU on the held-out digit mosaics."""

import re

import keras
import numpy as np
import pytest
from cli_output import run_cli

from keras_mgic import export
from keras_mgic.data import digit_mosaics
from keras_mgic.export.parity_check import mean_iou
from keras_mgic.export.saved_model import serving_inputs

SIZE = 32
TRAIN = (
    "--model lraspp_mobilenet_v3_small --dataset digit_mosaics --image-size 32 "
    "--max-train-examples 64 --max-test-examples 16 --epochs 2 --verbose 0"
).split()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``keras-mgic train`` of the dense LR-ASPP-Small on 32x32 mosaics (two epochs)."""
    output = tmp_path_factory.mktemp("trained") / "run"
    code, printed = run_cli("train", *TRAIN, "--output", output)
    assert code == 0, printed
    assert '"mean_iou":' in printed and '"test_accuracy"' not in printed
    return str(output / "model.keras")


def _held_out():
    """The test mosaics ``--representative-data digit_mosaics`` holds out for a model of any
    input size (their default size)."""
    (_, _), (images, masks) = digit_mosaics.load_digit_mosaic_arrays()
    return images.astype("float32"), masks


def _eager(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def test_saved_model_takes_any_input_size(trained, tmp_path):
    import tensorflow as tf

    model = keras.saving.load_model(trained)
    output = tmp_path / "saved"
    code, printed = run_cli(
        "export", trained, "--format", "saved_model", "--output", output, "--parity-samples", "2"
    )
    assert code == 0 and "per-pixel agreement 100.00%" in printed, printed
    assert serving_inputs(output) == {"inputs": (None, None, None, 3)}
    serve = tf.saved_model.load(str(output)).signatures["serving_default"]
    rng = np.random.default_rng(0)
    for height, width in ((SIZE, SIZE), (48, 40)):
        x = rng.uniform(0, 255, (2, height, width, 3)).astype("float32")
        (outputs,) = serve(inputs=tf.constant(x)).values()
        assert outputs.shape == (2, height, width, 11)
        np.testing.assert_allclose(outputs.numpy(), _eager(model, x), atol=1e-4)


# The float32 file runs in ``make test-slow``: the SavedModel test above checks exact parity at
# any input size, and the int8 file goes through the same conversion and per-pixel checks.
@pytest.mark.parametrize("quantization", [pytest.param(None, marks=pytest.mark.slow), "int8"])
def test_tflite_per_pixel_parity_and_mean_iou(trained, quantization, tmp_path):
    """The printed figures: per-pixel argmax agreement with Keras and both mean IoUs on the
    held-out mosaics (Keras's checked here with NumPy); the file takes any input size."""
    output = tmp_path / f"model_{quantization}.tflite"
    options = ["--quantization", quantization] if quantization else []
    code, printed = run_cli(
        "export", trained, "--format", "tflite", "--output", output, "--parity-samples", "16",
        "--representative-data", "digit_mosaics", "--calibration-samples", "32", *options,
    )  # fmt: skip
    assert code == 0, printed
    ops = re.search(r"ops: (.*)", printed).group(1).split(", ")
    assert "RESIZE_BILINEAR" in ops and not any("FLEX" in op or "CUSTOM" in op for op in ops)
    line = re.search(r"on 16 held-out inputs of 'digit_mosaics': (.*)", printed).group(1)
    agreement = float(re.search(r"per-pixel agreement ([\d.]+)%", line).group(1)) / 100
    ours, theirs = map(float, re.search(r"mean IoU ([\d.]+) \(Keras ([\d.]+)\)", line).groups())
    model = keras.saving.load_model(trained)
    images, masks = _held_out()
    keras_predictions = np.argmax(_eager(model, images[:16]), -1)
    assert theirs == pytest.approx(mean_iou(masks[:16], keras_predictions, 11), abs=1e-4)
    minimum = 0.999 if quantization is None else 0.9
    assert agreement >= minimum and abs(ours - theirs) <= 1 - minimum + 0.02, line
    x = np.random.default_rng(1).uniform(0, 255, (2, 48, 40, 3)).astype("float32")
    outputs = export.run_tflite(output, x)
    assert outputs.shape == (2, 48, 40, 11)
    assert export.parity(_eager(model, x), outputs)["top1_agreement"] >= minimum


def test_parity_of_a_segmentation_output_counts_pixels():
    reference = np.zeros((2, 3, 4, 5))
    reference[..., 1] = 1.0
    outputs = reference.copy()
    outputs[0, 0, 0] = [0, 0, 2, 0, 0]  # one pixel of 24 disagrees
    figures = export.parity(reference, outputs)
    assert figures["per_pixel"] and figures["top1_agreement"] == pytest.approx(23 / 24)
    assert "per-pixel agreement 95.83% on 2 inputs" in export.format_parity(figures)
    assert mean_iou(np.array([[0, 1], [1, 255]]), np.array([[0, 1], [0, 0]]), 2) == 0.5
