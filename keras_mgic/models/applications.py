"""What every builder shares with ``keras.applications``: arguments, input, head and weights.

The named builders (``ResNet56``, ``MGICMobileNetV3Large``, ...) are made by
:func:`named_builder` from a generic builder, a parameter list and a docstring, so their
signature and documentation are written once per family. The helpers below implement the
``keras.applications`` arguments (``weights``, ``input_tensor``, ``include_preprocessing``,
``pooling``) the same way for every family, and hold the one rule for the classifier's dtype
under mixed precision.
"""

import inspect
import os
import warnings

import keras

from keras_mgic.layers import validation
from keras_mgic.layers.validation import is_int

#: Scale and offset of ``include_preprocessing=True``: raw ``[0, 255]`` pixels to ``[-1, 1]``,
#: as ``keras.applications.MobileNetV3`` does.
PREPROCESSING_SCALE = 1.0 / 127.5
PREPROCESSING_OFFSET = -1.0


def check_weights(weights):
    """Checks ``weights``: None or the path of an existing weights file.

    No pretrained weights are published for these models, so ``"imagenet"`` (the
    ``keras.applications`` default) is an error rather than a download.

    Args:
        weights: None, or a path (str or ``os.PathLike``) to a weights file.

    Returns:
        ``weights`` unchanged.

    Raises:
        ValueError: for anything else, e.g. ``"imagenet"`` or a missing file.

    Example:

    >>> check_weights(None) is None
    True
    """
    if weights is None:
        return None
    if weights == "imagenet":
        raise ValueError(
            "No pretrained weights are published for keras_mgic models: pass weights=None "
            "(random initialization) or the path of a weights file saved with "
            f"`model.save_weights`. Received: weights={weights!r}"
        )
    if not isinstance(weights, (str, os.PathLike)) or not os.path.isfile(weights):
        raise ValueError(
            "`weights` must be None or the path of an existing weights file. "
            f"Received: weights={weights!r}"
        )
    return weights


def renamed_argument(new_name, new_value, default, old_name, old_value):
    """Resolves a deprecated argument name (e.g. ``num_classes``) against its new one.

    Returns ``new_value`` when the old name was not given (``old_value is None``); otherwise
    warns with a ``DeprecationWarning`` and returns ``old_value``.

    Raises:
        ValueError: when both names are given different values.

    Example:

    >>> renamed_argument("classes", 1000, 1000, "num_classes", None)
    1000
    """
    if old_value is None:
        return new_value
    warnings.warn(
        f"`{old_name}` is deprecated and will be removed in the next release; "
        f"use `{new_name}` (as keras.applications does).",
        DeprecationWarning,
        stacklevel=4,
    )
    if new_value != default and new_value != old_value:
        raise ValueError(
            f"Pass `{new_name}` only (`{old_name}` is its deprecated alias). "
            f"Received: {new_name}={new_value!r}, {old_name}={old_value!r}"
        )
    return old_value


def _check_input_shape(input_shape, min_size):
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if (
        shape is None
        or len(shape) != 3
        or not all(size is None or (is_int(size) and size > 0) for size in shape)
        or shape[-1] is None
    ):
        raise ValueError(
            "`input_shape` must be (height, width, channels), channels last, with positive "
            f"integers (height and width may be None). Received: input_shape={input_shape!r}"
        )
    if any(size is not None and size < min_size for size in shape[:2]):
        raise ValueError(
            f"This network downsamples by {min_size}, so the input height and width must be "
            f"at least {min_size} (or None). Received: input_shape={input_shape!r}"
        )
    return shape


