"""NumPy references of the per-level blocks and of Algorithm 1, shared by the test files.

``conv`` and ``bn`` are conftest's NumPy grouped convolution and BatchNormalization (the
``np_conv`` / ``np_bn`` fixtures). Written with NumPy and ``get_weights()`` only, so they
serve every Keras backend (``tests/test_backends.py``).
"""

import keras
import numpy as np

from keras_mgic.layers import BottleneckBlock, PreActResidualBlock, ResidualBlock


def relu(x):
    return np.maximum(x, 0)


def hard_sigmoid(x):
    return np.clip(x + 3, 0, 6) / 6


def hard_swish(x):
    return x * hard_sigmoid(x)


ACTIVATIONS = {"relu": relu, "hard_swish": hard_swish, "hard_silu": hard_swish}


def _weights(layer):
    return layer.get_weights()[0]


def dilate_kernel(kernel, rate):
    """A kernel ``(kh, kw, cin, cout)`` dilated by ``rate``, written out with zeros."""
    if rate == 1:
        return kernel
    kh, kw, cin, cout = kernel.shape
    out = np.zeros(((kh - 1) * rate + 1, (kw - 1) * rate + 1, cin, cout), kernel.dtype)
    out[::rate, ::rate] = kernel
    return out


def np_bilinear_resize(x, height, width):
    """Bilinear resizing with half-pixel centers (PyTorch's ``align_corners=False``,
    TensorFlow's ``tf.image.resize``), no antialiasing, edges clamped; ``x`` is NHWC."""

    def axis_weights(size, out_size):
        source = np.clip((np.arange(out_size) + 0.5) * size / out_size - 0.5, 0, size - 1)
        lower = np.floor(source).astype(int)
        upper = np.minimum(lower + 1, size - 1)
        return lower, upper, source - lower

    x = np.asarray(x, np.float64)
    top, bottom, dy = axis_weights(x.shape[1], height)
    left, right, dx = axis_weights(x.shape[2], width)
    rows = x[:, top] * (1 - dy)[None, :, None, None] + x[:, bottom] * dy[None, :, None, None]
    return (
        rows[:, :, left] * (1 - dx)[None, None, :, None]
        + rows[:, :, right] * dx[None, None, :, None]
    )


def np_squeeze_excite(se, h, conv):
    wr, br = se.reduce.get_weights()
    we, be = se.expand.get_weights()
    pooled = h.mean(axis=(1, 2), keepdims=True)
    gates = hard_sigmoid(conv(relu(conv(pooled, wr, bias=br)), we, bias=be))
    return h * gates


def np_level_block(block, x, training, conv, bn):
    """A built ResidualBlock, BottleneckBlock or InvertedResidualBlock in NumPy."""
    act = ACTIVATIONS[keras.activations.serialize(block.activation)]
    if isinstance(block, ResidualBlock):
        h = act(bn(conv(x, _weights(block.conv1), 1, "same"), block.bn1, training))
        h = bn(conv(h, _weights(block.conv2), 1, "same"), block.bn2, training)
        return act(x + h)
    if isinstance(block, PreActResidualBlock):  # dropout: identity at inference, rate 0 here
        h = conv(act(bn(x, block.bn1, training)), _weights(block.conv1), 1, "same")
        h = conv(act(bn(h, block.bn2, training)), _weights(block.conv2), 1, "same")
        return x + h
    if isinstance(block, BottleneckBlock):
        h = act(bn(conv(x, _weights(block.conv1)), block.bn1, training))
        h = act(bn(conv(h, _weights(block.conv2), 1, "same"), block.bn2, training))
        h = bn(conv(h, _weights(block.conv3)), block.bn3, training)
        return act(x + (act(h) if block.activate_before_skip else h))
    h = x
    if block.expand is not None:
        h = act(bn(conv(x, _weights(block.expand)), block.expand_bn, training))
    depthwise = np.transpose(_weights(block.depthwise), (0, 1, 3, 2))  # (k, k, 1, c): c groups
    depthwise = dilate_kernel(depthwise, getattr(block, "dilation_rate", 1))
    h = act(bn(conv(h, depthwise, 1, "same"), block.depthwise_bn, training))
    if block.squeeze_excite is not None:
        h = np_squeeze_excite(block.squeeze_excite, h, conv)
    return x + bn(conv(h, _weights(block.project)), block.project_bn, training)


def np_mgic_algorithm_1(block, x, training, conv, bn, cnn):
    """Algorithm 1 of the paper in NumPy; ``cnn(level, h)`` is the level's CNN block.

    x^(0) = x;  x^(j+1) = R_j x^(j) for j < n;  x^(n) = CNN(x^(n));
    for j = n-1 .. 0:  x^(j) <- x^(j) + N_j(P_j(x^(j+1) - R_j x^(j)));  x^(j) <- CNN_j(x^(j)).
    """

    def restrict(j, h):
        return conv(h, _weights(block.restrictions[j]))

    def prolong(j, h):
        return conv(h, _weights(block.prolongations[j]))

    n = len(block.widths) - 1
    xs = [np.asarray(x, np.float64)]
    for j in range(n):
        xs.append(restrict(j, xs[j]))
    xs[n] = cnn(n, xs[n])
    for j in reversed(range(n)):
        xs[j] = xs[j] + bn(
            prolong(j, xs[j + 1] - restrict(j, xs[j])), block.corrections[j], training
        )
        xs[j] = cnn(j, xs[j])
    return xs[0]
