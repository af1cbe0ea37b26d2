"""Backend dispatch for grouped convolutions: the one place with backend-specific code.

Keras 3's TensorFlow backend compiles every grouped convolution (``groups > 1``) with XLA,
which is several times slower than TensorFlow's native grouped kernel on CPU, and its weight
gradient is about a hundred times slower. :func:`grouped_conv2d` calls ``tf.nn.conv2d``
directly on the TensorFlow backend and falls back to ``keras.ops.conv`` elsewhere.
"""

import keras


def _tensorflow_grouped_conv2d(inputs, kernel, strides, padding, dilation_rate):
    import tensorflow as tf

    return tf.nn.conv2d(
        inputs,
        kernel,
        strides=strides,
        padding=padding.upper(),
        dilations=dilation_rate,
        data_format="NHWC",
    )


def grouped_conv2d(
    inputs, kernel, strides=(1, 1), padding="valid", dilation_rate=(1, 1), data_format=None
):
    """2D convolution whose kernel may be grouped (``kernel.shape[-2] < channels``).

    The number of groups is ``channels // kernel.shape[-2]``, exactly as in
    ``keras.ops.conv``; the kernel layout is ``(kh, kw, channels // groups, filters)``.

    Args:
        inputs: 4D tensor.
        kernel: 4D kernel in Keras's ``Conv2D`` layout.
        strides: int or pair of ints.
        padding: ``"valid"`` or ``"same"``.
        dilation_rate: int or pair of ints.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to Keras's
            image data format.

    Returns:
        The convolved 4D tensor.

    Example:

    >>> x = keras.ops.ones((1, 8, 8, 4))
    >>> w = keras.ops.ones((3, 3, 2, 4))  # 2 groups
    >>> tuple(grouped_conv2d(x, w, padding="same").shape)
    (1, 8, 8, 4)
    """
    data_format = data_format or keras.config.image_data_format()
    strides = _pair(strides)
    dilation_rate = _pair(dilation_rate)
    if keras.backend.backend() == "tensorflow" and data_format == "channels_last":
        return _tensorflow_grouped_conv2d(inputs, kernel, strides, padding, dilation_rate)
    return keras.ops.conv(
        inputs,
        kernel,
        strides=strides,
        padding=padding,
        dilation_rate=dilation_rate,
        data_format=data_format,
    )


def _pair(value):
    if isinstance(value, int):
        return (value, value)
    return tuple(value)
