"""LR-ASPP semantic segmentation on MobileNetV3 and MGIC-MobileNetV3 encoders (paper Table 5).

The MGIC paper's segmentation networks (Sec. 5.3) follow the MobileNetV3 paper's (Howard et
al. 2019, Sec. 6.4, "Lite Reduced Atrous Spatial Pyramid Pooling"):

- Encoder: MobileNetV3-Large or -Small (dense, or with every block an MGIC block as in
  ``MGICMobileNetV3Large/Small``) at output stride 16: the last stride-2 row keeps stride 1
  and the last stage's depthwise convolutions are dilated by 2 (in an MGIC encoder, inside
  every level's inverted residual and in the stage's transition too), and the last stage's
  widths and expanded widths are halved ("RF2"); see
  :func:`keras_mgic.models.mobilenet_v3.segmentation_blocks`.
- Head, with 128 filters: on the 1/16 features a 1x1 convolution, BatchNorm and ReLU,
  multiplied by a gate (global average pooling, a 1x1 convolution to 128 channels, a
  sigmoid); bilinearly upsampled to the size of the 1/8 features; a 1x1 classifier on each
  of the two, summed; bilinearly upsampled to the input size. This is the head of
  torchvision's ``LRASPPHead`` (pytorch/vision, ``torchvision/models/segmentation/lraspp.py``):
  global pooling where the MobileNetV3 paper pools with a large strided window.
- The 1/8 features are the input of the row that goes from 1/8 to 1/16 resolution (the last
  1/8 block's output: 40 channels in Large, 24 in Small at ``alpha=1``). The authors'
  TensorFlow code takes that block's depthwise output instead (tensorflow/models,
  ``research/deeplab/core/feature_extractor.py``), torchvision the first 1/8 block's
  output; an MGIC block exposes only its output, so both encoders use the block output.

The output is the per-pixel logits ``(batch, height, width, classes)`` at the input's size,
float32 under mixed precision. The models take any input size (``input_shape=(None, None,
3)`` by default) of at least 16 pixels a side.
"""

import functools

from keras import layers

from keras_mgic.layers import ResizeLike
from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.channel_hierarchy import check_coarsening
from keras_mgic.layers.validation import is_int, positive_even_int, positive_int
from keras_mgic.models import application_helpers as helpers
from keras_mgic.models import applications as apps
from keras_mgic.models import mobilenet_v3

#: The encoders' output stride: the smallest input height and width.
OUTPUT_STRIDE = 16
#: Filters of the head's 1/16 branch (the MobileNetV3 paper's "LR-ASPP 128" rows).
HEAD_FILTERS = 128
#: Classes of Cityscapes' evaluation, the builders' default.
DEFAULT_CLASSES = 19
#: Table 5's input size (Cityscapes' full resolution), at which BENCHMARKS.md counts MACs.
TABLE5_INPUT_SHAPE = (1024, 2048, 3)
#: The MGIC encoders' default ``(group_size, coarsest_size)``. The paper does not give them
#: for Table 5. Its ImageNet setting, s_g = s_c = 64, groups none of these encoders' blocks
#: (16 to 112 channels, the halved last stage 48 / 80): each block only gains coarse levels,
#: and parameters and MACs rise above the dense twin's (1.3x). With 16 / 32 the blocks of 32
#: channels and more have grouped fine levels: fewer MACs than the dense twin (0.97x Small,
#: 0.76x Large at 1024x2048; BENCHMARKS.md, section ``paper_table5``).
MGIC_DEFAULTS = (16, 32)


def check_classes(classes):
    """``classes``: an int of at least 2 (background and one class at least)."""
    if not is_int(classes) or classes < 2:
        raise ValueError(
            "`classes` must be an integer >= 2 (a segmentation model tells at least two "
            f"classes apart, e.g. background and object). Received: classes={classes!r}"
        )
    return classes


def _check_activation(classifier_activation):
    if classifier_activation not in (None, "softmax"):
        raise ValueError(
            "`classifier_activation` must be None (logits) or 'softmax' (per-pixel class "
            f"probabilities). Received: classifier_activation={classifier_activation!r}"
        )


def lraspp_head(low, high, image, classes, filters=HEAD_FILTERS, classifier_activation=None):
    """The LR-ASPP head: per-pixel class logits at ``image``'s height and width.

    Args:
        low: the 1/8-resolution features.
        high: the 1/16-resolution features.
        image: the model's input (only its height and width are used).
        classes: number of classes.
        filters: width of the 1/16 branch.
        classifier_activation: None (logits) or ``"softmax"``.

    Returns:
        A Keras tensor ``(batch, height, width, classes)``, float32 under mixed precision.
    """
    x = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer="he_normal", name="head_conv")(
        high
    )
    x = BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name="head_bn")(x)
    x = layers.Activation("relu", name="head_activation")(x)
    gate = layers.GlobalAveragePooling2D(keepdims=True, name="head_pool")(high)
    gate = layers.Conv2D(filters, 1, use_bias=False, name="head_gate_conv")(gate)
    gate = layers.Activation("sigmoid", name="head_gate")(gate)
    x = layers.Multiply(name="head_gated")([x, gate])
    x = ResizeLike(name="head_upsample")([x, low])
    dtype = apps.head_dtype()
    x = layers.Conv2D(classes, 1, dtype=dtype, name="high_classifier")(x)
    low = layers.Conv2D(classes, 1, dtype=dtype, name="low_classifier")(low)
    x = layers.Add(dtype=dtype, name="logits_sum")([low, x])
    x = ResizeLike(dtype=dtype, name="logits")([x, image])
    if classifier_activation is not None:
        x = layers.Activation(classifier_activation, dtype=dtype, name="predictions")(x)
    return x


