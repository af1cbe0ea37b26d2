"""Wide ResNets for CIFAR (Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016) and
their MGIC twins, in the style of ``keras.applications``.

A WRN-``depth``-``k`` has a 3x3 stem of 16 channels, then three stages of
``n = (depth - 4) / 6`` pre-activation basic blocks of widths ``16k``, ``32k`` and ``64k``
(strides 1, 2, 2), then BatchNorm, ReLU, global average pooling and the classifier.
WRN-28-10 has 36.5M parameters and about 5.2G multiply-adds at 32x32.

- **Dense** (``mgic=False``): the first block of a stage is the WRN paper's block with a
  1x1 projection shortcut; both branches read the block's pre-activated input. The other
  blocks are :class:`~keras_mgic.layers.PreActResidualBlock` s.
- **MGIC** (``mgic=True``): the first block of a stage is a
  :class:`~keras_mgic.layers.ChannelTransition` (paper Sec. 4.3), and every block an
  :class:`~keras_mgic.layers.MGICBlock` of pre-activation blocks. The stem and the head stay
  dense.

At the widths of a Wide ResNet every 3x3 convolution is 160 to 640 channels wide, where one
MGIC block runs faster than its dense twin on a CPU (paper Sec. 4.4: the cost of a dense
convolution grows with the square of the width, that of an MGIC block linearly). Layer names
follow the ResNets: ``stem_conv``, ``stage2_block1_transition``, ``stage2_block1_mgic``,
``stage3_block2``, ``stage1_block1_proj_conv``, ``final_bn``, ``predictions``.
"""

import functools

import keras

from keras_mgic.layers import ChannelTransition, MGICBlock, PreActResidualBlock
from keras_mgic.layers.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNormalization
from keras_mgic.layers.channel_hierarchy import check_coarsening
from keras_mgic.layers.validation import dropout_rate as check_dropout_rate
from keras_mgic.layers.validation import is_int, positive_even_int, positive_int
from keras_mgic.models import application_helpers as helpers
from keras_mgic.models import applications as apps

_STEM_FILTERS = 16
_STAGE_STRIDES = (1, 2, 2)
_MIN_INPUT_SIZE = 4  # two stride-2 stages

#: The named variants: depth, widen factor, default ``(group_size, coarsest_size)``.
VARIANTS = {
    "wide_resnet16_8": {"depth": 16, "widen_factor": 8, "mgic_defaults": (16, 32)},
    "wide_resnet28_10": {"depth": 28, "widen_factor": 10, "mgic_defaults": (16, 32)},
}


def blocks_per_stage(depth):
    """``(depth - 4) / 6``: the blocks of each stage of a WRN of ``depth`` layers."""
    if not is_int(depth) or depth < 10 or (depth - 4) % 6:
        raise ValueError(
            "`depth` must be 6 * n + 4 for a positive integer n (10, 16, 22, 28, 40, ...). "
            f"Received: depth={depth!r}"
        )
    return (depth - 4) // 6


def _batch_norm(name):
    return BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def _conv(x, filters, kernel_size, strides, name):
    x, padding = apps.symmetric_padding(x, kernel_size, strides, name)
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )(x)


def _dense_projection_block(x, filters, strides, dropout_rate, name):
    """The WRN block that changes width or stride: ``proj(a) + conv(drop(act(BN(conv(a)))))``
    with ``a = act(BN(x))``."""
    activated = keras.layers.Activation("relu", name=f"{name}_preact_relu")(
        _batch_norm(f"{name}_preact_bn")(x)
    )
    y = _conv(activated, filters, 3, strides, f"{name}_1_conv")
    y = keras.layers.Activation("relu", name=f"{name}_2_relu")(_batch_norm(f"{name}_2_bn")(y))
    if dropout_rate > 0:
        y = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(y)
    y = _conv(y, filters, 3, 1, f"{name}_2_conv")
    shortcut = _conv(activated, filters, 1, strides, f"{name}_proj_conv")
    return keras.layers.Add(name=f"{name}_add")([shortcut, y])


