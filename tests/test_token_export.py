"""TFLite and SavedModel export of the MGIC token models (``mgic_vit``, ``mgic_mlp_mixer``):
builtin ops only (``BATCH_MATMUL`` for the grouped levels of ``MGICFeedForward`` and for the
attention, ``GELU``, ``SOFTMAX``, ``FULLY_CONNECTED``), float32 parity with Keras, a dynamic
batch dimension, and float16 weights.

The models are small (16x16 inputs, 4x4 patches, ``dim=64``, one block) with random weights
and logits outputs; ``group_size=16, coarsest_size=32`` gives the feed-forward three levels
(64, 32 and 16 channels; 4, 2 and 1 groups), so the restriction, the prolongation and the
grouped feed-forwards are all in the exported graph.
"""

import os

import keras
import numpy as np
import pytest

from keras_mgic import export, models
from keras_mgic.layers import MGICFeedForward

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="export runs on the TensorFlow backend"
)

NAMES = ("mgic_vit", "mgic_mlp_mixer")
NUM_CLASSES = 10


def _model(name):
    kwargs = dict(
        input_shape=(16, 16, 3),
        patch_size=4,
        dim=64,
        depth=1,
        group_size=16,
        coarsest_size=32,
        classes=NUM_CLASSES,
        classifier_activation=None,
    )
    if name == "mgic_vit":
        kwargs["heads"] = 2
    return models.get_model(name, **kwargs)


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(30).normal(size=(16, 16, 16, 3)).astype("float32")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each model and its float32 TFLite file, converted once."""
    folder = tmp_path_factory.mktemp("token_export")
    result = {}
    for name in NAMES:
        keras.utils.set_random_seed(30)
        model = _model(name)
        result[name] = (model, export.to_tflite(model, folder / f"{name}.tflite"))
    return result


@pytest.mark.parametrize("name", NAMES)
def test_mgic_token_models_export_with_builtin_ops_and_parity(name, exported, inputs):
    model, path = exported[name]
    (ffn,) = [layer for layer in model.layers if isinstance(layer, MGICFeedForward)]
    assert [groups for _, groups, _ in ffn.levels(64)] == [4, 2, 1]  # the hierarchy is exported
    ops = set(export.check_builtin_ops(path))  # raises on Flex or custom ops
    assert {"BATCH_MATMUL", "GELU", "FULLY_CONNECTED", "CONV_2D"} <= ops, ops
    assert not any(op.startswith(("FLEX", "CUSTOM")) for op in ops)
    if name == "mgic_vit":
        assert "SOFTMAX" in ops
    figures = export.check_parity(model, path, inputs)
    assert figures["max_abs_error"] <= 1e-4 and figures["max_rel_error"] <= 1e-5, figures
    assert figures["top1_agreement"] == 1.0
    (details,) = export.interpreter_class()(model_path=os.fspath(path)).get_input_details()
    assert details["shape_signature"][0] == -1
    for batch in (1, 3):
        outputs = export.run_tflite(path, inputs[:batch], batch_size=batch)
        assert outputs.shape == (batch, NUM_CLASSES)
        reference = model.predict(inputs[:batch], verbose=0)
        np.testing.assert_allclose(outputs, reference, rtol=0, atol=1e-4)


def test_mgic_vit_saved_model_parity_and_dynamic_batch(exported, inputs, tmp_path):
    model, _ = exported["mgic_vit"]
    path = export.to_saved_model(model, tmp_path / "saved_model")
    assert export.serving_batch_dims(path) == {"inputs": None}
    figures = export.check_parity(model, path, inputs)
    assert figures["max_abs_error"] <= 1e-4 and figures["top1_agreement"] == 1.0, figures
    outputs = export.run_saved_model(path, inputs[:3], batch_size=3)
    assert outputs.shape == (3, NUM_CLASSES)


def test_mgic_mlp_mixer_float16_tflite(exported, inputs, tmp_path):
    model, float32_path = exported["mgic_mlp_mixer"]
    path = export.to_tflite(model, tmp_path / "float16.tflite", quantization="float16")
    export.check_builtin_ops(path)
    figures = export.check_parity(model, path, inputs)
    assert figures["max_rel_error"] <= 1e-2 and figures["top1_agreement"] >= 0.9, figures
    ops = export.list_ops(path, details=True)
    assert any(op["name"] == "DEQUANTIZE" and op["input_types"] == ["float16"] for op in ops)
    assert os.path.getsize(path) < 0.7 * os.path.getsize(float32_path)