def build_lraspp(
    architecture,
    *,
    mgic=False,
    input_shape=None,
    alpha=1.0,
    minimalistic=False,
    weights=None,
    input_tensor=None,
    classes=DEFAULT_CLASSES,
    classifier_activation=None,
    include_preprocessing=True,
    group_size=MGIC_DEFAULTS[0],
    coarsest_size=MGIC_DEFAULTS[1],
    coarsening="reference",
    mgic_min_width=None,
    head_filters=HEAD_FILTERS,
    name=None,
):
    """Builds a dense or MGIC LR-ASPP MobileNetV3 segmentation network.

    Args:
        architecture: ``"large"`` or ``"small"`` (or a ``mobilenet_v3.Architecture``).
        mgic: False for the dense encoder, True for the MGIC-MobileNetV3 encoder.
        The rest: see :func:`LRASPPMobileNetV3Large` and :func:`MGICLRASPPMobileNetV3Large`.

    Returns:
        A functional ``keras.Model`` from images to per-pixel logits.

    Example:

    >>> model = build_lraspp("small", input_shape=(64, 64, 3), alpha=0.35, classes=11)
    >>> model.output_shape
    (None, 64, 64, 11)
    """
    check_classes(classes)
    _check_activation(classifier_activation)
    positive_int("head_filters", head_filters)
    apps.check_weights(weights)
    mgic_args = None
    if mgic:
        positive_even_int("group_size", group_size)
        positive_int("coarsest_size", coarsest_size)
        check_coarsening(coarsening)
        apps.check_mgic_min_width(mgic_min_width)
        mgic_args = (group_size, coarsest_size, coarsening, mgic_min_width)
    image = apps.model_input(input_shape, input_tensor, None, OUTPUT_STRIDE)
    x = apps.preprocess(image, include_preprocessing)
    low, high = mobilenet_v3.segmentation_encoder(
        x, architecture, alpha=alpha, minimalistic=minimalistic, mgic=mgic_args
    )
    outputs = lraspp_head(low, high, image, classes, head_filters, classifier_activation)
    return apps.finish(image, input_tensor, outputs, name, weights)


# ------------------------------------------------------------------------- named builders

#: The named builders: function name, architecture, MGIC or not, summary line, example.
NAMED = (
    ("LRASPPMobileNetV3Large", "large", False,
     "LR-ASPP on a dense MobileNetV3-Large encoder (MobileNetV3 paper Sec. 6.4; MGIC paper "
     "Table 5).",
     ">>> model = LRASPPMobileNetV3Large(input_shape=(64, 64, 3), alpha=0.35, classes=5)\n"
     ">>> model.output_shape\n(None, 64, 64, 5)"),
    ("LRASPPMobileNetV3Small", "small", False,
     "LR-ASPP on a dense MobileNetV3-Small encoder (MGIC paper Table 5).",
     ">>> LRASPPMobileNetV3Small(alpha=0.35).output_shape\n(None, None, None, 19)"),
    ("MGICLRASPPMobileNetV3Large", "large", True,
     "LR-ASPP on an MGIC-MobileNetV3-Large encoder (MGIC paper Sec. 5.3, Table 5).",
     ">>> model = MGICLRASPPMobileNetV3Large(input_shape=(64, 64, 3), alpha=0.35,\n"
     "...                                    classes=5, group_size=8, coarsest_size=8)\n"
     ">>> model.output_shape\n(None, 64, 64, 5)"),
    ("MGICLRASPPMobileNetV3Small", "small", True,
     "LR-ASPP on an MGIC-MobileNetV3-Small encoder (MGIC paper Sec. 5.3, Table 5).",
     ">>> model = MGICLRASPPMobileNetV3Small(input_shape=(64, 96, 3), classes=11)\n"
     ">>> model.output_shape\n(None, 64, 96, 11)"),
)  # fmt: skip

_DETAILS = (
    "Output stride 16 (the last stage dilated), the last stage halved, a 128-filter head on\n"
    "the 1/8 and 1/16 features (see ``keras_mgic.models.lraspp``). The output is per-pixel\n"
    "logits at the input's height and width. Like ``keras.applications.MobileNetV3``, the\n"
    "model takes raw ``[0, 255]`` images by default (``include_preprocessing=True``)."
)

