"""MGICBlock: Algorithm 1 of the paper, its identity and coupling properties, cost, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from numpy_reference import np_mgic_algorithm_1

from keras_mgic import MGICBlock
from keras_mgic.layers import (
    ChannelProlongation,
    ChannelRestriction,
    GroupedConv2D,
    ResidualBlock,
)
from keras_mgic.layers.channel_hierarchy import level_groups, level_widths


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _randomize(block, rng, randomize_bn):
    """Random transfers, random BN statistics: the correction term is far from trivial."""
    for layer in [*block.restrictions, *block.prolongations]:
        layer.set_weights([rng.normal(0, 0.5, layer.kernel.shape)])
    for bn in block.corrections:
        randomize_bn(bn, rng)


# ------------------------------------------------------------ (a) Algorithm 1, numerically


def np_tanh_cnn(block, conv):
    """The NumPy CNN block of each level for GroupedTanhBlock (conftest's ``tanh_block``)."""

    def cnn(level, h):
        kernel, bias = block.level_blocks[level].conv.get_weights()
        return np.tanh(conv(h, kernel, bias=bias)) * block.level_blocks[level].scale

    return cnn


@pytest.mark.parametrize(
    "channels, group_size, coarsest_size, n_levels, coarsening",
    [
        (32, 8, 8, 4, "reference"),
        (16, 4, 4, 4, "reference"),
        (24, 8, 4, 4, "reference"),
        (16, 8, 8, 3, "reference"),
        (8, 4, 8, 2, "reference"),
        (8, 4, 16, 2, "reference"),  # c < s_c: the reference code still restricts once
        (8, 4, 16, 1, "literal"),
        (6, 4, 8, 1, "literal"),
    ],
)
def test_matches_numpy_algorithm_1(
    np_conv,
    np_bn,
    randomize_bn,
    tanh_block,
    channels,
    group_size,
    coarsest_size,
    n_levels,
    coarsening,
):
    block = MGICBlock(
        group_size,
        coarsest_size,
        block=tanh_block,
        block_kwargs={"scale": 0.8},
        coarsening=coarsening,
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, channels)).astype("float32")
    block.build(x.shape)
    assert len(block.widths) == n_levels
    _randomize(block, rng, randomize_bn)
    cnn = np_tanh_cnn(block, np_conv)
    for training in (False, True):
        expected = np_mgic_algorithm_1(block, x, training, np_conv, np_bn, cnn)
        np.testing.assert_allclose(
            _np(block(x, training=training)), expected, atol=1e-4, err_msg=f"{training=}"
        )
    graph = tf.function(lambda t: block(t, training=False))(x)
    np.testing.assert_allclose(
        graph.numpy(),
        np_mgic_algorithm_1(block, x, False, np_conv, np_bn, cnn),
        atol=1e-4,
    )


# --------------------------------------------------------------------- (b) identity property


@pytest.mark.parametrize("channels, group_size, coarsest_size", [(32, 8, 4), (24, 4, 6), (8, 2, 1)])
def test_identity_block_gives_identity_mgic_block(
    identity_block, channels, group_size, coarsest_size
):
    block = MGICBlock(group_size, coarsest_size, block=identity_block)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 4, channels)).astype("float32")
    block.build(x.shape)
    assert len(block.widths) >= 3
    # Random transfers: the identity holds whatever R and P are (the residual is zero).
    for layer in [*block.restrictions, *block.prolongations]:
        layer.set_weights([rng.normal(size=layer.kernel.shape)])
    for training in (False, True):
        np.testing.assert_allclose(_np(block(x, training=training)), x, atol=1e-6)
    model = keras.Sequential([keras.Input((4, 4, channels)), block])
    np.testing.assert_allclose(model.predict(x, verbose=0), x, atol=1e-6)


def test_identity_block_by_registered_name(identity_block):
    block = MGICBlock(4, 4, block="mgic_tests>IdentityBlock")
    assert block.block_class is identity_block
    x = np.random.default_rng(2).normal(size=(1, 4, 4, 16)).astype("float32")
    np.testing.assert_allclose(_np(block(x, training=True)), x, atol=1e-6)


# ------------------------------------------------------------------------ (c) full coupling


def _channel_dependency(layer, channels):
    """dep[o, i]: sum over batch and space of |d sum(y[..., o]) / d x[..., i]| > 0."""
    x = tf.constant(np.random.default_rng(3).normal(size=(2, 4, 4, channels)), "float32")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = layer(x, training=False)
        sums = [tf.reduce_sum(y[..., o]) for o in range(channels)]
    return np.stack([np.abs(tape.gradient(s, x).numpy()).sum(axis=(0, 1, 2)) for s in sums])


