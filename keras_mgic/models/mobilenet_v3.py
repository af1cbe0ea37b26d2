"""MobileNetV3 (Large, Small) and MGIC-MobileNetV3, in the style of ``keras.applications``.

One generic builder, :func:`build_mobilenet_v3`, reads a block table (data) and builds either
the dense MobileNetV3 (``mgic=False``) or its multigrid-in-channels version (``mgic=True``):
the stem, the top 1x1 conv and the classification head are the same layers with the same names
in both. In the MGIC model every row of the table becomes a
:class:`~keras_mgic.layers.ChannelTransition` where the row changes the width or has stride 2
(paper Sec. 4.3), then an :class:`~keras_mgic.layers.MGICBlock` at the row's output width over
MobileNetV3's inverted residual, with the row's expanded width kept (paper Sec. 5.2.2). The
MGIC layout defaults to :data:`MGIC_DEFAULTS`, chosen against the paper's Table 4 by
``benchmarks/mobilenet_v3_layouts.py``. The named variants (``MobileNetV3Large``,
``MGICMobileNetV3Small``, ...) take ``keras.applications.MobileNetV3Large``'s arguments in its
order.

docs/models.md says where the MGIC blocks coarsen and lists parameters and MACs against the
paper's Table 4.
"""

import functools
import math
from typing import NamedTuple

from keras import layers

from keras_mgic.layers import ChannelTransition, MGICBlock, SqueezeExcite
from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.channel_hierarchy import (
    check_coarsening,
    level_groups,
    level_widths,
    make_divisible,
)
from keras_mgic.layers.validation import is_int, positive_even_int, positive_int
from keras_mgic.models import application_helpers as helpers
from keras_mgic.models import applications as apps

_MIN_INPUT_SIZE = 32  # five stride-2 reductions
_DEFAULT_SIZE = 224


class BlockSpec(NamedTuple):
    """One row of a MobileNetV3 table (widths at ``alpha=1``).

    Attributes:
        expansion: expanded width over the block's *input* width (as in
            ``keras.applications``); the expanded width is ``make_divisible(c_in *
            expansion, 8)``.
        filters: output width before the width multiplier.
        kernel_size: depthwise kernel size.
        strides: 1 or 2.
        squeeze_excite: whether the block has a squeeze-and-excite (ratio 0.25).
        activation: ``"relu"`` or ``"hard_swish"``.
        dilation: the depthwise convolution's dilation (1 in the classification tables;
            see :func:`segmentation_blocks`).
    """

    expansion: float
    filters: int
    kernel_size: int
    strides: int
    squeeze_excite: bool
    activation: str
    dilation: int = 1


_RE, _HS = "relu", "hard_swish"

#: MobileNetV3-Large (Howard et al. 2019, Table 1).
LARGE_BLOCKS = (
    BlockSpec(1, 16, 3, 1, False, _RE),
    BlockSpec(4, 24, 3, 2, False, _RE),
    BlockSpec(3, 24, 3, 1, False, _RE),
    BlockSpec(3, 40, 5, 2, True, _RE),
    BlockSpec(3, 40, 5, 1, True, _RE),
    BlockSpec(3, 40, 5, 1, True, _RE),
    BlockSpec(6, 80, 3, 2, False, _HS),
    BlockSpec(2.5, 80, 3, 1, False, _HS),
    BlockSpec(2.3, 80, 3, 1, False, _HS),
    BlockSpec(2.3, 80, 3, 1, False, _HS),
    BlockSpec(6, 112, 3, 1, True, _HS),
    BlockSpec(6, 112, 3, 1, True, _HS),
    BlockSpec(6, 160, 5, 2, True, _HS),
    BlockSpec(6, 160, 5, 1, True, _HS),
    BlockSpec(6, 160, 5, 1, True, _HS),
)

