"""ResNets (CIFAR and ImageNet style) and their MGIC twins, in the style of ``keras.applications``.

One generic builder, :func:`ResNet`, makes every model; the named builders (``ResNet56``,
``MGICResNet56``, ``ResNet50``, ...) pick a row of :data:`VARIANTS` and switch MGIC off or on,
so a dense ResNet and its MGIC twin share the stem, the stage layout and the head:

- **Dense** (``mgic=False``): a block that keeps width and stride is the per-level block at
  full width and one group; the first block of a stage that changes width or stride is the
  standard ResNet block with a projection shortcut (1x1 conv with the stride + BatchNorm).
- **MGIC** (``mgic=True``): every block is an :class:`~keras_mgic.layers.MGICBlock` wrapping
  the same per-level block; a change of width or stride is a
  :class:`~keras_mgic.layers.ChannelTransition` (paper Sec. 4.3) followed by the MGIC block
  at the new width. The stem and the classifier stay dense, as in the paper.

Strided convolutions and the stem's max pooling pad symmetrically (an explicit
``ZeroPadding2D`` of ``kernel_size // 2`` and a "valid" convolution, as PyTorch's
``padding=k // 2`` and ``keras.applications``' ResNet stem do); stride-1 ones use "same".
Layer names are deterministic: ``stem_conv``, ``stage2_block1_transition``,
``stage2_block1_mgic``, ``stage3_block4``, ``stage2_block1_proj_conv``, ``predictions``, ...
docs/models.md lists the parameters and MACs of every variant.
"""

import functools

import keras

from keras_mgic.layers import BottleneckBlock, ChannelTransition, MGICBlock, ResidualBlock
from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.channel_hierarchy import check_coarsening
from keras_mgic.layers.validation import is_int, positive_even_int, positive_int
from keras_mgic.models import application_helpers as helpers
from keras_mgic.models import applications as apps

_BOTTLENECK_RATIO = 4

#: The stems: filters, kernel size, stride, and whether a 3x3 stride-2 max pooling follows.
STEMS = {
    "cifar": {"filters": 16, "kernel_size": 3, "strides": 1, "max_pool": False},
    "imagenet": {"filters": 64, "kernel_size": 7, "strides": 2, "max_pool": True},
}


def _cifar_variant(blocks_per_stage):
    """A CIFAR ResNet of depth ``6 * blocks_per_stage + 2`` (He et al., section 4.2)."""
    return {
        "stem": "cifar",
        "block": "residual",
        "stage_widths": (16, 32, 64),
        "stage_depths": (blocks_per_stage,) * 3,
        "stage_strides": (1, 2, 2),
        "default_size": 32,
        "default_classes": 10,
        "mgic_defaults": (8, 16),
    }


#: Every named variant: stem, per-level block, stage widths (block outputs), blocks per stage,
#: stage strides, default input size, default number of classes and default ``(s_g, s_c)``.
VARIANTS = {
    "resnet20": _cifar_variant(3),
    "resnet56": _cifar_variant(9),
    "resnet110": _cifar_variant(18),
    "resnet50": {
        "stem": "imagenet",
        "block": "bottleneck",
        "stage_widths": (256, 512, 1024, 2048),
        "stage_depths": (3, 4, 6, 3),
        "stage_strides": (1, 2, 2, 2),
        "default_size": 224,
        "default_classes": 1000,
        "mgic_defaults": (32, 64),
    },
}

_LEVEL_BLOCKS = {"residual": ResidualBlock, "bottleneck": BottleneckBlock}


def _check_int_tuple(name, value, length=None):
    if (
        not isinstance(value, (tuple, list))
        or not value
        or any(not is_int(v) or v <= 0 for v in value)
        or (length is not None and len(value) != length)
    ):
        expected = f"{length} " if length is not None else ""
        raise ValueError(
            f"`{name}` must be a tuple of {expected}positive integers. Received: {name}={value!r}"
        )
    return tuple(value)


