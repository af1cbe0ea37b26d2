"""float64 on every backend: training-mode gradients of a small MGIC block and of point-cloud
blocks against central finite differences (``backends``: also on JAX and PyTorch), and
float64 builders against their float32 twins (TensorFlow's suite).

On TensorFlow this covers the two kernels without a float64 version on CPU, the fused
BatchNorm (``keras_mgic.layers.BatchNormalization`` falls back to Keras's own path) and the
grouped-convolution gradients (``keras_mgic.ops`` takes them from per-group ops). JAX runs
float64 only with ``jax_enable_x64``, which a fixture turns on for these tests::

    KERAS_BACKEND=jax python -m pytest -q -m backends tests/test_float64.py
    KERAS_BACKEND=torch python -m pytest -q -m backends tests/test_float64.py
"""

import inspect

import keras
import numpy as np
import pytest
from small_models import slow_off_tensorflow

from keras_mgic import models
from keras_mgic.layers import (
    BatchNormalization,
    DiffGCNResidualBlock,
    EdgeConv,
    GroupedConv2D,
    KNNGraph,
    MGICBlock,
)

#: Largest finite-difference error allowed, relative to the largest gradient checked.
TOLERANCE = 1e-6
EPSILON = 1e-5
#: Coordinates checked per tensor, and weights checked (the input is always checked).
PROBES = 3
WEIGHTS = 6


@pytest.fixture(autouse=True)
def _jax_x64():
    """JAX computes float64 only with x64 enabled; restored afterwards."""
    if keras.backend.backend() != "jax":
        yield
        return
    import jax

    enabled = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", enabled)


def _loss(layer, x, probe, kwargs):
    y = layer(x, training=True, **kwargs)
    assert keras.backend.standardize_dtype(y.dtype) == "float64"
    return float(np.sum(keras.ops.convert_to_numpy(y) * probe))


def _autodiff(layer, x, probe, kwargs):
    """d(sum(layer(x) * probe))/d(x and every trainable weight), by the backend."""
    backend = keras.backend.backend()
    variables = layer.trainable_variables
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True, **kwargs) * probe)
        grads = tape.gradient(loss, [x, *variables])
    elif backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        loss = torch.sum(layer(x, training=True, **kwargs) * torch.tensor(probe))
        grads = torch.autograd.grad(loss, [x, *[v.value for v in variables]])
    elif backend == "jax":
        import jax
        import jax.numpy as jnp

        fixed = [v.value for v in layer.non_trainable_variables]
        if "training" in inspect.signature(layer.call).parameters:
            kwargs = {**kwargs, "training": True}

        def loss(x, trainable):
            y, _ = layer.stateless_call(trainable, fixed, x, **kwargs)
            return jnp.sum(y * probe)

        # One compiled gradient: op-by-op dispatch of a whole block costs seconds on JAX.
        gradient = jax.jit(jax.grad(loss, argnums=(0, 1)))
        dx, dw = gradient(x, [v.value for v in variables])
        grads = [dx, *dw]
    else:
        pytest.skip(f"no gradient helper for backend {backend!r}")
    return [keras.ops.convert_to_numpy(g) for g in grads]


def _evaluator(layer, probe, kwargs):
    """``loss(x, weights)``: sum(layer(x) * probe) in training mode with the trainable
    weights replaced by ``weights`` (jit-compiled once on JAX, where eager calls are slow)."""
    if keras.backend.backend() == "jax":
        import jax
        import jax.numpy as jnp

        fixed = [v.value for v in layer.non_trainable_variables]
        if "training" in inspect.signature(layer.call).parameters:
            kwargs = {**kwargs, "training": True}

        @jax.jit
        def loss(x, weights):
            y, _ = layer.stateless_call(weights, fixed, x, **kwargs)
            return jnp.sum(y * probe)

        return lambda x, weights: float(loss(x, weights))

    def loss(x, weights):
        originals = [keras.ops.convert_to_numpy(v) for v in layer.trainable_variables]
        for variable, value in zip(layer.trainable_variables, weights, strict=True):
            variable.assign(value)
        value = _loss(layer, x, probe, kwargs)
        for variable, value_ in zip(layer.trainable_variables, originals, strict=True):
            variable.assign(value_)
        return value

    return loss


