"""Backend dispatch for grouped convolutions: the one place with backend-specific code.

Keras 3's TensorFlow backend compiles every grouped convolution (``groups > 1``) with XLA,
which is several times slower than TensorFlow's native grouped kernel on CPU, and its weight
gradient is about a hundred times slower. :func:`grouped_conv2d` calls ``tf.nn.conv2d``
directly on the TensorFlow backend and falls back to ``keras.ops.conv`` elsewhere.

One exception on the TensorFlow backend: TensorFlow's CPU kernels have no float16 gradient
for grouped convolutions ("Gradients for grouped convolutions are not supported on CPU"),
which breaks ``mixed_float16`` training. When no GPU is visible, a grouped float16
convolution is therefore computed in float32 and its result cast back to float16 (bfloat16
runs natively). With a GPU, float16 stays float16. A float64 grouped convolution on CPU keeps
TensorFlow's grouped forward kernel (it has a float64 version) and takes its gradients from
per-group ops that have float64 kernels (depthwise, ``einsum`` or per-group dense
convolutions), as when oneDNN is off.

On the JAX backend with the CPU platform, XLA's CPU grouped convolution (the
``feature_group_count`` of ``jax.lax.conv_general_dilated``, which ``keras.ops.conv`` uses) is
30 to 150 times slower, forward+backward, than the same numbers computed without a grouped
conv op (``benchmarks/backend_conv.py``, section ``backend_conv_jax`` of BENCHMARKS.md).
There :func:`grouped_conv2d` lowers a grouped convolution to dense per-group convolutions
(``k x k`` kernels, up to 64 groups) or to a sum over the kernel taps of shifted,
strided slices times a batched matmul (1x1 kernels, one input channel per group, or more
than 64 groups). JAX on a GPU or TPU, and the PyTorch backend (whose native grouped conv
measured fastest), use ``keras.ops.conv``.

Besides grouped convolutions, :func:`resize_to_dynamic_size` resizes images to a size
known only when a TensorFlow graph runs (``keras.ops.image.resize`` takes Python ints).
"""

import functools

import keras


@functools.cache
def _tensorflow_has_gpu():
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


@functools.cache
def _tensorflow_has_grouped_gradients():
    """Whether TensorFlow's kernels here compute grouped-convolution gradients.

    TensorFlow's CPU build runs grouped convolutions through oneDNN, which TensorFlow turns
    on by default only on CPUs with AVX-512 VNNI, BF16 or AMX (or with
    ``TF_ENABLE_ONEDNN_OPTS=1``). Without oneDNN its CPU kernels compute a grouped forward
    pass but no input or filter gradient ("filter_size does not have enough elements"), and
    the graph optimizer still fuses a grouped conv with a following BatchNorm or BiasAdd
    into a kernel that rejects groups ("Fused conv implementation does not support grouped
    convolutions"). One tiny grouped filter gradient, run eagerly once, tells which.
    """
    import tensorflow as tf

    if _tensorflow_has_gpu():
        return True
    with tf.init_scope():
        try:
            tf.raw_ops.Conv2DBackpropFilter(
                input=tf.zeros((1, 2, 2, 2)),
                filter_sizes=[1, 1, 1, 2],
                out_backprop=tf.zeros((1, 2, 2, 2)),
                strides=[1, 1, 1, 1],
                padding="VALID",
            )
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
            return False
    return True