#: MobileNetV3-Small (Howard et al. 2019, Table 2).
SMALL_BLOCKS = (
    BlockSpec(1, 16, 3, 2, True, _RE),
    BlockSpec(72 / 16, 24, 3, 2, False, _RE),
    BlockSpec(88 / 24, 24, 3, 1, False, _RE),
    BlockSpec(4, 40, 5, 2, True, _HS),
    BlockSpec(6, 40, 5, 1, True, _HS),
    BlockSpec(6, 40, 5, 1, True, _HS),
    BlockSpec(3, 48, 5, 1, True, _HS),
    BlockSpec(3, 48, 5, 1, True, _HS),
    BlockSpec(6, 96, 5, 2, True, _HS),
    BlockSpec(6, 96, 5, 1, True, _HS),
    BlockSpec(6, 96, 5, 1, True, _HS),
)


class Architecture(NamedTuple):
    """A MobileNetV3 family member: its block table and head width."""

    blocks: tuple
    last_point_filters: int


ARCHITECTURES = {
    "large": Architecture(LARGE_BLOCKS, 1280),
    "small": Architecture(SMALL_BLOCKS, 1024),
}

#: The MGIC builders' default layout: of the readings of the paper's text that
#: ``benchmarks/mobilenet_v3_layouts.py`` counts, the closest to Table 4 (summed relative
#: deviation of parameters and MACs at widths 0.6, 1.0, 1.2) among those that cost fewer MACs
#: than the dense twin at every width; docs/models.md gives the numbers.
MGIC_DEFAULTS = {
    "group_size": 16,
    "coarsest_size": 64,
    "coarsening": "literal",
    "mgic_min_width": None,
    "grouped_squeeze_excite": False,
}

_STEM_FILTERS = 16
_TOP_EXPANSION = 6
_SE_RATIO = 0.25


def _depth(value):
    return make_divisible(value, 8)


def minimalistic_block(spec):
    """A row as ``keras.applications``' ``minimalistic=True`` has it: no squeeze-excite,
    ReLU only, 3x3 depthwise kernels."""
    return spec._replace(kernel_size=3, squeeze_excite=False, activation=_RE)


def segmentation_blocks(blocks):
    """A block table as the segmentation encoders use it: output stride 16, last stage halved.

    The MobileNetV3 paper's segmentation setup (Howard et al. 2019, Sec. 6.4; the MGIC paper
    follows it in Sec. 5.3): the last stride-2 row (1/16 to 1/32 resolution) keeps stride 1
    and it and every row after it dilate their depthwise convolutions by 2, so the features
    stay at 1/16; and that last stage is halved ("RF2"): its output widths and its expanded
    widths (the first row's expansion factor halves; the later rows' expanded widths follow
    their halved inputs). The top 1x1 convolution, six times the last width, halves with it.
    That is what the authors' TensorFlow code builds (tensorflow/models,
    ``research/deeplab/core/feature_extractor.py``, ``mobilenet_v3_large_seg``: 960 to 480
    channels at the top, 672 to 336 expanded in the first row of the stage); torchvision's
    ``_mobilenet_v3_conf(reduced_tail=True, dilated=True)`` halves the same widths but keeps
    the first row's expanded width (672).

    Args:
        blocks: a classification block table, e.g. ``LARGE_BLOCKS``.

    Returns:
        The new table (a tuple of :class:`BlockSpec`).

    Example:

    >>> tail = segmentation_blocks(SMALL_BLOCKS)[-3:]
    >>> [(row.filters, row.strides, row.dilation) for row in tail]
    [(48, 1, 2), (48, 1, 2), (48, 1, 2)]
    """
    last = last_stride_row(blocks)
    tail = [
        row._replace(
            filters=row.filters // 2,
            strides=1,
            dilation=2,
            expansion=row.expansion / 2 if index == last else row.expansion,
        )
        for index, row in enumerate(blocks)
        if index >= last
    ]
    return (*blocks[:last], *tail)