@pytest.mark.parametrize("block_name", ["residual", "inverted_residual"])
def test_every_output_channel_depends_on_every_input_channel(block_name):
    block = MGICBlock(group_size=4, coarsest_size=8, block=block_name)  # levels 32, 16, 8, 4
    dep = _channel_dependency(block, 32)
    assert [layer.groups for layer in block.restrictions] == [8, 4, 2]
    assert np.all(dep > 0), np.argwhere(dep == 0)


def test_plain_grouped_block_is_not_fully_coupled():
    dep = _channel_dependency(ResidualBlock(filters=32, groups=8), 32)
    np.testing.assert_array_equal(dep > 0, np.kron(np.eye(8), np.ones((4, 4))) > 0)


# -------------------------------------------------------------------------- (d) linear cost


def _params(layer, channels):
    layer.build((None, 4, 4, channels))
    return layer.count_params()


def test_parameters_grow_linearly_with_width():
    mgic = [_params(MGICBlock(group_size=16, coarsest_size=32), c) for c in (128, 256, 512)]
    dense = [_params(ResidualBlock(filters=c), c) for c in (128, 256, 512)]
    for small, large in zip(mgic[:-1], mgic[1:], strict=True):
        assert 1.7 <= large / small <= 2.3, mgic
    for small, large in zip(dense[:-1], dense[1:], strict=True):
        assert 3.8 <= large / small <= 4.2, dense
    # Eq. (8): grouped 3x3 convs cost < 2 * (2 s_g c d^2) over the levels, plus the coarsest
    # dense block, the transfers (2 * s_g/2 * c per level pair) and the BatchNorms.
    c, s_g, d = 512, 16, 3
    coarsest = 32
    bound = 2 * (2 * s_g * c * d * d) + 2 * coarsest * coarsest * d * d + 2 * s_g * c + 40 * c
    assert mgic[-1] < bound < dense[-1] / 4


# ------------------------------------------------------------- (e) a user's registered block


def test_user_block_class_and_name_round_trip(tanh_block, fresh_process, tmp_path):
    x = np.random.default_rng(4).normal(size=(2, 4, 4, 16)).astype("float32")
    models = {}
    for key, block_arg in [("cls", tanh_block), ("name", "mgic_tests>GroupedTanhBlock")]:
        block = MGICBlock(4, 4, block=block_arg, block_kwargs={"scale": 0.5}, name="mgic")
        model = keras.Sequential([keras.Input((4, 4, 16)), block])
        assert block.get_config()["block"] == "mgic_tests>GroupedTanhBlock"
        assert all(isinstance(b, tanh_block) for b in block.level_blocks)
        assert [b.scale for b in block.level_blocks] == [0.5] * len(block.widths)
        models[key] = (model, x)

    # The same process, no custom_objects.
    path = str(tmp_path / "user_block.keras")
    models["cls"][0].save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.layers[0].level_blocks[0], tanh_block)
    want = _np(models["cls"][0](x, training=False))
    np.testing.assert_allclose(_np(loaded(x, training=False)), want, atol=1e-6)

    # A fresh process that imports keras_mgic and the module defining the user's block.
    for key, (outputs, configs) in fresh_process(models, import_test_blocks=True).items():
        model = models[key][0]
        np.testing.assert_allclose(outputs, _np(model(x, training=False)), atol=1e-6)
        assert configs[0]["block"] == "mgic_tests>GroupedTanhBlock"
        assert configs[0]["block_kwargs"] == {"scale": 0.5}


# ------------------------------------------------------------- (f) levels and groups per level


