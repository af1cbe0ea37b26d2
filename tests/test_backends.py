"""Every public layer and two builders on whichever Keras backend runs the tests.

Written with ``keras.ops`` and NumPy only (no backend is imported here), so the same file
runs in the default TensorFlow suite and, through the ``backends`` marker, on JAX and PyTorch::

    KERAS_BACKEND=jax python -m pytest -q -m backends tests/test_backends.py
    KERAS_BACKEND=torch python -m pytest -q -m backends tests/test_backends.py

What it checks on the current backend:

- numerics against NumPy references (and against ``keras.layers.Conv2D(groups=...)`` and
  ``keras.layers.BatchNormalization``): the grouped convolution in every lowering
  ``keras_mgic.ops.grouped_conv2d`` may pick, the transfers, the three per-level blocks,
  Algorithm 1 with real residual blocks, ChannelTransition, BatchNormalization,
  ChannelAveraging;
- the MGIC identity property and full coupling (by finite differences, backend-agnostic);
- every builder: build and ``predict`` on JAX and PyTorch (the costliest compilations in
  ``make test-slow``: SLOW_OFF_TENSORFLOW; on TensorFlow, tests/test_models_registry.py);
- for every layer and for MGIC-ResNet-20 / MGIC-MobileNetV3-Small: ``fit`` (finite loss,
  weights change), ``predict``, and a ``.keras`` round trip with identical outputs;
- ``keras_mgic.export`` from this backend.

Loading a ``.keras`` file on another backend is in ``tests/test_cross_backend.py``.
"""

import math

import keras
import numpy as np
import pytest
from numpy_reference import (
    dilate_kernel,
    np_bilinear_resize,
    np_level_block,
    np_mgic_algorithm_1,
    relu,
)
from small_models import (
    CLASSES,
    LOOP_NAMES,
    MGIC_MODELS,
    SEGMENTATION_NAMES,
    SEGMENTATION_SIZE,
    loop_params,
    off_tensorflow,
    slow_off_tensorflow,
    small_inputs,
    small_model_kwargs,
    small_segmentation_kwargs,
)

import keras_mgic
from keras_mgic import MGICBlock, compat, ops
from keras_mgic.initializers import ChannelAveraging
from keras_mgic.layers import (
    BatchNormalization,
    BottleneckBlock,
    ChannelProlongation,
    ChannelRestriction,
    ChannelTransition,
    GroupedConv2D,
    InvertedResidualBlock,
    MGICFeedForward,
    ResidualBlock,
    ResizeLike,
)

pytestmark = pytest.mark.backends

BACKEND = keras.backend.backend()
#: Builds that each cost 15-110 s of XLA or PyTorch compilation on two cores and repeat a code
#: path the default suite checks on these backends already (the MGIC inverted residual and
#: bottleneck blocks in the layer tests, the builders on TensorFlow, MGIC-DiffGCN's fit in
#: tests/test_point_models.py): on JAX and PyTorch they run in ``make test-slow``; on
#: TensorFlow, where they take a few seconds, in the default suite.
SLOW_OFF_TENSORFLOW = {
    "mgic_mobilenet_v3_small",
    "mgic_resnet50",
    "resnet50",
    "mgic_wide_resnet16_8",
    "mgic_diffgcn",
    "lraspp_mobilenet_v3_large",
    "mgic_vit",  # MGICFeedForward: the layer tests; the ViT body: "vit"
    "mgic_mlp_mixer",
    "mlp_mixer",
}

SLOW_HERE = off_tensorflow(SLOW_OFF_TENSORFLOW)


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float64)