def last_stride_row(blocks, before=None):
    """The index of the last stride-2 row (of the rows before index ``before``, if given).

    ``last_stride_row(blocks, last_stride_row(blocks))`` is the row that goes from 1/8 to
    1/16 resolution in MobileNetV3's tables, whose input is the segmentation head's 1/8
    features.

    Example:

    >>> last_stride_row(LARGE_BLOCKS), last_stride_row(LARGE_BLOCKS, 12)
    (12, 6)
    """
    rows = blocks if before is None else blocks[:before]
    return max(index for index, row in enumerate(rows) if row.strides == 2)


def _check_alpha(alpha):
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, (int, float))
        or not math.isfinite(alpha)
        or alpha <= 0
    ):
        raise ValueError(f"`alpha` must be a finite number > 0. Received: alpha={alpha!r}")


def _check_last_point_filters(last_point_filters):
    if last_point_filters is not None and (
        not is_int(last_point_filters) or last_point_filters <= 0
    ):
        raise ValueError(
            "`last_point_filters` must be a positive integer or None. "
            f"Received: last_point_filters={last_point_filters!r}"
        )


def _check_grouped_squeeze_excite(grouped_squeeze_excite):
    if not isinstance(grouped_squeeze_excite, bool):
        raise ValueError(
            "`grouped_squeeze_excite` must be True or False. "
            f"Received: grouped_squeeze_excite={grouped_squeeze_excite!r}"
        )


def _architecture(architecture):
    if isinstance(architecture, Architecture):
        return architecture
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"`architecture` must be one of {sorted(ARCHITECTURES)} or an Architecture. "
            f"Received: architecture={architecture!r}"
        )
    return ARCHITECTURES[architecture]


def block_group_size(channels, group_size, coarsest_size, coarsening="reference"):
    """The group size an MGIC block of ``channels`` channels is given.

    ``group_size`` itself when it divides ``channels`` (or the block does not coarsen, or
    ``channels < group_size``); otherwise ``channels / g`` for the ``g =
    level_groups(channels, group_size)`` equal groups of the paper's reference code
    (``floor(channels / group_size)`` when that divides ``channels / 2``), e.g. 80 for 160
    channels at ``group_size=64``.

    Example:

    >>> block_group_size(160, 64, 64), block_group_size(192, 64, 64)
    (80, 64)
    """
    coarsens = len(level_widths(channels, coarsest_size, coarsening)) > 1
    if not coarsens or channels < group_size or channels % group_size == 0:
        return group_size
    return channels // level_groups(channels, group_size)


def _batch_norm(name):
    return BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def _conv_bn(x, filters, name, activation=None):
    """1x1 convolution (no bias) and BatchNorm, then ``activation`` if given."""
    x = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer="he_normal", name=name)(x)
    x = _batch_norm(f"{name}_bn")(x)
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_activation")(x)
    return x


def _depthwise_bn(x, spec, prefix):
    name = f"{prefix}_depthwise"
    x, padding = apps.symmetric_padding(x, spec.kernel_size, spec.strides, name)
    x = layers.DepthwiseConv2D(
        spec.kernel_size,
        strides=spec.strides,
        padding=padding,
        dilation_rate=spec.dilation,
        use_bias=False,
        depthwise_initializer="he_normal",
        name=name,
    )(x)
    x = _batch_norm(f"{name}_bn")(x)
    return layers.Activation(spec.activation, name=f"{name}_activation")(x)


def _dense_block(x, spec, in_filters, filters, prefix):
    """MobileNetV3's inverted residual, laid out as ``keras.applications`` builds it."""
    inputs = x
    expanded = _depth(in_filters * spec.expansion)
    if spec.expansion != 1:
        x = _conv_bn(x, expanded, f"{prefix}_expand", spec.activation)
    x = _depthwise_bn(x, spec, prefix)
    if spec.squeeze_excite:
        squeeze = _depth(expanded * _SE_RATIO)
        x = SqueezeExcite(expanded, squeeze, name=f"{prefix}_squeeze_excite")(x)
    x = _conv_bn(x, filters, f"{prefix}_project")
    if spec.strides == 1 and in_filters == filters:
        x = layers.Add(name=f"{prefix}_add")([inputs, x])
    return x


