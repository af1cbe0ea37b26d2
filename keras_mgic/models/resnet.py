"""ResNets (CIFAR and ImageNet style) and their MGIC twins, in the style of ``keras.applications``.

One generic builder, :func:`ResNet`, makes every model; the named builders (``ResNet56``,
``MGICResNet56``, ``ResNet50``, ...) are thin wrappers around it that pick a row of
:data:`VARIANTS`. A dense ResNet and its MGIC twin come from the same code path with MGIC
switched off or on, so they share the stem, the stage layout and the head:

- **Dense** (``mgic=False``): every block that keeps width and stride is the per-level block at
  full width and one group (``ResidualBlock(filters, groups=1)`` or
  ``BottleneckBlock(filters, groups=1)``). The first block of a stage that changes width or
  stride is the standard ResNet downsampling block with a projection shortcut (1x1 conv with
  the stride + BatchNorm, "option B" of He et al. 2016): for basic blocks, 3x3 conv (stride) ->
  BN -> ReLU -> 3x3 conv -> BN; for bottlenecks, 1x1 conv -> BN -> ReLU -> 3x3 conv (stride, as
  in torchvision's "ResNet v1.5") -> BN -> ReLU -> 1x1 conv -> BN; then the sum with the
  shortcut and a ReLU. This reproduces the paper's dense baselines: ResNet-56 with 0.856M
  trainable parameters and 125.7M MACs at 32x32 (paper: 0.85M, 125M) and ResNet-50 with
  25.56M parameters and 4.09B MACs at 224x224 (paper: 25.6M, 4.1B).
- **MGIC** (``mgic=True``): every block is an :class:`~keras_mgic.layers.MGICBlock` wrapping
  the same per-level block; a change of width or stride is a
  :class:`~keras_mgic.layers.ChannelTransition` (depthwise-style 3x3 conv with the stride,
  BN, ReLU; paper Sec. 4.3) followed by the MGIC block at the new width. The stem and the
  classifier stay dense, as in the paper.

Every BatchNormalization (stem, blocks, transitions) uses momentum 0.9 and epsilon 1e-5, as the
per-level blocks do; convolutions have no bias and He-normal initial weights.

Layer names are deterministic: ``stem_conv``, ``stage2_block1_transition``,
``stage2_block1_mgic``, ``stage3_block4`` (dense body block), ``stage2_block1_proj_conv``,
``avg_pool``, ``predictions``, ...
"""

import keras

from keras_mgic.layers import (
    BottleneckBlock,
    ChannelTransition,
    MGICBlock,
    ResidualBlock,
    validation,
)
from keras_mgic.layers.batch_norm import BatchNormalization
from keras_mgic.layers.validation import is_int, positive_even_int, positive_int

_BN_MOMENTUM = 0.9
_BN_EPSILON = 1e-5
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
    }


#: Every named variant: stem, per-level block, stage widths (block outputs), blocks per stage,
#: stage strides, default input size and default number of classes.
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


def _resolve_input_shape(input_shape, default_size, minimum):
    if input_shape is None:
        return (default_size, default_size, 3)
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            "`input_shape` must be a tuple (height, width, channels). "
            f"Received: input_shape={input_shape!r}"
        )
    height, width, channels = input_shape
    if not is_int(channels) or channels <= 0:
        raise ValueError(
            "`input_shape` needs a positive number of channels (channels last). "
            f"Received: input_shape={input_shape!r}"
        )
    for size in (height, width):
        if size is None:
            continue
        if not is_int(size) or size < minimum:
            raise ValueError(
                f"This ResNet downsamples by {minimum}, so the input height and width must be "
                f"integers >= {minimum} (or None). Received: input_shape={input_shape!r}"
            )
    return tuple(input_shape)


def _head_dtype():
    # DESIGN §7: under a mixed policy the logits are computed in float32.
    policy = keras.config.dtype_policy()
    return "float32" if policy.compute_dtype != policy.variable_dtype else None


def _conv_bn(x, filters, kernel_size, strides, name, activation=True):
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    x = BatchNormalization(momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=f"{name}_bn")(x)
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


