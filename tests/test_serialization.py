"""Every public layer and initializer: config round-trip, output shapes, Sequential and
functional use, and ``.keras`` save + load in a fresh process (no custom_objects)."""

import inspect

import keras
import numpy as np
import pytest

import keras_mgic
from keras_mgic import MGICBlock
from keras_mgic.initializers import ChannelAveraging
from keras_mgic.layers import (
    BottleneckBlock,
    ChannelProlongation,
    ChannelRestriction,
    ChannelTransition,
    GroupedConv2D,
    InvertedResidualBlock,
    ResidualBlock,
    ResizeLike,
    SqueezeExcite,
)
from keras_mgic.metrics import MeanIoU, PixelAccuracy

BASE_LAYER_KEYS = {"name", "trainable", "dtype", "autocast", "activity_regularizer"}

# name -> (layer factory, input shape without batch). Non-default arguments everywhere.
CASES = {
    "grouped_conv": (
        lambda: GroupedConv2D(
            12, 3, strides=2, padding="same", groups=4, activation="relu", name="layer"
        ),
        (6, 6, 8),
    ),
    "grouped_conv_channel_averaging": (
        lambda: GroupedConv2D(
            8,
            1,
            groups=2,
            kernel_initializer=ChannelAveraging(jitter=0.2, seed=3),
            use_bias=False,
            name="layer",
        ),
        (4, 4, 8),
    ),
    "restriction": (
        lambda: ChannelRestriction(4, kernel_regularizer=keras.regularizers.L2(1e-4), name="layer"),
        (4, 4, 16),
    ),
    "prolongation": (
        lambda: ChannelProlongation(
            4, kernel_initializer=ChannelAveraging(jitter=0.1, seed=1), name="layer"
        ),
        (4, 4, 8),
    ),
    "residual": (lambda: ResidualBlock(16, groups=4, kernel_size=5, name="layer"), (4, 4, 16)),
    "bottleneck": (
        lambda: BottleneckBlock(16, groups=2, bottleneck_ratio=2, name="layer"),
        (4, 4, 16),
    ),
    "inverted_residual": (
        lambda: InvertedResidualBlock(
            16, groups=2, expansion_ratio=3.0, se_ratio=0.25, activation="hard_swish", name="layer"
        ),
        (4, 4, 16),
    ),
    "inverted_residual_dilated": (
        lambda: InvertedResidualBlock(16, groups=2, kernel_size=5, dilation_rate=2, name="layer"),
        (6, 6, 16),
    ),
    "squeeze_excite": (lambda: SqueezeExcite(16, 8, name="layer"), (4, 4, 16)),
    "mgic_residual": (lambda: MGICBlock(4, 4, name="layer"), (4, 4, 16)),
    "mgic_bottleneck": (lambda: MGICBlock(4, 8, block="bottleneck", name="layer"), (4, 4, 32)),
    "mgic_inverted_residual": (
        lambda: MGICBlock(
            4,
            4,
            block="inverted_residual",
            block_kwargs={"se_ratio": 0.25, "activation": "hard_swish", "kernel_size": 5},
            name="layer",
        ),
        (4, 4, 16),
    ),
    "mgic_regularized": (
        lambda: MGICBlock(
            8,
            8,
            block_kwargs={"kernel_regularizer": keras.regularizers.L2(1e-4)},
            name="layer",
        ),
        (4, 4, 32),
    ),
    "transition": (
        lambda: ChannelTransition(32, strides=2, activation="hard_swish", name="layer"),
        (8, 8, 16),
    ),
    "transition_dilated": (
        lambda: ChannelTransition(24, dilation_rate=2, activation="hard_swish", name="layer"),
        (8, 8, 16),
    ),
    "transition_channels_first": (
        lambda: ChannelTransition(32, strides=2, data_format="channels_first", name="layer"),
        (16, 7, 8),
    ),
    "bottleneck_activated_channels_first": (
        lambda: BottleneckBlock(
            16, groups=2, activate_before_skip=True, data_format="channels_first", name="layer"
        ),
        (16, 4, 4),
    ),
    "mgic_literal_channels_first": (
        lambda: MGICBlock(4, 32, coarsening="literal", data_format="channels_first", name="layer"),
        (16, 4, 4),
    ),
    "mgic_reference_below_coarsest_size": (
        lambda: MGICBlock(4, 32, block="bottleneck", name="layer"),
        (4, 4, 16),
    ),
}


def _randomize(layer, seed=0):
    """Random weights everywhere (BN variances positive) so outputs are not trivial."""
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        shape = tuple(variable.shape)
        if variable.path.endswith("moving_variance") or variable.path.endswith("gamma"):
            variable.assign(rng.uniform(0.5, 1.5, shape))
        else:
            variable.assign(rng.normal(0, 0.3, shape))