def min_input_size(stem, stage_strides):
    """The smallest input height/width a ResNet takes: its total downsampling factor."""
    size = STEMS[stem]["strides"] * (2 if STEMS[stem]["max_pool"] else 1)
    for stride in stage_strides:
        size *= stride
    return size


def _conv_bn(x, filters, kernel_size, strides, name, activation=True):
    x, padding = apps.symmetric_padding(x, kernel_size, strides, f"{name}_conv")
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    x = BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    if activation:
        x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    return x


def _dense_downsampling_block(x, filters, strides, block, name):
    """The standard ResNet block with a projection shortcut (width or stride changes)."""
    if block == "residual":
        y = _conv_bn(x, filters, 3, strides, f"{name}_1")
        y = _conv_bn(y, filters, 3, 1, f"{name}_2", activation=False)
    else:
        width = filters // _BOTTLENECK_RATIO
        y = _conv_bn(x, width, 1, 1, f"{name}_1")
        y = _conv_bn(y, width, 3, strides, f"{name}_2")
        y = _conv_bn(y, filters, 1, 1, f"{name}_3", activation=False)
    shortcut = _conv_bn(x, filters, 1, strides, f"{name}_proj", activation=False)
    x = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def _stem(x, stem):
    config = STEMS[stem]
    x = _conv_bn(x, config["filters"], config["kernel_size"], config["strides"], "stem")
    if config["max_pool"]:
        x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    return x


def _body(x, widths, depths, strides, block, mgic):
    """The stages; ``mgic`` is ``(group_size, coarsest_size, coarsening, min_width)`` of
    the MGIC blocks, or None for a dense body. Blocks narrower than ``min_width`` (when it
    is not None) stay dense."""
    channels = x.shape[-1]
    for stage, (width, depth, stride) in enumerate(
        zip(widths, depths, strides, strict=True), start=1
    ):
        for index in range(1, depth + 1):
            prefix = f"stage{stage}_block{index}"
            block_stride = stride if index == 1 else 1
            changes = block_stride != 1 or channels != width
            if mgic is not None and apps.uses_mgic(width, mgic[3]):
                x = _mgic_block(x, width, block_stride, changes, block, mgic[:3], prefix)
            elif changes:
                x = _dense_downsampling_block(x, width, block_stride, block, prefix)
            else:
                x = _LEVEL_BLOCKS[block](width, groups=1, name=prefix)(x)
            channels = width
    return x


def _mgic_block(x, width, strides, changes, block, mgic, prefix):
    if changes:
        x = ChannelTransition(width, strides=strides, name=f"{prefix}_transition")(x)
    # Bottleneck networks count s_g and s_c in bottleneck channels (the 3x3 conv's width),
    # as the reference code does; the MGICBlock sees the 4x wider block output.
    scale = _BOTTLENECK_RATIO if block == "bottleneck" else 1
    group_size, coarsest_size, coarsening = mgic
    return MGICBlock(
        group_size=group_size * scale,
        coarsest_size=coarsest_size * scale,
        block=block,
        coarsening=coarsening,
        name=f"{prefix}_mgic",
    )(x)


def _classifier(x, classes, classifier_activation, dropout_rate):
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout_rate > 0:
        x = keras.layers.Dropout(dropout_rate, name="dropout")(x)
    return keras.layers.Dense(
        classes,
        activation=classifier_activation,
        kernel_initializer="he_normal",
        dtype=apps.head_dtype(),
        name="predictions",
    )(x)