def _mgic_block(x, spec, in_filters, filters, prefix, mgic):
    """``mgic``: ``(group_size, coarsest_size, coarsening)``, optionally followed by
    ``grouped_squeeze_excite`` (default True)."""
    if spec.strides != 1 or in_filters != filters:
        x = ChannelTransition(
            filters,
            strides=spec.strides,
            kernel_size=3,
            activation=spec.activation,
            dilation_rate=spec.dilation,
            name=f"{prefix}_transition",
        )(x)
    expanded = _depth(in_filters * spec.expansion)
    block_kwargs = {
        "expansion_ratio": max(1.0, expanded / filters),
        "kernel_size": spec.kernel_size,
        "se_ratio": _SE_RATIO if spec.squeeze_excite else None,
        "activation": spec.activation,
    }
    if spec.dilation != 1:
        block_kwargs["dilation_rate"] = spec.dilation
    group_size, coarsest_size, coarsening, *rest = mgic
    if spec.squeeze_excite and rest and not rest[0]:
        block_kwargs["grouped_squeeze_excite"] = False
    return MGICBlock(
        group_size=block_group_size(filters, group_size, coarsest_size, coarsening),
        coarsest_size=coarsest_size,
        block="inverted_residual",
        block_kwargs=block_kwargs,
        coarsening=coarsening,
        name=f"{prefix}_mgic",
    )(x)


def _stem(x, activation):
    x, padding = apps.symmetric_padding(x, 3, 2, "stem_conv")
    x = layers.Conv2D(
        _STEM_FILTERS,
        3,
        strides=2,
        padding=padding,
        use_bias=False,
        kernel_initializer="he_normal",
        name="stem_conv",
    )(x)
    x = _batch_norm("stem_bn")(x)
    return layers.Activation(activation, name="stem_activation")(x)


def _blocks(x, blocks, alpha, mgic, taps=()):
    """The block table and the top 1x1 conv + BN; ``mgic`` is ``(group_size, coarsest_size,
    coarsening, min_width)`` (optionally followed by ``grouped_squeeze_excite``) or None.
    Blocks whose output is narrower than ``min_width`` stay dense. Returns the output, and
    with ``taps`` (row indices) ``(output, {index: the row's input})``."""
    filters = _STEM_FILTERS
    inputs = {}
    for index, spec in enumerate(blocks):
        if index in taps:
            inputs[index] = x
        out_filters = _depth(spec.filters * alpha)
        prefix = f"block{index}"
        if mgic is not None and apps.uses_mgic(out_filters, mgic[3]):
            x = _mgic_block(x, spec, filters, out_filters, prefix, mgic[:3] + mgic[4:])
        else:
            x = _dense_block(x, spec, filters, out_filters, prefix)
        filters = out_filters
    top = layers.Conv2D(
        _depth(filters * _TOP_EXPANSION),
        1,
        use_bias=False,
        kernel_initializer="he_normal",
        name="top_conv",
    )(x)
    top = _batch_norm("top_bn")(top)
    return (top, inputs) if taps else top


