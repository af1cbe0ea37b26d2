"""Helpers shared by the image layers: data formats and one initializer draw per weight.

The layers compute channels-last inside. A layer built for ``"channels_first"`` transposes
its input to channels-last on the way in and its output back on the way out, so its
sublayers (always built ``"channels_last"``) and its weights are the same in both formats.
"""

import keras

from keras_mgic.layers.validation import is_int

DATA_FORMATS = ("channels_last", "channels_first")


def standardize_data_format(data_format):
    """``data_format`` or, when None, ``keras.config.image_data_format()``; validated."""
    if data_format is None:
        data_format = keras.config.image_data_format()
    if data_format not in DATA_FORMATS:
        raise ValueError(
            f"`data_format` must be one of {DATA_FORMATS} or None. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


def to_channels_last(inputs, data_format):
    """An NCHW tensor as NHWC (unchanged when ``data_format`` is ``"channels_last"``)."""
    if data_format == "channels_first":
        return keras.ops.transpose(inputs, (0, 2, 3, 1))
    return inputs


def from_channels_last(outputs, data_format):
    """An NHWC tensor in ``data_format`` (NCHW for ``"channels_first"``)."""
    if data_format == "channels_first":
        return keras.ops.transpose(outputs, (0, 3, 1, 2))
    return outputs


def shape_to_channels_last(shape, data_format):
    """A rank-4 shape in ``data_format`` as a channels-last shape (other ranks unchanged)."""
    shape = tuple(shape)
    if data_format == "channels_first" and len(shape) == 4:
        return (shape[0], shape[2], shape[3], shape[1])
    return shape


def shape_from_channels_last(shape, data_format):
    """A rank-4 channels-last shape in ``data_format``."""
    shape = tuple(shape)
    if data_format == "channels_first" and len(shape) == 4:
        return (shape[0], shape[3], shape[1], shape[2])
    return shape


def channel_axis(data_format):
    """The channel axis of a rank-4 tensor in ``data_format``."""
    return 1 if data_format == "channels_first" else -1


def fresh_initializer(initializer, offset=0):
    """A new instance of ``initializer``, so that every weight gets its own draw.

    A Keras random initializer draws the same values at every call (its seed, given or
    drawn at construction, is fixed), so two weights of one shape that share an instance
    start identical. The copy gets a fresh seed when the original had none, ``seed + offset``
    when it had an integer seed (reproducible, distinct per weight), and is the original
    itself when its seed is a ``keras.random.SeedGenerator`` (which advances at each call).

    Args:
        initializer: a ``keras.initializers.Initializer`` (anything else is returned as is).
        offset: added to an integer seed; give each weight of a layer its own.

    Returns:
        An initializer for one weight.

    Example:

    >>> init = keras.initializers.HeNormal(seed=1)
    >>> fresh_initializer(init, offset=2).get_config()["seed"]
    3
    """
    if not isinstance(initializer, keras.initializers.Initializer):
        return initializer
    if isinstance(getattr(initializer, "seed", None), keras.random.SeedGenerator):
        return initializer
    config = initializer.get_config()
    if is_int(config.get("seed")):
        config["seed"] = config["seed"] + offset
    return initializer.__class__.from_config(config)