_ARGS_DOC = """\
    input_shape: ``(height, width, channels)``, channels last; default ``input_tensor``'s
        shape, else ``(None, None, 3)``: any height and width of at least 16 (the output
        stride), known only when the model runs.
    alpha: width multiplier of the encoder's blocks, as ``MobileNetV3Large``'s; the head
        keeps ``head_filters``. Default 1.0.
    minimalistic: the encoder's rows without squeeze-excite, hard-swish and 5x5 kernels, as
        ``keras.applications``' minimalistic models. Default False.
    weights: None (random initialization) or the path of a weights file to load after
        building (``model.save_weights``). No pretrained weights are published, so
        ``"imagenet"`` raises a ValueError.
    input_tensor: optional Keras tensor (e.g. ``keras.Input(...)``) to build the model
        on; layers before it become part of the model.
    classes: number of classes, at least 2; default 19 (Cityscapes).
    classifier_activation: None (default: logits) or ``"softmax"``; float32 under a
        mixed-precision policy.
    include_preprocessing: whether the model takes raw ``[0, 255]`` pixels and rescales
        them to ``[-1, 1]`` inside (a ``Rescaling`` layer named ``"rescaling"``); default
        True.
    name: the model's name; default ``"{name}"``."""

_COARSEST_NOTE = (
    " The paper's ImageNet setting\n        (64 / 64) groups none of these narrow "
    "encoders' blocks;\n        ``keras_mgic.models.lraspp.MGIC_DEFAULTS`` says why 16 / 32."
)

_HEAD_DOC = """\
    head_filters: width of the head's 1/16 branch and gate; default 128."""


def _signature(function_name, mgic):
    positional = (
        ("input_shape", None),
        ("alpha", 1.0),
        ("minimalistic", False),
        ("weights", None),
        ("input_tensor", None),
        ("classes", DEFAULT_CLASSES),
        ("classifier_activation", None),
        ("include_preprocessing", True),
        ("name", function_name),
    )
    keyword_only = [
        ("group_size", MGIC_DEFAULTS[0]),
        ("coarsest_size", MGIC_DEFAULTS[1]),
        ("coarsening", "reference"),
        ("mgic_min_width", None),
    ]
    keyword_only = keyword_only if mgic else []
    return apps.parameters(positional, keyword_only + [("head_filters", HEAD_FILTERS)])


def _doc(function_name, mgic, summary, example):
    args = _ARGS_DOC.format(name=function_name)
    if mgic:
        note = mobilenet_v3._MGIC_NOTE
        args += "\n" + apps.mgic_args_doc(*MGIC_DEFAULTS, note, _COARSEST_NOTE)
    args += "\n" + _HEAD_DOC
    return apps.builder_doc(summary, _DETAILS, args, example).replace(
        "argument out of range,",
        "argument out of range (e.g. ``classes < 2`` or an input\n        smaller than 16 pixels),",
    )


def _build_named(architecture, mgic, **arguments):
    return build_lraspp(architecture, mgic=mgic, **arguments)


def _named(function_name, architecture, mgic, summary, example):
    return apps.named_builder(
        function_name,
        functools.partial(_build_named, architecture, mgic),
        _signature(function_name, mgic),
        _doc(function_name, mgic, summary, example),
        __name__,
    )


_BUILDERS = {row[0]: _named(*row) for row in NAMED}
LRASPPMobileNetV3Large = _BUILDERS["LRASPPMobileNetV3Large"]
LRASPPMobileNetV3Small = _BUILDERS["LRASPPMobileNetV3Small"]
MGICLRASPPMobileNetV3Large = _BUILDERS["MGICLRASPPMobileNetV3Large"]
MGICLRASPPMobileNetV3Small = _BUILDERS["MGICLRASPPMobileNetV3Small"]


def preprocess_input(x, data_format=None):
    """Returns ``x`` unchanged: the models preprocess their input themselves.

    The builders default to ``include_preprocessing=True``: the model takes raw
    ``[0, 255]`` pixels and rescales them inside, as ``keras.applications.mobilenet_v3``
    does, whose ``preprocess_input`` is the identity too. (For a model built with
    ``include_preprocessing=False``, feed ``x / 127.5 - 1``.)

    Args:
        x: images, a NumPy array or a backend tensor.
        data_format: ``None``, ``"channels_last"`` or ``"channels_first"`` (only checked).

    Returns:
        ``x``.

    Example:

    >>> preprocess_input(np.array([0.0, 255.0])).tolist()
    [0.0, 255.0]
    """
    return helpers.identity_input(x, data_format=data_format)


def decode_predictions(preds, top=5, class_names=None):
    """The ``top`` classes of each segmentation output by their share of the pixels.

    The segmentation twin of ``keras.applications``' helper: each pixel counts for its
    highest-scoring class.

    Args:
        preds: the model's per-pixel scores ``(samples, height, width, classes)``.
        top: how many classes per image, at most (classes no pixel has are left out).
        class_names: one name per class; default: the class indices as strings.

    Returns:
        One list per image of ``(class_id, class_name, pixel_fraction)`` tuples.

    Example:

    >>> logits = np.zeros((1, 2, 2, 2)); logits[0, 0, 0, 1] = 1
    >>> decode_predictions(logits, class_names=["background", "digit"])
    [[('0', 'background', 0.75), ('1', 'digit', 0.25)]]
    """
    return helpers.decode_pixels(preds, top=top, class_names=class_names)