def ResNet(
    stage_widths,
    stage_depths,
    stage_strides=None,
    block="residual",
    stem="cifar",
    mgic=False,
    group_size=8,
    coarsest_size=16,
    input_shape=None,
    num_classes=10,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    dropout_rate=0.0,
    default_size=32,
    name=None,
):
    """Builds a ResNet, dense or MGIC, as a functional ``keras.Model``.

    The generic builder behind every named ResNet of this module (see the module docstring
    for what the dense and MGIC variants do at a change of width or stride).

    **Group and coarsest sizes of bottleneck networks.** In an MGIC network with
    ``block="bottleneck"`` (MGIC-ResNet-50), ``group_size`` and ``coarsest_size`` count
    *bottleneck* channels, the width of the 3x3 convolution: the paper's reference code
    builds the channel hierarchy on the bottleneck width ("planes") and gives the 1x1
    expansions the same number of groups. The ``MGICBlock`` over the 4x wider block output
    therefore gets ``group_size * 4`` and ``coarsest_size * 4``: on a level of width ``c``
    every convolution of the bottleneck, and ``R``/``P``, has ``c / (4 * group_size)``
    groups, i.e. ``group_size`` bottleneck channels per group. With this reading the
    trainable parameters of MGIC-ResNet-50 come within 3% of the paper's Table 3 (``s_g`` =
    16 / 32 / 64, ``s_c`` = 64: 6.2M / 9.4M / 15.1M; ours 6.24M / 9.15M / 14.96M with the
    package's coarsening rule, within 8% with the paper's Algorithm 1 rule); reading the sizes
    on the block output instead gives about half of that (3.2M / 4.2M / 6.0M). The MACs stay
    27-62% above Table 3 under every reading; BENCHMARKS.md lists every row and why.

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
        input_shape: ``(height, width, channels)``; default ``(default_size,
            default_size, 3)``. Height and width may be None (any size) and must otherwise
            be at least the network's total stride.
        num_classes: number of classes of the classifier (``include_top=True``).
        include_top: whether to end with global average pooling, optional dropout and a
            Dense classifier; without it the model returns the last feature map (or its
            global pooling, see ``pooling``).
        pooling: ``None``, ``"avg"`` or ``"max"``, the pooling of the feature map when
            ``include_top=False``.
        classifier_activation: activation of the classifier, e.g. ``"softmax"`` or None
            for logits.
        dropout_rate: dropout before the classifier, in ``[0, 1)``.
        default_size: input height and width when ``input_shape`` is None.
        name: model name (default ``"resnet"`` or ``"mgic_resnet"``).

    Returns:
        A ``keras.Model``.

    Raises:
        ValueError: for an argument out of range, e.g. an input smaller than the
            network's total stride or a non-positive ``num_classes``.

    Example:

    >>> model = ResNet((16, 32), (1, 1), mgic=True, group_size=8, coarsest_size=8)
    >>> model.output_shape
    (None, 10)
    """
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
    if include_top:
        positive_int("num_classes", num_classes)
    validation.pooling(pooling)
    validation.dropout_rate(dropout_rate)
    level_scale = _BOTTLENECK_RATIO if block == "bottleneck" else 1
    if mgic:
        positive_even_int("group_size", group_size)
        positive_int("coarsest_size", coarsest_size)
    input_shape = _resolve_input_shape(input_shape, default_size, min_input_size(stem, strides))
    if name is None:
        name = "mgic_resnet" if mgic else "resnet"

    inputs = keras.Input(shape=input_shape, name="input")
    stem_config = STEMS[stem]
    x = _conv_bn(
        inputs, stem_config["filters"], stem_config["kernel_size"], stem_config["strides"], "stem"
    )
    if stem_config["max_pool"]:
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    channels = stem_config["filters"]
    level_block = _LEVEL_BLOCKS[block]
    stages = zip(widths, depths, strides, strict=True)
    for stage, (width, depth, stride) in enumerate(stages, start=1):
        for index in range(1, depth + 1):
            prefix = f"stage{stage}_block{index}"
            block_stride = stride if index == 1 else 1
            changes = block_stride != 1 or channels != width
            if mgic:
                if changes:
                    x = ChannelTransition(width, strides=block_stride, name=f"{prefix}_transition")(
                        x
                    )
                x = MGICBlock(
                    group_size=group_size * level_scale,
                    coarsest_size=coarsest_size * level_scale,
                    block=block,
                    name=f"{prefix}_mgic",
                )(x)
            elif changes:
                x = _dense_downsampling_block(x, width, block_stride, block, prefix)
            else:
                x = level_block(width, groups=1, name=prefix)(x)
            channels = width

    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = keras.layers.Dropout(dropout_rate, name="dropout")(x)
        x = keras.layers.Dense(
            num_classes,
            activation=classifier_activation,
            kernel_initializer="he_normal",
            dtype=_head_dtype(),
            name="predictions",
        )(x)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return keras.Model(inputs, x, name=name)