def segmentation_encoder(x, architecture, *, alpha=1.0, minimalistic=False, mgic=None):
    """The MobileNetV3 encoder of a segmentation network, on an already preprocessed input.

    The stem, the rows of :func:`segmentation_blocks` (output stride 16, last stage halved
    and dilated) and the top 1x1 convolution with its BatchNorm and activation, with the same
    layers and names as :func:`build_mobilenet_v3`'s model (dense, or MGIC with ``mgic``).

    Args:
        x: a Keras tensor ``(batch, height, width, channels)``.
        architecture: ``"large"``, ``"small"`` or an :class:`Architecture`.
        alpha: width multiplier, as in :func:`build_mobilenet_v3`.
        minimalistic: ``keras.applications``' minimalistic rows.
        mgic: None (dense) or ``(group_size, coarsest_size, coarsening, mgic_min_width)``.

    Returns:
        ``(low, high)``: the 1/8-resolution features (the input of the row that goes from 1/8
        to 1/16) and the final 1/16 features.
    """
    architecture = _architecture(architecture)
    _check_alpha(alpha)
    activation = _RE if minimalistic else _HS
    blocks = architecture.blocks
    if minimalistic:
        blocks = tuple(minimalistic_block(spec) for spec in blocks)
    low_row = last_stride_row(blocks, last_stride_row(blocks))
    x = _stem(x, activation)
    x, taps = _blocks(x, segmentation_blocks(blocks), alpha, mgic, taps=(low_row,))
    high = layers.Activation(activation, name="top_activation")(x)
    return taps[low_row], high


def _head(x, last_point_filters, activation, dropout_rate, classes, classifier_activation):
    x = layers.GlobalAveragePooling2D(keepdims=True, name="head_pool")(x)
    x = layers.Conv2D(last_point_filters, 1, name="head_conv")(x)
    x = layers.Activation(activation, name="head_activation")(x)
    if dropout_rate > 0:
        x = layers.Dropout(dropout_rate, name="head_dropout")(x)
    dtype = apps.head_dtype()
    x = layers.Conv2D(classes, 1, dtype=dtype, name="logits")(x)
    x = layers.Flatten(dtype=dtype, name="logits_flatten")(x)
    return layers.Activation(classifier_activation, dtype=dtype, name="predictions")(x)


def build_mobilenet_v3(
    architecture,
    *,
    mgic=False,
    input_shape=None,
    alpha=1.0,
    minimalistic=False,
    include_top=True,
    weights=None,
    input_tensor=None,
    classes=1000,
    pooling=None,
    dropout_rate=0.2,
    classifier_activation="softmax",
    include_preprocessing=True,
    group_size=MGIC_DEFAULTS["group_size"],
    coarsest_size=MGIC_DEFAULTS["coarsest_size"],
    coarsening=MGIC_DEFAULTS["coarsening"],
    mgic_min_width=MGIC_DEFAULTS["mgic_min_width"],
    grouped_squeeze_excite=MGIC_DEFAULTS["grouped_squeeze_excite"],
    last_point_filters=None,
    name=None,
    num_classes=None,
    width_multiplier=None,
):
    """Builds a dense or MGIC MobileNetV3 from a block table.

    The MGIC layout arguments default to :data:`MGIC_DEFAULTS` (s_g = 16, s_c = 64, the
    literal rule, dense squeeze-excite: the reading closest to the paper's Table 4 among those
    cheaper than the dense model; docs/models.md).

    Args:
        architecture: ``"large"``, ``"small"`` or an :class:`Architecture`.
        mgic: False for the dense MobileNetV3; True to replace every block by a
            (transition and) MGIC block.
        input_shape, alpha, minimalistic, include_top, weights, input_tensor, classes,
            pooling, dropout_rate, classifier_activation, include_preprocessing:
            as in ``keras.applications.MobileNetV3Large`` (see :func:`MobileNetV3Large`).
        group_size: ``s_g`` of the MGIC blocks (positive even int; ignored when dense).
        coarsest_size: ``s_c`` of the MGIC blocks (positive int; ignored when dense).
        coarsening: the MGIC blocks' coarsening rule, ``"literal"`` (Algorithm 1 read
            literally: a block narrower than ``s_c`` keeps one level) or ``"reference"``
            (the paper's code: every block restricts at least once); see ``MGICBlock``.
        mgic_min_width: None, or the output width below which blocks stay dense in an
            MGIC network (a hybrid); ignored when dense.
        grouped_squeeze_excite: bool; whether the MGIC blocks' squeeze-excite 1x1
            convolutions are grouped like their other 1x1 convolutions (True) or dense
            (False); ignored when dense.
        last_point_filters: width of the head's penultimate 1x1 conv; None for
            MobileNetV3's rule (1280 Large / 1024 Small, scaled by ``alpha`` only above 1).
        name: model name.
        num_classes: deprecated alias of ``classes``.
        width_multiplier: deprecated alias of ``alpha``.

    Returns:
        A functional ``keras.Model``.

    Example:

    >>> model = build_mobilenet_v3("small", mgic=True, input_shape=(32, 32, 3),
    ...                            alpha=0.5, classes=10)
    >>> tuple(model.output.shape)
    (None, 10)
    """
    classes = apps.renamed_argument("classes", classes, 1000, "num_classes", num_classes)
    alpha = apps.renamed_argument("alpha", alpha, 1.0, "width_multiplier", width_multiplier)
    architecture = _architecture(architecture)
    _check_alpha(alpha)
    apps.check_head(include_top, classes, pooling, dropout_rate)
    _check_last_point_filters(last_point_filters)
    apps.check_weights(weights)
    if mgic:
        positive_even_int("group_size", group_size)
        positive_int("coarsest_size", coarsest_size)
        check_coarsening(coarsening)
        apps.check_mgic_min_width(mgic_min_width)
        _check_grouped_squeeze_excite(grouped_squeeze_excite)
    img_input = apps.model_input(input_shape, input_tensor, _DEFAULT_SIZE, _MIN_INPUT_SIZE)

    activation = _RE if minimalistic else _HS
    blocks = architecture.blocks
    if minimalistic:
        blocks = tuple(minimalistic_block(spec) for spec in blocks)
    x = apps.preprocess(img_input, include_preprocessing)
    x = _stem(x, activation)
    mgic_args = None
    if mgic:
        mgic_args = (group_size, coarsest_size, coarsening, mgic_min_width, grouped_squeeze_excite)
    x = _blocks(x, blocks, alpha, mgic_args)
    x = layers.Activation(activation, name="top_activation")(x)
    if include_top:
        if last_point_filters is None:
            last_point_filters = architecture.last_point_filters
            if alpha > 1:
                last_point_filters = _depth(last_point_filters * alpha)
        x = _head(x, last_point_filters, activation, dropout_rate, classes, classifier_activation)
    else:
        x = apps.global_pooling(x, pooling)
    return apps.finish(img_input, input_tensor, x, name, weights)