def _input(shape, seed=1):
    return np.random.default_rng(seed).normal(size=(2, *shape)).astype("float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _call(layer, x):
    if "training" in inspect.signature(layer.call).parameters:
        return _np(layer(x, training=False))
    return _np(layer(x))


@pytest.mark.parametrize("case", sorted(CASES))
def test_get_config_holds_exactly_the_init_arguments(case):
    factory, _ = CASES[case]
    layer = factory()
    config = layer.get_config()
    params = {
        name
        for name, p in inspect.signature(type(layer).__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }
    assert params <= set(config), params - set(config)
    assert set(config) - params <= BASE_LAYER_KEYS, set(config) - params - BASE_LAYER_KEYS
    assert type(layer)(**config).get_config() == config


def test_config_values_are_the_arguments():
    config = MGICBlock(
        8, 16, block="inverted_residual", block_kwargs={"se_ratio": 0.25}, name="m"
    ).get_config()
    assert (config["group_size"], config["coarsest_size"]) == (8, 16)
    assert (config["block"], config["block_kwargs"]) == ("inverted_residual", {"se_ratio": 0.25})
    assert (config["coarsening"], config["data_format"]) == ("reference", "channels_last")
    config = MGICBlock(8, 16, coarsening="literal", data_format="channels_first").get_config()
    assert (config["coarsening"], config["data_format"]) == ("literal", "channels_first")
    config = InvertedResidualBlock(16, 2, expansion_ratio=3.0, se_ratio=0.5).get_config()
    assert (config["filters"], config["groups"], config["expansion_ratio"]) == (16, 2, 3.0)
    assert config["se_ratio"] == 0.5 and config["grouped_squeeze_excite"] is True
    block = InvertedResidualBlock(16, 2, se_ratio=0.25, grouped_squeeze_excite=False)
    config = block.get_config()
    assert config["grouped_squeeze_excite"] is False
    assert InvertedResidualBlock.from_config(config).grouped_squeeze_excite is False
    config = ChannelTransition(32, strides=2, kernel_size=5).get_config()
    assert (config["filters"], config["strides"], config["kernel_size"]) == (32, 2, 5)
    assert config["activation"] == "relu" and config["kernel_initializer"]["class_name"] == (
        "HeNormal"
    )
    config = ChannelRestriction(6 * 2).get_config()
    assert config["group_size"] == 12
    # the package's default transfer initializer, serialized by its registered name
    assert config["kernel_initializer"]["registered_name"].startswith("keras_mgic>")


@pytest.mark.parametrize("case", sorted(CASES))
def test_from_config_with_copied_weights_gives_identical_outputs(case):
    factory, shape = CASES[case]
    layer = factory()
    x = _input(shape)
    layer.build(x.shape)
    _randomize(layer)
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone.build(x.shape)
    assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(_call(clone, x), _call(layer, x))


@pytest.mark.parametrize("case", sorted(CASES))
def test_compute_output_shape_matches_the_output(case):
    factory, shape = CASES[case]
    layer = factory()
    x = _input(shape)
    y = _call(layer, x)
    assert tuple(layer.compute_output_shape(x.shape)) == y.shape
    assert tuple(layer.compute_output_shape((None, *shape))) == (None, *y.shape[1:])
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("case", sorted(CASES))
def test_sequential_and_functional_models(case):
    factory, shape = CASES[case]
    x = _input(shape)
    sequential = keras.Sequential([keras.Input(shape), factory()])
    _randomize(sequential)
    inputs = keras.Input(shape)
    functional = keras.Model(inputs, factory()(inputs))
    functional.set_weights(sequential.get_weights())
    want = _call(sequential.layers[0], x)
    assert sequential.output_shape == (None, *want.shape[1:])
    np.testing.assert_allclose(sequential.predict(x, verbose=0), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(functional.predict(x, verbose=0), want, rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def reloaded(fresh_process_module):
    """Every case saved as a Sequential model and reloaded in one fresh process."""
    models = {}
    for case, (factory, shape) in CASES.items():
        model = keras.Sequential([keras.Input(shape), factory()])
        _randomize(model, seed=len(case))
        models[case] = (model, _input(shape, seed=2))
    network = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(16, 3, padding="same"),
            MGICBlock(4, 4),
            ChannelTransition(32, strides=2),
            MGICBlock(8, 8, block="inverted_residual", block_kwargs={"se_ratio": 0.25}),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )
    _randomize(network, seed=3)
    models["network"] = (network, _input((8, 8, 3), seed=2))
    outputs = fresh_process_module(models)
    return models, outputs


@pytest.mark.parametrize("case", [*sorted(CASES), "network"])
def test_keras_file_reloads_in_a_fresh_process(reloaded, as_json, case):
    models, outputs = reloaded
    model, x = models[case]
    y, configs = outputs[case]
    want = _np(model(x, training=False))
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(y, want, atol=1e-6)
    assert configs == [as_json(layer.get_config()) for layer in model.layers]


def test_public_objects_are_registered():
    for obj in [
        ChannelAveraging,
        GroupedConv2D,
        ChannelRestriction,
        ChannelProlongation,
        ResidualBlock,
        BottleneckBlock,
        InvertedResidualBlock,
        SqueezeExcite,
        MGICBlock,
        ChannelTransition,
        ResizeLike,
        MeanIoU,
        PixelAccuracy,
    ]:
        name = keras.saving.get_registered_name(obj)
        assert name == f"keras_mgic>{obj.__name__}"
        assert keras.saving.get_registered_object(name) is obj
    assert keras_mgic.MGICBlock is MGICBlock


def test_initializer_config_holds_exactly_the_init_arguments():
    params = set(inspect.signature(ChannelAveraging.__init__).parameters) - {"self"}
    init = ChannelAveraging(jitter=0.2, seed=1)
    assert init.get_config() == {"jitter": 0.2, "seed": 1}
    assert set(init.get_config()) == params
    clone = ChannelAveraging.from_config(init.get_config())
    np.testing.assert_array_equal(_np(clone((1, 1, 4, 2))), _np(init((1, 1, 4, 2))))