def _mgic_block(x, filters, strides, changes, dropout_rate, mgic, name):
    if changes:
        x = ChannelTransition(filters, strides=strides, name=f"{name}_transition")(x)
    group_size, coarsest_size, coarsening = mgic
    return MGICBlock(
        group_size=group_size,
        coarsest_size=coarsest_size,
        block="preact_residual",
        block_kwargs={"dropout_rate": dropout_rate},
        coarsening=coarsening,
        name=f"{name}_mgic",
    )(x)


def _body(x, widths, depth, dropout_rate, mgic):
    """The three stages; ``mgic``: ``(group_size, coarsest_size, coarsening, min_width)``
    or None."""
    channels = x.shape[-1]
    for stage, (width, stride) in enumerate(zip(widths, _STAGE_STRIDES, strict=True), 1):
        for index in range(1, depth + 1):
            name = f"stage{stage}_block{index}"
            strides = stride if index == 1 else 1
            changes = strides != 1 or channels != width
            if mgic is not None and apps.uses_mgic(width, mgic[3]):
                x = _mgic_block(x, width, strides, changes, dropout_rate, mgic[:3], name)
            elif changes:
                x = _dense_projection_block(x, width, strides, dropout_rate, name)
            else:
                x = PreActResidualBlock(width, dropout_rate=dropout_rate, name=name)(x)
            channels = width
    return x


def _check_widen_factor(widen_factor):
    if not is_int(widen_factor) or widen_factor <= 0:
        raise ValueError(
            f"`widen_factor` must be a positive integer. Received: widen_factor={widen_factor!r}"
        )
    return widen_factor


def WideResNet(
    depth=28,
    widen_factor=10,
    dropout_rate=0.0,
    mgic=False,
    group_size=16,
    coarsest_size=32,
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
    name=None,
):
    """Builds a Wide ResNet WRN-``depth``-``widen_factor``, dense or MGIC.

    The generic builder behind ``WideResNet28_10``, ``MGICWideResNet28_10``, ... (see the
    module docstring for the layout).

    Args:
        depth: ``6 * n + 4`` layers (n pre-activation blocks per stage); 28 for WRN-28-10.
        widen_factor: ``k``, the stage widths are ``16k``, ``32k`` and ``64k``.
        dropout_rate: dropout between the two convolutions of every block, in ``[0, 1)``
            (the WRN paper uses 0.3 on CIFAR); default 0.
        mgic: whether the blocks are MGIC blocks (True) or dense (False).
        group_size: ``s_g`` of the MGIC blocks (ignored when ``mgic=False``).
        coarsest_size: ``s_c`` of the MGIC blocks (ignored when ``mgic=False``).
        coarsening: ``"reference"`` or ``"literal"``, see ``MGICBlock``.
        mgic_min_width: None, or the width below which blocks stay dense in an MGIC
            network (a hybrid).
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation, include_preprocessing, name: as in
            ``keras.applications`` (see :func:`WideResNet28_10`).

    Returns:
        A ``keras.Model``.

    Raises:
        ValueError: for an argument out of range, e.g. ``depth=30``.

    Example:

    >>> model = WideResNet(depth=10, widen_factor=2, mgic=True, group_size=8)
    >>> model.count_params() < WideResNet(depth=10, widen_factor=2).count_params()
    True
    """
    blocks = blocks_per_stage(depth)
    _check_widen_factor(widen_factor)
    check_dropout_rate(dropout_rate)
    apps.check_head(include_top, classes, pooling, 0.0)
    apps.check_weights(weights)
    if mgic:
        positive_even_int("group_size", group_size)
        positive_int("coarsest_size", coarsest_size)
        check_coarsening(coarsening)
        apps.check_mgic_min_width(mgic_min_width)
    img_input = apps.model_input(input_shape, input_tensor, 32, _MIN_INPUT_SIZE)

    x = apps.preprocess(img_input, include_preprocessing)
    x = _conv(x, _STEM_FILTERS, 3, 1, "stem_conv")
    widths = tuple(base * widen_factor for base in (16, 32, 64))
    mgic_args = (group_size, coarsest_size, coarsening, mgic_min_width) if mgic else None
    x = _body(x, widths, blocks, dropout_rate, mgic_args)
    x = keras.layers.Activation("relu", name="final_relu")(_batch_norm("final_bn")(x))
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dense(
            classes,
            activation=classifier_activation,
            kernel_initializer="he_normal",
            dtype=apps.head_dtype(),
            name="predictions",
        )(x)
    else:
        x = apps.global_pooling(x, pooling)
    default_name = f"wide_resnet{depth}_{widen_factor}"
    name = name or (f"mgic_{default_name}" if mgic else default_name)
    return apps.finish(img_input, input_tensor, x, name, weights)