def _tensorflow_portable_grouped_conv2d(x, w, strides, padding, dilation_rate):
    """The grouped convolution from ops with gradients on every TensorFlow CPU kernel:
    depthwise convolution (one input channel per group), a reshape and ``einsum`` (1x1
    kernels), or per-group dense convolutions."""
    import tensorflow as tf

    kh, kw, group_channels, filters = w.shape
    groups = x.shape[-1] // group_channels
    if group_channels == 1 and strides[0] == strides[1]:
        return tf.nn.depthwise_conv2d(
            x,
            tf.reshape(w, (kh, kw, groups, filters // groups)),
            strides=(1, *strides, 1),
            padding=padding.upper(),
            dilations=dilation_rate,
        )
    if kh == kw == 1:  # "same" and "valid" agree for 1x1 kernels
        x = x[:, :: strides[0], :: strides[1], :]
        shape = tf.shape(x)
        grouped = tf.reshape(x, (shape[0], shape[1], shape[2], groups, group_channels))
        kernel = tf.reshape(w, (group_channels, groups, filters // groups))
        kernel = tf.transpose(kernel, (1, 0, 2))  # filter g * (filters / groups) + f
        y = tf.einsum("nhwgc,gcf->nhwgf", grouped, kernel)
        return tf.reshape(y, (shape[0], shape[1], shape[2], filters))
    pieces = zip(tf.split(x, groups, axis=-1), tf.split(w, groups, axis=-1), strict=True)
    return tf.concat(
        [tf.nn.conv2d(a, b, strides, padding.upper(), dilations=dilation_rate) for a, b in pieces],
        axis=-1,
    )


def _tensorflow_unfused_grouped_conv2d(conv, portable):
    """``conv`` (TensorFlow's grouped kernel) for the forward pass, hidden from the graph
    optimizer's conv fusions, with the gradients of ``portable``. The forward pass stays one
    grouped ``Conv2D``, so exported SavedModel and TFLite files keep grouped convolutions."""
    import tensorflow as tf

    @tf.autograph.experimental.do_not_convert
    @tf.custom_gradient
    def run(x, w):
        # Snapshot is an identity the remapper does not look through (tf.identity is
        # removed before it runs); the TFLite converter drops it.
        y = tf.raw_ops.Snapshot(input=conv(x, w))

        def grad(dy):
            with tf.GradientTape() as tape:
                tape.watch([x, w])
                y_portable = portable(x, w)
            return tape.gradient(y_portable, [x, w], output_gradients=dy)

        return y, grad

    return run


def _tensorflow_grouped_conv2d(inputs, kernel, strides, padding, dilation_rate):
    import tensorflow as tf

    def conv(x, w):
        return tf.nn.conv2d(
            x,
            w,
            strides=strides,
            padding=padding.upper(),
            dilations=dilation_rate,
            data_format="NHWC",
        )

    grouped = kernel.shape[-2] != inputs.shape[-1]
    # TensorFlow's CPU kernels have no float64 grouped-convolution gradients, even with
    # oneDNN ("Gradients for grouped convolutions are not supported on CPU").
    float64_on_cpu = inputs.dtype == tf.float64 and not _tensorflow_has_gpu()
    if grouped and (float64_on_cpu or not _tensorflow_has_grouped_gradients()):
        conv = _tensorflow_unfused_grouped_conv2d(
            conv,
            lambda x, w: _tensorflow_portable_grouped_conv2d(x, w, strides, padding, dilation_rate),
        )
    if grouped and inputs.dtype == tf.float16 and not _tensorflow_has_gpu():
        outputs = conv(tf.cast(inputs, tf.float32), tf.cast(kernel, tf.float32))
        return tf.cast(outputs, tf.float16)
    return conv(tf.convert_to_tensor(inputs), tf.convert_to_tensor(kernel))


# k x k grouped convolutions with at most this many groups are split into per-group dense
# convolutions on JAX's CPU backend; above it, compile time grows with the number of
# convolutions (12 s for 128 groups) and the shifted matmuls run faster (measured: 512
# channels, 128 groups of 4, 8x8: 25 ms split, 5 ms shifted matmuls, 5 s keras.ops.conv).
_JAX_MAX_SPLIT_GROUPS = 64


@functools.cache
def _jax_on_cpu():
    import jax

    return jax.default_backend() == "cpu"


def _same_padding(size, kernel_size, stride, dilation):
    """TensorFlow's "same" padding ``(before, after)`` of one spatial axis."""
    effective = (kernel_size - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _jax_grouped_conv2d(inputs, kernel, strides, padding, dilation_rate):
    """Channels-last grouped convolution without XLA's CPU grouped conv op."""
    import jax
    import jax.numpy as jnp

    kernel = keras.ops.convert_to_tensor(kernel)
    inputs = keras.ops.convert_to_tensor(inputs, dtype=kernel.dtype)
    kh, kw, group_channels, filters = kernel.shape
    groups = inputs.shape[-1] // group_channels
    height, width = inputs.shape[1:3]
    (sh, sw), (dh, dw) = strides, dilation_rate
    if not (isinstance(height, int) and isinstance(width, int)):
        # Symbolic image size (a shape-polymorphic export): Keras's own conv.
        return keras.ops.conv(
            inputs, kernel, strides=strides, padding=padding, dilation_rate=dilation_rate
        )
    if padding == "same":
        out_h, out_w = -(-height // sh), -(-width // sw)
    else:
        out_h = (height - (kh - 1) * dh - 1) // sh + 1
        out_w = (width - (kw - 1) * dw - 1) // sw + 1
    if out_h <= 0 or out_w <= 0:  # an empty output: keras.ops.conv raises its clear error
        return keras.ops.conv(
            inputs, kernel, strides=strides, padding=padding, dilation_rate=dilation_rate
        )

    if kh * kw > 1 and group_channels > 1 and groups <= _JAX_MAX_SPLIT_GROUPS:
        group_filters = filters // groups
        outputs = [
            jax.lax.conv_general_dilated(
                # lax slices, not NumPy indexing: that lowers to a gather when the batch
                # size is symbolic (SavedModel export), which the TFLite converter rejects.
                jax.lax.slice_in_dim(inputs, g * group_channels, (g + 1) * group_channels, axis=3),
                jax.lax.slice_in_dim(kernel, g * group_filters, (g + 1) * group_filters, axis=3),
                window_strides=strides,
                padding=padding.upper(),
                rhs_dilation=dilation_rate,
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
            )
            for g in range(groups)
        ]
        return jnp.concatenate(outputs, axis=-1)

    if padding == "same":
        pads = (_same_padding(height, kh, sh, dh), _same_padding(width, kw, sw, dw))
        inputs = jnp.pad(inputs, ((0, 0), *pads, (0, 0)))
    if group_channels == 1 and filters > groups:  # each input channel feeds `multiplier` outputs
        inputs = jnp.repeat(inputs, filters // groups, axis=-1)
    outputs = None
    for i in range(kh):
        for j in range(kw):
            patch = jax.lax.slice_in_dim(inputs, i * dh, i * dh + (out_h - 1) * sh + 1, sh, 1)
            patch = jax.lax.slice_in_dim(patch, j * dw, j * dw + (out_w - 1) * sw + 1, sw, 2)
            term = _jax_grouped_matmul(patch, kernel[i, j], groups)
            outputs = term if outputs is None else outputs + term
    return outputs


def _jax_grouped_matmul(inputs, tap, groups):
    """``inputs (..., channels)`` times one tap ``(channels // groups, filters)`` of a
    grouped kernel; with one channel per group, ``inputs`` already has ``filters`` channels."""
    import jax.numpy as jnp

    group_channels, filters = tap.shape
    if group_channels == 1:
        return inputs * tap[0]
    x = jnp.reshape(inputs, (*inputs.shape[:-1], groups, group_channels))
    w = jnp.transpose(jnp.reshape(tap, (group_channels, groups, filters // groups)), (1, 0, 2))
    y = jnp.einsum("...gc,gcf->...gf", x, w)
    return jnp.reshape(y, (*inputs.shape[:-1], filters))


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

    Raises:
        ValueError: for an unknown ``padding`` or ``data_format``, inputs or kernel that are
            not rank 4, or a kernel whose groups do not divide the channels and filters.

    Example:

    >>> x = keras.ops.ones((1, 8, 8, 4))
    >>> w = keras.ops.ones((3, 3, 2, 4))  # 2 groups
    >>> tuple(grouped_conv2d(x, w, padding="same").shape)
    (1, 8, 8, 4)
    """
    data_format = data_format or keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "`data_format` must be 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}"
        )
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"`padding` must be 'valid' or 'same'. Received: padding={padding!r}")
    padding = padding.lower()
    _check_group_shapes(inputs.shape, kernel.shape, data_format)
    strides = _pair(strides)
    dilation_rate = _pair(dilation_rate)
    backend = keras.backend.backend()
    if backend == "tensorflow" and data_format == "channels_last":
        return _tensorflow_grouped_conv2d(inputs, kernel, strides, padding, dilation_rate)
    if (
        backend == "jax"
        and data_format == "channels_last"
        and kernel.shape[-2] != inputs.shape[-1]
        and _jax_on_cpu()
    ):
        return _jax_grouped_conv2d(inputs, kernel, strides, padding, dilation_rate)
    return keras.ops.conv(
        inputs,
        kernel,
        strides=strides,
        padding=padding,
        dilation_rate=dilation_rate,
        data_format=data_format,
    )


def _check_group_shapes(input_shape, kernel_shape, data_format):
    try:
        input_shape, kernel_shape = tuple(input_shape), tuple(kernel_shape)
    except ValueError:  # a tensor of unknown rank: the backend op checks it
        return
    if len(input_shape) != 4 or len(kernel_shape) != 4:
        raise ValueError(
            "grouped_conv2d expects rank-4 inputs and a rank-4 kernel. "
            f"Received: input_shape={input_shape}, kernel_shape={kernel_shape}"
        )
    channels = input_shape[-1] if data_format == "channels_last" else input_shape[1]
    group_channels, filters = kernel_shape[-2], kernel_shape[-1]
    if channels is None or group_channels is None:
        return
    if channels % group_channels or filters % (channels // group_channels):
        raise ValueError(
            "The kernel's input channels `kernel.shape[-2]` must divide the input channels, "
            "and the resulting number of groups must divide the filters. Received: "
            f"channels={channels}, kernel_shape={kernel_shape}"
        )


def _pair(value):
    if isinstance(value, int):
        return (value, value)
    return tuple(value)


def has_fused_batch_norm():
    """Whether :func:`fused_batch_norm` has a fused kernel on the current backend."""
    return keras.backend.backend() == "tensorflow"


def fused_batch_norm(inputs, scale, offset, mean=None, variance=None, epsilon=1e-3, training=True):
    """Channels-last batch normalization with TensorFlow's fused kernel.

    Args:
        inputs: rank-4 channels-last tensor (float32, float16 or bfloat16).
        scale, offset: float32 vectors of the channel count.
        mean, variance: the moving statistics; used when ``training`` is False.
        epsilon: the variance epsilon (TensorFlow raises values below 1.001e-5 to it).
        training: normalize with the batch statistics and return them.

    Returns:
        ``(outputs, batch_mean, batch_variance)`` with the *biased* batch variance, as
        ``keras.layers.BatchNormalization`` uses for its moving statistics; in inference the
        last two are the given ``mean`` and ``variance``.
    """
    import tensorflow as tf

    if training:
        outputs, batch_mean, batch_variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, scale, offset, epsilon=epsilon, data_format="NHWC", is_training=True
        )
        shape = tf.shape(inputs)
        count = tf.cast(shape[0] * shape[1] * shape[2], batch_variance.dtype)
        # TensorFlow returns the unbiased variance; Keras keeps the biased one.
        batch_variance = batch_variance * (count - 1.0) / tf.maximum(count, 1.0)
        return outputs, batch_mean, batch_variance
    outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
        inputs,
        scale,
        offset,
        mean=tf.cast(mean, "float32"),
        variance=tf.cast(variance, "float32"),
        epsilon=epsilon,
        data_format="NHWC",
        is_training=False,
    )
    return outputs, mean, variance


def resize_to_dynamic_size(images, height, width, interpolation="bilinear"):
    """Resizes channels-last images to a size that is a tensor on the TensorFlow backend.

    A model built for any input size (``(None, None, 3)``) knows the size of the image it
    upsamples to only when its TensorFlow graph runs; ``keras.ops.image.resize`` needs
    Python ints, so this calls ``tf.image.resize``, the op Keras's TensorFlow backend runs
    for it (half-pixel centers, a ``RESIZE_BILINEAR`` op in TFLite). The JAX and PyTorch
    backends trace with concrete sizes and never get here.

    Args:
        images: rank-4 channels-last tensor.
        height, width: scalar int tensors.
        interpolation: ``"bilinear"`` or ``"nearest"``.

    Returns:
        The resized images in ``images``' dtype.
    """
    import tensorflow as tf

    resized = tf.image.resize(images, tf.stack([height, width]), method=interpolation)
    return tf.cast(resized, images.dtype)
