"""The point-cloud classifiers DGCNN, DiffGCN and MGIC-DiffGCN: their architecture counted
against the papers' layer widths, independence of the order of the points, the
``keras.applications`` arguments on point clouds, argument errors, and fit / save / load on
every backend (``backends``)."""

import keras
import numpy as np
import pytest
from small_models import CLASSES, POINTS, K, small_inputs, small_model_kwargs

import keras_mgic
from keras_mgic import compat, models
from keras_mgic.layers import DiffGCNConv, MGICBlock

NAMES = ["dgcnn", "diffgcn", "mgic_diffgcn"]


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), np.float64)


def _build(name, **overrides):
    return models.get_model(name, **{**small_model_kwargs(name), **overrides})


# --------------------------------------------------------------------------- architecture


def _bn(width):
    return 2 * width  # gamma and beta


def _head(classes):
    """Embedding 512 -> 64, then (max, avg) 128 -> 64 (no bias) -> 64 -> classes."""
    return 512 * 64 + _bn(64) + 128 * 64 + _bn(64) + 64 * 64 + 64 + _bn(64) + 64 * classes + classes


def test_dgcnn_counts_follow_dgcnns_layers():
    """EdgeConv kernels on [x_j - x_i, x_i]: 2 * c_in * c_out weights, applied once per
    point; widths 64, 64, 128, 256 (DGCNN's), embedding and hidden layers 64 (the paper's)."""
    model = models.DGCNN(points=1024)
    stages = [(3, 64), (64, 64), (64, 128), (128, 256)]
    edge = sum(2 * cin * cout + _bn(cout) for cin, cout in stages)
    assert keras_mgic.count_params(model) == edge + _head(10) == 137_674
    point_macs = sum(2 * cin * cout for cin, cout in stages) + 512 * 64
    head_macs = 128 * 64 + 64 * 64 + 64 * 10
    assert keras_mgic.count_flops(model) == 1024 * point_macs + head_macs  # 126.2M


@pytest.mark.parametrize(
    "terms, width",
    [(None, 1 + 3 + 3), (["gradient"], 3)],  # all three terms; the public code's forward pass
)
def test_diffgcn_counts_follow_its_terms(terms, width):
    """One DiffGCN convolution per stage: ``width * c_in`` inputs to c_out, ``width`` = 1
    (mass) + 3 (gradient) + 3 (Laplacian) components per channel in 3 dimensions."""
    kwargs = {"point_pooling": None} if terms is None else {"terms": terms, "point_pooling": None}
    for convs in (1, 2):
        model = models.DiffGCN(points=256, convs_per_stage=convs, **kwargs)
        stages = [(3, 64), (64, 64), (64, 128), (128, 256)]
        layers = [(cin, cout) for cin, cout in stages]
        layers += [(cout, cout) for _, cout in stages for _ in range(convs - 1)]
        conv = sum(width * cin * cout + _bn(cout) for cin, cout in layers)
        assert keras_mgic.count_params(model) == conv + _head(10)
        point_macs = sum(width * cin * cout for cin, cout in layers) + 512 * 64
        assert keras_mgic.count_flops(model) == 256 * point_macs + 128 * 64 + 64 * 64 + 640


def test_pooled_diffgcn_counts_follow_the_points_of_each_stage():
    """The multigrid layout: stages on 256, 128, 64, 32 points; each pooling costs P^T on
    the previous stage's output and the coordinates, each stage output is restricted down to
    the 32 coarsest points, where the embedding (512 -> 64) runs."""
    model = models.DiffGCN(points=256)
    stages = [(3, 64), (64, 64), (64, 128), (128, 256)]
    points = [256, 128, 64, 32]
    assert [model.get_layer(f"stage{s}_knn").output.shape[1] for s in (1, 2, 3, 4)] == points
    conv = sum(7 * cin * cout + _bn(cout) for cin, cout in stages)
    assert keras_mgic.count_params(model) == conv + _head(10)  # pooling has no weights
    convs = sum(n * 7 * cin * cout for n, (cin, cout) in zip(points, stages, strict=True))
    pools = sum(points[s - 1] * (stages[s - 1][1] + 3) for s in (1, 2, 3))
    restrictions = sum(
        points[level] * cout for s, (_, cout) in enumerate(stages) for level in range(s, 3)
    )
    head = 32 * 512 * 64 + 128 * 64 + 64 * 64 + 640
    assert keras_mgic.count_flops(model) == convs + pools + restrictions + head


