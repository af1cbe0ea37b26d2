"""MobileNetV3 (Large, Small) and MGIC-MobileNetV3, in the style of ``keras.applications``.

One generic builder, :func:`build_mobilenet_v3`, reads a block table (data) and builds either
the dense MobileNetV3 (``mgic=False``) or its multigrid-in-channels version (``mgic=True``):
the stem, the top 1x1 conv and the classification head are the same layers with the same names
in both, so comparisons are fair. The named variants are thin wrappers.

**Where MGIC sits (paper Sec. 5.2.2, DESIGN §3).** The paper "replace[s] the standard
MobileNetV3 block with our MGIC block, configured to s_g = 64, s_c = 64", and changes width or
stride with "a lightweight shortcut ... a depth-wise 3x3 convolution" (Sec. 4.3). So in the MGIC
model every row of the MobileNetV3 table becomes:

- a :class:`~keras_mgic.layers.ChannelTransition` (3x3 conv with ``gcd(c_in, c_out)`` groups,
  BN, the row's activation) when the row changes the width or has stride 2, then
- an :class:`~keras_mgic.layers.MGICBlock` at the row's output width whose per-level block is
  MobileNetV3's inverted residual (expand 1x1, depthwise kxk, optional squeeze-excite,
  project 1x1, residual add; ReLU or hard-swish), its 1x1 convs grouped on the fine levels.
  The row's expanded width (MobileNetV3's "exp size") is kept: the block is given
  ``expansion_ratio = exp_size / c_out``. Where the dense row computed its expansion at the
  input resolution before a stride-2 depthwise conv, the MGIC row computes it after the
  transition, at the output resolution: that is where most of the MACs saved come from.

Here ``s_c`` is read as the smallest width of the coarsest level (coarsest level in
``[s_c, 2 s_c)``), so each MGICBlock is given ``coarsest_size = 2 * s_c``. ``MGICBlock``'s own
rule (Algorithm 1, which reproduces the ResNet-56 tables) would coarsen once more, to
``[s_c / 2, s_c)``; with ``s_g = s_c = 64`` that extra level is narrower than ``2 * s_g`` and
so fully coupled, which only adds cost: it made MGIC-MobileNetV3-Large 1.0 5.57M parameters
and 227M MACs, *more* than the dense model's 217M. With this reading the channel hierarchy
has a second level where a block is at least ``2 * s_c = 128`` wide: the 160-wide last
stage at width 1.0; the 136- and 192-wide stages at
1.2; nothing at 0.6 (widths 16..96). Narrower MGIC blocks are single-level, i.e. exactly the
(dense) inverted residual (Algorithm 1 with ``n_levels = 0``). On a width that ``group_size``
does not divide (160 and 136 at ``s_g = 64``), ``MGICBlock`` would raise; the block instead
uses the ``floor(c / s_g)`` equal groups that the reference code's group count gives (DESIGN
§3): 2 groups of 80 and of 68 channels, by handing the MGICBlock the equivalent group size
``c / groups`` (see :func:`block_group_size`).

**Numbers** (trainable parameters; MACs at 224x224, 1000 classes; paper Table 4):

=====================  ==========  ===========  ==============  =================
model                  params      MACs         paper params    paper MACs
=====================  ==========  ===========  ==============  =================
MobileNetV3Large 0.6   3.097M      100.1M
MobileNetV3Large 1.0   5.483M      216.6M       5.4M            219M
MobileNetV3Large 1.2   7.604M      326.7M
MGIC 0.6               3.123M      86.8M        2.3M (+36%)     48M (+81%)
MGIC 0.6, head 768     2.315M      86.0M        2.3M (+1%)      48M (+79%)
MGIC 1.0               5.148M      192.0M       5.2M (-1%)      145M (+32%)
MGIC 1.2               6.439M      267.8M       7.1M (-9%)      233M (+15%)
=====================  ==========  ===========  ==============  =================

The dense rows equal ``keras.applications.MobileNetV3Large(alpha=...)`` to the parameter.
MGIC parameters land within 10% of the paper on the 1.0 and 1.2 rows, and on the 0.6 row when
the head's 1280 "last point" width is scaled with the width (``last_point_filters=768``, as
torchvision does; ``keras.applications`` and the MobileNetV3 paper scale it only above 1.0,
which this builder follows by default). As in the paper (5.2M < 5.4M), the MGIC models have
fewer parameters than the dense ones at 1.0 and 1.2: on fine levels the squeeze-excite's 1x1
convolutions are grouped like the block's other 1x1 convolutions.

The paper's MACs are not reproduced. MGIC is below the dense model at every width (87M vs
100M, 192M vs 217M, 268M vs 327M), and the trend is kept, but with ``s_g = s_c = 64`` no block
narrower than 128 channels can be grouped or coarsened: at 0.6 nothing is (the MGIC model is
the dense one with transitions), and its stem and 112x112 / 56x56 blocks alone cost 28M MACs,
so 48M would need the 28x28..7x7 stages to drop from 62M to 20M. Where the hierarchy does exist
(the 7x7 stage), the MACs are few.
"""