def _check_layout(stage_widths, stage_depths, stage_strides, block, stem):
    widths = _check_int_tuple("stage_widths", stage_widths)
    depths = _check_int_tuple("stage_depths", stage_depths, len(widths))
    if stage_strides is None:
        stage_strides = (1,) + (2,) * (len(widths) - 1)
    strides = _check_int_tuple("stage_strides", stage_strides, len(widths))
    if block not in _LEVEL_BLOCKS:
        raise ValueError(
            f"`block` must be one of {sorted(_LEVEL_BLOCKS)}. Received: block={block!r}"
        )
    if stem not in STEMS:
        raise ValueError(f"`stem` must be one of {sorted(STEMS)}. Received: stem={stem!r}")
    if block == "bottleneck" and any(w % _BOTTLENECK_RATIO for w in widths):
        raise ValueError(
            f"Bottleneck stage widths must be multiples of {_BOTTLENECK_RATIO}. "
            f"Received: stage_widths={stage_widths!r}"
        )
    return widths, depths, strides


def ResNet(
    stage_widths,
    stage_depths,
    stage_strides=None,
    block="residual",
    stem="cifar",
    mgic=False,
    group_size=8,
    coarsest_size=16,
    coarsening="reference",
    mgic_min_width=None,
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    include_preprocessing=False,
    dropout_rate=0.0,
    default_size=32,
    name=None,
    num_classes=None,
):
    """Builds a ResNet, dense or MGIC, as a functional ``keras.Model``.

    The generic builder behind every named ResNet of this module (see the module docstring
    for what the dense and MGIC variants do at a change of width or stride).

    In an MGIC network with ``block="bottleneck"`` (MGIC-ResNet-50), ``group_size`` and
    ``coarsest_size`` count *bottleneck* channels, the width of the 3x3 convolution, as the
    paper's reference code does: the ``MGICBlock`` over the 4x wider block output gets
    ``group_size * 4`` and ``coarsest_size * 4``.

    Weight decay: pass it to the optimizer (``keras.optimizers.SGD(weight_decay=1e-4)``),
    which reaches every weight, including the MGIC transfer operators.

    Args:
        stage_widths: tuple of ints, the output width of each stage.
        stage_depths: tuple of ints, the number of blocks in each stage.
        stage_strides: tuple of ints, the stride of each stage's first block (default:
            1 for the first stage, 2 for the others).
        block: per-level block, ``"residual"`` (basic block) or ``"bottleneck"``.
        stem: ``"cifar"`` (3x3 conv, 16 channels) or ``"imagenet"`` (7x7 stride-2 conv,
            64 channels, 3x3 stride-2 max pooling).
        mgic: whether the body is made of MGIC blocks (True) or dense blocks (False).
        group_size: ``s_g`` of the MGIC blocks (ignored when ``mgic=False``).
        coarsest_size: ``s_c`` of the MGIC blocks (ignored when ``mgic=False``).
        coarsening: the MGIC blocks' coarsening rule, ``"reference"`` or ``"literal"``
            (see ``MGICBlock``; ignored when ``mgic=False``).
        mgic_min_width: None, or the width below which blocks stay dense in an MGIC
            network (a hybrid); ignored when ``mgic=False``.
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation, include_preprocessing: as in ``keras.applications``
            (see :func:`ResNet56`); ``include_preprocessing`` defaults to False.
        dropout_rate: dropout before the classifier, in ``[0, 1)``.
        default_size: input height and width when neither ``input_shape`` nor
            ``input_tensor`` is given.
        name: model name (default ``"resnet"`` or ``"mgic_resnet"``).
        num_classes: deprecated alias of ``classes``.

    Returns:
        A ``keras.Model``.

    Raises:
        ValueError: for an argument out of range, e.g. an input smaller than the
            network's total stride, a non-positive ``classes`` or ``weights="imagenet"``.

    Example:

    >>> model = ResNet((16, 32), (1, 1), mgic=True, group_size=8, coarsest_size=8)
    >>> model.output_shape
    (None, 10)
    """
    classes = apps.renamed_argument("classes", classes, 10, "num_classes", num_classes)
    widths, depths, strides = _check_layout(stage_widths, stage_depths, stage_strides, block, stem)
    apps.check_head(include_top, classes, pooling, dropout_rate)
    apps.check_weights(weights)
    if mgic:
        positive_even_int("group_size", group_size)
        positive_int("coarsest_size", coarsest_size)
        check_coarsening(coarsening)
        apps.check_mgic_min_width(mgic_min_width)
    img_input = apps.model_input(
        input_shape, input_tensor, default_size, min_input_size(stem, strides)
    )

    x = apps.preprocess(img_input, include_preprocessing)
    x = _stem(x, stem)
    mgic_args = (group_size, coarsest_size, coarsening, mgic_min_width) if mgic else None
    x = _body(x, widths, depths, strides, block, mgic_args)
    if include_top:
        x = _classifier(x, classes, classifier_activation, dropout_rate)
    else:
        x = apps.global_pooling(x, pooling)
    name = name or ("mgic_resnet" if mgic else "resnet")
    return apps.finish(img_input, input_tensor, x, name, weights)