def test_the_unpooled_layout_is_kept_by_point_pooling_none():
    for name in ("diffgcn", "mgic_diffgcn"):
        model = _build(name, point_pooling=None)
        assert not [
            layer for layer in model.layers if "pool" in layer.name and "stage" in layer.name
        ]
        assert model.get_layer("embedding").output.shape[1] == POINTS
        pooled = _build(name)
        assert pooled.get_layer("stage4_pool").output[0].shape[1] == POINTS // 8
        assert pooled.get_layer("embedding").output.shape[1] == POINTS // 8


def test_mgic_diffgcn_is_diffgcn_with_mgic_stages():
    model = models.MGICDiffGCN(points=128, group_size=8, coarsest_size=16)
    blocks = [layer for layer in model.layers if isinstance(layer, MGICBlock)]
    assert [block.widths for block in blocks] == [
        [64, 32, 16, 8],
        [64, 32, 16, 8],
        [128, 64, 32, 16, 8],
        [256, 128, 64, 32, 16, 8],
    ]
    assert [block.level_blocks[0].groups for block in blocks] == [8, 8, 16, 32]
    assert [model.get_layer(f"stage{s}_transition").filters for s in (1, 3, 4)] == [64, 128, 256]
    dense = models.DiffGCN(points=128)
    ratio = keras_mgic.count_flops(model) / keras_mgic.count_flops(dense)
    assert ratio < 0.45  # the dense embedding (512 -> 64) stays


def test_mgic_min_width_keeps_narrow_stages_dense():
    model = _build("mgic_diffgcn", mgic_min_width=128)
    assert isinstance(model.get_layer("stage2_diffgcn"), DiffGCNConv)
    assert isinstance(model.get_layer("stage3_mgic"), MGICBlock)


# -------------------------------------------------------------------- order of the points


@pytest.mark.parametrize("name", NAMES)
def test_classifier_output_does_not_depend_on_the_order_of_the_points(name):
    model = _build(name)
    x = small_inputs(name, 3, seed=1)
    model(x, training=True)  # BatchNorm statistics away from their start
    permutation = np.random.default_rng(2).permutation(POINTS)
    expected = _np(model(x, training=False))
    np.testing.assert_allclose(_np(model(x[:, permutation], training=False)), expected, atol=1e-5)
    assert np.abs(expected - expected[:1]).max() > 1e-4  # the inputs are told apart
    features = keras.Model(model.input, model.get_layer("embedding_act").output)
    per_point = _np(features(x, training=False))
    # Unpooled: per point, permuted with the points; pooled: per coarse point, in an order
    # that follows the geometry, so not permuted at all.
    expected = per_point if name != "dgcnn" else per_point[:, permutation]
    np.testing.assert_allclose(
        _np(features(x[:, permutation], training=False)), expected, atol=1e-5
    )


# ------------------------------------------------------------------ keras.applications API


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_feature_extractor_on_an_input_tensor_with_pooling(pooling):
    raw = keras.Input((POINTS, 4), name="raw")
    scaled = keras.layers.Rescaling(0.5, name="scale")(raw)
    model = models.MGICDiffGCN(
        include_top=False, input_tensor=scaled, pooling=pooling, k=K, features=1
    )
    assert model.inputs[0] is raw and model.output_shape == (None, 64)
    assert model.get_layer(f"{pooling}_pool") is not None
    features = _np(model(small_inputs("dgcnn", 2)[..., [0, 1, 2, 0]], training=False))
    assert features.shape == (2, 64) and np.all(np.isfinite(features))


def test_input_shape_points_features_and_coordinate_dim():
    model = models.DiffGCN(points=48, features=1, coordinate_dim=2, k=K, classes=CLASSES)
    assert model.input_shape == (None, 48, 3) and model.output_shape == (None, CLASSES)
    assert model.get_layer("stage1_diffgcn").kernel.shape == ((1 + 2 + 2) * 3, 64)
    inferred = models.DGCNN(input_shape=(40, 5), k=K)  # features: the channels beyond x, y, z
    assert inferred.input_shape == (None, 40, 5)
    any_size = models.DGCNN(input_shape=(None, 3), include_top=False, pooling="max", k=K)
    assert any_size(small_inputs("dgcnn", 2)).shape == (2, 64)
    assert models.DGCNN().input_shape == (None, 1024, 3)  # the paper's 1,024 points


