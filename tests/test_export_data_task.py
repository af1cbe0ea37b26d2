"""A built-in representative data set that does not fit the model's task is a one-line error
from ``keras-mgic export``, before any data is loaded or anything converted or written."""

import os

import keras
import pytest

from keras_mgic import cli
from keras_mgic.export import check_data_task
from keras_mgic.export.data_task import model_task


def _classifier():
    return keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]
    )


def _segmenter():
    return keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 1)])


def _point_classifier():
    return keras.Sequential(
        [keras.Input((16, 3)), keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(10)]
    )


MODELS = {"classifier": _classifier, "segmenter": _segmenter, "points": _point_classifier}
FITS = {"classifier": "digits", "segmenter": "digit_mosaics", "points": "digit_points"}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_task_names_the_fitting_data_set(name):
    model = MODELS[name]()
    assert model_task(model) == FITS[name]
    check_data_task(model, FITS[name])  # no error
    check_data_task(model, None)  # a folder or no data: not checked
    check_data_task(model, "/some/folder")


@pytest.mark.parametrize(
    "name, source",
    [("classifier", "digit_mosaics"), ("points", "digits"), ("segmenter", "digits")],
)
def test_cli_refuses_a_data_set_of_another_task(name, source, tmp_path, capsys):
    model_path = tmp_path / "m.keras"
    MODELS[name]().save(model_path)
    argv = ["export", str(model_path), "--format", "tflite", "--representative-data", source]
    assert cli.main([*argv, "--quantization", "int8"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert f"The {source!r} data set is for" in error
    assert f"use --representative-data {FITS[name]}" in error
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]  # nothing written
