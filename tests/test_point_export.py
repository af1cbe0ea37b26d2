"""TFLite export of the point-cloud classifiers with builtin ops only (``TOPK_V2`` for the
k-NN graph, ``GATHER`` and ``UNSORTED_SEGMENT_SUM`` for the graph convolutions), float32
parity with Keras on held-out point clouds, and the error that names an op that cannot
convert."""

import keras
import numpy as np
import pytest

from keras_mgic import export, models
from keras_mgic.data.digit_points import load_digit_points_arrays

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="export runs on the TensorFlow backend"
)


@pytest.fixture(scope="module")
def held_out():
    """24 test digits of digit_points as (x, y, intensity) clouds of 48 points."""
    _, (x_test, _) = load_digit_points_arrays(48)
    return x_test[:24]


@pytest.mark.parametrize(
    "name, expected_ops",
    [
        ("dgcnn", {"TOPK_V2", "GATHER"}),
        ("mgic_diffgcn", {"TOPK_V2", "GATHER", "UNSORTED_SEGMENT_SUM", "CONV_2D"}),
    ],
)
def test_point_cloud_models_export_with_builtin_ops_and_parity(
    name, expected_ops, held_out, tmp_path
):
    kwargs = dict(points=48, coordinate_dim=2, features=1, k=4, classes=10)
    if name == "mgic_diffgcn":
        # The same pieces with fewer ops to convert (22 -> 14 s): MGIC in the 256-wide stage
        # only, three levels (256 -> 128 -> 64) with grouped CONV_2D on the finer two.
        kwargs.update(group_size=32, coarsest_size=64, mgic_min_width=256)
    model = models.get_model(name, **kwargs)
    model(held_out, training=True)  # BatchNorm statistics away from their start
    path = export.to_tflite(model, tmp_path / f"{name}.tflite")
    ops = set(export.list_ops(path))
    assert expected_ops <= ops and not any(op.startswith(("FLEX", "CUSTOM")) for op in ops)
    parity = export.check_parity(model, path, held_out)
    assert parity["top1_agreement"] == 1.0 and parity["max_rel_error"] < 1e-5, parity


@pytest.mark.slow
def test_pooled_diffgcn_exports_and_its_tflite_file_ignores_the_point_order(held_out, tmp_path):
    """DiffGCN with its multigrid pooling (48 -> 24 -> 12 -> 6 points): builtin ops only,
    float32 parity, and the same scores from the TFLite file for permuted clouds."""
    model = models.get_model("diffgcn", points=48, coordinate_dim=2, features=1, k=4)
    model(held_out, training=True)
    path = export.to_tflite(model, tmp_path / "diffgcn.tflite")
    ops = set(export.list_ops(path))
    assert {"TOPK_V2", "GATHER", "UNSORTED_SEGMENT_SUM", "ARG_MAX"} <= ops
    assert not any(op.startswith(("FLEX", "CUSTOM")) for op in ops)
    parity = export.check_parity(model, path, held_out)
    assert parity["top1_agreement"] == 1.0 and parity["max_rel_error"] < 1e-5, parity
    permutation = np.random.default_rng(0).permutation(48)
    scores = export.run_tflite(path, held_out)
    permuted = export.run_tflite(path, held_out[:, permutation])
    np.testing.assert_allclose(permuted, scores, atol=1e-5)


@keras.saving.register_keras_serializable(package="point_export_tests")
class Digamma(keras.layers.Layer):
    """A layer whose op (``tf.math.digamma``) has no builtin TFLite kernel."""

    def call(self, inputs):
        return tf.math.digamma(tf.abs(inputs) + 1.0)


def test_an_op_without_a_builtin_kernel_is_named_with_its_layer(tmp_path):
    inputs = keras.Input((16, 3))
    x = Digamma(name="special")(inputs)
    model = keras.Model(inputs, keras.layers.GlobalMaxPooling1D()(x))
    with pytest.raises(
        ValueError, match=r"Digamma in [\w/]*special[\w]*.*Received: unsupported_ops=\['Digamma'\]"
    ):
        export.to_tflite(model, tmp_path / "special.tflite")
    assert not (tmp_path / "special.tflite").exists()
