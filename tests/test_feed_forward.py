"""MGICFeedForward: NumPy reference, shapes, full coupling, linear cost, serialization,
argument errors and TFLite export. Tiny widths; the ``backends`` tests use only ``keras.ops``
and NumPy, so they also run on JAX and PyTorch."""

import math

import keras
import numpy as np
import pytest

from keras_mgic import count_flops, count_params
from keras_mgic.layers import MGICFeedForward
from keras_mgic.layers.channel_hierarchy import level_groups, level_widths

_BACKENDS = pytest.mark.backends


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _gelu(x):
    # keras.activations.gelu's default: the exact (erf) form.
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def _np_grouped(x, kernel):
    """x (tokens, groups * rows) times kernel (groups, rows, cols) group by group."""
    groups, rows, _ = kernel.shape
    parts = [x[:, g * rows : (g + 1) * rows] @ kernel[g] for g in range(groups)]
    return np.concatenate(parts, axis=-1)


def _np_feed_forward(layer, x):
    """The layer's docstring equations, written independently of its grouped layout."""
    w = {v.path.split("/")[-1]: _np(v) for v in layer.weights}
    flat = x.reshape(-1, x.shape[-1]).astype("float64")
    widths = level_widths(flat.shape[-1], layer.coarsest_size, layer.coarsening)
    fine = [flat]
    for level in range(len(widths) - 1):
        fine.append(_np_grouped(fine[-1], w[f"restrict_{level}"]))

    def ffn(level):
        hidden = _np_grouped(fine[level], w[f"level_{level}_in"])
        hidden = hidden + w[f"level_{level}_bias"].reshape(-1)
        return _np_grouped(_gelu(hidden), w[f"level_{level}_out"])

    y = ffn(len(widths) - 1)
    for level in reversed(range(len(widths) - 1)):
        y = ffn(level) + _np_grouped(y, w[f"prolong_{level}"])
    return (y + w["bias"]).reshape(x.shape)


def _randomize(layer, seed=0):
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign(rng.normal(0, 0.3, size=v.shape).astype("float32"))


@_BACKENDS
@pytest.mark.parametrize("shape", [(2, 5, 32), (2, 3, 3, 32), (3, 8)])
def test_matches_numpy_reference_on_tokens_and_images(shape):
    layer = MGICFeedForward(64, group_size=8, coarsest_size=8)
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    y = layer(x)
    assert tuple(y.shape) == shape
    _randomize(layer)
    np.testing.assert_allclose(_np(layer(x)), _np_feed_forward(layer, x), rtol=1e-4, atol=1e-4)


def test_levels_of_a_vit_width():
    layer = MGICFeedForward(3072, group_size=64, coarsest_size=64)
    levels = layer.levels(768)
    assert [w for w, _, _ in levels] == [768, 384, 192, 96, 48]
    assert [g for _, g, _ in levels] == [level_groups(w, 64) for w in (768, 384, 192, 96)] + [1]
    assert [h for _, _, h in levels] == [3072, 1536, 768, 384, 192]


@_BACKENDS
def test_every_output_depends_on_every_input():
    d = 32
    layer = MGICFeedForward(2 * d, group_size=8, coarsest_size=8)
    layer.build((1, d))
    _randomize(layer, seed=2)
    x = np.random.default_rng(3).normal(size=(1, d)).astype("float32")
    base = _np(layer(x))[0]
    eps = 1e-2
    jacobian = np.stack(
        [
            (_np(layer(x + eps * np.eye(d, dtype="float32")[i : i + 1]))[0] - base) / eps
            for i in range(d)
        ]
    )
    assert np.all(np.abs(jacobian) > 1e-6), np.argwhere(np.abs(jacobian) <= 1e-6)[:5]


def test_grouped_fine_level_alone_is_not_fully_coupled():
    # Control for the test above: without the coarse levels (prolongations zero) the
    # output of a group depends only on that group's inputs.
    d = 32
    layer = MGICFeedForward(2 * d, group_size=8, coarsest_size=8)
    layer.build((1, d))
    _randomize(layer, seed=2)
    layer.prolongations[0].assign(np.zeros(layer.prolongations[0].shape, "float32"))
    x = np.random.default_rng(3).normal(size=(1, d)).astype("float32")
    delta = np.zeros_like(x)
    delta[0, 0] = 0.1
    change = _np(layer(x + delta) - layer(x))[0]
    assert np.all(change[8:] == 0) and np.any(change[:8] != 0)


@pytest.mark.parametrize("group_size", [8, 16])
def test_parameters_and_macs_grow_linearly_with_width(group_size):
    params, macs = [], []
    for d in (64, 128, 256):
        model = keras.Sequential(
            [keras.Input((4, d)), MGICFeedForward(4 * d, group_size, coarsest_size=16)]
        )
        params.append(count_params(model))
        macs.append(count_flops(model))
    # Doubling the width roughly doubles the cost (a quadratic cost would quadruple it).
    for cost in (params, macs):
        assert 1.8 < cost[1] / cost[0] < 2.3 and 1.8 < cost[2] / cost[1] < 2.3, cost
    # The MACs are those of the weights, once per token (biases excluded).
    layer = model.layers[-1]
    kernels = sum(math.prod(v.shape) for v in layer.weights if "bias" not in v.path)
    assert macs[-1] == 4 * kernels


