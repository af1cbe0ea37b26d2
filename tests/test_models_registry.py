"""Every builder of keras_mgic.models.MODELS: shapes, finite outputs (probabilities), gradients,
count_params, features, `.keras` round trip and argument errors, at the smallest input each
architecture takes (TensorFlow; tests/test_backends.py builds them on JAX and PyTorch)."""

import inspect
import math

import numpy as np
import pytest
import tensorflow as tf
from small_models import (
    CLASSES,
    LOOP_NAMES,
    POINT_CLOUD_NAMES,
    POINTS,
    SEGMENTATION_NAMES,
    feature_size,
    loop_params,
    small_inputs,
    small_model_kwargs,
)

import keras_mgic
from keras_mgic import MGICBlock, models
from keras_mgic.layers import MGICFeedForward

NAMES = sorted(models.MODELS)
WIDTH_NAMES = [n for n in NAMES if "alpha" in inspect.signature(models.MODELS[n]).parameters]


def _redundant_in_training(path):
    """The key bias of multi-head attention never gets a gradient: it adds the same
    ``q . b`` to every score of a query, which the softmax removes. And the last BatchNorm
    offset of an inverted residual on a coarse level (``level_j``,
    j >= 1) gets no gradient in training mode: that block's output reaches the fine level only
    through the linear prolongation and the correction BatchNorm, which removes any
    per-channel constant. (A ResNet block ends with a ReLU, so it has no such offset.)"""
    if "_attention/key/bias" in path:  # softmax ignores what adds to every score of a query
        return True
    return "project_bn/beta" in path and "level_0_block" not in path and "_mgic/" in path


def _build(name, **overrides):
    return models.get_model(name, **{**small_model_kwargs(name), **overrides})


def test_registry_has_all_twenty_seven_builders_in_pairs():
    assert len(NAMES) == 27  # 20 image classifiers, 4 segmenters, 3 point-cloud classifiers
    assert len(SEGMENTATION_NAMES) == 4  # the LR-ASPP segmentation builders
    assert len(POINT_CLOUD_NAMES) == 3 and set(POINT_CLOUD_NAMES) <= set(NAMES)
    assert len(WIDTH_NAMES) == 8  # the MobileNetV3 builders, classification and segmentation
    for name in NAMES:
        if name.startswith("mgic_"):
            assert name[len("mgic_") :] in models.MODELS


@pytest.mark.parametrize("name", loop_params(LOOP_NAMES))
def test_builder_forward_and_gradients(name):
    model = _build(name)
    assert model.output_shape == (None, CLASSES)
    # A batch of 4: with 2 images, a training-mode BatchNorm on a 1x1 feature map outputs
    # -1 and +1 whatever its input, so the gradients behind it vanish.
    rng = np.random.default_rng(0)
    x = small_inputs(name, 4)
    weights = tf.constant(rng.normal(size=(4, CLASSES)).astype("float32"))
    with tf.GradientTape() as tape:
        y = model(x, training=True)
        loss = tf.reduce_sum(y * weights)
    assert tuple(y.shape) == (4, CLASSES)
    assert np.all(np.isfinite(y.numpy()))
    np.testing.assert_allclose(y.numpy().sum(axis=-1), np.ones(4), rtol=1e-5)
    assert keras_mgic.count_params(model) == sum(
        math.prod(w.shape) for w in model.trainable_weights
    )
    mgic_layers = (MGICBlock, MGICFeedForward)
    has_mgic = any(isinstance(layer, mgic_layers) for layer in model._flatten_layers())
    assert has_mgic == name.startswith("mgic_")
    variables = model.trainable_variables
    grads = tape.gradient(loss, variables)
    missing = [v.path for v, g in zip(variables, grads, strict=True) if g is None]
    zero = [
        v.path
        for v, g in zip(variables, grads, strict=True)
        if g is not None and not np.any(np.asarray(g)) and not _redundant_in_training(v.path)
    ]
    nonfinite = [
        v.path
        for v, g in zip(variables, grads, strict=True)
        if g is not None and not np.all(np.isfinite(np.asarray(g)))
    ]
    assert not missing and not zero and not nonfinite, (missing, zero, nonfinite)
    if name.startswith("mgic_"):  # the hierarchy is really exercised
        levels = [
            len(layer.widths if hasattr(layer, "widths") else layer._levels)
            for layer in model._flatten_layers()
            if hasattr(layer, "widths") or isinstance(layer, MGICFeedForward)
        ]
        assert max(levels) > 1