@pytest.mark.parametrize(
    "channels, group_size, coarsest_size, widths, groups, coarsening",
    [
        (64, 8, 16, [64, 32, 16, 8], [8, 4, 2, 1], "reference"),  # the docstring's example
        (64, 16, 16, [64, 32, 16, 8], [4, 2, 1, 1], "reference"),
        (64, 16, 16, [64, 32, 16, 8], [4, 2, 1, 1], "literal"),  # c >= s_c: the same
        (96, 8, 16, [96, 48, 24, 12], [12, 6, 3, 1], "reference"),
        (32, 8, 16, [32, 16, 8], [4, 2, 1], "reference"),
        (32, 8, 32, [32, 16], [4, 1], "reference"),  # c = s_c: one restriction
        (16, 8, 32, [16, 8], [2, 1], "reference"),  # c < s_c: still one restriction
        (16, 8, 32, [16], [1], "literal"),  # c < s_c: no coarsening, one dense block
        (32, 16, 64, [32, 16], [2, 1], "reference"),
        (40, 4, 16, [40, 20, 10], [10, 5, 1], "reference"),
        (48, 16, 8, [48, 24, 12, 6], [3, 1, 1, 1], "reference"),  # 24 < 2 s_g: coupled
        (24, 32, 4, [24, 12, 6, 3], [1, 1, 1, 1], "reference"),  # c < s_g: all coupled
        (128, 16, 32, [128, 64, 32, 16], [8, 4, 2, 1], "reference"),
    ],
)
def test_levels_and_groups(channels, group_size, coarsest_size, widths, groups, coarsening):
    block = MGICBlock(group_size, coarsest_size, coarsening=coarsening)
    block.build((None, 4, 4, channels))
    assert block.widths == widths == level_widths(channels, coarsest_size, coarsening)
    assert [b.groups for b in block.level_blocks] == groups
    assert [b.filters for b in block.level_blocks] == widths
    assert [b.name for b in block.level_blocks] == [f"level_{j}_block" for j in range(len(widths))]
    # R_j and P_j use the groups of level j; R_j halves, P_j doubles.
    fine = widths[:-1]
    assert [r.groups for r in block.restrictions] == groups[:-1]
    assert [p.groups for p in block.prolongations] == groups[:-1]
    assert [r.kernel.shape[-1] for r in block.restrictions] == [w // 2 for w in fine]
    assert [p.kernel.shape[-1] for p in block.prolongations] == fine
    assert [r.name for r in block.restrictions] == [f"restrict_{j}" for j in range(len(fine))]
    assert [p.name for p in block.prolongations] == [f"prolong_{j}" for j in range(len(fine))]
    assert all(isinstance(r, ChannelRestriction) for r in block.restrictions)
    assert all(isinstance(p, ChannelProlongation) for p in block.prolongations)
    assert [level_groups(w, group_size) for w in fine] == groups[:-1]


def test_fit_step_gives_every_weight_a_gradient():
    model = keras.Sequential([keras.Input((4, 4, 16)), MGICBlock(4, 8)])  # levels 16, 8, 4
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 4, 4, 16)).astype("float32")
    before = [v.numpy().copy() for v in model.trainable_variables]
    history = model.fit(x, rng.normal(size=x.shape), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    grouped = [layer for layer in model._flatten_layers() if isinstance(layer, GroupedConv2D)]
    assert len(grouped) == 3 * 2
    for variable, old in zip(model.trainable_variables, before, strict=True):
        assert not np.array_equal(variable.numpy(), old), variable.path


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(group_size=0), "group_size=0"),
        (dict(group_size=-4), "group_size=-4"),
        (dict(group_size=3), "group_size=3"),
        (dict(group_size=4.0), r"group_size=4\.0"),
        (dict(group_size=True), "group_size=True"),
        (dict(coarsest_size=0), "coarsest_size=0"),
        (dict(coarsest_size=-8), "coarsest_size=-8"),
        (dict(coarsest_size=8.5), r"coarsest_size=8\.5"),
        (dict(block="no_such_block"), "block='no_such_block'"),
        (dict(block=42), "block=42"),
        (dict(block="keras_mgic>ChannelAveraging"), "block='keras_mgic>ChannelAveraging'"),
        (dict(block_kwargs=[("scale", 1.0)]), r"block_kwargs=\[\('scale', 1\.0\)\]"),
        (dict(block_kwargs="groups=2"), "block_kwargs='groups=2'"),
        (dict(coarsening="algorithm_1"), "Received: coarsening='algorithm_1'"),
        (dict(coarsening=None), "Received: coarsening=None"),
        (dict(data_format="NHWC"), "Received: data_format='NHWC'"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    args = dict(group_size=4, coarsest_size=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        MGICBlock(**args)


def test_block_instance_is_rejected():
    with pytest.raises(ValueError, match=r"Received: block=<ResidualBlock"):
        MGICBlock(4, 4, block=ResidualBlock(16))


def test_bad_input_shapes_raise_at_build_time():
    with pytest.raises(ValueError, match=r"input_shape=\(None, 4, 16\)"):
        MGICBlock(4, 4).build((None, 4, 16))
    with pytest.raises(ValueError, match="expected ndim=4"):
        MGICBlock(4, 4)(keras.Input((4, 16)))
    with pytest.raises(ValueError, match=r"input_shape=\(None, 4, 4, None\)"):
        MGICBlock(4, 4)(keras.Input((4, 4, None)))


@pytest.mark.parametrize("channels, group_size", [(48, 32), (20, 8), (36, 16)])
def test_channels_not_divisible_by_group_size(channels, group_size):
    with pytest.raises(ValueError, match=f"channels={channels}, group_size={group_size}"):
        MGICBlock(group_size, 4)(keras.Input((4, 4, channels)))


def test_per_level_block_that_changes_the_width_raises():
    with pytest.raises(ValueError, match=r"output_shape=\(None, 4, 4, 32\)"):
        MGICBlock(4, 4, block="mgic_tests>WidthDoublingBlock")(keras.Input((4, 4, 16)))


@pytest.mark.parametrize(
    "block, block_kwargs, match",
    [
        ("residual", {"no_such_argument": 1}, "no_such_argument"),
        ("residual", {"groups": 2}, "groups"),
        ("mgic_tests>NoGroupsBlock", None, "groups"),
        ("bottleneck", None, "filters=2, bottleneck_ratio=4"),  # coarsest level: width 0
    ],
)
def test_per_level_block_construction_errors_are_value_errors(block, block_kwargs, match):
    layer = MGICBlock(4, 2, block=block, block_kwargs=block_kwargs)
    with pytest.raises(ValueError, match=match):
        layer(keras.Input((4, 4, 8)))


# ------------------------------------------------ reference-code details and data formats


def test_coarsest_bottleneck_activates_before_the_skip_and_finer_levels_do_not():
    block = MGICBlock(16, 32, block="bottleneck")
    block.build((None, 4, 4, 64))
    assert block.widths == [64, 32, 16]
    assert [b.activate_before_skip for b in block.level_blocks] == [False, False, True]
    override = MGICBlock(16, 32, block="bottleneck", block_kwargs={"activate_before_skip": False})
    override.build((None, 4, 4, 64))
    assert not any(b.activate_before_skip for b in override.level_blocks)


def test_user_blocks_get_only_filters_groups_and_block_kwargs(tanh_block):
    block = MGICBlock(4, 4, block=tanh_block, block_kwargs={"scale": 0.5})
    block.build((None, 4, 4, 16))  # GroupedTanhBlock takes no data_format: no TypeError
    assert [b.scale for b in block.level_blocks] == [0.5] * len(block.widths)


@pytest.mark.parametrize("block_name", ["residual", "bottleneck", "inverted_residual"])
def test_channels_first_is_the_transposed_channels_last(block_name):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 4, 32)).astype("float32")
    last = MGICBlock(8, 16, block=block_name, data_format="channels_last")
    first = MGICBlock(8, 16, block=block_name, data_format="channels_first")
    last.build(x.shape)
    first.build((2, 32, 5, 4))
    weights = [rng.normal(0, 0.3, w.shape) for w in last.get_weights()]
    weights = [np.abs(w) + 0.5 if w.ndim == 1 else w for w in weights]  # BN variances > 0
    last.set_weights(weights)
    first.set_weights(weights)
    x_first = np.transpose(x, (0, 3, 1, 2))
    for training in (False, True):
        y_last = _np(last(x, training=training))
        y_first = _np(first(x_first, training=training))
        np.testing.assert_allclose(np.transpose(y_first, (0, 2, 3, 1)), y_last, atol=1e-4)
    assert first.widths == last.widths == [32, 16, 8]
    assert first.compute_output_shape((None, 32, 5, 4)) == (None, 32, 5, 4)
    with pytest.raises(ValueError, match="expected axis 1 of input shape to have value 32"):
        first(x)  # a channels-last tensor is never silently read as channels-first


def test_default_data_format_follows_keras_config():
    previous = keras.config.image_data_format()
    try:
        keras.config.set_image_data_format("channels_first")
        block = MGICBlock(4, 8)
        assert block.data_format == "channels_first"
        y = block(np.ones((1, 16, 3, 3), "float32"))
        assert tuple(y.shape) == (1, 16, 3, 3)
        assert block.widths == [16, 8, 4]
    finally:
        keras.config.set_image_data_format(previous)
    assert MGICBlock(4, 8).data_format == previous
