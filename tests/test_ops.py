"""keras_mgic.ops.grouped_conv2d: numerics against NumPy, low precision, argument errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mgic import ops

CASES = [
    # kernel, strides, padding, groups
    (3, 1, "same", 4),
    (3, 2, "same", 2),
    (3, 1, "valid", 2),
    (3, 2, "valid", 4),
    (1, 1, "valid", 8),
    (1, 2, "same", 4),
    (3, 1, "same", 1),  # dense kernel: the same function
]


def _data(kernel, groups, channels=8, filters=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 7, 6, channels)).astype("float32")
    w = rng.normal(size=(kernel, kernel, channels // groups, filters)).astype("float32")
    return x, w


@pytest.mark.parametrize("kernel, strides, padding, groups", CASES)
def test_matches_numpy_eager_function_and_xla(np_conv, kernel, strides, padding, groups):
    x, w = _data(kernel, groups)
    expected = np_conv(x, w, strides, padding)

    eager = ops.grouped_conv2d(x, w, strides=strides, padding=padding)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(eager), expected, atol=1e-4)

    def fn(a, b):
        return ops.grouped_conv2d(a, b, strides=(strides, strides), padding=padding)

    graph = tf.function(fn)(x, w)
    np.testing.assert_allclose(graph.numpy(), expected, atol=1e-4)
    xla = tf.function(fn, jit_compile=True)(x, w)
    np.testing.assert_allclose(xla.numpy(), expected, atol=1e-4)


def test_dilation_matches_keras_conv():
    x, w = _data(3, 2)
    got = ops.grouped_conv2d(x, w, padding="same", dilation_rate=2)
    want = keras.ops.conv(x, w, padding="same", dilation_rate=2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), atol=1e-4
    )


def test_channels_first_falls_back_to_keras_conv(np_conv):
    x, w = _data(3, 4)
    expected = np_conv(x, w, 1, "same")
    got = ops.grouped_conv2d(
        np.transpose(x, (0, 3, 1, 2)), w, padding="same", data_format="channels_first"
    )
    got = np.transpose(keras.ops.convert_to_numpy(got), (0, 2, 3, 1))
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("groups", [1, 4])
def test_low_precision_forward_and_gradients(np_conv, dtype, groups):
    # TF's CPU kernels have no float16 gradient for grouped convs: ops.py computes them in
    # float32 there. The gradients must exist, have the input dtype and be close to float32.
    x, w = _data(3, groups)
    xl, wl = tf.cast(x, dtype), tf.cast(w, dtype)
    with tf.GradientTape() as tape:
        tape.watch([xl, wl])
        y = ops.grouped_conv2d(xl, wl, padding="same")
        loss = tf.reduce_sum(tf.cast(y, "float32") * np.linspace(-1, 1, 8, dtype="float32"))
    gx, gw = tape.gradient(loss, [xl, wl])
    assert y.dtype == dtype and gx.dtype == dtype and gw.dtype == dtype

    x32, w32 = tf.constant(x), tf.constant(w)
    with tf.GradientTape() as tape:
        tape.watch([x32, w32])
        y32 = ops.grouped_conv2d(x32, w32, padding="same")
        loss32 = tf.reduce_sum(y32 * np.linspace(-1, 1, 8, dtype="float32"))
    gx32, gw32 = tape.gradient(loss32, [x32, w32])

    np.testing.assert_allclose(y32.numpy(), np_conv(x, w, 1, "same"), atol=1e-4)
    # Errors relative to the largest value: float16 has an 11-bit mantissa, bfloat16 8 bits.
    tol = 1e-2 if dtype == "float16" else 6e-2
    for low, high in [(y, y32), (gx, gx32), (gw, gw32)]:
        low, high = tf.cast(low, "float32").numpy(), high.numpy()
        assert np.abs(low - high).max() <= tol * np.abs(high).max()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"padding": "full"}, r"padding='full'"),
        ({"padding": None}, r"padding=None"),
        ({"data_format": "NHWC"}, r"data_format='NHWC'"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    x, w = _data(3, 2)
    with pytest.raises(ValueError, match=match):
        ops.grouped_conv2d(x, w, **kwargs)


def test_kernel_groups_must_divide_channels_and_filters():
    x = np.zeros((1, 4, 4, 8), "float32")
    with pytest.raises(ValueError, match=r"channels=8, kernel_shape=\(1, 1, 3, 8\)"):
        ops.grouped_conv2d(x, np.zeros((1, 1, 3, 8), "float32"))
    with pytest.raises(ValueError, match=r"channels=8, kernel_shape=\(1, 1, 2, 6\)"):
        ops.grouped_conv2d(x, np.zeros((1, 1, 2, 6), "float32"))  # 4 groups, 6 filters


def test_rank_must_be_four():
    with pytest.raises(ValueError, match=r"input_shape=\(4, 4, 8\)"):
        ops.grouped_conv2d(np.zeros((4, 4, 8), "float32"), np.zeros((1, 1, 2, 8), "float32"))


# ------------------------------------------------- fused BatchNormalization (TF fast path)


@pytest.mark.parametrize("dtype", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_fused_batch_norm_layer_matches_keras_batch_norm(dtype):
    from keras_mgic.layers.batch_norm import BatchNormalization

    assert ops.has_fused_batch_norm()
    rng = np.random.default_rng(6)
    x = rng.normal(1.0, 2.0, size=(3, 4, 5, 8)).astype("float32")
    ours = BatchNormalization(momentum=0.8, epsilon=1e-3, dtype=dtype)
    theirs = keras.layers.BatchNormalization(momentum=0.8, epsilon=1e-3, dtype=dtype)
    ours.build(x.shape)
    theirs.build(x.shape)
    weights = [
        rng.uniform(0.5, 1.5, 8),
        rng.normal(size=8),
        rng.normal(size=8),
        rng.uniform(1, 2, 8),
    ]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    tol = {"float32": 1e-4, "mixed_float16": 2e-2, "mixed_bfloat16": 1e-1}[dtype]
    for training in (True, False, True):
        y_ours, y_theirs = ours(x, training=training), theirs(x, training=training)
        assert y_ours.dtype == y_theirs.dtype
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(keras.ops.cast(y_ours, "float32")),
            keras.ops.convert_to_numpy(keras.ops.cast(y_theirs, "float32")),
            atol=tol,
        )
        # Moving statistics updated the same way (biased batch variance, as Keras).
        for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == "float32" else 1e-2)
    assert all(v.dtype == "float32" for v in ours.weights)
