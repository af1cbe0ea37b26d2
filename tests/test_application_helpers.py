"""``preprocess_input`` and ``decode_predictions`` in every model module, as
``keras.applications`` has them, matching each builder's ``include_preprocessing``."""

import inspect
import json

import keras
import numpy as np
import pytest

from keras_mgic import models
from keras_mgic.models import lraspp, mobilenet_v3, point_cloud, resnet, wide_resnet

MODULES = [resnet, wide_resnet, mobilenet_v3, lraspp, point_cloud]
#: Modules whose builders default to include_preprocessing=True (identity preprocess_input).
SELF_PREPROCESSING = [mobilenet_v3, lraspp]


def _raw_images(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_signatures_are_keras_applications(module):
    theirs = keras.applications.mobilenet_v3
    ours_pre = inspect.signature(module.preprocess_input).parameters
    assert list(ours_pre) == list(inspect.signature(theirs.preprocess_input).parameters)
    assert ours_pre["data_format"].default is None
    ours_dec = inspect.signature(module.decode_predictions).parameters
    assert list(ours_dec)[:2] == ["preds", "top"] and ours_dec["top"].default == 5


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_preprocess_input_rejects_unknown_data_format(module):
    with pytest.raises(ValueError, match="data_format='nhwc'"):
        module.preprocess_input(np.zeros((1, 4, 4, 3)), data_format="nhwc")


@pytest.mark.parametrize("module", [resnet, wide_resnet], ids=["resnet", "wide_resnet"])
def test_rescaling_modules_map_raw_pixels_to_minus_one_one(module):
    raw = np.array([[0, 51, 127.5, 255]], "float32")
    np.testing.assert_allclose(module.preprocess_input(raw), raw / 127.5 - 1, atol=1e-7)
    # integers become float32 in a new array; float64 stays float64; input untouched
    ints = np.array([0, 255], "uint8")
    out = module.preprocess_input(ints)
    assert out.dtype == np.float32 and out.tolist() == [-1.0, 1.0] and ints.tolist() == [0, 255]
    assert module.preprocess_input(raw.astype("float64")).dtype == np.float64
    tensor = module.preprocess_input(keras.ops.convert_to_tensor(raw))
    assert keras.ops.is_tensor(tensor)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor), raw / 127.5 - 1, atol=1e-7)


def test_resnet_preprocess_input_equals_include_preprocessing():
    """preprocess_input outside == include_preprocessing=True inside, same weights."""
    kwargs = dict(input_shape=(16, 16, 3), classes=4)
    outside = models.MGICResNet20(include_preprocessing=False, **kwargs)
    inside = models.MGICResNet20(include_preprocessing=True, **kwargs)
    inside.set_weights(outside.get_weights())
    raw = _raw_images((2, 16, 16, 3))
    expected = keras.ops.convert_to_numpy(inside(raw, training=False))
    got = keras.ops.convert_to_numpy(outside(resnet.preprocess_input(raw), training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("module", SELF_PREPROCESSING + [point_cloud])
def test_self_preprocessing_modules_return_input_unchanged(module):
    raw = _raw_images((1, 8, 8, 3))
    assert module.preprocess_input(raw) is raw


def test_mobilenet_default_builder_takes_what_preprocess_input_gives():
    """The default builder rescales inside: raw pixels and preprocess_input agree."""
    model = models.MobileNetV3Small(input_shape=(32, 32, 3), alpha=0.35, classes=3)
    assert model.get_layer("rescaling") is not None
    raw = _raw_images((1, 32, 32, 3))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(mobilenet_v3.preprocess_input(raw), training=False)),
        keras.ops.convert_to_numpy(model(raw, training=False)),
    )


def test_decode_predictions_with_class_names_matches_numpy():
    preds = np.random.default_rng(0).random((3, 6)).astype("float32")
    names = [f"class{i}" for i in range(6)]
    decoded = resnet.decode_predictions(preds, top=3, class_names=names)
    assert len(decoded) == 3
    for row, result in zip(preds, decoded, strict=True):
        best = np.argsort(row)[::-1][:3]
        assert [r[0] for r in result] == [str(i) for i in best]
        assert [r[1] for r in result] == [names[i] for i in best]
        np.testing.assert_allclose([r[2] for r in result], row[best])
    # top larger than the classes: all of them; tensors are accepted
    assert len(resnet.decode_predictions(keras.ops.convert_to_tensor(preds), 10, names)[0]) == 6


def test_decode_predictions_errors_are_clear():
    with pytest.raises(ValueError, match=r"pass `class_names`.*shape=\(2, 10\)"):
        mobilenet_v3.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="2D array.*shape=\\(10,\\)"):
        mobilenet_v3.decode_predictions(np.zeros(10))
    with pytest.raises(ValueError, match="one name per class \\(3.*2 names"):
        point_cloud.decode_predictions(np.zeros((1, 3)), class_names=["a", "b"])
    with pytest.raises(ValueError, match="top=0"):
        resnet.decode_predictions(np.zeros((1, 3)), top=0, class_names="abc")


def test_imagenet_index_offline_is_a_one_line_error(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(ValueError, match="could not be downloaded.*Pass `class_names`"):
        resnet.decode_predictions(np.zeros((1, 1000)))


def test_imagenet_index_names_1000_classes_like_keras_applications(monkeypatch, tmp_path):
    index = {str(i): [f"n{i:08d}", f"label_{i}"] for i in range(1000)}
    path = tmp_path / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    monkeypatch.setattr(keras.utils, "get_file", lambda *args, **kwargs: str(path))
    preds = np.zeros((1, 1000), "float32")
    preds[0, 7], preds[0, 3] = 0.9, 0.5
    assert mobilenet_v3.decode_predictions(preds, top=2) == [
        [("n00000007", "label_7", pytest.approx(0.9)), ("n00000003", "label_3", 0.5)]
    ]


def test_lraspp_decode_predictions_ranks_classes_by_pixel_share():
    logits = np.zeros((2, 4, 4, 3), "float32")
    logits[0, :3, :, 1] = 1.0  # 12 of 16 pixels class 1, the rest class 0
    logits[1, ..., 2] = 1.0  # every pixel class 2
    decoded = lraspp.decode_predictions(logits, class_names=["bg", "a", "b"])
    assert decoded == [[("1", "a", 0.75), ("0", "bg", 0.25)], [("2", "b", 1.0)]]
    assert lraspp.decode_predictions(logits, top=1)[0] == [("1", "1", 0.75)]
    with pytest.raises(ValueError, match="4D array.*shape=\\(2, 3\\)"):
        lraspp.decode_predictions(np.zeros((2, 3)))
