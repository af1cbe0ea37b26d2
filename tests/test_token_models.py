"""The token models (ViT, MLP-Mixer) and their MGIC twins: the twins differ only in the
feed-forward, MGIC saves parameters at width 256, the counts follow the layers, the
``keras.applications``-style call works, and a saved model reloads with equal outputs."""

import keras
import numpy as np
import pytest
from small_models import token_model_kwargs

from keras_mgic import count_flops, count_params, models
from keras_mgic.layers import MGICFeedForward
from keras_mgic.layers.tokens import PositionEmbedding

BUILDERS = {
    "vit": (models.VisionTransformer, models.MGICVisionTransformer),
    "mlp_mixer": (models.MLPMixer, models.MGICMLPMixer),
}
TINY = {"input_shape": (16, 16, 3), "classes": 3}


def _tiny(family, mgic, **overrides):
    kwargs = {**token_model_kwargs(("mgic_" if mgic else "") + family), **TINY, **overrides}
    return BUILDERS[family][mgic](**kwargs)


def _x(batch=2, size=16, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, size, size, 3)).astype("float32")


def _mlp_layers(model):
    return [
        layer.name
        for layer in model.layers
        if isinstance(layer, MGICFeedForward)
        or "_mlp_dense" in layer.name
        and "token_mlp" not in layer.name
    ]


@pytest.mark.parametrize("family", list(BUILDERS))
def test_twins_differ_only_in_the_feed_forward(family):
    dense, mgic = _tiny(family, False), _tiny(family, True)
    assert dense.name == family and mgic.name == f"mgic_{family}"
    dense_rest = [
        (layer.name, type(layer)) for layer in dense.layers if layer.name not in _mlp_layers(dense)
    ]
    mgic_rest = [
        (layer.name, type(layer)) for layer in mgic.layers if layer.name not in _mlp_layers(mgic)
    ]
    assert dense_rest == mgic_rest
    assert _mlp_layers(dense) == ["block1_mlp_dense1", "block1_mlp_dense2"]
    assert _mlp_layers(mgic) == ["block1_mlp"]
    shared = [layer.name for layer in dense.layers if layer.name not in _mlp_layers(dense)]
    for name in shared:  # every other layer has the same weights' shapes
        assert [w.shape for w in dense.get_layer(name).weights] == [
            w.shape for w in mgic.get_layer(name).weights
        ], name
    ffn = mgic.get_layer("block1_mlp")
    assert (ffn.hidden_dim, ffn.group_size, ffn.coarsest_size) == (256, 16, 32)
    assert [width for width, _, _ in ffn._levels] == [64, 32, 16]  # the hierarchy is used
    # The twins' kernel initializers: LeCun-normal for the dense feed-forward, the MGIC one's
    # default (scaled down: the sum of its levels starts no larger than the dense output).
    init = ffn.get_config()["kernel_initializer"]
    assert init["class_name"] == "VarianceScaling"
    assert (init["config"]["scale"], init["config"]["mode"]) == (0.7, "fan_in")
    dense_init = dense.get_layer("block1_mlp_dense1").get_config()["kernel_initializer"]
    assert dense_init["class_name"] == "LecunNormal"
    # The parameter difference is the feed-forwards' difference.
    mlp = lambda m: sum(count_params(m.get_layer(n)) for n in _mlp_layers(m))  # noqa: E731
    assert count_params(dense) - count_params(mgic) == mlp(dense) - mlp(mgic) > 0


@pytest.mark.parametrize("family", list(BUILDERS))
def test_mgic_saves_parameters_and_macs_at_width_256(family):
    """Counted without running a training step: dim 256, hidden 1024, the defaults
    (group_size 64, coarsest_size 128)."""
    kwargs = {"dim": 256, "depth": 1, "input_shape": (8, 8, 3), "classes": 10}
    dense, mgic = BUILDERS[family][0](**kwargs), BUILDERS[family][1](**kwargs)
    assert count_params(mgic) < 0.75 * count_params(dense)
    assert count_flops(mgic) < 0.75 * count_flops(dense)
    ffn = mgic.get_layer("block1_mlp")
    assert (ffn.group_size, ffn.coarsest_size, ffn.hidden_dim) == (64, 128, 1024)