def _variant(variant, mgic, name, num_classes, kwargs):
    config = dict(VARIANTS[variant])
    default_classes = config.pop("default_classes")
    return ResNet(
        **config,
        mgic=mgic,
        num_classes=default_classes if num_classes is None else num_classes,
        name=name or (f"mgic_{variant}" if mgic else variant),
        **kwargs,
    )


def ResNet20(
    input_shape=None,
    include_top=True,
    num_classes=None,
    pooling=None,
    dropout_rate=0.0,
    classifier_activation="softmax",
    name=None,
):
    """Dense CIFAR ResNet-20 (3 stages of 3 basic blocks, 16/32/64 channels).

    Arguments as in :func:`ResNet`; defaults: 32x32x3 input, 10 classes. About 0.27M
    parameters and 41M MACs.

    Example:

    >>> ResNet20().output_shape
    (None, 10)
    """
    return _variant(
        "resnet20",
        False,
        name,
        num_classes,
        dict(
            input_shape=input_shape,
            include_top=include_top,
            pooling=pooling,
            classifier_activation=classifier_activation,
            dropout_rate=dropout_rate,
        ),
    )


def ResNet56(
    input_shape=None,
    include_top=True,
    num_classes=None,
    pooling=None,
    dropout_rate=0.0,
    classifier_activation="softmax",
    name=None,
):
    """Dense CIFAR ResNet-56 (3 stages of 9 basic blocks, 16/32/64 channels).

    Arguments as in :func:`ResNet`; defaults: 32x32x3 input, 10 classes. 0.856M trainable
    parameters and 125.7M MACs (paper Table 2: 0.85M, 125M).

    Example:

    >>> ResNet56().output_shape
    (None, 10)
    """
    return _variant(
        "resnet56",
        False,
        name,
        num_classes,
        dict(
            input_shape=input_shape,
            include_top=include_top,
            pooling=pooling,
            classifier_activation=classifier_activation,
            dropout_rate=dropout_rate,
        ),
    )


def ResNet110(
    input_shape=None,
    include_top=True,
    num_classes=None,
    pooling=None,
    dropout_rate=0.0,
    classifier_activation="softmax",
    name=None,
):
    """Dense CIFAR ResNet-110 (3 stages of 18 basic blocks, 16/32/64 channels).

    Arguments as in :func:`ResNet`; defaults: 32x32x3 input, 10 classes.

    Example:

    >>> ResNet110(include_top=False).output_shape
    (None, 8, 8, 64)
    """
    return _variant(
        "resnet110",
        False,
        name,
        num_classes,
        dict(
            input_shape=input_shape,
            include_top=include_top,
            pooling=pooling,
            classifier_activation=classifier_activation,
            dropout_rate=dropout_rate,
        ),
    )


def MGICResNet20(
    input_shape=None,
    include_top=True,
    num_classes=None,
    pooling=None,
    dropout_rate=0.0,
    classifier_activation="softmax",
    group_size=8,
    coarsest_size=16,
    name=None,
):
    """MGIC-ResNet-20: ResNet-20 with every block an ``MGICBlock`` of basic blocks.

    Arguments as in :func:`ResNet`; defaults: ``s_g = 8``, ``s_c = 16``, 32x32x3 input,
    10 classes.

    Example:

    >>> MGICResNet20().output_shape
    (None, 10)
    """
    return _variant(
        "resnet20",
        True,
        name,
        num_classes,
        dict(
            group_size=group_size,
            coarsest_size=coarsest_size,
            input_shape=input_shape,
            include_top=include_top,
            pooling=pooling,
            classifier_activation=classifier_activation,
            dropout_rate=dropout_rate,
        ),
    )