def model_input(input_shape, input_tensor, default_size, min_size):
    """The model's input tensor, from ``input_shape`` and/or ``input_tensor``.

    Args:
        input_shape: ``(height, width, channels)`` or None: the shape of
            ``input_tensor`` when one is given, else ``(default_size, default_size, 3)``.
        input_tensor: None or a Keras tensor (e.g. ``keras.Input(...)`` or the output of
            another layer) to build the model on.
        default_size: default input height and width.
        min_size: the network's total stride, the smallest height and width it takes.

    Returns:
        A Keras tensor: ``input_tensor`` itself, or a new ``keras.Input`` named ``"input"``.

    Raises:
        ValueError: for a bad shape, a shape that differs from ``input_tensor``'s, an
            ``input_tensor`` that is not a Keras tensor, or a channels-first
            ``keras.config.image_data_format()``.

    Example:

    >>> tuple(model_input(None, None, 32, 8).shape)
    (None, 32, 32, 3)
    """
    data_format = keras.config.image_data_format()
    if data_format != "channels_last":
        raise ValueError(
            "The keras_mgic models are channels-last: call "
            '`keras.config.set_image_data_format("channels_last")` before building one. '
            f"Received: image_data_format={data_format!r}"
        )
    if input_tensor is None:
        if input_shape is None:
            input_shape = (default_size, default_size, 3)
        return keras.Input(shape=_check_input_shape(input_shape, min_size), name="input")
    if not keras.backend.is_keras_tensor(input_tensor):
        raise ValueError(
            "`input_tensor` must be a Keras tensor, e.g. `keras.Input(shape=...)`. "
            f"Received: input_tensor={input_tensor!r}"
        )
    tensor_shape = tuple(input_tensor.shape[1:])
    if input_shape is not None and tuple(input_shape) != tensor_shape:
        raise ValueError(
            "`input_shape` must match the shape of `input_tensor` (or be None). "
            f"Received: input_shape={input_shape!r}, input_tensor.shape={input_tensor.shape}"
        )
    _check_input_shape(tensor_shape, min_size)
    return input_tensor


def preprocess(x, include_preprocessing):
    """Rescales raw ``[0, 255]`` pixels to ``[-1, 1]`` when ``include_preprocessing``."""
    if not include_preprocessing:
        return x
    return keras.layers.Rescaling(PREPROCESSING_SCALE, PREPROCESSING_OFFSET, name="rescaling")(x)


def head_dtype():
    """The dtype of the classifier's logits and activation: float32 under mixed precision.

    Under a mixed policy (``"mixed_float16"``, ``"mixed_bfloat16"``) the logits and the
    softmax are computed in float32, as the Keras mixed-precision guide advises; otherwise
    None (the global policy).

    Example:

    >>> head_dtype() is None
    True
    """
    policy = keras.config.dtype_policy()
    return "float32" if policy.compute_dtype != policy.variable_dtype else None


def check_head(include_top, classes, pooling, dropout_rate):
    """Checks the classifier arguments shared by every builder."""
    if include_top:
        validation.positive_int("classes", classes)
    validation.pooling(pooling)
    validation.dropout_rate(dropout_rate)


def global_pooling(x, pooling):
    """The feature map pooled as ``pooling`` says (``None``, ``"avg"``, ``"max"``)."""
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def finish(img_input, input_tensor, outputs, name, weights):
    """The functional model from ``img_input`` to ``outputs``, with ``weights`` loaded.

    When the model was built on an ``input_tensor``, its inputs are the tensor's source
    inputs, so any layers before ``input_tensor`` belong to the model (as in
    ``keras.applications``).
    """
    if input_tensor is not None:
        inputs = keras.utils.get_source_inputs(input_tensor)
        inputs = inputs[0] if len(inputs) == 1 else inputs
    else:
        inputs = img_input
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model


def symmetric_padding(x, kernel_size, strides, name):
    """Pads ``x`` for a convolution as PyTorch's ``padding=kernel_size // 2`` does.

    Returns ``(x, padding)``: for stride 1, ``x`` and "same" (already symmetric for odd
    kernels); for a larger stride, ``x`` after an explicit ``ZeroPadding2D(kernel_size //
    2)`` named ``{name}_pad`` (none for 1x1) and "valid", so both sides are padded alike
    where TensorFlow's "same" would pad only the bottom and right.

    Example:

    >>> x, padding = symmetric_padding(keras.Input((32, 32, 3)), 3, 2, "conv")
    >>> tuple(x.shape), padding
    ((None, 34, 34, 3), 'valid')
    """
    if strides == 1:
        return x, "same"
    if kernel_size > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
    return x, "valid"


