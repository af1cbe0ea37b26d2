"""Argument and shape checks shared by the layers and the model builders: each raises a
ValueError that names the argument and the received value."""


def is_int(value):
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(name, value):
    if not is_int(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return value


def positive_even_int(name, value):
    if not is_int(value) or value <= 0 or value % 2:
        raise ValueError(f"`{name}` must be a positive even integer. Received: {name}={value!r}")
    return value


def pooling(value):
    """A classifier's global pooling: ``None``, ``"avg"`` or ``"max"``."""
    if value not in (None, "avg", "max"):
        raise ValueError(f"`pooling` must be None, 'avg' or 'max'. Received: pooling={value!r}")
    return value


def dropout_rate(value):
    """A dropout rate: a number in ``[0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(
            f"`dropout_rate` must be a number in [0, 1). Received: dropout_rate={value!r}"
        )
    return value


def image_channels(layer_name, input_shape, data_format="channels_last"):
    """Returns the channel count of a rank-4 shape in ``data_format``, or raises ValueError."""
    input_shape = tuple(input_shape)
    first = data_format == "channels_first"
    layout = "(batch, channels, height, width)" if first else "(batch, height, width, channels)"
    if len(input_shape) != 4:
        raise ValueError(
            f"{layer_name} expects rank-4 input {layout}. Received: input_shape={input_shape}"
        )
    channels = input_shape[1] if first else input_shape[-1]
    if channels is None:
        raise ValueError(
            f"{layer_name} needs a known channel dimension {layout}. "
            f"Received: input_shape={input_shape}"
        )
    return int(channels)


def point_channels(layer_name, input_shape):
    """Returns the channel count of a rank-3 point-set shape ``(batch, points, channels)``,
    or raises ValueError."""
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"{layer_name} expects rank-3 point features (batch, points, channels). "
            f"Received: input_shape={input_shape}"
        )
    if input_shape[-1] is None:
        raise ValueError(
            f"{layer_name} needs a known channel dimension (batch, points, channels). "
            f"Received: input_shape={input_shape}"
        )
    return int(input_shape[-1])


def feature_channels(layer_name, input_shape, data_format="channels_last", points=False):
    """The channel count of a point-set shape (``points=True``) or an image shape."""
    if points:
        return point_channels(layer_name, input_shape)
    return image_channels(layer_name, input_shape, data_format)


def boolean(name, value):
    """``value`` if it is a bool, else ValueError."""
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be a bool. Received: {name}={value!r}")
    return value