def _fd_error(layer, x, kwargs, seed=0):
    """Max |finite difference - autodiff| / max |autodiff| over probed coordinates."""
    rng = np.random.default_rng(seed)
    y = layer(x, training=True, **kwargs)
    probe = rng.normal(size=tuple(y.shape))
    grads = _autodiff(layer, x, probe, kwargs)
    assert all(g.dtype == np.float64 for g in grads)
    loss = _evaluator(layer, probe, kwargs)
    weights = [keras.ops.convert_to_numpy(v) for v in layer.trainable_variables]
    errors, scale = [], max(float(np.max(np.abs(g))) for g in grads)
    for index in [0, *rng.permutation(np.arange(1, len(grads)))[:WEIGHTS]]:
        grad = grads[index]
        for flat in rng.choice(grad.size, size=min(PROBES, grad.size), replace=False):
            where = np.unravel_index(flat, grad.shape)
            values = []
            for sign in (1, -1):
                arrays = [x, *weights]
                shifted = arrays[index].copy()
                shifted[where] += sign * EPSILON
                arrays[index] = shifted
                values.append(loss(arrays[0], arrays[1:]))
            numeric = (values[0] - values[1]) / (2 * EPSILON)
            errors.append(abs(numeric - grad[where]))
    return max(errors) / scale


def _images(shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.backends
def test_batch_norm_float64_matches_numpy():
    """Training and inference in float64 against NumPy, to float64 precision (Keras's own
    BatchNormalization is 4e-7 off on JAX)."""
    x = _images((4, 3, 3, 5))
    layer = BatchNormalization(momentum=0.5, epsilon=1e-3, dtype="float64")
    mean, variance = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    got = keras.ops.convert_to_numpy(layer(x, training=True))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, (x - mean) / np.sqrt(variance + 1e-3), atol=1e-12)
    moving_mean, moving_variance = 0.5 * mean, 0.5 + 0.5 * variance
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.moving_mean), moving_mean)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.moving_variance), moving_variance)
    got = keras.ops.convert_to_numpy(layer(x, training=False))
    expected = (x - moving_mean) / np.sqrt(moving_variance + 1e-3)
    np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.backends
def test_grouped_conv_float64_gradient():
    layer = GroupedConv2D(8, 3, groups=4, padding="same", dtype="float64")
    assert _fd_error(layer, _images((2, 5, 5, 8)), {}) < TOLERANCE


@pytest.mark.backends
@slow_off_tensorflow  # there GroupedConv2D and EdgeConv check float64 gradients
def test_mgic_block_float64_gradient():
    block = MGICBlock(group_size=4, coarsest_size=4, dtype="float64")  # 16 -> 8 -> 4 channels
    error = _fd_error(block, _images((2, 4, 4, 16)), {})
    assert error < TOLERANCE, error


def _cloud(points=12, channels=8, seed=2):
    x = np.random.default_rng(seed).normal(size=(2, points, channels))
    return x, keras.ops.convert_to_numpy(KNNGraph(k=3)(x[..., :3].astype("float32")))


@pytest.mark.backends
def test_edge_conv_float64_gradient():
    x, neighbors = _cloud()
    error = _fd_error(EdgeConv(8, groups=2, dtype="float64"), x, {"neighbors": neighbors})
    assert error < TOLERANCE, error


@pytest.mark.backends
@slow_off_tensorflow  # there GroupedConv2D and EdgeConv check float64 gradients
def test_point_mgic_block_float64_gradient():
    x, neighbors = _cloud(channels=16)
    coordinates = x[..., :3]
    block = MGICBlock(4, 8, block=DiffGCNResidualBlock, dtype="float64")
    kwargs = {"neighbors": neighbors, "coordinates": coordinates}
    error = _fd_error(block, x, kwargs)
    assert error < TOLERANCE, error


@pytest.mark.parametrize(
    "name, kwargs, shape",
    [
        ("mgic_resnet20", {"input_shape": (16, 16, 3)}, (2, 16, 16, 3)),
        ("mgic_diffgcn", {"input_shape": (32, 3), "k": 3}, (2, 32, 3)),  # pooled to 4 points
        ("dgcnn", {"input_shape": (16, 3), "k": 3}, (2, 16, 3)),
    ],
)
def test_float64_builder_trains_and_matches_float32_twin(name, kwargs, shape):
    """TensorFlow's suite only: on JAX, building and eagerly training these takes minutes."""
    x = np.random.default_rng(3).normal(size=shape)
    twin = models.get_model(name, classes=3, **kwargs)
    keras.config.set_dtype_policy("float64")
    model = models.get_model(name, classes=3, **kwargs)
    model.set_weights(twin.get_weights())
    assert {w.dtype for w in model.get_weights()} == {np.dtype("float64")}
    expected = keras.ops.convert_to_numpy(twin(x.astype("float32"), training=False))
    got = keras.ops.convert_to_numpy(model(x, training=False))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile("sgd", loss, run_eagerly=True)  # eager: no tracing of a tiny model
    before = model.get_weights()
    loss = model.train_on_batch(x, np.array([0, 1]))
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