import math
from typing import NamedTuple

import keras
from keras import layers

from keras_mgic.layers import ChannelTransition, MGICBlock, SqueezeExcite, validation
from keras_mgic.layers.channel_hierarchy import level_groups, level_widths
from keras_mgic.layers.validation import is_int, positive_even_int, positive_int

_BN_MOMENTUM = 0.9
_BN_EPSILON = 1e-5
_MIN_INPUT_SIZE = 32  # five stride-2 reductions


class BlockSpec(NamedTuple):
    """One row of a MobileNetV3 table (widths at ``width_multiplier=1``).

    Attributes:
        expansion: expanded width over the block's *input* width (as in
            ``keras.applications``); the expanded width is ``_depth(c_in * expansion)``.
        filters: output width before the width multiplier.
        kernel_size: depthwise kernel size.
        strides: 1 or 2.
        squeeze_excite: whether the block has a squeeze-and-excite (ratio 0.25).
        activation: ``"relu"`` or ``"hard_swish"``.
    """

    expansion: float
    filters: int
    kernel_size: int
    strides: int
    squeeze_excite: bool
    activation: str


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

_STEM_FILTERS = 16
_TOP_EXPANSION = 6
_SE_RATIO = 0.25


def _depth(value, divisor=8):
    """Rounds a width to a multiple of ``divisor`` (at least ``divisor``), never 10% below."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _check_width_multiplier(width_multiplier):
    if (
        isinstance(width_multiplier, bool)
        or not isinstance(width_multiplier, (int, float))
        or not math.isfinite(width_multiplier)
        or width_multiplier <= 0
    ):
        raise ValueError(
            "`width_multiplier` must be a finite number > 0. "
            f"Received: width_multiplier={width_multiplier!r}"
        )


def _check_input_shape(input_shape):
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if (
        shape is None
        or len(shape) != 3
        or not all(size is None or (is_int(size) and size > 0) for size in shape)
        or shape[-1] is None
    ):
        raise ValueError(
            "`input_shape` must be (height, width, channels) with positive ints (height and "
            f"width may be None). Received: input_shape={input_shape!r}"
        )
    if any(size is not None and size < _MIN_INPUT_SIZE for size in shape[:2]):
        raise ValueError(
            f"MobileNetV3 halves the resolution five times, so the input must be at least "
            f"{_MIN_INPUT_SIZE}x{_MIN_INPUT_SIZE}. Received: input_shape={input_shape!r}"
        )
    return shape


def _check_arguments(num_classes, include_top, pooling, dropout_rate, last_point_filters):
    if include_top:
        positive_int("num_classes", num_classes)
    validation.pooling(pooling)
    validation.dropout_rate(dropout_rate)
    if last_point_filters is not None and (
        not is_int(last_point_filters) or last_point_filters <= 0
    ):
        raise ValueError(
            "`last_point_filters` must be a positive integer or None. "
            f"Received: last_point_filters={last_point_filters!r}"
        )


def _check_mgic_arguments(group_size, coarsest_size):
    positive_even_int("group_size", group_size)
    positive_int("coarsest_size", coarsest_size)


def _block_coarsest_size(coarsest_size):
    """The ``coarsest_size`` handed to each MGICBlock: ``2 * s_c`` (see the module docstring)."""
    return 2 * coarsest_size


def block_group_size(channels, group_size, coarsest_size):
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
    coarsens = len(level_widths(channels, _block_coarsest_size(coarsest_size))) > 1
    if not coarsens or channels < group_size or channels % group_size == 0:
        return group_size
    return channels // level_groups(channels, group_size)


def _batch_norm(name):
    return layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=name)


def _dense_block(x, spec, in_filters, filters, prefix):
    """MobileNetV3's inverted residual, exactly as ``keras.applications`` builds it."""
    inputs = x
    expanded = _depth(in_filters * spec.expansion)
    if spec.expansion != 1:
        x = layers.Conv2D(
            expanded,
            1,
            use_bias=False,
            kernel_initializer="he_normal",
            name=f"{prefix}_expand",
        )(x)
        x = _batch_norm(f"{prefix}_expand_bn")(x)
        x = layers.Activation(spec.activation, name=f"{prefix}_expand_activation")(x)
    x = layers.DepthwiseConv2D(
        spec.kernel_size,
        strides=spec.strides,
        padding="same",
        use_bias=False,
        depthwise_initializer="he_normal",
        name=f"{prefix}_depthwise",
    )(x)
    x = _batch_norm(f"{prefix}_depthwise_bn")(x)
    x = layers.Activation(spec.activation, name=f"{prefix}_depthwise_activation")(x)
    if spec.squeeze_excite:
        squeeze = _depth(expanded * _SE_RATIO)
        x = SqueezeExcite(expanded, squeeze, name=f"{prefix}_squeeze_excite")(x)
    x = layers.Conv2D(
        filters, 1, use_bias=False, kernel_initializer="he_normal", name=f"{prefix}_project"
    )(x)
    x = _batch_norm(f"{prefix}_project_bn")(x)
    if spec.strides == 1 and in_filters == filters:
        x = layers.Add(name=f"{prefix}_add")([inputs, x])
    return x