# ------------------------------------------------------------------------- named builders

#: The named builders: function name, architecture, MGIC or not, summary line, example.
NAMED = (
    ("MobileNetV3Large", "large", False,
     "Dense MobileNetV3-Large (Howard et al. 2019), the baseline of MGIC-MobileNetV3.",
     ">>> model = MobileNetV3Large(input_shape=(32, 32, 3), alpha=0.5, classes=10)\n"
     ">>> model.output_shape\n(None, 10)"),
    ("MobileNetV3Small", "small", False, "Dense MobileNetV3-Small (Howard et al. 2019).",
     ">>> MobileNetV3Small(input_shape=(32, 32, 3), classes=10).output_shape\n(None, 10)"),
    ("MGICMobileNetV3Large", "large", True,
     "MGIC-MobileNetV3-Large (paper Sec. 5.2.2, Table 4): every block an MGIC block.",
     ">>> model = MGICMobileNetV3Large(input_shape=(32, 32, 3), alpha=0.5, classes=10)\n"
     ">>> model.output_shape\n(None, 10)"),
    ("MGICMobileNetV3Small", "small", True,
     "MGIC-MobileNetV3-Small: MobileNetV3-Small with every block an MGIC block.",
     ">>> model = MGICMobileNetV3Small(input_shape=(32, 32, 3), classes=10,\n"
     "...                              group_size=16, coarsest_size=16)\n"
     ">>> model.output_shape\n(None, 10)"),
)  # fmt: skip