# ------------------------------------------------------------------------- named builders

#: The named builders: function name, variant, MGIC or not, summary line, example.
NAMED = (
    ("ResNet20", "resnet20", False, "Dense CIFAR ResNet-20 (3 stages of 3 basic blocks).",
     ">>> ResNet20().output_shape\n(None, 10)"),
    ("ResNet56", "resnet56", False, "Dense CIFAR ResNet-56 (3 stages of 9 basic blocks).",
     ">>> ResNet56(classes=100).output_shape\n(None, 100)"),
    ("ResNet110", "resnet110", False, "Dense CIFAR ResNet-110 (3 stages of 18 basic blocks).",
     ">>> ResNet110(include_top=False).output_shape\n(None, 8, 8, 64)"),
    ("MGICResNet20", "resnet20", True,
     "MGIC-ResNet-20: ResNet-20 with every block an ``MGICBlock`` of basic blocks.",
     ">>> MGICResNet20().output_shape\n(None, 10)"),
    ("MGICResNet56", "resnet56", True,
     "MGIC-ResNet-56 (paper Tables 2, 7 and 8): ResNet-56 with ``MGICBlock`` s.",
     ">>> model = MGICResNet56(group_size=16, coarsest_size=32)\n"
     ">>> model.get_layer(\"stage2_block1_transition\").filters\n32"),
    ("MGICResNet110", "resnet110", True,
     "MGIC-ResNet-110: ResNet-110 with every block an ``MGICBlock`` of basic blocks.",
     ">>> MGICResNet110(include_top=False, pooling=\"avg\").output_shape\n(None, 64)"),
    ("ResNet50", "resnet50", False,
     "Dense ImageNet ResNet-50 (bottleneck blocks; the stride on the 3x3 conv, \"v1.5\").",
     ">>> ResNet50(input_shape=(32, 32, 3), classes=10).output_shape\n(None, 10)"),
    ("MGICResNet50", "resnet50", True,
     "MGIC-ResNet-50 (paper Table 3): ResNet-50 with ``MGICBlock`` s of bottleneck blocks.",
     ">>> model = MGICResNet50(input_shape=(32, 32, 3), classes=10)\n"
     ">>> model.get_layer(\"stage1_block1_mgic\").group_size\n128"),
)  # fmt: skip

_DETAILS = (
    "Takes ``keras.applications.ResNet50``'s arguments, in its order. Like it, the model "
    "expects\npreprocessed input by default (``include_preprocessing=False``); pass True "
    "for raw\n``[0, 255]`` images. docs/models.md lists parameters and MACs."
)

_EXTRA_ARGS_DOC = """\
    dropout_rate: dropout before the classifier, in ``[0, 1)``; default 0."""

_MGIC_NOTES = {
    "residual": ("", ""),
    "bottleneck": (
        " Counted in bottleneck channels (the 3x3 conv's width), as\n"
        "        in the paper's reference code: the ``MGICBlock`` gets ``4 * group_size``.",
        " Counted in bottleneck channels: the\n        ``MGICBlock`` gets ``4 * coarsest_size``.",
    ),
}


