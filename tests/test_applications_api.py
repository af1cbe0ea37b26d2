"""The builders take ``keras.applications``' arguments with their names and meanings, so a
call to ``keras.applications.ResNet50(...)`` or ``MobileNetV3Small(...)`` can be replaced by
one of ours (dense or MGIC) with the same arguments."""

import inspect

import keras
import numpy as np
import pytest
from small_models import (
    CLASSIFIER_NAMES,
    IMAGE_LOOP_NAMES,
    POINT_CLOUD_NAMES,
    TOKEN_NAMES,
    feature_size,
    loop_params,
    token_model_kwargs,
)

from keras_mgic import models
from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization

#: The image classifiers (the segmentation builders' arguments: tests/test_lraspp.py).
NAMES = CLASSIFIER_NAMES
MOBILENETS = [name for name in NAMES if "mobilenet" in name]
RESNETS = [name for name in NAMES if "mobilenet" not in name]
#: Builders small enough to build many times: one per family, dense and MGIC.
QUICK = ["resnet20", "mgic_resnet20", "mobilenet_v3_small", "mgic_mobilenet_v3_small"]
#: The keras.applications function whose call each builder replaces.
KERAS_TWIN = {
    **{name: keras.applications.ResNet50 for name in RESNETS},
    **{name: keras.applications.MobileNetV3Small for name in MOBILENETS},
}


def _small(name):
    """Arguments that keep a builder small; MGIC MobileNets need s_g = 8 to coarsen."""
    if name in TOKEN_NAMES:
        return token_model_kwargs(name)
    kwargs = {"alpha": 0.35} if "mobilenet" in name else {}
    if name.startswith("mgic_mobilenet"):
        kwargs.update(group_size=8, coarsest_size=8)
    return kwargs


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def _predict(model, x):
    """Inference-mode outputs, eagerly (``predict`` would trace a function first)."""
    return keras.ops.convert_to_numpy(model(x, training=False))


# ------------------------------------------------------------------------------ signatures


@pytest.mark.parametrize("name", NAMES)
def test_signature_starts_with_keras_applications_arguments_in_order(name):
    theirs = inspect.signature(KERAS_TWIN[name]).parameters
    ours = inspect.signature(models.MODELS[name]).parameters
    assert list(ours)[: len(theirs)] == list(theirs)
    # Ours: no "imagenet", our model names, 10 classes for the CIFAR (Wide) ResNets and the
    # point-cloud classifiers (ModelNet-10), which take no `include_preprocessing`.
    points = name in POINT_CLOUD_NAMES
    tokens = name in TOKEN_NAMES  # 32x32, 10 classes by default, like the CIFAR models
    cifar = name.endswith(("20", "56", "110")) or "wide_resnet" in name or points or tokens
    differ = {"weights", "name"} | ({"classes"} if cifar else set())
    for argument, parameter in theirs.items():
        if argument not in differ:
            assert ours[argument].default == parameter.default, argument
    assert ours["weights"].default is None
    if points:
        assert "include_preprocessing" not in ours
    else:
        assert ours["include_preprocessing"].default == ("mobilenet" in name)


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_imagenet_weights_are_a_clear_error(name):
    with pytest.raises(ValueError, match=r"No pretrained weights .* Received: weights='imagenet'$"):
        models.MODELS[name](weights="imagenet")


@pytest.mark.parametrize("weights", ["no_such_file.weights.h5", 3])
def test_weights_must_be_an_existing_file(weights):
    with pytest.raises(ValueError, match=f"Received: weights={weights!r}$"):
        models.ResNet20(weights=weights)


# ------------------------------------------------------------- keras.applications-style calls


@pytest.mark.parametrize("name", loop_params(IMAGE_LOOP_NAMES))  # point clouds: test_point_models
def test_feature_extractor_on_an_input_tensor(name):
    """``include_top=False, weights=None, input_tensor=..., pooling="avg"``, the usual
    transfer-learning call, with layers before the input tensor; the pooled feature map has
    the builder's total stride and there is no classifier (every image builder: the
    registry's own without-top loop takes the point-cloud builders)."""
    raw = keras.Input((40, 40, 3), name="raw")
    resized = keras.layers.Resizing(32, 32, name="resize")(raw)
    model = models.MODELS[name](
        include_top=False, weights=None, input_tensor=resized, pooling="avg", **_small(name)
    )
    assert model.inputs[0] is raw and model.get_layer("resize") is not None
    assert model.input_shape == (None, 40, 40, 3)
    channels = model.output_shape[-1]
    assert model.output_shape == (None, channels)
    size = feature_size(name)  # the feature map under the pooling (32x32 after the resize)
    assert model.get_layer("avg_pool").input.shape == (None, size, size, channels)
    assert not any(layer.name == "predictions" for layer in model.layers)
    if name in QUICK:  # one forward pass per family is enough
        features = _predict(model, _images((2, 40, 40, 3)))
        assert features.shape == (2, channels) and np.all(np.isfinite(features))