def named_builder(function_name, build, parameters, doc, module):
    """A named builder: ``build`` with a fixed signature and docstring.

    Args:
        function_name: the builder's ``__name__``, e.g. ``"MGICResNet56"``.
        build: callable taking every parameter by keyword.
        parameters: the ``inspect.Parameter`` s of the signature, in order.
        doc: the docstring.
        module: the ``__module__`` the builder is documented in.

    Returns:
        A function whose ``inspect.signature`` is ``parameters``; it binds its arguments
        (positional ones too, in ``keras.applications``' order), fills in the defaults and
        calls ``build``.

    Example:

    >>> p = inspect.Parameter("x", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=1)
    >>> twice = named_builder("twice", lambda x: 2 * x, [p], "Doubles.", __name__)
    >>> twice(), twice(4), str(inspect.signature(twice))
    (2, 8, '(x=1)')
    """
    signature = inspect.Signature(parameters)

    def builder(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return build(**bound.arguments)

    builder.__name__ = builder.__qualname__ = function_name
    builder.__signature__ = signature
    builder.__doc__ = doc
    builder.__module__ = module
    return builder


def parameters(positional, keyword_only):
    """``inspect.Parameter`` s from ``(name, default)`` pairs: positional-or-keyword first."""
    kinds = (
        (positional, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        (keyword_only, inspect.Parameter.KEYWORD_ONLY),
    )
    return [
        inspect.Parameter(name, kind, default=default)
        for pairs, kind in kinds
        for name, default in pairs
    ]


#: Documentation of the ``keras.applications`` arguments, shared by every builder.
KERAS_ARGS_DOC = """\
    include_top: whether to end with the classifier (global average pooling, dropout,
        a classification layer).
    weights: None (random initialization) or the path of a weights file to load after
        building (``model.save_weights``). No pretrained weights are published, so
        ``"imagenet"`` raises a ValueError.
    input_tensor: optional Keras tensor (e.g. ``keras.Input(...)``) to build the model
        on; layers before it become part of the model.
    input_shape: ``(height, width, channels)``, channels last; default ``input_tensor``'s
        shape, else {default_shape}. Height and width may be None (any size) and are
        otherwise at least {min_size}.
    pooling: without the top, None (4D feature map), ``"avg"`` or ``"max"`` (2D output).
    classes: number of classes (with ``include_top``); default {classes}.
    classifier_activation: activation of the output, e.g. ``"softmax"``, or None for the
        logits. The logits and this activation are float32 under a mixed-precision policy.
    include_preprocessing: whether the model takes raw ``[0, 255]`` pixels and rescales
        them to ``[-1, 1]`` inside (a ``Rescaling`` layer named ``"rescaling"``); default
        {include_preprocessing}{preprocessing_note}.
    name: the model's name; default ``"{name}"``."""


def check_mgic_min_width(value):
    """``mgic_min_width``: None or a positive int."""
    if value is not None:
        validation.positive_int("mgic_min_width", value)
    return value


def uses_mgic(width, mgic_min_width):
    """Whether a block of output ``width`` is an MGIC block under ``mgic_min_width``."""
    return mgic_min_width is None or width >= mgic_min_width


def mgic_args_doc(
    group_size, coarsest_size, group_note="", coarsest_note="", coarsening="reference"
):
    """The ``Args`` lines of the MGIC arguments, with their defaults and notes."""
    return _MGIC_ARGS_DOC.format(
        group_size=group_size,
        coarsest_size=coarsest_size,
        group_note=group_note,
        coarsest_note=coarsest_note,
        reference=" (default; " if coarsening == "reference" else " (",
        literal=" (default; " if coarsening == "literal" else " (",
    )


_MGIC_ARGS_DOC = """\
    group_size: ``s_g``, channels per group on the fine levels; default
        {group_size}.{group_note}
    coarsest_size: ``s_c``, the coarsening threshold; default {coarsest_size}.{coarsest_note}
    coarsening: ``"reference"``{reference}the paper's reference code: every block
        restricts at least once, then halves while at least ``s_c`` wide) or
        ``"literal"``{literal}Algorithm 1 read literally: a block narrower than ``s_c`` keeps
        one level); see ``keras_mgic.layers.MGICBlock``.
    mgic_min_width: None (default: every block is MGIC, the paper's models) or a positive
        int: blocks whose output is narrower stay dense (a hybrid network). MGIC saves time
        only where layers are wide. Measured on a 2-core CPU (one block against the dense
        basic block; BENCHMARKS.md, section ``crossover``): 256 for TensorFlow with oneDNN,
        JAX and PyTorch (512 on 8x8 maps), None (all MGIC) for TFLite."""

DEPRECATED_ARGS_DOC = """\
    num_classes: deprecated alias of ``classes`` (removed in the next release)."""


def builder_doc(summary, details, args, example):
    """The docstring of a named builder from its parts (``args``: indented ``Args`` lines)."""
    details = f"{details}\n\n" if details else ""
    return (
        f"{summary}\n\n{details}Args:\n{args}\n\nReturns:\n    A ``keras.Model``.\n\n"
        'Raises:\n    ValueError: for an argument out of range, ``weights="imagenet"`` (no '
        "pretrained\n        weights are published) or a missing weights file.\n\n"
        f"Example:\n\n{example}\n"
    )