def test_costs_against_the_dense_feed_forward_at_vit_b_width():
    d, hidden = 768, 3072
    mgic = keras.Sequential([keras.Input((1, d)), MGICFeedForward(hidden)])
    dense = keras.Sequential(
        [keras.Input((1, d)), keras.layers.Dense(hidden, activation="gelu"), keras.layers.Dense(d)]
    )
    assert count_params(mgic) <= 0.25 * count_params(dense)
    assert count_flops(mgic) <= 0.25 * count_flops(dense)


@_BACKENDS
def test_keras_round_trip_and_config(tmp_path):
    inputs = keras.Input((6, 32))
    outputs = MGICFeedForward(96, group_size=8, coarsest_size=8, activation="relu", name="ffn")(
        inputs
    )
    model = keras.Model(inputs, outputs)
    _randomize(model.get_layer("ffn"))
    x = np.random.default_rng(4).normal(size=(2, 6, 32)).astype("float32")
    path = tmp_path / "ffn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), rtol=1e-5, atol=1e-6)
    assert loaded.get_layer("ffn").get_config() == model.get_layer("ffn").get_config()


@_BACKENDS
def test_fit_changes_weights_and_loss_is_finite():
    model = keras.Sequential(
        [keras.Input((5, 16)), MGICFeedForward(32, group_size=4, coarsest_size=4)]
    )
    model.compile(optimizer="adam", loss="mse")
    before = [_np(v).copy() for v in model.trainable_weights]
    x = np.random.default_rng(5).normal(size=(8, 5, 16)).astype("float32")
    history = model.fit(x, x, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert all(
        not np.allclose(a, _np(b)) for a, b in zip(before, model.trainable_weights, strict=True)
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(hidden_dim=0), "hidden_dim"),
        (dict(hidden_dim=64, group_size=3), "group_size"),
        (dict(hidden_dim=64, coarsest_size=-1), "coarsest_size"),
        (dict(hidden_dim=64, use_bias="yes"), "use_bias"),
        (dict(hidden_dim=64, coarsening="fast"), "coarsening"),
        (dict(hidden_dim=64, activation="nope"), "activation"),
        (dict(hidden_dim=64, kernel_initializer="nope"), "kernel_initializer"),
        (dict(hidden_dim=64, kernel_initializer=3), "kernel_initializer"),
        (dict(hidden_dim=64, bias_initializer="nope"), "bias_initializer"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MGICFeedForward(**kwargs)


def _initializer_config(layer):
    config = layer.get_config()["kernel_initializer"]
    return config["class_name"], {
        k: config["config"].get(k) for k in ("scale", "mode", "distribution")
    }


def test_default_kernels_are_scaled_down_lecun_and_the_former_default_is_reachable():
    default = MGICFeedForward(64)
    assert _initializer_config(default) == (
        "VarianceScaling",
        {"scale": 0.7, "mode": "fan_in", "distribution": "truncated_normal"},
    )
    assert _initializer_config(MGICFeedForward.from_config(default.get_config()))[1]["scale"] == 0.7
    former = MGICFeedForward(64, kernel_initializer="lecun_normal")
    assert _initializer_config(former)[0] == "LecunNormal"
    assert _initializer_config(MGICFeedForward.from_config(former.get_config()))[0] == "LecunNormal"


def _initial_output_std(make, seed, x):
    keras.utils.set_random_seed(seed)
    return float(np.std(_np(make()(x))))


def test_initial_output_is_no_larger_than_the_dense_feed_forwards():
    # d = 256, hidden 1024, the layer's defaults: the token models' width.
    d, hidden = 256, 1024
    x = np.random.default_rng(0).normal(size=(2, 64, d)).astype("float32")

    def dense():
        return keras.Sequential(
            [
                keras.Input((64, d)),
                keras.layers.Dense(hidden, activation="gelu", kernel_initializer="lecun_normal"),
                keras.layers.Dense(d, kernel_initializer="lecun_normal"),
            ]
        )

    seeds = (0, 1, 2)
    dense_std = np.mean([_initial_output_std(dense, s, x) for s in seeds])
    mgic_std = np.mean([_initial_output_std(lambda: MGICFeedForward(hidden), s, x) for s in seeds])
    former_std = np.mean(
        [
            _initial_output_std(
                lambda: MGICFeedForward(hidden, kernel_initializer="lecun_normal"), s, x
            )
            for s in seeds
        ]
    )
    assert mgic_std <= dense_std, (mgic_std, dense_std)
    assert former_std > dense_std, (former_std, dense_std)  # what the default corrects


def test_bad_widths():
    with pytest.raises(ValueError, match="channels=36"):
        MGICFeedForward(72, group_size=8)(np.zeros((1, 2, 36), "float32"))
    with pytest.raises(ValueError, match="hidden_dim=100"):
        MGICFeedForward(100, group_size=8, coarsest_size=8)(np.zeros((1, 2, 32), "float32"))
    with pytest.raises(ValueError, match="known channel"):
        MGICFeedForward(64).build((None, None))


def test_tflite_export_builtin_ops_and_parity(tmp_path):
    pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TFLite export runs from the TensorFlow backend")
    from keras_mgic import export

    model = keras.Sequential(
        [keras.Input((6, 32)), MGICFeedForward(64, group_size=8, coarsest_size=8, name="ffn")]
    )
    _randomize(model.get_layer("ffn"))
    path = export.to_tflite(model, tmp_path / "ffn.tflite")
    export.check_builtin_ops(path)
    x = np.random.default_rng(6).normal(size=(4, 6, 32)).astype("float32")
    figures = export.check_parity(model, path, x)
    assert figures["max_rel_error"] <= 1e-4, figures