# The image builders' feature maps without top: tests/test_applications_api.py checks them
# in its feature-extractor loop (each builder built once for both).
@pytest.mark.parametrize("name", [*POINT_CLOUD_NAMES, "mobilenet_v3_small", "resnet20"])
def test_builder_without_top_returns_the_feature_map(name):
    features = _build(name, include_top=False)
    if name in POINT_CLOUD_NAMES:  # per-point embeddings, on POINTS / 8 points when pooled
        points = POINTS if name == "dgcnn" else POINTS // 8
        assert features.output_shape == (None, points, 64)
        assert not any(layer.name == "predictions" for layer in features.layers)
        return
    size = feature_size(name)
    channels = features.output_shape[-1]
    assert features.output_shape == (None, size, size, channels) and channels > 0
    assert not any(layer.name == "predictions" for layer in features.layers)


# The pooling head is shared by every builder of a family: one dense and one MGIC of each.
@pytest.mark.parametrize("name", ["resnet20", "mgic_resnet50", "mgic_mobilenet_v3_small"])
@pytest.mark.parametrize("pooling, layer_name", [("avg", "avg_pool"), ("max", "max_pool")])
def test_builder_pooling(name, pooling, layer_name):
    pooled = _build(name, include_top=False, pooling=pooling)
    size = feature_size(name)
    channels = pooled.output_shape[-1]
    assert pooled.output_shape == (None, channels)
    assert pooled.get_layer(layer_name).input.shape == (None, size, size, channels)


def test_cifar_builders_keep_an_8x8_feature_map():
    for name in ("resnet20", "mgic_resnet56"):
        assert _build(name, include_top=False).output_shape == (None, 8, 8, 64)


def test_keras_round_trip_keeps_outputs(fresh_process):
    """An MGIC CIFAR ResNet and MGIC-DiffGCN, saved as .keras and reloaded in a new process
    that only imports keras_mgic (the registered layers must be enough)."""
    saved, expected = {}, {}
    # (MGIC-MobileNetV3-Small's pieces reload in a fresh process in tests/test_serialization.py,
    # and the whole model round-trips in tests/test_mobilenet_v3.py.)
    for name in ("mgic_resnet20", "mgic_diffgcn"):
        x = small_inputs(name, 2, seed=1)
        model = _build(name)
        model(x, training=True)  # move the BatchNorm statistics away from their initial values
        expected[name] = model(x, training=False).numpy()
        saved[name] = (model, x)
    reloaded = fresh_process(saved)
    for name, (outputs, configs) in reloaded.items():
        np.testing.assert_allclose(outputs, expected[name], rtol=1e-5, atol=1e-6)
        assert [c["name"] for c in configs] == [layer.name for layer in saved[name][0].layers]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"input_shape": (1, 1, 3)}, "input_shape"),
        ({"classes": 0}, "Received: classes=0$"),
        ({"classes": -3}, "Received: classes=-3$"),
    ],
)
def test_builder_rejects_what_it_cannot_take(name, overrides, match):
    with pytest.raises(ValueError, match=match):
        _build(name, **overrides)


@pytest.mark.parametrize("name", WIDTH_NAMES)
@pytest.mark.parametrize("alpha", [0, -0.5, float("nan")])
def test_builder_rejects_bad_alphas(name, alpha):
    with pytest.raises(ValueError, match=f"Received: alpha={alpha!r}$"):
        _build(name, alpha=alpha)


def test_get_model_unknown_name():
    with pytest.raises(ValueError, match="name='resnet57'"):
        models.get_model("resnet57")