# ------------------------------------------------------------------------- named builders

#: The named builders: function name, variant, MGIC or not, summary line, example.
NAMED = (
    ("WideResNet16_8", "wide_resnet16_8", False,
     "Dense WRN-16-8 (Zagoruyko & Komodakis 2016): 3 stages of 2 blocks, widths 128-512.",
     ">>> WideResNet16_8(input_shape=(8, 8, 3)).output_shape\n(None, 10)"),
    ("WideResNet28_10", "wide_resnet28_10", False,
     "Dense WRN-28-10 (Zagoruyko & Komodakis 2016): 3 stages of 4 blocks, widths 160-640.",
     ">>> WideResNet28_10(include_top=False, input_shape=(8, 8, 3)).output_shape\n"
     "(None, 2, 2, 640)"),
    ("MGICWideResNet16_8", "wide_resnet16_8", True,
     "MGIC-WRN-16-8: WRN-16-8 with every block an ``MGICBlock`` of pre-activation blocks.",
     ">>> MGICWideResNet16_8(input_shape=(8, 8, 3), classes=100).output_shape\n(None, 100)"),
    ("MGICWideResNet28_10", "wide_resnet28_10", True,
     "MGIC-WRN-28-10: WRN-28-10 with every block an ``MGICBlock`` of pre-activation blocks.",
     ">>> model = MGICWideResNet28_10(input_shape=(8, 8, 3))\n"
     ">>> model.get_layer(\"stage3_block1_mgic\").group_size\n16"),
)  # fmt: skip

_DETAILS = (
    "Takes ``keras.applications.ResNet50``'s arguments, in its order; like the CIFAR "
    "ResNets\nthe model expects preprocessed input by default "
    "(``include_preprocessing=False``)."
)

_EXTRA_ARGS_DOC = """\
    dropout_rate: dropout between the two convolutions of every block, in ``[0, 1)``
        (the WRN paper uses 0.3 on CIFAR); default 0."""


def _build_variant(variant, mgic, **arguments):
    config = VARIANTS[variant]
    return WideResNet(config["depth"], config["widen_factor"], mgic=mgic, **arguments)


def _signature(variant, mgic):
    positional = (
        ("include_top", True),
        ("weights", None),
        ("input_tensor", None),
        ("input_shape", None),
        ("pooling", None),
        ("classes", 10),
        ("classifier_activation", "softmax"),
        ("name", f"mgic_{variant}" if mgic else variant),
    )
    keyword_only = [("include_preprocessing", False), ("dropout_rate", 0.0)]
    if mgic:
        group_size, coarsest_size = VARIANTS[variant]["mgic_defaults"]
        keyword_only += [
            ("group_size", group_size),
            ("coarsest_size", coarsest_size),
            ("coarsening", "reference"),
            ("mgic_min_width", None),
        ]
    return apps.parameters(positional, keyword_only)


def _doc(variant, mgic, summary, example):
    args = apps.KERAS_ARGS_DOC.format(
        default_shape="``(32, 32, 3)``",
        min_size=_MIN_INPUT_SIZE,
        classes=10,
        include_preprocessing="False",
        preprocessing_note=" (the model expects preprocessed input)",
        name=f"mgic_{variant}" if mgic else variant,
    )
    args += "\n" + _EXTRA_ARGS_DOC
    if mgic:
        args += "\n" + apps.mgic_args_doc(*VARIANTS[variant]["mgic_defaults"])
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
WideResNet16_8 = _BUILDERS["WideResNet16_8"]
WideResNet28_10 = _BUILDERS["WideResNet28_10"]
MGICWideResNet16_8 = _BUILDERS["MGICWideResNet16_8"]
MGICWideResNet28_10 = _BUILDERS["MGICWideResNet28_10"]


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