def test_weights_path_round_trip(tmp_path):
    model = _build("mgic_diffgcn")
    x = small_inputs("mgic_diffgcn", 2)
    model(x, training=True)
    path = str(tmp_path / "points.weights.h5")
    model.save_weights(path)
    loaded = models.MGICDiffGCN(weights=path, **small_model_kwargs("mgic_diffgcn"))
    np.testing.assert_allclose(
        _np(loaded(x, training=False)), _np(model(x, training=False)), atol=1e-6
    )


@pytest.mark.parametrize(
    "name, overrides, match",
    [
        ("dgcnn", {"input_shape": (4, 3), "k": 4}, "Received: points=4, k=4$"),
        ("diffgcn", {"points": 10, "k": 10, "input_shape": None}, "Received: points=10, k=10$"),
        ("mgic_diffgcn", {"input_shape": (64, 2)}, "coordinate_dim=3, features=None$"),
        ("diffgcn", {"input_shape": (64, 4), "features": 0}, "coordinate_dim=3, features=0$"),
        ("dgcnn", {"points": 32}, r"Received: points=32, input_shape=\(64, 3\)$"),
        ("dgcnn", {"input_shape": (64, 3, 1)}, "input_shape"),
        ("diffgcn", {"convs_per_stage": 0}, "Received: convs_per_stage=0$"),
        ("mgic_diffgcn", {"group_size": 5}, "Received: group_size=5$"),
        ("diffgcn", {"input_shape": (60, 3)}, "divisible by 8 .*Received: points=60, k=4$"),
        ("mgic_diffgcn", {"input_shape": (32, 3)}, "k \\+ 1 = 5 .*Received: points=32, k=4$"),
        ("diffgcn", {"point_pooling": "graclus"}, "Received: point_pooling='graclus'$"),
        ("dgcnn", {"features": -1}, "Received: features=-1$"),
        ("dgcnn", {"coordinate_dim": 0}, "Received: coordinate_dim=0$"),
        ("diffgcn", {"weights": "imagenet"}, "Received: weights='imagenet'$"),
    ],
)
def test_bad_arguments_are_value_errors_naming_them(name, overrides, match):
    with pytest.raises(ValueError, match=match):
        _build(name, **overrides)


def test_a_cloud_with_other_coordinates_is_rejected_by_the_model():
    model = _build("dgcnn")
    with pytest.raises(ValueError, match="expected shape=.*64, 3"):
        model(small_inputs("dgcnn", 2)[..., :2])


# ------------------------------------------------------------------- fit, save, load


# ``make test-slow`` on every backend (20 s on TensorFlow, 40 s of compilation on JAX). The
# default suite covers its pieces: on TensorFlow every weight of MGIC-DiffGCN gets a gradient
# and its .keras file reloads in a fresh process (tests/test_models_registry.py) and
# ``keras-mgic train`` trains point-cloud runs (tests/test_point_training.py); on JAX and
# PyTorch the pooled DiffGCN builds and infers (tests/test_backends.py), the MGIC point block
# matches NumPy (tests/test_point_mgic.py), and MGIC-ResNet-20 fits.
@pytest.mark.backends
@pytest.mark.slow
def test_mgic_diffgcn_fits_predicts_and_round_trips(tmp_path):
    # Two to four levels per stage (s_c = 64): every piece of MGIC, fewer ops to compile.
    model = _build("mgic_diffgcn", group_size=32, coarsest_size=64)
    x = small_inputs("mgic_diffgcn", 8, seed=3)
    y = np.arange(8) % CLASSES
    model.compile(keras.optimizers.SGD(learning_rate=0.05), loss="sparse_categorical_crossentropy")
    compat.build_training_state(model, (x[:1], y[:1]))  # one trace of the step, not two
    before = [_np(w) for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    weights = zip(model.trainable_weights, before, strict=True)
    assert all(not np.array_equal(_np(w), start) for w, start in weights)
    predicted = model.predict(x, verbose=0)
    np.testing.assert_allclose(predicted.sum(-1), 1, rtol=1e-5)
    path = str(tmp_path / "mgic_diffgcn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), predicted)


def test_mixed_precision_keeps_float32_variables_and_logits():
    keras.config.set_dtype_policy("mixed_bfloat16")  # conftest restores float32
    model = _build("mgic_diffgcn", group_size=32, coarsest_size=64)
    assert {w.dtype for w in model.weights} == {"float32"}
    y = model(small_inputs("mgic_diffgcn", 2), training=False)
    assert keras.backend.standardize_dtype(y.dtype) == "float32"
    assert np.all(np.isfinite(_np(y)))
