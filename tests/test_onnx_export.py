"""ONNX export (``keras_mgic.export.to_onnx``) against the Keras model on ONNX Runtime: every
builder family at a tiny size, a dynamic batch, the serving input name, atomic writes.

The builders are ``slow`` (each export takes 5 to 30 seconds); the default suite exports
one EdgeConv model, the layer whose BatchNorm once made DGCNN files that ONNX Runtime
rejected, and small models for the serving name, the atomic write and the CLI.
"""

import os

import keras
import numpy as np
import pytest

from keras_mgic import export, models
from keras_mgic.layers import EdgeConv, KNNGraph

pytest.importorskip("tf2onnx", reason="ONNX export needs tf2onnx (the onnx extra)")
pytest.importorskip("onnxruntime", reason="ONNX parity needs onnxruntime (the onnx extra)")

if keras.backend.backend() != "tensorflow":
    pytest.skip("ONNX export runs on the TensorFlow backend", allow_module_level=True)

POINTS = {"input_shape": (48, 3), "k": 4, "classes": 3}  # pooled DiffGCNs: 6 points last
IMAGES = {"input_shape": (32, 32, 3), "classes": 3}
MOBILE = {**IMAGES, "alpha": 0.35, "group_size": 8, "coarsest_size": 8}
#: name: (builder arguments, largest error allowed relative to the logits' scale).
CASES = {
    "mgic_resnet20": ({"input_shape": (16, 16, 3), "classes": 3}, 1e-5),
    "dgcnn": (POINTS, 1e-5),
    "diffgcn": (POINTS, 1e-5),
    "mgic_diffgcn": (POINTS, 1e-5),
    "mgic_mobilenet_v3_small": (MOBILE, 1e-5),
    "mgic_lraspp_mobilenet_v3_small": (MOBILE, 1e-5),
}


def _case(name):
    return pytest.param(name, marks=pytest.mark.slow, id=name)


def _inputs(shape, count=5, seed=0):
    """Raw pixels for images (the MobileNets rescale inside), unit-scale point clouds."""
    rng = np.random.default_rng(seed)
    if len(shape) == 3:
        return rng.uniform(0, 255, (count, *shape)).astype("float32")
    return rng.uniform(-1, 1, (count, *shape)).astype("float32")


@pytest.mark.parametrize("name", [_case(name) for name in CASES])
def test_onnx_parity_with_dynamic_batch(name, tmp_path):
    kwargs, tolerance = CASES[name]
    model = models.get_model(name, **kwargs)
    path = export.to_onnx(model, tmp_path / f"{name}.onnx")
    inputs = export.onnx_inputs(path)
    assert inputs == {export.SERVING_INPUT_NAME: (None, *kwargs["input_shape"])}
    # 5 inputs in batches of 3: two batch sizes through one file
    figures = export.check_parity(model, path, _inputs(kwargs["input_shape"]), batch_size=3)
    assert figures["max_rel_error"] < tolerance, export.format_parity(figures)
    assert figures["top1_agreement"] == 1.0


def test_edge_conv_model_parity(tmp_path):
    """Two EdgeConvs, the second on a graph of the first's features (DGCNN's stages 1-2).
    With TensorFlow's fused BatchNorm on the rank-4 edge tensors ONNX Runtime rejected this
    file (a MatMul of incompatible shapes in the second EdgeConv); EdgeConv's BatchNorm
    takes Keras's path instead."""
    points = keras.Input((16, 3))
    features = EdgeConv(8)(points, neighbors=KNNGraph(k=4)(points))
    features = EdgeConv(8)(features, neighbors=KNNGraph(k=4)(features))
    model = keras.Model(points, keras.layers.GlobalMaxPooling1D()(features))
    path = export.to_onnx(model, tmp_path / "edge.onnx")
    figures = export.check_parity(model, path, _inputs((16, 3)), batch_size=3)
    assert figures["max_rel_error"] < 1e-5, export.format_parity(figures)


@pytest.fixture(scope="module")
def small_model():
    return keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3)])


def test_one_serving_input_name_across_routes(small_model, tmp_path):
    saved = export.to_saved_model(small_model, tmp_path / "saved")
    onnx_path = export.to_onnx(small_model, tmp_path / "m.onnx")
    assert list(export.serving_batch_dims(saved)) == [export.SERVING_INPUT_NAME]
    assert list(export.onnx_inputs(onnx_path)) == [export.SERVING_INPUT_NAME]
    x = _inputs((6, 6, 2), count=2)
    np.testing.assert_allclose(
        export.run_onnx(onnx_path, x), export.run_saved_model(saved, x), rtol=1e-5, atol=1e-6
    )


def test_failed_onnx_export_leaves_existing_file(small_model, tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")

    def broken(*args, **kwargs):
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(type(small_model), "export", broken)
    with pytest.raises(RuntimeError, match="conversion failed"):
        export.to_onnx(small_model, path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_onnx_export_checks_path_and_backend_first(small_model, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="output path is a folder"):
        export.to_onnx(small_model, tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        export.to_onnx(small_model, tmp_path / "missing" / "m.onnx")
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(ValueError, match="KERAS_BACKEND=tensorflow.*'torch'"):
        export.to_onnx(small_model, tmp_path / "m.onnx")


def test_cli_export_onnx_prints_parity(small_model, tmp_path, capsys):
    from keras_mgic import cli

    model_path = tmp_path / "m.keras"
    small_model.save(model_path)
    code = cli.main(["export", str(model_path), "--format", "onnx", "--parity-samples", "5"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"wrote {tmp_path / 'm.onnx'} (onnx," in printed
    assert "parity vs Keras on 5 uniform random inputs" in printed
    figures = export.check_parity(small_model, tmp_path / "m.onnx", _inputs((6, 6, 2)))
    assert figures["max_rel_error"] < 1e-5


def test_cli_onnx_refuses_quantization(small_model, tmp_path, capsys):
    from keras_mgic import cli

    model_path = tmp_path / "m.keras"
    small_model.save(model_path)
    argv = ["export", str(model_path), "--format", "onnx", "--quantization", "float16"]
    assert cli.main(argv) == 2
    assert "Received: quantization='float16'" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