_DETAILS = (
    "Takes ``keras.applications.MobileNetV3Large``'s arguments, in its order; like it, the "
    "model\ntakes raw ``[0, 255]`` images by default (``include_preprocessing=True``). "
    "The stem, top\nconvolution and head are the same layers in the dense and MGIC models. "
    "docs/models.md\nlists parameters and MACs."
)

_EXTRA_ARGS_DOC = """\
    alpha: width multiplier of every block (rounded to a multiple of 8, as
        ``keras.applications``); the 16-channel stem is not scaled. Default 1.0.
    minimalistic: whether to drop squeeze-excite, hard-swish and 5x5 kernels, as
        ``keras.applications``' minimalistic models do. Default False.
    dropout_rate: dropout before the logits; default 0.2."""

_TAIL_ARGS_DOC = """\
    last_point_filters: width of the head's penultimate 1x1 conv; None for MobileNetV3's
        rule (1280 Large / 1024 Small, scaled by ``alpha`` only above 1).
    width_multiplier: deprecated alias of ``alpha`` (removed in the next release)."""

_MGIC_NOTE = (
    " Widths it does not divide get\n        the reference code's equal groups "
    "(:func:`block_group_size`)."
)


_SE_ARG_DOC = """\
    grouped_squeeze_excite: whether the MGIC blocks' squeeze-excite 1x1 convolutions are
        grouped like their other 1x1 convolutions (True) or dense (False); default {}."""


def _signature(function_name, mgic):
    positional = (
        ("input_shape", None),
        ("alpha", 1.0),
        ("minimalistic", False),
        ("include_top", True),
        ("weights", None),
        ("input_tensor", None),
        ("classes", 1000),
        ("pooling", None),
        ("dropout_rate", 0.2),
        ("classifier_activation", "softmax"),
        ("include_preprocessing", True),
        ("name", function_name),
    )
    keyword_only = list(MGIC_DEFAULTS.items()) if mgic else []
    keyword_only += [("last_point_filters", None), ("num_classes", None)]
    return apps.parameters(positional, keyword_only + [("width_multiplier", None)])


def _doc(function_name, mgic, summary, example):
    args = apps.KERAS_ARGS_DOC.format(
        default_shape=f"``({_DEFAULT_SIZE}, {_DEFAULT_SIZE}, 3)``",
        min_size=_MIN_INPUT_SIZE,
        classes=1000,
        include_preprocessing="True",
        preprocessing_note="",
        name=function_name,
    )
    args += "\n" + _EXTRA_ARGS_DOC
    if mgic:
        args += "\n" + apps.mgic_args_doc(
            MGIC_DEFAULTS["group_size"],
            MGIC_DEFAULTS["coarsest_size"],
            _MGIC_NOTE,
            coarsening=MGIC_DEFAULTS["coarsening"],
        )
        args += "\n" + _SE_ARG_DOC.format(MGIC_DEFAULTS["grouped_squeeze_excite"])
    args += "\n" + _TAIL_ARGS_DOC + "\n" + apps.DEPRECATED_ARGS_DOC
    return apps.builder_doc(summary, _DETAILS, args, example)


def _build_named(architecture, mgic, **arguments):
    return build_mobilenet_v3(architecture, mgic=mgic, **arguments)


def _named(function_name, architecture, mgic, summary, example):
    return apps.named_builder(
        function_name,
        functools.partial(_build_named, architecture, mgic),
        _signature(function_name, mgic),
        _doc(function_name, mgic, summary, example),
        __name__,
    )


_BUILDERS = {row[0]: _named(*row) for row in NAMED}
MobileNetV3Large = _BUILDERS["MobileNetV3Large"]
MobileNetV3Small = _BUILDERS["MobileNetV3Small"]
MGICMobileNetV3Large = _BUILDERS["MGICMobileNetV3Large"]
MGICMobileNetV3Small = _BUILDERS["MGICMobileNetV3Small"]


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


#: The ``top`` classes of each prediction, as ``keras.applications``' helper (shared by the
#: classifier modules: see ``application_helpers.decode_classes``).
decode_predictions = helpers.decode_classes
