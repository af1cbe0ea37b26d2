"""Mixed precision: float32 variables, compute-dtype outputs, finite training steps."""

import keras
import numpy as np
import pytest

from keras_mgic import MGICBlock, compat
from keras_mgic.layers import (
    BottleneckBlock,
    ChannelProlongation,
    ChannelRestriction,
    ChannelTransition,
    GroupedConv2D,
    InvertedResidualBlock,
    ResidualBlock,
)

POLICIES = ["mixed_float16", "mixed_bfloat16"]

LAYERS = {
    "grouped_conv": (lambda: GroupedConv2D(16, 3, groups=4, padding="same"), 16),
    "restriction": (lambda: ChannelRestriction(4), 16),
    "prolongation": (lambda: ChannelProlongation(4), 8),
    "residual": (lambda: ResidualBlock(16, groups=4), 16),
    "bottleneck": (lambda: BottleneckBlock(16, groups=2), 16),
    "inverted_residual": (
        lambda: InvertedResidualBlock(16, groups=2, se_ratio=0.25, activation="hard_swish"),
        16,
    ),
    "transition": (lambda: ChannelTransition(32, strides=2), 16),
    "mgic_residual": (lambda: MGICBlock(4, 4), 16),
    "mgic_bottleneck": (lambda: MGICBlock(4, 8, block="bottleneck"), 32),
    "mgic_inverted_residual": (
        lambda: MGICBlock(4, 4, block="inverted_residual", block_kwargs={"se_ratio": 0.25}),
        16,
    ),
}


@pytest.fixture(params=POLICIES)
def policy(request):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(request.param)
    try:
        yield request.param
    finally:
        keras.config.set_dtype_policy(previous)


def _compute_dtype(policy):
    return policy.removeprefix("mixed_")


def _np32(x):
    return keras.ops.convert_to_numpy(keras.ops.cast(x, "float32"))


@pytest.mark.parametrize("case", sorted(LAYERS))
def test_variables_stay_float32_and_outputs_use_the_compute_dtype(policy, case):
    factory, channels = LAYERS[case]
    layer = factory()
    x = np.random.default_rng(0).normal(size=(2, 4, 4, channels)).astype("float32")
    for training in (False, True):
        y = layer(x, training=training) if case != "grouped_conv" else layer(x)
        assert keras.backend.standardize_dtype(y.dtype) == _compute_dtype(policy)
        assert np.all(np.isfinite(_np32(y)))
    assert layer.weights
    for variable in layer.weights:
        assert variable.dtype == "float32", variable.path
    for sublayer in layer._flatten_layers():
        assert sublayer.dtype_policy.name == policy, sublayer.name


@pytest.mark.parametrize("case", ["mgic_residual", "mgic_inverted_residual", "transition"])
def test_mixed_outputs_are_close_to_float32(policy, case):
    factory, channels = LAYERS[case]
    x = np.random.default_rng(1).normal(size=(2, 4, 4, channels)).astype("float32")
    mixed = factory()
    y_mixed = _np32(mixed(x, training=False))
    keras.config.set_dtype_policy("float32")
    full = factory()
    full.build(x.shape)
    full.set_weights(mixed.get_weights())
    y_full = _np32(full(x, training=False))
    tol = 2e-2 if policy == "mixed_float16" else 1e-1
    assert np.abs(y_mixed - y_full).max() <= tol * np.abs(y_full).max()


def test_training_step_gives_a_finite_loss(policy):
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(16, 3, padding="same"),
            MGICBlock(4, 4),
            ChannelTransition(32, strides=2),
            MGICBlock(8, 8, block="inverted_residual", block_kwargs={"se_ratio": 0.25}),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, dtype="float32"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 10, size=(8,))
    before = [v.numpy().copy() for v in model.trainable_variables]
    # float16 loss scaling skips the first steps while its scale overflows (it starts at
    # 2**15 and halves per skipped step): enough steps that some are applied.
    compat.build_training_state(model, (x[:1], y[:1]))  # one trace of the step, not two
    history = model.fit(x, y, batch_size=2, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert all(v.dtype == "float32" for v in model.weights)
    changed = [
        not np.array_equal(v.numpy(), b)
        for v, b in zip(model.trainable_variables, before, strict=True)
    ]
    variables = zip(model.trainable_variables, changed, strict=True)
    assert all(changed), [v.path for v, c in variables if not c]
    assert all(np.all(np.isfinite(v.numpy())) for v in model.weights)
    assert keras.backend.standardize_dtype(model.layers[2].output.dtype) == _compute_dtype(policy)