def _build_variant(variant, mgic, **arguments):
    config = dict(VARIANTS[variant])
    config.pop("mgic_defaults")
    arguments["classes"] = apps.renamed_argument(
        "classes",
        arguments["classes"],
        config.pop("default_classes"),
        "num_classes",
        arguments.pop("num_classes"),
    )
    return ResNet(**config, mgic=mgic, **arguments)


def _signature(variant, mgic):
    config = VARIANTS[variant]
    positional = (
        ("include_top", True),
        ("weights", None),
        ("input_tensor", None),
        ("input_shape", None),
        ("pooling", None),
        ("classes", config["default_classes"]),
        ("classifier_activation", "softmax"),
        ("name", f"mgic_{variant}" if mgic else variant),
    )
    keyword_only = [("include_preprocessing", False), ("dropout_rate", 0.0)]
    if mgic:
        group_size, coarsest_size = config["mgic_defaults"]
        keyword_only += [
            ("group_size", group_size),
            ("coarsest_size", coarsest_size),
            ("coarsening", "reference"),
            ("mgic_min_width", None),
        ]
    return apps.parameters(positional, keyword_only + [("num_classes", None)])


def _doc(variant, mgic, summary, example):
    config = VARIANTS[variant]
    size = config["default_size"]
    args = apps.KERAS_ARGS_DOC.format(
        default_shape=f"``({size}, {size}, 3)``",
        min_size=min_input_size(config["stem"], config["stage_strides"]),
        classes=config["default_classes"],
        include_preprocessing="False",
        preprocessing_note=" (the model expects preprocessed input)",
        name=f"mgic_{variant}" if mgic else variant,
    )
    args += "\n" + _EXTRA_ARGS_DOC
    if mgic:
        args += "\n" + apps.mgic_args_doc(*config["mgic_defaults"], *_MGIC_NOTES[config["block"]])
    args += "\n" + apps.DEPRECATED_ARGS_DOC
    return apps.builder_doc(summary, _DETAILS, args, example)


def _named(function_name, variant, mgic, summary, example):
    return apps.named_builder(
        function_name,
        functools.partial(_build_variant, variant, mgic),
        _signature(variant, mgic),
        _doc(variant, mgic, summary, example),
        __name__,
    )


_BUILDERS = {row[0]: _named(*row) for row in NAMED}
ResNet20 = _BUILDERS["ResNet20"]
ResNet56 = _BUILDERS["ResNet56"]
ResNet110 = _BUILDERS["ResNet110"]
MGICResNet20 = _BUILDERS["MGICResNet20"]
MGICResNet56 = _BUILDERS["MGICResNet56"]
MGICResNet110 = _BUILDERS["MGICResNet110"]
ResNet50 = _BUILDERS["ResNet50"]
MGICResNet50 = _BUILDERS["MGICResNet50"]


def preprocess_input(x, data_format=None):
    """Raw ``[0, 255]`` images to the ``[-1, 1]`` these builders' models expect by default.

    The builders default to ``include_preprocessing=False`` (a model that takes
    preprocessed input, as the CIFAR recipes feed it); this is the preprocessing that
    ``include_preprocessing=True`` puts inside the model, ``x / 127.5 - 1``, so the two are
    interchangeable. (``keras.applications.resnet``'s "caffe" preprocessing belongs to its
    ImageNet weights; these models have none.)

    Args:
        x: images, a NumPy array (a new float32 array is returned; float64 stays float64)
            or a backend tensor.
        data_format: ``None``, ``"channels_last"`` or ``"channels_first"`` (per-element
            scaling: only checked).

    Returns:
        The preprocessed images.

    Example:

    >>> preprocess_input(np.array([0.0, 255.0])).tolist()
    [-1.0, 1.0]
    """
    return helpers.rescale_input(x, data_format=data_format)


#: The ``top`` classes of each prediction, as ``keras.applications``' helper (shared by the
#: classifier modules: see ``application_helpers.decode_classes``).
decode_predictions = helpers.decode_classes