def test_vit_macs_count_attention_and_projections():
    """Patch embedding, q/k/v/output projections, the two attention products, the feed-
    forward and the classifier; LayerNorm and the position embedding count 0."""
    dim, heads, tokens, hidden, classes = 32, 2, 16, 128, 3
    model = models.VisionTransformer(
        dim=dim, depth=1, heads=heads, input_shape=(16, 16, 3), classes=classes
    )
    patch = tokens * 4 * 4 * 3 * dim
    projections = 4 * tokens * dim * dim
    attention = heads * tokens * tokens * (2 * dim // heads)
    mlp = 2 * tokens * dim * hidden
    assert count_flops(model) == patch + projections + attention + mlp + dim * classes
    mixer = models.MLPMixer(dim=dim, depth=1, input_shape=(16, 16, 3), classes=classes)
    token_mlp = 2 * dim * tokens * (dim // 2)
    assert count_flops(mixer) == patch + token_mlp + mlp + dim * classes


@pytest.mark.parametrize("family", list(BUILDERS))
def test_keras_applications_style_call(family):
    """``include_top=False, weights=None, input_tensor=..., pooling="avg"`` and a headless
    feature map on the patch grid; positional arguments in keras.applications' order."""
    raw = keras.Input((20, 20, 3), name="raw")
    resized = keras.layers.Resizing(16, 16, name="resize")(raw)
    for mgic in (False, True):
        builder = BUILDERS[family][mgic]
        small = token_model_kwargs(("mgic_" if mgic else "") + family)
        pooled = builder(
            include_top=False, weights=None, input_tensor=resized, pooling="avg", **small
        )
        assert pooled.inputs[0] is raw and pooled.output_shape == (None, 64)
        features = builder(include_top=False, input_shape=(16, 16, 3), **small)
        assert features.output_shape == (None, 4, 4, 64)
        top = builder(True, None, None, (16, 16, 3), None, 7, None, **small)
        assert top.output_shape == (None, 7)
        assert top.get_layer("predictions").get_config()["activation"] == "linear"


@pytest.mark.parametrize("family", list(BUILDERS))
def test_keras_round_trip_keeps_outputs(family, tmp_path):
    model = _tiny(family, True, dropout_rate=0.1)
    x = _x(seed=1)
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x, training=False)), expected, rtol=1e-5, atol=1e-6
    )
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


@pytest.mark.slow  # about 20 s of graph building on a loaded 2-core CPU
def test_a_fit_step_moves_the_loss():
    model = _tiny("vit", True)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    x, y = _x(batch=8, seed=2), np.arange(8) % 3
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first


def test_position_embedding_is_added_and_serializable():
    layer = PositionEmbedding(name="pos")
    x = np.ones((2, 5, 3), "float32")
    y = keras.ops.convert_to_numpy(layer(x))
    embedding = keras.ops.convert_to_numpy(layer.embedding)
    np.testing.assert_allclose(y - x, np.broadcast_to(embedding, (2, 5, 3)), atol=1e-6)
    clone = PositionEmbedding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="known number of tokens"):
        PositionEmbedding().build((None, None, 3))


@pytest.mark.parametrize(
    "family, overrides, match",
    [
        ("vit", {"heads": 3}, r"Received: dim=64, heads=3$"),
        ("vit", {"heads": 0}, r"Received: heads=0$"),
        ("vit", {"dim": 0}, r"Received: dim=0$"),
        ("mlp_mixer", {"depth": 0}, r"Received: depth=0$"),
        ("mlp_mixer", {"patch_size": 0}, r"Received: patch_size=0$"),
        ("mlp_mixer", {"patch_size": 3}, r"patch_size=3$"),
        ("vit", {"input_shape": (None, None, 3)}, r"fixed input height and width"),
        ("vit", {"mlp_ratio": 0}, r"Received: mlp_ratio=0 "),
        ("mlp_mixer", {"mlp_ratio": 1.3}, r"Received: mlp_ratio=1.3 "),
        ("mlp_mixer", {"mgic": "yes"}, r"Received: mgic='yes'$"),
        ("mlp_mixer", {"token_mlp_dim": 0}, r"Received: token_mlp_dim=0$"),
        ("vit", {"dropout_rate": 1.0}, r"Received: dropout_rate=1.0$"),
        ("mlp_mixer", {"pooling": "sum", "include_top": False}, r"pooling='sum'$"),
    ],
)
def test_bad_arguments_name_argument_and_value(family, overrides, match):
    with pytest.raises(ValueError, match=match):
        BUILDERS[family][0](**{**token_model_kwargs(family), **TINY, **overrides})


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"group_size": 24}, r"Received: dim=64, group_size=24$"),
        ({"group_size": 7}, r"Received: group_size=7$"),
        ({"coarsest_size": 0}, r"Received: coarsest_size=0$"),
        ({"coarsening": "fast"}, r"coarsening='fast'"),
        ({"mlp_ratio": 0.53125}, r"hidden_dim=34$"),  # 34 hidden units do not split in 4 groups
    ],
)
def test_bad_mgic_arguments_name_argument_and_value(overrides, match):
    with pytest.raises(ValueError, match=match):
        _tiny("vit", True, **overrides)


def test_cross_attention_macs_use_the_key_length():
    """4 queries attend to 6 keys: projections 4*8*(2*3) + 2 * 6*8*(2*3) + 4*(2*3)*8, scores
    and weighted values 2 * 4 * 6 * (3 + 5)."""
    query, value = keras.Input((4, 8)), keras.Input((6, 8))
    attention = keras.layers.MultiHeadAttention(2, key_dim=3, value_dim=5)
    model = keras.Model([query, value], attention(query, value))
    projections = 4 * 8 * 6 + 6 * 8 * 6 + 6 * 8 * 10 + 4 * 10 * 8
    assert count_flops(model) == projections + 2 * 4 * 6 * (3 + 5)
