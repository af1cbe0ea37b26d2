"""TensorFlow CPU kernels without oneDNN: the portable grouped-convolution gradients.

Without oneDNN (TensorFlow's default on CPUs without AVX-512 VNNI, BF16 or AMX), TensorFlow
computes a grouped forward pass but no grouped gradients, and fuses grouped convs with a
following BatchNorm into a kernel that rejects groups. ``keras_mgic.ops`` then keeps the
native forward pass, hides it from the fusion and takes the gradients of a portable lowering.
These tests run that path on every machine, whichever kernels TensorFlow has.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_mgic import ops

CASES = [
    # kernel, strides, padding, groups, dilation: the three lowerings of the portable path
    (3, 1, "same", 4, 1),  # per-group dense convolutions
    (3, 2, "valid", 2, 1),
    (3, 1, "same", 8, 2),  # one input channel per group: depthwise, dilated
    (3, 2, "same", 8, 1),
    (1, 1, "valid", 4, 1),  # 1x1: reshape + einsum
    (1, 2, "same", 2, 1),
]


def _data(kernel, groups, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 7, 6, 8)).astype("float32")
    w = rng.normal(size=(kernel, kernel, 8 // groups, 8)).astype("float32")
    return tf.constant(x), tf.constant(w)


def _xla_conv(x, w, strides, padding, dilation):
    """TensorFlow's grouped conv compiled by XLA, which has gradients on every CPU."""

    @tf.function(jit_compile=True)
    def run(x, w):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            y = tf.nn.conv2d(x, w, strides, padding.upper(), dilations=dilation)
            loss = tf.reduce_sum(y * tf.sin(y))
        return (y, *tape.gradient(loss, [x, w]))

    return [t.numpy() for t in run(x, w)]


@pytest.mark.parametrize("kernel, strides, padding, groups, dilation", CASES)
def test_portable_lowering_and_gradients_match_xla(kernel, strides, padding, groups, dilation):
    x, w = _data(kernel, groups)
    args = ((strides, strides), padding, (dilation, dilation))
    native = lambda a, b: tf.nn.conv2d(a, b, strides, padding.upper(), dilations=dilation)  # noqa: E731
    portable = lambda a, b: ops._tensorflow_portable_grouped_conv2d(a, b, *args)  # noqa: E731
    unfused = ops._tensorflow_unfused_grouped_conv2d(native, portable)

    @tf.function
    def run(fn):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            y = fn(x, w)
            loss = tf.reduce_sum(y * tf.sin(y))
        return (y, *tape.gradient(loss, [x, w]))

    want = _xla_conv(x, w, strides, padding, dilation)
    for fn in (portable, unfused):
        for got, expected in zip(run(fn), want, strict=True):
            np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-3)


def test_unfused_grouped_conv_then_inference_batch_norm_in_a_graph():
    """The pattern grappler fuses (Conv2D + FusedBatchNormV3, inference) runs and is right."""
    x, w = _data(3, 4)
    scale, offset = tf.constant(np.linspace(0.5, 2, 8), "float32"), tf.ones(8)
    mean, variance = tf.fill((8,), 0.25), tf.fill((8,), 4.0)
    native = lambda a, b: tf.nn.conv2d(a, b, 1, "SAME")  # noqa: E731
    portable = lambda a, b: ops._tensorflow_portable_grouped_conv2d(a, b, (1, 1), "same", (1, 1))  # noqa: E731
    unfused = ops._tensorflow_unfused_grouped_conv2d(native, portable)

    @tf.function
    def run(x):
        y = unfused(x, w)
        z, _, _ = tf.compat.v1.nn.fused_batch_norm(
            y, scale, offset, mean=mean, variance=variance, epsilon=1e-3, is_training=False
        )
        return tf.nn.relu(z)

    conv = _xla_conv(x, w, 1, "same", 1)[0]
    expected = np.maximum((conv - 0.25) / np.sqrt(4.0 + 1e-3) * scale.numpy() + 1.0, 0)
    np.testing.assert_allclose(run(x).numpy(), expected, rtol=1e-4, atol=1e-4)