@pytest.mark.parametrize("name", ["resnet50", "mgic_resnet50"])
def test_replaces_keras_applications_resnet50(name):
    kwargs = dict(include_top=False, weights=None, input_shape=(64, 64, 3), pooling="max")
    theirs = keras.applications.ResNet50(**kwargs)
    ours = models.MODELS[name](**kwargs)
    assert ours.output_shape == theirs.output_shape == (None, 2048)
    assert ours.get_layer("max_pool") is not None
    top = dict(weights=None, input_shape=(32, 32, 3), classes=7, classifier_activation=None)
    assert models.MODELS[name](**top).output_shape == (None, 7)


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "mgic_mobilenet_v3_small"])
def test_replaces_keras_applications_mobilenet_v3_small(name):
    kwargs = dict(input_shape=(96, 96, 3), alpha=0.75, include_top=False, weights=None)
    theirs = keras.applications.MobileNetV3Small(**kwargs)
    ours = models.MODELS[name](**kwargs)
    assert ours.output_shape == theirs.output_shape == (None, 3, 3, 432)
    ours = models.MODELS[name]((96, 96, 3), 0.75, False, True, None, None, 10)  # positional
    assert ours.output_shape == (None, 10) and ours.name == models.MODELS[name].__name__


def test_dense_mobilenet_has_keras_applications_parameter_counts():
    for minimalistic in (False, True):
        kwargs = dict(weights=None, minimalistic=minimalistic, input_shape=(64, 64, 3))
        theirs = keras.applications.MobileNetV3Small(**kwargs)
        ours = models.MobileNetV3Small(**kwargs)
        assert ours.count_params() == theirs.count_params()


@pytest.mark.parametrize(
    "name, size", [("resnet20", 32), ("resnet50", 224), ("mobilenet_v3_large", 224)]
)
def test_default_input_shape(name, size):
    builder = models.MODELS[name]
    assert builder(**_small(name)).input_shape == (None, size, size, 3)
    anything = builder(input_shape=(None, None, 3), include_top=False, **_small(name))
    assert anything.input_shape == (None, None, None, 3)


def test_input_shape_and_input_tensor_must_agree():
    tensor = keras.Input((32, 32, 3))
    with pytest.raises(ValueError, match=r"input_shape=\(64, 64, 3\), input_tensor.shape="):
        models.ResNet20(input_tensor=tensor, input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="`input_tensor` must be a Keras tensor"):
        models.ResNet20(input_tensor=np.zeros((1, 32, 32, 3), "float32"))
    assert models.ResNet20(input_tensor=tensor, input_shape=(32, 32, 3)).inputs[0] is tensor


def test_channels_first_is_an_error_not_a_misread():
    keras.config.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="Received: image_data_format='channels_first'$"):
            models.MGICResNet20()
    finally:
        keras.config.set_image_data_format("channels_last")


# --------------------------------------------------------------------------------- weights


# The same wrapper for every builder: the MobileNetV3 pair's round trips (the largest builds of
# QUICK) run in ``make test-slow``.
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if "mobilenet" in n else n for n in QUICK]
)
def test_weights_path_round_trip(name, tmp_path):
    kwargs = dict(input_shape=(32, 32, 3), classes=3, **_small(name))
    model = models.MODELS[name](**kwargs)
    x = _images((2, 32, 32, 3))
    model(x, training=True)  # move the BatchNorm statistics
    path = str(tmp_path / "model.weights.h5")
    model.save_weights(path)
    loaded = models.MODELS[name](weights=path, **kwargs)
    np.testing.assert_allclose(_predict(loaded, x), _predict(model, x), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("name", QUICK)
def test_include_preprocessing_rescales_raw_pixels_inside(name):
    """With ``include_preprocessing=True`` the model takes raw [0, 255] pixels: it equals the
    model without it applied to ``x / 127.5 - 1``."""
    kwargs = dict(input_shape=(32, 32, 3), classes=3, **_small(name))
    raw = models.MODELS[name](include_preprocessing=True, **kwargs)
    scaled = models.MODELS[name](include_preprocessing=False, **kwargs)
    scaled.set_weights(raw.get_weights())
    assert raw.get_layer("rescaling").get_config()["scale"] == pytest.approx(1 / 127.5)
    assert "rescaling" not in [layer.name for layer in scaled.layers]
    x = _images((2, 32, 32, 3))
    np.testing.assert_allclose(
        _predict(raw, x), _predict(scaled, x / 127.5 - 1), rtol=1e-5, atol=1e-5
    )


def test_preprocessing_defaults_follow_keras_applications():
    assert "rescaling" in [layer.name for layer in models.MobileNetV3Small(alpha=0.35).layers]
    assert "rescaling" not in [layer.name for layer in models.ResNet20().layers]


# ------------------------------------------------------------------ one BatchNorm, aliases


@pytest.mark.parametrize("name", ["resnet20", "mobilenet_v3_small"])
def test_dense_models_use_the_package_batch_norm(name):
    norms = [
        layer
        for layer in models.MODELS[name](**_small(name))._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert norms and all(type(layer) is BatchNormalization for layer in norms)
    assert {(layer.momentum, layer.epsilon) for layer in norms} == {(BN_MOMENTUM, BN_EPSILON)}


def test_deprecated_argument_names_still_work_with_a_warning():
    with pytest.warns(DeprecationWarning, match="`num_classes` is deprecated"):
        model = models.MGICResNet20(num_classes=3)
    assert model.output_shape == (None, 3)
    with pytest.warns(DeprecationWarning, match="`width_multiplier` is deprecated"):
        model = models.MobileNetV3Small(width_multiplier=0.35, input_shape=(32, 32, 3))
    assert model.get_layer("block0_project").filters == 8


def test_registry_takes_keras_applications_arguments():
    model = models.get_model("mgic_resnet20", classes=4, include_top=True, weights=None)
    assert model.output_shape == (None, 4) and model.name == "mgic_resnet20"
