"""``keras-mgic train`` and ``keras-mgic export`` on the digit point sets: the point-cloud task
(the data set's point layout to the builder, no pixel rescaling), metrics.json against a
NumPy evaluation of the written model, float16 export (int8 refused: the runtime aborts on a
quantized k-NN graph), and the one-line errors for point arguments on the wrong data."""

import json
import os
import re

import keras
import numpy as np
import pytest
from cli_output import run_cli

import keras_mgic
from keras_mgic import cli
from keras_mgic.data.digit_points import load_digit_points_arrays

POINTS = 32
TRAIN = (
    f"--model dgcnn --dataset digit_points --num-points {POINTS} --batch-size 16 "
    "--max-train-examples 64 --max-test-examples 24 --epochs 2 --verbose 0"
).split()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    output = tmp_path_factory.mktemp("points") / "run"
    code, printed = run_cli("train", *TRAIN, "--output", output)
    assert code == 0, printed
    return str(output)


def test_metrics_json_is_the_written_models_accuracy_on_the_test_clouds(trained):
    with open(os.path.join(trained, "metrics.json")) as f:
        written = json.load(f)
    assert written["task"] == "point_cloud_classification" and "input_range" not in written
    assert written["input_shape"] == [POINTS, 3]  # (x, y) coordinates and the intensity
    model = keras.saving.load_model(os.path.join(trained, "model.keras"))
    assert not any(isinstance(layer, keras.layers.Rescaling) for layer in model.layers)
    _, (clouds, labels) = load_digit_points_arrays(POINTS)
    predicted = np.argmax(model.predict(clouds[:24], verbose=0), axis=-1)
    assert written["test_accuracy"] == pytest.approx(np.mean(predicted == labels[:24]), abs=1e-6)
    assert written["params"] == keras_mgic.count_params(model)
    assert written["flops"] == keras_mgic.count_flops(model, (POINTS, 3))


def _check_float16_export(model_path, output):
    """``keras-mgic export --quantization float16`` of a point-cloud model: builtin ops with
    the k-NN graph's TOPK_V2, and at least 97.5% top-1 agreement on 40 held-out clouds."""
    code, printed = run_cli(
        "export", model_path, "--format", "tflite", "--output", output,
        "--quantization", "float16", "--representative-data", "digit_points",
        "--parity-samples", "40",
    )  # fmt: skip
    assert code == 0, printed
    ops = re.search(r"ops: (.*)", printed).group(1).split(", ")
    assert "TOPK_V2" in ops and not any("FLEX" in op or "CUSTOM" in op for op in ops)
    agreement = float(re.search(r"top-1 agreement ([\d.]+)%", printed).group(1))
    assert agreement >= 97.5, printed


def test_float16_export_keeps_the_predictions(trained, tmp_path):
    _check_float16_export(os.path.join(trained, "model.keras"), tmp_path / "model.tflite")


def test_int8_export_of_a_knn_graph_is_refused_before_converting(trained, tmp_path, capsys):
    """The TFLite runtime aborts the process on the quantized k-NN graph: refused, one line,
    no file."""
    output = tmp_path / "model.tflite"
    code = cli.main(
        ["export", os.path.join(trained, "model.keras"), "--format", "tflite", "--output",
         str(output), "--quantization", "int8", "--representative-data", "digit_points"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "layer 'stage1_knn'" in err, err
    assert "Received: quantization='int8'" in err and not output.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "resnet20", "--dataset", "digits", "--num-points", "32"], "num_points"),
        (["--model", "dgcnn", "--dataset", "digit_points", "--num-points", "8"], "8"),
    ],
)
def test_point_arguments_on_the_wrong_data_are_one_line_errors(argv, message, capsys, tmp_path):
    output = tmp_path / "run"
    code = cli.main(["train", *argv, "--epochs", "1", "--output", str(output), "--verbose", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err and not output.exists()


@pytest.mark.slow
def test_pooled_diffgcn_trains_from_the_cli_and_exports_to_float16(tmp_path):
    """DiffGCN with its multigrid pooling (96 -> 48 -> 24 -> 12 points, k = 10): ``keras-mgic
    train`` on digit_points, then a float16 TFLite file with builtin ops and the same
    predictions."""
    output = tmp_path / "run"
    argv = (
        "--model diffgcn --dataset digit_points --num-points 96 --batch-size 16 "
        "--max-train-examples 64 --max-test-examples 24 --epochs 1 --verbose 0"
    ).split()
    code, printed = run_cli("train", *argv, "--output", output)
    assert code == 0, printed
    model = keras.saving.load_model(os.path.join(output, "model.keras"))
    assert model.get_layer("stage4_pool").output[0].shape[1] == 12
    _check_float16_export(os.path.join(output, "model.keras"), tmp_path / "model.tflite")