def _mgic_block(x, spec, in_filters, filters, prefix, group_size, coarsest_size):
    """Transition (if the width or stride changes), then an MGIC block at ``filters``."""
    if spec.strides != 1 or in_filters != filters:
        x = ChannelTransition(
            filters,
            strides=spec.strides,
            kernel_size=3,
            activation=spec.activation,
            name=f"{prefix}_transition",
        )(x)
    expanded = _depth(in_filters * spec.expansion)
    block_kwargs = {
        "expansion_ratio": max(1.0, expanded / filters),
        "kernel_size": spec.kernel_size,
        "se_ratio": _SE_RATIO if spec.squeeze_excite else None,
        "activation": spec.activation,
    }
    return MGICBlock(
        group_size=block_group_size(filters, group_size, coarsest_size),
        coarsest_size=_block_coarsest_size(coarsest_size),
        block="inverted_residual",
        block_kwargs=block_kwargs,
        name=f"{prefix}_mgic",
    )(x)


def build_mobilenet_v3(
    architecture,
    *,
    mgic=False,
    input_shape=(224, 224, 3),
    width_multiplier=1.0,
    include_top=True,
    num_classes=1000,
    pooling=None,
    dropout_rate=0.2,
    classifier_activation="softmax",
    group_size=64,
    coarsest_size=64,
    last_point_filters=None,
    name=None,
):
    """Builds a dense or MGIC MobileNetV3 from a block table.

    Args:
        architecture: ``"large"``, ``"small"`` or an :class:`Architecture`.
        mgic: False for the dense MobileNetV3; True to replace every block by a
            (transition and) MGIC block; see the module docstring.
        input_shape: ``(height, width, channels)``; height and width at least 32 (or None).
        width_multiplier: multiplies every block width (rounded to a multiple of 8, as in
            ``keras.applications``' ``alpha``); the 16-channel stem is not scaled.
        include_top: whether to add the pooling + 1x1 convs classification head.
        num_classes: number of classes of the head.
        pooling: without the top, None (4D feature map), ``"avg"`` or ``"max"``.
        dropout_rate: dropout before the logits.
        classifier_activation: activation of the output (None for logits). The logits and
            this activation are float32 under a mixed-precision policy.
        group_size: ``s_g`` of the MGIC blocks (positive even int; ignored when dense).
        coarsest_size: ``s_c`` of the MGIC blocks (positive int; ignored when dense).
        last_point_filters: width of the head's penultimate 1x1 conv; None for
            MobileNetV3's rule (1280 Large / 1024 Small, scaled by ``width_multiplier``
            only when it is above 1).
        name: model name.

    Returns:
        A functional ``keras.Model``.

    Example:

    >>> model = build_mobilenet_v3("small", mgic=True, input_shape=(32, 32, 3),
    ...                            width_multiplier=0.5, num_classes=10)
    >>> tuple(model.output.shape)
    (None, 10)
    """
    if isinstance(architecture, str):
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"`architecture` must be one of {sorted(ARCHITECTURES)} or an Architecture. "
                f"Received: architecture={architecture!r}"
            )
        architecture = ARCHITECTURES[architecture]
    input_shape = _check_input_shape(input_shape)
    _check_width_multiplier(width_multiplier)
    _check_arguments(num_classes, include_top, pooling, dropout_rate, last_point_filters)
    if mgic:
        _check_mgic_arguments(group_size, coarsest_size)

    inputs = keras.Input(shape=input_shape, name="input")
    x = layers.Conv2D(
        _STEM_FILTERS,
        3,
        strides=2,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name="stem_conv",
    )(inputs)
    x = _batch_norm("stem_bn")(x)
    x = layers.Activation(_HS, name="stem_activation")(x)

    filters = _STEM_FILTERS
    for index, spec in enumerate(architecture.blocks):
        out_filters = _depth(spec.filters * width_multiplier)
        prefix = f"block{index}"
        if mgic:
            x = _mgic_block(x, spec, filters, out_filters, prefix, group_size, coarsest_size)
        else:
            x = _dense_block(x, spec, filters, out_filters, prefix)
        filters = out_filters

    x = layers.Conv2D(
        _depth(filters * _TOP_EXPANSION),
        1,
        use_bias=False,
        kernel_initializer="he_normal",
        name="top_conv",
    )(x)
    x = _batch_norm("top_bn")(x)
    x = layers.Activation(_HS, name="top_activation")(x)

    if include_top:
        if last_point_filters is None:
            last_point_filters = architecture.last_point_filters
            if width_multiplier > 1:
                last_point_filters = _depth(last_point_filters * width_multiplier)
        x = layers.GlobalAveragePooling2D(keepdims=True, name="head_pool")(x)
        x = layers.Conv2D(last_point_filters, 1, name="head_conv")(x)
        x = layers.Activation(_HS, name="head_activation")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="head_dropout")(x)
        # DESIGN §7: under a mixed-precision policy the logits are computed in float32.
        policy = keras.config.dtype_policy()
        head_dtype = "float32" if policy.compute_dtype != policy.variable_dtype else None
        x = layers.Conv2D(num_classes, 1, dtype=head_dtype, name="logits")(x)
        x = layers.Flatten(dtype=head_dtype, name="logits_flatten")(x)
        x = layers.Activation(classifier_activation, dtype=head_dtype, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    return keras.Model(inputs, x, name=name)


_ARGS_DOC = """
    Args:
        input_shape: ``(height, width, channels)``; height and width at least 32 (or None).
        width_multiplier: multiplies every block width (``keras.applications``' ``alpha``).
        include_top: whether to add the classification head.
        num_classes: number of classes of the head.
        pooling: without the top, None (4D feature map), ``"avg"`` or ``"max"``.
        dropout_rate: dropout before the logits.
        classifier_activation: activation of the (float32) output; None for logits.
        last_point_filters: width of the head's penultimate 1x1 conv; None for
            MobileNetV3's rule (scaled only when ``width_multiplier > 1``).
        name: model name.
"""

_MGIC_ARGS_DOC = """        group_size: ``s_g``, channels per group on the fine levels (paper: 64).
        coarsest_size: ``s_c``, the coarsest level has ``s_c`` to ``2 * s_c`` channels
            (paper: 64).
"""


def MobileNetV3Large(
    input_shape=(224, 224, 3),
    width_multiplier=1.0,
    include_top=True,
    num_classes=1000,
    pooling=None,
    dropout_rate=0.2,
    classifier_activation="softmax",
    last_point_filters=None,
    name="MobileNetV3Large",
):
    return build_mobilenet_v3(
        "large",
        mgic=False,
        input_shape=input_shape,
        width_multiplier=width_multiplier,
        include_top=include_top,
        num_classes=num_classes,
        pooling=pooling,
        dropout_rate=dropout_rate,
        classifier_activation=classifier_activation,
        last_point_filters=last_point_filters,
        name=name,
    )


def MobileNetV3Small(
    input_shape=(224, 224, 3),
    width_multiplier=1.0,
    include_top=True,
    num_classes=1000,
    pooling=None,
    dropout_rate=0.2,
    classifier_activation="softmax",
    last_point_filters=None,
    name="MobileNetV3Small",
):
    return build_mobilenet_v3(
        "small",
        mgic=False,
        input_shape=input_shape,
        width_multiplier=width_multiplier,
        include_top=include_top,
        num_classes=num_classes,
        pooling=pooling,
        dropout_rate=dropout_rate,
        classifier_activation=classifier_activation,
        last_point_filters=last_point_filters,
        name=name,
    )


def MGICMobileNetV3Large(
    input_shape=(224, 224, 3),
    width_multiplier=1.0,
    include_top=True,
    num_classes=1000,
    pooling=None,
    dropout_rate=0.2,
    classifier_activation="softmax",
    group_size=64,
    coarsest_size=64,
    last_point_filters=None,
    name="MGICMobileNetV3Large",
):
    return build_mobilenet_v3(
        "large",
        mgic=True,
        input_shape=input_shape,
        width_multiplier=width_multiplier,
        include_top=include_top,
        num_classes=num_classes,
        pooling=pooling,
        dropout_rate=dropout_rate,
        classifier_activation=classifier_activation,
        group_size=group_size,
        coarsest_size=coarsest_size,
        last_point_filters=last_point_filters,
        name=name,
    )


def MGICMobileNetV3Small(
    input_shape=(224, 224, 3),
    width_multiplier=1.0,
    include_top=True,
    num_classes=1000,
    pooling=None,
    dropout_rate=0.2,
    classifier_activation="softmax",
    group_size=64,
    coarsest_size=64,
    last_point_filters=None,
    name="MGICMobileNetV3Small",
):
    return build_mobilenet_v3(
        "small",
        mgic=True,
        input_shape=input_shape,
        width_multiplier=width_multiplier,
        include_top=include_top,
        num_classes=num_classes,
        pooling=pooling,
        dropout_rate=dropout_rate,
        classifier_activation=classifier_activation,
        group_size=group_size,
        coarsest_size=coarsest_size,
        last_point_filters=last_point_filters,
        name=name,
    )


MobileNetV3Large.__doc__ = (
    """Dense MobileNetV3-Large (Howard et al. 2019), the baseline of MGIC-MobileNetV3.

    Built by :func:`build_mobilenet_v3` with ``mgic=False``; at width 1.0 and 224x224 it has
    5.48M trainable parameters and 216.6M MACs, like ``keras.applications.MobileNetV3Large``.
"""
    + _ARGS_DOC
    + """
    Example:

    >>> model = MobileNetV3Large(input_shape=(32, 32, 3), width_multiplier=0.5,
    ...                          num_classes=10)
    >>> tuple(model.output.shape)
    (None, 10)
    """
)

MobileNetV3Small.__doc__ = (
    """Dense MobileNetV3-Small (Howard et al. 2019).

    Built by :func:`build_mobilenet_v3` with ``mgic=False``; at width 1.0 and 224x224 it has
    2.54M trainable parameters and 56.5M MACs, like ``keras.applications.MobileNetV3Small``.
"""
    + _ARGS_DOC
    + """
    Example:

    >>> model = MobileNetV3Small(input_shape=(32, 32, 3), num_classes=10)
    >>> tuple(model.output.shape)
    (None, 10)
    """
)

MGICMobileNetV3Large.__doc__ = (
    """MGIC-MobileNetV3-Large (paper Sec. 5.2.2, Table 4): every block an MGIC block.

    Same builder, stem and head as :func:`MobileNetV3Large`; each block is a transition (where
    the width or stride changes) and an :class:`~keras_mgic.layers.MGICBlock` over
    MobileNetV3's inverted residual. The paper's widths are 0.6 / 1.0 / 1.2; at 224x224 this
    gives 3.12M / 5.15M / 6.44M parameters and 87M / 192M / 268M MACs (paper: 2.3M / 5.2M /
    7.1M and 48M / 145M / 233M); see the module docstring for why.
"""
    + _ARGS_DOC
    + _MGIC_ARGS_DOC
    + """
    Example:

    >>> model = MGICMobileNetV3Large(input_shape=(32, 32, 3), width_multiplier=0.5,
    ...                              num_classes=10)
    >>> tuple(model.output.shape)
    (None, 10)
    """
)

MGICMobileNetV3Small.__doc__ = (
    """MGIC-MobileNetV3-Small: :func:`MobileNetV3Small` with every block an MGIC block.

    At width 1.0 no block is 128 channels wide, so with ``s_c = 64`` the MGIC blocks are
    single-level (dense inverted residuals) and only the transitions differ from the dense
    model; the hierarchy appears from ``width_multiplier=1.3`` (the 96-wide stage becomes
    128 wide) or with a smaller ``coarsest_size``.
"""
    + _ARGS_DOC
    + _MGIC_ARGS_DOC
    + """
    Example:

    >>> model = MGICMobileNetV3Small(input_shape=(32, 32, 3), num_classes=10,
    ...                              group_size=16, coarsest_size=16)
    >>> tuple(model.output.shape)
    (None, 10)
    """
)