def MGICResNet56(
    input_shape=None,
    include_top=True,
    num_classes=None,
    pooling=None,
    dropout_rate=0.0,
    classifier_activation="softmax",
    group_size=8,
    coarsest_size=16,
    name=None,
):
    """MGIC-ResNet-56 (paper Table 2, ``s_g = 8``, ``s_c = 16``; Tables 7 and 8).

    ResNet-56 with every block an ``MGICBlock`` of basic blocks and a ``ChannelTransition``
    where the width doubles. Arguments as in :func:`ResNet`; defaults: 32x32x3 input,
    10 classes. BENCHMARKS.md lists its parameters and MACs for every ``(s_g, s_c)`` of the
    paper next to the paper's numbers.

    Example:

    >>> model = MGICResNet56(group_size=16, coarsest_size=32)
    >>> model.get_layer("stage2_block1_transition").filters
    32
    """
    return _variant(
        "resnet56",
        True,
        name,
        num_classes,
        dict(
            group_size=group_size,
            coarsest_size=coarsest_size,
            input_shape=input_shape,
            include_top=include_top,
            pooling=pooling,
            classifier_activation=classifier_activation,
            dropout_rate=dropout_rate,
        ),
    )


def MGICResNet110(
    input_shape=None,
    include_top=True,
    num_classes=None,
    pooling=None,
    dropout_rate=0.0,
    classifier_activation="softmax",
    group_size=8,
    coarsest_size=16,
    name=None,
):
    """MGIC-ResNet-110: ResNet-110 with every block an ``MGICBlock`` of basic blocks.

    Arguments as in :func:`ResNet`; defaults: ``s_g = 8``, ``s_c = 16``, 32x32x3 input,
    10 classes.

    Example:

    >>> MGICResNet110(include_top=False, pooling="avg").output_shape
    (None, 64)
    """
    return _variant(
        "resnet110",
        True,
        name,
        num_classes,
        dict(
            group_size=group_size,
            coarsest_size=coarsest_size,
            input_shape=input_shape,
            include_top=include_top,
            pooling=pooling,
            classifier_activation=classifier_activation,
            dropout_rate=dropout_rate,
        ),
    )


def ResNet50(
    input_shape=None,
    include_top=True,
    num_classes=None,
    pooling=None,
    dropout_rate=0.0,
    classifier_activation="softmax",
    name=None,
):
    """Dense ImageNet ResNet-50 (bottleneck blocks, stages 256/512/1024/2048 wide, 3/4/6/3).

    7x7 stride-2 stem and max pooling; the stride of a downsampling block sits on its 3x3
    convolution ("v1.5", as torchvision). Arguments as in :func:`ResNet`; defaults:
    224x224x3 input, 1000 classes. 25.56M trainable parameters and 4.09B MACs (paper
    Table 3: 25.6M, 4.1B). The smallest input is 32x32.

    Example:

    >>> ResNet50(input_shape=(32, 32, 3), num_classes=10).output_shape
    (None, 10)
    """
    return _variant(
        "resnet50",
        False,
        name,
        num_classes,
        dict(
            input_shape=input_shape,
            include_top=include_top,
            pooling=pooling,
            classifier_activation=classifier_activation,
            dropout_rate=dropout_rate,
        ),
    )


def MGICResNet50(
    input_shape=None,
    include_top=True,
    num_classes=None,
    pooling=None,
    dropout_rate=0.0,
    classifier_activation="softmax",
    group_size=32,
    coarsest_size=64,
    name=None,
):
    """MGIC-ResNet-50 (paper Table 3): ResNet-50 with ``MGICBlock`` s of bottleneck blocks.

    ``group_size`` and ``coarsest_size`` count bottleneck channels (the width of the 3x3
    convolution), as in the paper's reference code; see :func:`ResNet` for how they reach
    the ``MGICBlock`` (``group_size * 4``, ``coarsest_size * 4`` on the block output).
    Arguments as in :func:`ResNet`; defaults: ``s_g = 32``, ``s_c = 64``, 224x224x3 input,
    1000 classes. The smallest input is 32x32.

    Example:

    >>> model = MGICResNet50(input_shape=(32, 32, 3), num_classes=10)
    >>> model.get_layer("stage1_block1_mgic").group_size
    128
    """
    return _variant(
        "resnet50",
        True,
        name,
        num_classes,
        dict(
            group_size=group_size,
            coarsest_size=coarsest_size,
            input_shape=input_shape,
            include_top=include_top,
            pooling=pooling,
            classifier_activation=classifier_activation,
            dropout_rate=dropout_rate,
        ),
    )
