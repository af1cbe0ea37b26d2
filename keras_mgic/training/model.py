"""The model a run trains: built from a name or a builder, taking raw 0-255 images.

Models written by ``train`` rescale their input themselves (``include_preprocessing=True``,
``Rescaling(1 / 127.5, offset=-1)`` as in ``keras.applications.MobileNetV3``), so their
``.keras``, SavedModel and TFLite files classify raw images with no side information.
"""

import inspect

import keras

#: ``include_preprocessing``'s scale and offset: raw ``[0, 255]`` pixels to ``[-1, 1]``.
PREPROCESSING_SCALE = 1.0 / 127.5
PREPROCESSING_OFFSET = -1.0


def resolve_builder(model):
    """The builder of ``model``: a callable as is, or ``keras_mgic.models.MODELS[model]``."""
    if callable(model) and not isinstance(model, str):
        return model
    from keras_mgic.models import MODELS

    if not isinstance(model, str) or model not in MODELS:
        raise ValueError(
            f"Unknown model: expected one of {sorted(MODELS)}. Received: model={model!r}"
        )
    return MODELS[model]


def model_name(model):
    return model if isinstance(model, str) else getattr(model, "__name__", repr(model))


def _parameters(builder):
    try:
        return inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return {}


def build_model(builder, input_shape, classes, model_kwargs=None, raw_pixels=True):
    """Calls ``builder`` with ``keras.applications``' arguments.

    For raw 0-255 images (``raw_pixels``), a builder with an ``include_preprocessing``
    parameter gets ``True``; any other gets a ``Rescaling`` layer in front of its model.
    Other inputs (point clouds) go to the builder as they are. ``classes`` goes as
    ``classes`` or, to builders with only the older ``num_classes`` parameter, as
    ``num_classes``.
    """
    kwargs = dict(model_kwargs or {})
    kwargs["input_shape"] = tuple(input_shape)
    parameters = _parameters(builder)
    named = "num_classes" if "num_classes" in parameters and "classes" not in parameters else None
    kwargs[named or "classes"] = classes
    rescales = "include_preprocessing" in parameters  # named: **kwargs may drop it
    if raw_pixels and rescales:
        kwargs["include_preprocessing"] = True
    try:
        net = builder(**kwargs)
    except TypeError as error:
        raise ValueError(
            f"Could not build the model with these arguments ({error}). "
            f"Received: model={model_name(builder)!r}, model_kwargs={model_kwargs!r}"
        ) from error
    check_model(net, classes)
    return _with_rescaling(net, input_shape) if raw_pixels and not rescales else net


def _with_rescaling(net, input_shape):
    inputs = keras.Input(tuple(input_shape), name="image")
    x = keras.layers.Rescaling(PREPROCESSING_SCALE, offset=PREPROCESSING_OFFSET)(inputs)
    return keras.Model(inputs, net(x), name=net.name)


def check_model(net, classes):
    """Raises ValueError unless the model ends in ``classes`` float32 outputs."""
    output = net.outputs[0] if getattr(net, "outputs", None) else None
    if output is None:
        return
    if output.shape[-1] != classes:
        raise ValueError(
            "The model's output must have one unit per class. "
            f"Received: output_shape={tuple(output.shape)}, classes={classes}"
        )
    if str(output.dtype) != "float32":
        raise ValueError(
            "The model's outputs must be float32 (keep the logits layer in float32 under "
            f"mixed precision). Received: output_dtype={output.dtype}"
        )


def outputs_logits(net):
    """True unless the last layer ends in a softmax (then the loss takes probabilities)."""
    layer = net
    while isinstance(layer, keras.Model) and layer.layers:  # through a Rescaling wrapper
        layer = layer.layers[-1]
    activation = getattr(layer, "activation", None)
    return activation is not keras.activations.softmax and (
        getattr(activation, "__name__", "") != "softmax"
    )
