"""Small configurations of the model builders, shared by the test files.

``small_model_kwargs`` keeps every builder of ``keras_mgic.models.MODELS`` small and fast at
the smallest input the ImageNet-style ones take (point-cloud builders: 64 points, k = 4);
``small_inputs`` draws a batch of the matching input. ``MGIC_MODELS`` are one MGIC ResNet and
one MGIC MobileNetV3 small enough to train and save in seconds on every Keras backend.

The per-model loops of classifiers (images and point clouds) take ``LOOP_NAMES``; the
segmentation builders (``keras_mgic.models.SEGMENTATION_MODELS``, per-pixel outputs) have
their own loops, ``SEGMENTATION_NAMES`` with ``small_segmentation_kwargs``.
"""

import inspect

import numpy as np
import pytest

from keras_mgic import models

SIZE = 32  # the smallest input of the ImageNet-style models (total stride 32)
CLASSES = 5
#: The two largest builders (36.5M and 2.8M parameters, fixed depth and width): their
#: builder is WRN-16-8's with other numbers, so the loops that build, run and save every
#: model take WRN-16-8 for them and keep the suite's time down.
HEAVY = ("mgic_wide_resnet28_10", "wide_resnet28_10")
#: The segmentation builders (output (batch, height, width, classes)).
SEGMENTATION_NAMES = sorted(models.SEGMENTATION_MODELS)
#: The classifiers, of images and of point clouds (output (batch, classes)).
CLASSIFIER_NAMES = [name for name in sorted(models.MODELS) if name not in SEGMENTATION_NAMES]
#: Every classifier but the heavy ones, for the per-model loops.
LOOP_NAMES = [name for name in CLASSIFIER_NAMES if name not in HEAVY]
#: Input size of the small segmentation models: four times their output stride.
SEGMENTATION_SIZE = 64
#: The point-cloud classifiers (input ``(batch, points, channels)``) and their small size.
POINT_CLOUD_NAMES = ["dgcnn", "diffgcn", "mgic_diffgcn"]
POINTS, K = 64, 4
#: CIFAR ResNets that repeat ResNet-20's code path with more blocks a stage (n = 9, 18): the
#: per-model loops run them in ``make test-slow`` only (``loop_params``); their parameter
#: counts against the paper are checked in tests/test_resnet.py without building them.
DEEPER_REPEATS = ("mgic_resnet110", "mgic_resnet56", "resnet110", "resnet56")
#: MobileNetV3-Large repeats MobileNetV3-Small's builder with a longer block table (the MGIC
#: one is the largest build of the loops): the loops run the Large pair in ``make test-slow``;
#: tests/test_mobilenet_v3.py checks its own layout and counts in the default suite.
LARGER_REPEATS = ("mgic_mobilenet_v3_large", "mobilenet_v3_large")
#: The token models (ViT, MLP-Mixer): image classifiers on 4x4 patches, whose
#: ``small_model_kwargs`` are narrow and one block deep (MGIC twins still coarsen).
TOKEN_NAMES = ["mgic_mlp_mixer", "mgic_vit", "mlp_mixer", "vit"]
#: The image classifiers of LOOP_NAMES, for the loops about images (feature maps, resizing).
IMAGE_LOOP_NAMES = [name for name in LOOP_NAMES if name not in POINT_CLOUD_NAMES]

MGIC_MODELS = {
    "mgic_resnet20": dict(input_shape=(16, 16, 3), classes=CLASSES),
    "mgic_mobilenet_v3_small": dict(
        input_shape=(32, 32, 3),
        classes=CLASSES,
        alpha=0.35,
        include_preprocessing=False,  # the tests feed standardized, not 0-255, images
        group_size=8,
        coarsest_size=8,
    ),
}


def off_tensorflow(names):
    """``set(names)`` on JAX and PyTorch, the empty set on TensorFlow: what to mark ``slow``
    only where compiling a whole network costs tens of seconds."""
    import keras

    return set() if keras.backend.backend() == "tensorflow" else set(names)


def slow_off_tensorflow(test):
    """Marks ``test`` ``slow`` on JAX and PyTorch (``make test-slow``); on TensorFlow it stays
    in the default suite."""
    return pytest.mark.slow(test) if off_tensorflow([test]) else test


def loop_params(names, slow=()):
    """``names`` as pytest parameters, those of ``DEEPER_REPEATS``, ``LARGER_REPEATS`` and
    ``slow`` marked slow."""
    slow = set(slow) | set(DEEPER_REPEATS) | set(LARGER_REPEATS)
    return [pytest.param(name, marks=pytest.mark.slow) if name in slow else name for name in names]


def feature_size(name):
    """Height and width of the last feature map at SIZE x SIZE: total stride 32, or 4 for
    the CIFAR-style ResNets and the token models' 4x4 patches."""
    return 1 if name.endswith("50") or "mobilenet" in name else SIZE // 4


def small_model_kwargs(name):
    """Arguments that keep every model small and fast (MGIC ones still coarsen)."""
    if name in POINT_CLOUD_NAMES:
        return {"input_shape": (POINTS, 3), "classes": CLASSES, "k": K}
    kwargs = {"input_shape": (SIZE, SIZE, 3), "classes": CLASSES}
    if name in TOKEN_NAMES:
        kwargs.update(token_model_kwargs(name))
    if "alpha" in inspect.signature(models.MODELS[name]).parameters:
        kwargs["alpha"] = 0.5
        kwargs["include_preprocessing"] = False  # the tests feed standardized images
        if name.startswith("mgic_"):  # s_g = s_c = 64 would not coarsen these narrow widths
            kwargs.update(group_size=8, coarsest_size=8)
    return kwargs


def token_model_kwargs(name):
    """Architecture arguments that keep a token model small: dim 64, one block (ViT: 2
    heads); MGIC twins with ``group_size=16, coarsest_size=32`` (levels 64, 32, 16)."""
    kwargs = {"dim": 64, "depth": 1}
    if name.endswith("vit"):
        kwargs["heads"] = 2
    if name.startswith("mgic_"):
        kwargs.update(group_size=16, coarsest_size=32)
    return kwargs


def small_segmentation_kwargs(name):
    """Arguments that keep a segmentation builder small and fast (MGIC ones still coarsen)."""
    kwargs = {"input_shape": (SEGMENTATION_SIZE, SEGMENTATION_SIZE, 3), "classes": CLASSES}
    kwargs.update(alpha=0.35, include_preprocessing=False)
    if name.startswith("mgic_"):
        kwargs.update(group_size=8, coarsest_size=8)
    return kwargs


def small_inputs(name, batch, seed=0):
    """A float32 batch of standard-normal inputs for ``small_model_kwargs(name)``."""
    shape = small_model_kwargs(name)["input_shape"]
    return np.random.default_rng(seed).normal(size=(batch, *shape)).astype("float32")