def _normal(shape, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype("float32")


def _randomize_batch_norms(layer, rng, randomize_bn):
    """Random gamma, beta and moving statistics for every BatchNorm inside ``layer``."""
    for sub in layer._flatten_layers(include_self=True):
        if isinstance(sub, keras.layers.BatchNormalization):
            randomize_bn(sub, rng)


# ----------------------------------------------------------- grouped convolution numerics

# (channels, filters, groups, kernel, strides, padding, dilation). On JAX's CPU backend
# these cover every lowering of ops.grouped_conv2d: per-group dense convs (k > 1, 2..64
# groups), shifted batched matmuls (1x1; one channel per group, with a depth multiplier;
# more than 64 groups).
CONV_CASES = {
    "3x3-same": (8, 12, 4, 3, 1, "same", 1),
    "3x3-stride2-valid": (8, 12, 4, 3, 2, "valid", 1),
    "5x5-dilation2": (8, 8, 2, 5, 1, "same", 2),
    "1x1-same": (8, 12, 4, 1, 1, "same", 1),
    "1x1-stride2-valid": (8, 12, 4, 1, 2, "valid", 1),
    "depthwise-multiplier2-stride2": (8, 16, 8, 3, 2, "same", 1),
    "depthwise-stride1-valid": (8, 8, 8, 3, 1, "valid", 1),
    "80-groups": (160, 160, 80, 3, 1, "same", 1),
    "80-groups-stride2": (160, 80, 80, 3, 2, "same", 1),
}


@pytest.mark.parametrize("case", list(CONV_CASES), ids=list(CONV_CASES))
def test_grouped_conv2d_matches_keras_conv2d_and_numpy(case, np_conv):
    channels, filters, groups, kernel_size, strides, padding, dilation = CONV_CASES[case]
    args = dict(
        filters=filters,
        kernel_size=kernel_size,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        groups=groups,
    )
    ours, theirs = GroupedConv2D(**args), keras.layers.Conv2D(**args)
    input_shape = (2, 9, 7, channels)
    ours.build(input_shape)
    theirs.build(input_shape)
    weights = [_normal(w.shape, seed=1) for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    x = _normal(input_shape, seed=2)

    y = _np(ours(x))
    expected = np_conv(x, dilate_kernel(weights[0], dilation), strides, padding, bias=weights[1])
    assert y.shape == expected.shape == tuple(ours.compute_output_shape(input_shape))
    np.testing.assert_allclose(y, expected, atol=1e-4)
    np.testing.assert_allclose(y, _np(theirs(x)), atol=1e-4)
    direct = ops.grouped_conv2d(
        x, weights[0], strides=strides, padding=padding, dilation_rate=dilation
    )
    np.testing.assert_allclose(_np(direct) + weights[1], expected, atol=1e-4)


def _jax_conv_group_counts(fn, x, kernel):
    """``(feature_group_count, batch_group_count)`` of every conv in ``fn``'s forward+backward."""
    import re

    import jax
    import jax.numpy as jnp

    text = str(jax.make_jaxpr(jax.grad(lambda a, b: jnp.sum(fn(a, b)), argnums=(0, 1)))(x, kernel))
    return [
        (int(feature), int(batch))
        for feature, batch in zip(
            re.findall(r"feature_group_count=(\d+)", text),
            re.findall(r"batch_group_count=(\d+)", text),
            strict=True,
        )
    ]


@pytest.mark.skipif(BACKEND != "jax", reason="the lowering of JAX's CPU backend")
@pytest.mark.parametrize("case", list(CONV_CASES), ids=list(CONV_CASES))
def test_jax_cpu_lowering_has_no_grouped_conv_op(case):
    """XLA's CPU grouped conv is 30-150x slower (benchmarks/backend_conv.py): not one is left,
    forward or backward; Keras's own conv has them (the check can see them)."""
    import jax

    if jax.default_backend() != "cpu":
        pytest.skip("the lowering is for the CPU platform only")
    channels, filters, groups, kernel_size, strides, padding, dilation = CONV_CASES[case]
    x = _normal((2, 9, 7, channels))
    kernel = _normal((kernel_size, kernel_size, channels // groups, filters))
    args = dict(strides=strides, padding=padding, dilation_rate=dilation)
    ours = _jax_conv_group_counts(lambda a, b: ops.grouped_conv2d(a, b, **args), x, kernel)
    assert all(counts == (1, 1) for counts in ours), ours
    keras_conv = _jax_conv_group_counts(lambda a, b: keras.ops.conv(a, b, **args), x, kernel)
    assert any(counts != (1, 1) for counts in keras_conv), keras_conv


def test_grouped_conv2d_training_step_matches_keras_conv2d():
    """Same weights, one SGD step: the kernels after the step match (so both gradients do)."""
    specs = [  # a 3x3 grouped conv, a depthwise-style conv with stride, a 1x1 grouped conv
        dict(filters=8, kernel_size=3, groups=4, padding="same"),
        dict(filters=16, kernel_size=3, groups=8, strides=2, padding="same"),
        dict(filters=8, kernel_size=1, groups=4),
    ]
    x, target = _normal((4, 6, 6, 8), seed=3), _normal((4, 3, 3, 8), seed=4)
    models = []
    for layer_class in (GroupedConv2D, keras.layers.Conv2D):
        model = keras.Sequential(
            [keras.Input((6, 6, 8)), *(layer_class(use_bias=False, **spec) for spec in specs)]
        )
        model.compile(keras.optimizers.SGD(learning_rate=0.1), loss="mse")
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    before = models[0].get_weights()
    losses = [float(model.train_on_batch(x, target)) for model in models]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
    for ours, theirs, start in zip(
        models[0].get_weights(), models[1].get_weights(), before, strict=True
    ):
        assert np.abs(ours - start).max() > 1e-6
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


# ------------------------------------------------------------------ transfers and init


def test_channel_averaging_initializer():
    weights = _np(ChannelAveraging()((3, 3, 4, 8)))
    np.testing.assert_allclose(weights, np.full((3, 3, 4, 8), 1 / 36), rtol=1e-6)
    jittered = _np(ChannelAveraging(jitter=0.5, seed=3)((1, 1, 8, 4)))
    assert np.all(jittered > 0) and np.ptp(jittered) > 0
    np.testing.assert_allclose(jittered.sum(axis=(0, 1, 2)), np.ones(4), rtol=1e-5)


def test_restriction_averages_each_group_and_matches_numpy(np_conv):
    x = _normal((2, 5, 4, 16), seed=5)
    # 4 groups of 4 channels -> 8 channels, started as exact averaging
    restriction = ChannelRestriction(group_size=4, kernel_initializer="channel_averaging")
    y = _np(restriction(x))
    assert y.shape == (2, 5, 4, 8) and restriction.kernel.shape == (1, 1, 4, 8)
    group_means = x.reshape(2, 5, 4, 4, 4).mean(axis=-1)  # (..., group, channel in group)
    np.testing.assert_allclose(y, np.repeat(group_means, 2, axis=-1), atol=1e-5)
    kernel = _normal(restriction.kernel.shape, seed=6)
    restriction.set_weights([kernel])
    np.testing.assert_allclose(_np(restriction(x)), np_conv(x, kernel), atol=1e-4)


def test_prolongation_interpolates_each_group_and_matches_numpy(np_conv):
    x = _normal((2, 5, 4, 8), seed=7)
    # fine width 16: 4 groups, started as exact averaging
    prolongation = ChannelProlongation(group_size=4, kernel_initializer="channel_averaging")
    y = _np(prolongation(x))
    assert y.shape == (2, 5, 4, 16) and prolongation.kernel.shape == (1, 1, 2, 16)
    group_means = x.reshape(2, 5, 4, 4, 2).mean(axis=-1)
    np.testing.assert_allclose(y, np.repeat(group_means, 4, axis=-1), atol=1e-5)
    kernel = _normal(prolongation.kernel.shape, seed=8)
    prolongation.set_weights([kernel])
    np.testing.assert_allclose(_np(prolongation(x)), np_conv(x, kernel), atol=1e-4)


# ------------------------------------------------------------------- per-level blocks


LEVEL_BLOCKS = {
    "residual": lambda: ResidualBlock(filters=16, groups=4),
    "bottleneck": lambda: BottleneckBlock(filters=32, groups=2),
    "inverted_residual": lambda: InvertedResidualBlock(
        filters=16, groups=2, se_ratio=0.25, activation="hard_swish"
    ),
    # The segmentation encoders' last stage: the depthwise convolution dilated by 2.
    "inverted_residual_dilated": lambda: InvertedResidualBlock(
        filters=16, groups=2, kernel_size=5, se_ratio=0.25, dilation_rate=2
    ),
}


@pytest.mark.parametrize("name", list(LEVEL_BLOCKS))
def test_level_block_matches_numpy(name, np_conv, np_bn, randomize_bn):
    block = LEVEL_BLOCKS[name]()
    x = _normal((2, 6, 5, block.filters), seed=9)
    block.build(x.shape)
    _randomize_batch_norms(block, np.random.default_rng(10), randomize_bn)
    for training in (False, True):
        expected = np_level_block(block, x, training, np_conv, np_bn)
        y = _np(block(x, training=training))
        np.testing.assert_allclose(y, expected, atol=2e-4, err_msg=f"training={training}")


# ------------------------------------------------------------------------ MGIC block


def test_mgic_block_matches_numpy_algorithm_1(np_conv, np_bn, randomize_bn):
    block = MGICBlock(group_size=4, coarsest_size=8)
    x = _normal((2, 5, 4, 16), seed=11)
    block.build(x.shape)
    assert block.widths == [16, 8, 4]
    rng = np.random.default_rng(12)
    for transfer in [*block.restrictions, *block.prolongations]:
        transfer.set_weights([rng.normal(0, 0.5, transfer.kernel.shape)])
    _randomize_batch_norms(block, rng, randomize_bn)
    for training in (False, True):

        def cnn(level, h, training=training):
            return np_level_block(block.level_blocks[level], h, training, np_conv, np_bn)

        expected = np_mgic_algorithm_1(block, x, training, np_conv, np_bn, cnn)
        y = _np(block(x, training=training))
        np.testing.assert_allclose(y, expected, atol=5e-4, err_msg=f"training={training}")


def test_mgic_block_with_identity_blocks_is_the_identity(identity_block):
    block = MGICBlock(group_size=4, coarsest_size=8, block=identity_block)
    x = _normal((2, 4, 4, 32), seed=13)
    for training in (False, True):
        np.testing.assert_allclose(_np(block(x, training=training)), x, atol=1e-6)
    assert len(block.widths) == 4  # the correction path is exercised on three levels


def _dependency(layer, channels, eps=0.1, samples=4):
    """dep[i, o]: how much output channel o moves when input channel i is perturbed.

    Finite differences in inference mode, summed over a few random inputs (a ReLU can
    silence a channel for one input), with one perturbed copy of each input per channel in
    a single batch (inference-mode layers treat batch entries independently).
    """
    dep = 0
    for seed in range(samples):
        x = _normal((1, 4, 4, channels), seed=14 + seed)
        batch = np.repeat(x, channels + 1, axis=0)
        for i in range(channels):
            batch[i + 1, ..., i] += eps
        y = _np(layer(batch, training=False))
        dep = dep + np.abs(y[1:] - y[:1]).sum(axis=(1, 2))
    return dep / dep.max()


@pytest.mark.parametrize("block_name", ["residual", "inverted_residual"])
def test_mgic_block_couples_every_channel_pair(block_name):
    block = MGICBlock(group_size=4, coarsest_size=8, block=block_name)  # 32, 16, 8, 4
    block.build((1, 4, 4, 32))
    # Averaging transfers (positive weights): the test is about which paths exist, and
    # random zero-mean transfers can make a path's contribution arbitrarily small.
    for transfer in [*block.restrictions, *block.prolongations]:
        transfer.set_weights([_np(ChannelAveraging()(transfer.kernel.shape))])
    dep = _dependency(block, 32)
    assert [layer.groups for layer in block.restrictions] == [8, 4, 2]
    assert np.all(dep > 1e-4), np.argwhere(dep <= 1e-4)


def test_grouped_block_alone_is_block_diagonal():
    dep = _dependency(ResidualBlock(filters=32, groups=8), 32)
    block_diagonal = np.kron(np.eye(8), np.ones((4, 4))) > 0
    assert np.all(dep[block_diagonal] > 1e-4)
    assert np.all(dep[~block_diagonal] < 1e-6)


# -------------------------------------------------------- transition and BatchNormalization


@pytest.mark.parametrize(
    "channels, filters, strides, dilation", [(8, 16, 2, 1), (12, 20, 1, 1), (12, 20, 1, 2)]
)
def test_channel_transition_matches_numpy(
    channels, filters, strides, dilation, np_conv, np_bn, randomize_bn
):
    layer = ChannelTransition(filters, strides=strides, dilation_rate=dilation)
    x = _normal((2, 7, 6, channels), seed=15)
    layer.build(x.shape)
    assert layer.conv.groups == math.gcd(channels, filters)
    _randomize_batch_norms(layer, np.random.default_rng(16), randomize_bn)
    for training in (False, True):
        # zero padding of `dilation` on every side, strided or not (as PyTorch's padding=1)
        pads = ((0, 0), (dilation, dilation), (dilation, dilation), (0, 0))
        kernel = dilate_kernel(_np(layer.conv.kernel), dilation)
        h = np_conv(np.pad(x, pads), kernel, strides, "valid")
        expected = relu(np_bn(h, layer.bn, training))
        y = _np(layer(x, training=training))
        assert y.shape == tuple(layer.compute_output_shape(x.shape))
        np.testing.assert_allclose(y, expected, atol=2e-4, err_msg=f"training={training}")


def test_batch_normalization_matches_keras(randomize_bn):
    ours = BatchNormalization(momentum=0.9, epsilon=1e-5)
    theirs = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    x = _normal((4, 5, 3, 6), seed=17, scale=2.0) + 1.0
    for layer in (ours, theirs):
        layer.build(x.shape)
    randomize_bn(ours, np.random.default_rng(18))
    theirs.set_weights(ours.get_weights())
    moving_before = ours.get_weights()[2:]
    np.testing.assert_allclose(
        _np(ours(x, training=True)), _np(theirs(x, training=True)), atol=1e-5
    )
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(mine, keras_weight, rtol=1e-5, atol=1e-6)  # moving stats too
    for after, before in zip(ours.get_weights()[2:], moving_before, strict=True):
        assert np.abs(after - before).min() > 1e-3  # the moving statistics were updated
    np.testing.assert_allclose(
        _np(ours(x, training=False)), _np(theirs(x, training=False)), atol=1e-5
    )


# ------------------------------------------- every layer: fit, predict, .keras round trip

LAYERS = {
    "GroupedConv2D": (lambda: GroupedConv2D(8, 3, groups=4, padding="same"), 8),
    "ChannelRestriction": (lambda: ChannelRestriction(group_size=4), 16),
    "ChannelProlongation": (lambda: ChannelProlongation(group_size=4), 8),
    "ResidualBlock": (lambda: ResidualBlock(filters=16, groups=4), 16),
    "BottleneckBlock": (lambda: BottleneckBlock(filters=32, groups=2), 32),
    "InvertedResidualBlock": (
        lambda: InvertedResidualBlock(filters=16, groups=2, se_ratio=0.25, dilation_rate=2),
        16,
    ),
    "MGICBlock-residual": (lambda: MGICBlock(group_size=4, coarsest_size=8), 16),
    "MGICBlock-inverted_residual": (
        lambda: MGICBlock(
            group_size=4,
            coarsest_size=8,
            block="inverted_residual",
            block_kwargs={"se_ratio": 0.25, "activation": "hard_swish"},
        ),
        16,
    ),
    "ChannelTransition": (lambda: ChannelTransition(32, strides=2), 16),
    "BatchNormalization": (lambda: BatchNormalization(), 8),
}


def _no_gradient_in_training(path):
    """The last BatchNorm offset of an inverted residual on a coarse MGIC level reaches the
    output only through a linear prolongation and the correction BatchNorm, which removes
    any per-channel constant: its gradient is zero in training mode (see the registry test)."""
    return "project_bn/beta" in path and "level_0_block" not in path


def _infer(model, x):
    """Inference-mode outputs the cheapest way on this backend: ``predict`` on JAX (op-by-op
    dispatch of a whole network costs seconds there), an eager call elsewhere (on TensorFlow
    ``predict`` first traces a function, several times the cost of one eager call)."""
    if BACKEND == "jax":
        return np.asarray(model.predict(x, verbose=0))
    return keras.ops.convert_to_numpy(model(x, training=False))


def _fit_predict_round_trip(model, x, y, tmp_path, loss, check_call=True):
    """Two fit steps, predict, .keras save and load; returns the reloaded model.

    ``check_call`` also compares ``predict`` with an eager ``model(x, training=False)``
    (skipped for whole networks: op-by-op dispatch on JAX costs seconds).
    """
    model.compile(keras.optimizers.SGD(learning_rate=0.05), loss=loss)
    compat.build_training_state(model, (x[:1], y[:1]))  # one trace of the step, not two
    before = {w.path: _np(w) for w in model.trainable_weights}
    history = model.fit(x, y, batch_size=len(x) // 2, epochs=1, shuffle=False, verbose=0)
    assert all(np.isfinite(history.history["loss"])), history.history
    unchanged = [
        w.path
        for w in model.trainable_weights
        if np.array_equal(_np(w), before[w.path]) and not _no_gradient_in_training(w.path)
    ]
    assert not unchanged, unchanged

    predicted = model.predict(x, verbose=0)
    assert np.all(np.isfinite(predicted))
    if check_call:
        np.testing.assert_allclose(predicted, _np(model(x, training=False)), rtol=1e-5, atol=1e-5)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(_infer(loaded, x), _infer(model, x))
    for saved, reloaded in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(_np(reloaded), _np(saved))
    return loaded


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_fits_predicts_and_round_trips(name, tmp_path):
    make_layer, channels = LAYERS[name]
    layer = make_layer()
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    model = keras.Sequential(
        [
            keras.Input((8, 8, channels)),
            layer,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )
    x, y = _normal((4, 8, 8, channels), seed=19), _normal((4, 3), seed=20)
    loaded = _fit_predict_round_trip(model, x, y, tmp_path, loss="mse")
    assert type(loaded.layers[0]) is type(layer)
    assert loaded.layers[0].get_config() == layer.get_config()


# ------------------------------------------------------------------------------ builders


#: MGIC-MobileNetV3-Small's fit round trip runs in ``make test-slow`` on every backend: on
#: TensorFlow tests/test_mobilenet_v3.py checks that every weight of the MGIC model gets a
#: gradient and that it round-trips through ``.keras``, and the registry test reloads it in a
#: fresh process with the same outputs; MGIC-ResNet-20 keeps a whole MGIC network's fit here.
FIT_SLOW = {"mgic_mobilenet_v3_small", *SLOW_HERE}


@pytest.mark.parametrize("name", loop_params(MGIC_MODELS, slow=FIT_SLOW))
def test_builder_fits_predicts_and_round_trips(name, tmp_path):
    kwargs = MGIC_MODELS[name]
    model = keras_mgic.models.get_model(name, **kwargs)
    assert model.output_shape == (None, kwargs["classes"])
    assert any(isinstance(layer, MGICBlock) for layer in model._flatten_layers())
    x = _normal((8, *kwargs["input_shape"]), seed=21)
    y = np.arange(8) % kwargs["classes"]
    loaded = _fit_predict_round_trip(
        model, x, y, tmp_path, loss=keras.losses.SparseCategoricalCrossentropy(), check_call=False
    )
    probabilities = _infer(loaded, x)
    np.testing.assert_allclose(probabilities.sum(axis=-1), np.ones(8), rtol=1e-5)


def _build_cases():
    """LOOP_NAMES; the deeper CIFAR ResNets and MGIC-MobileNetV3-Large (about two minutes of
    compilation on JAX on two cores) in ``make test-slow``: ResNet-20 and MGIC-MobileNetV3-Small
    cover their code here. Off TensorFlow, SLOW_OFF_TENSORFLOW too."""
    return loop_params(LOOP_NAMES, slow=SLOW_HERE)


@pytest.mark.skipif(
    BACKEND == "tensorflow",
    reason="on TensorFlow, tests/test_models_registry.py builds, runs and differentiates every "
    "builder with the same checks",
)
@pytest.mark.parametrize("name", _build_cases())
def test_every_builder_builds_and_predicts(name):
    """Every builder but the two largest builds and infers on this backend (the two above
    also fit, ``predict`` and round-trip); ``count_params`` sees every trainable weight here
    too."""
    kwargs = small_model_kwargs(name)
    model = keras_mgic.models.get_model(name, **kwargs)
    assert model.output_shape == (None, CLASSES)
    assert keras_mgic.count_params(model) == sum(
        math.prod(w.shape) for w in model.trainable_weights
    )
    hierarchies = (MGICBlock, MGICFeedForward)  # MGICFeedForward: the token models
    has_mgic = any(isinstance(layer, hierarchies) for layer in model._flatten_layers())
    assert has_mgic == name.startswith("mgic_")
    probabilities = _infer(model, small_inputs(name, 2, seed=23))
    assert probabilities.shape == (2, CLASSES) and np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=-1), np.ones(2), rtol=1e-5)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_resize_like_matches_numpy(interpolation):
    """Upsampling by whole and fractional factors to another tensor's height and width."""
    x = _normal((2, 3, 4, 5), seed=24)
    layer = ResizeLike(interpolation=interpolation)
    y = _np(layer([x, keras.ops.zeros((2, 7, 8, 1))]))
    assert y.shape == (2, 7, 8, 5) == layer.compute_output_shape([x.shape, (2, 7, 8, 1)])
    if interpolation == "bilinear":
        np.testing.assert_allclose(y, np_bilinear_resize(x, 7, 8), atol=1e-5)
    else:  # every output pixel is one of the input's
        assert np.all(np.isin(y, x.astype(np.float64)))
    assert ResizeLike.from_config(layer.get_config()).interpolation == interpolation


def _segmentation_cases():
    """The segmentation builders; MGIC-LR-ASPP-Large is left to ``make test-slow`` (its
    encoder is MGIC-MobileNetV3-Large's, built above; tests/test_lraspp.py runs it on
    TensorFlow). Off TensorFlow all of them (15-20 s of compilation each on JAX): there the
    default suite covers their pieces in the MobileNetV3-Small build, ``ResizeLike`` against
    NumPy, and the layers' fits; tests/test_lraspp.py runs them on TensorFlow."""
    slow = {"mgic_lraspp_mobilenet_v3_large", *SLOW_HERE, *off_tensorflow(SEGMENTATION_NAMES)}
    return loop_params(SEGMENTATION_NAMES, slow=slow)


@pytest.mark.parametrize("name", _segmentation_cases())
def test_every_segmenter_builds_and_predicts_any_size(name):
    """Built for any input size, the per-pixel logits follow the size they are given."""
    kwargs = {**small_segmentation_kwargs(name), "input_shape": (None, None, 3)}
    model = keras_mgic.models.get_model(name, **kwargs)
    assert model.output_shape == (None, None, None, CLASSES)
    for height, width in ((SEGMENTATION_SIZE, SEGMENTATION_SIZE), (40, 56)):
        logits = _infer(model, _normal((2, height, width, 3), seed=25))
        assert logits.shape == (2, height, width, CLASSES) and np.all(np.isfinite(logits))


@slow_off_tensorflow  # there MGIC-LR-ASPP-Small infers at any size and MGIC-ResNet-20 fits
def test_segmenter_fits_predicts_and_round_trips(tmp_path):
    """The LR-ASPP head, the dilated tail and the resizing train and reload on this backend
    (MGIC blocks: the builder test above)."""
    name = "lraspp_mobilenet_v3_small"
    kwargs = {**small_segmentation_kwargs(name), "input_shape": (32, 32, 3)}
    model = keras_mgic.models.get_model(name, **kwargs)
    x = _normal((4, 32, 32, 3), seed=26)
    y = np.random.default_rng(27).integers(0, CLASSES, (4, 32, 32))
    y[:, :4] = 255  # ignored pixels
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
    _fit_predict_round_trip(model, x, y, tmp_path, loss=loss, check_call=False)


# -------------------------------------------------------------------------------- export


def _small_export_model():
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(8, 3, padding="same"),
            ChannelTransition(16, strides=2),  # one channel per group, depth multiplier 2
            MGICBlock(group_size=4, coarsest_size=8),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )


@pytest.mark.skipif(BACKEND == "torch", reason="PyTorch: see the next test")
def test_export_saved_model_and_tflite_from_this_backend(tmp_path):
    """Keras exports a JAX model through jax2tf, so the package's export works on JAX too."""
    pytest.importorskip("tensorflow")
    from keras_mgic import export

    model = _small_export_model()
    x = _normal((3, 8, 8, 3), seed=22)
    saved_model = export.to_saved_model(model, tmp_path / "saved_model")
    assert export.check_parity(model, saved_model, x)["max_rel_error"] < 1e-5
    tflite = export.to_tflite(model, tmp_path / "model.tflite")
    assert export.check_parity(model, tflite, x)["max_rel_error"] < 1e-5


@pytest.mark.skipif(BACKEND != "torch", reason="PyTorch only")
def test_export_on_torch_says_which_backend_to_use(tmp_path):
    """Keras's PyTorch export path (torch.export) writes no SavedModel: a clear error that
    names the backend and the way out, before any file is written."""
    from keras_mgic import export

    model = _small_export_model()
    for convert in (export.to_saved_model, export.to_tflite):
        with pytest.raises(ValueError, match="KERAS_BACKEND=tensorflow.*Received: .*'torch'"):
            convert(model, tmp_path / "exported")
    assert not (tmp_path / "exported").exists()


# ------------------------------------------------------------------ the GPU benchmark


@pytest.mark.skipif(BACKEND != "torch", reason="a smoke run on one backend is enough")
@pytest.mark.slow  # whole ResNet-56, MobileNetV3-Large and WRN-16-8 pairs, timed: 25-40 s
def test_gpu_benchmark_smoke_run(capsys):
    """``benchmarks/gpu.py --quick`` (what runs on the GPU machine, which has PyTorch and JAX
    but no TensorFlow) measures every pair and prints consistent ratios."""
    import pathlib
    import runpy

    script = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "gpu.py"
    main = runpy.run_path(str(script))["main"]
    results = main(["--quick"])  # {model name: (train, inference) images per second}
    out = capsys.readouterr().out
    assert "backend: torch" in out and "| model |" in out
    assert len(results) == 6  # three pairs: --quick leaves out WRN-28-10
    for dense, mgic in (
        ("resnet56", "mgic_resnet56"),
        ("mobilenet_v3_large", "mgic_mobilenet_v3_large"),
        ("wide_resnet16_8", "mgic_wide_resnet16_8"),
    ):
        assert all(value > 0 for value in (*results[dense], *results[mgic]))
        train, inference = (m / d for m, d in zip(results[mgic], results[dense], strict=True))
        assert f"| {mgic} / {dense} |  |  | {train:.2f} | {inference:.2f} |" in out
