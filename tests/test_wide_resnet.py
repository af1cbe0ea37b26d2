"""Wide ResNets (WRN-d-k) and their MGIC twins; the hybrid switch ``mgic_min_width``."""

import math

import keras
import numpy as np
import pytest

from keras_mgic import compat, count_flops, models
from keras_mgic.layers import MGICBlock, PreActResidualBlock


def _wrn_weights(depth, k, classes=10):
    """Trainable weights of a dense WRN-depth-k, counted from the WRN paper's layout."""
    n = (depth - 4) // 6
    total, channels = 3 * 3 * 3 * 16, 16
    for width in (16 * k, 32 * k, 64 * k):
        # first block: BN(c_in), 3x3 c_in -> w, BN(w), 3x3 w -> w, 1x1 projection c_in -> w
        total += 2 * channels + 9 * channels * width + 2 * width + 9 * width**2
        total += channels * width
        total += (n - 1) * (2 * (2 * width) + 2 * 9 * width**2)
        channels = width
    return total + 2 * channels + channels * classes + classes


def _trainable(model):
    return sum(math.prod(w.shape) for w in model.trainable_weights)


@pytest.mark.parametrize("depth, k", [(10, 2), (16, 8), (28, 10)])
def test_dense_wide_resnet_has_the_papers_weights(depth, k):
    builders = {(16, 8): models.WideResNet16_8, (28, 10): models.WideResNet28_10}
    model = builders.get((depth, k), lambda: models.WideResNet(depth, k))()
    assert _trainable(model) == _wrn_weights(depth, k)
    if (depth, k) == (28, 10):  # 36.5M parameters, 5.2G multiply-adds at 32x32
        assert model.count_params() / 1e6 == pytest.approx(36.5, abs=0.05)
        assert count_flops(model) / 1e9 == pytest.approx(5.24, abs=0.01)
    assert model.name == f"wide_resnet{depth}_{k}"


def test_mgic_wide_resnet_uses_mgic_blocks_of_preact_blocks():
    dense, mgic = models.WideResNet28_10(), models.MGICWideResNet28_10()
    blocks = [layer for layer in mgic._flatten_layers() if isinstance(layer, MGICBlock)]
    assert len(blocks) == 12
    assert {b.get_config()["block"] for b in blocks} == {"preact_residual"}
    assert {b.group_size for b in blocks} == {16} and {b.coarsest_size for b in blocks} == {32}
    assert mgic.count_params() < 0.1 * dense.count_params()
    assert count_flops(mgic) < 0.2 * count_flops(dense)
    assert mgic.name == "mgic_wide_resnet28_10"
    assert mgic.get_layer("stage2_block1_transition").strides == 2


def test_small_wide_resnets_train_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 8, 8, 3)).astype("float32")
    y = np.arange(8) % 3
    for mgic in (False, True):
        model = models.WideResNet(
            10, 2, dropout_rate=0.3, mgic=mgic, group_size=8, input_shape=(8, 8, 3), classes=3
        )
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
        compat.build_training_state(model, (x[:1], y[:1]))  # one trace of the step, not two
        losses = model.fit(x, y, epochs=4, batch_size=8, verbose=0).history["loss"]
        assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
        path = str(tmp_path / f"wrn_{mgic}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(
            loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
        )


def _kinds(model):
    mgic = {layer.name for layer in model._flatten_layers() if isinstance(layer, MGICBlock)}
    return mgic


def test_mgic_min_width_keeps_narrow_blocks_dense():
    model = models.MGICWideResNet16_8(input_shape=(8, 8, 3), mgic_min_width=256)
    # widths 128, 256, 512: stage 1 dense, stages 2 and 3 MGIC
    assert _kinds(model) == {f"stage{s}_block{b}_mgic" for s in (2, 3) for b in (1, 2)}
    assert isinstance(model.get_layer("stage1_block2"), PreActResidualBlock)
    assert model.get_layer("stage1_block1_proj_conv") is not None
    everything = models.MGICWideResNet16_8(input_shape=(8, 8, 3))
    dense = models.WideResNet16_8(input_shape=(8, 8, 3))
    assert everything.count_params() < model.count_params() < dense.count_params()
    off = models.MGICWideResNet16_8(input_shape=(8, 8, 3), mgic_min_width=1024)
    assert not _kinds(off) and off.count_params() == dense.count_params()


def test_mgic_min_width_on_resnet50_and_mobilenet_v3():
    resnet = models.MGICResNet50(input_shape=(32, 32, 3), mgic_min_width=1024)
    assert {name.split("_")[0] for name in _kinds(resnet)} == {"stage3", "stage4"}
    assert resnet.get_layer("stage1_block1_proj_conv") is not None
    mobilenet = models.MGICMobileNetV3Small(
        input_shape=(32, 32, 3), mgic_min_width=48, group_size=8, coarsest_size=8
    )
    kept = sorted(int(name.split("_")[0][5:]) for name in _kinds(mobilenet))
    assert kept == [6, 7, 8, 9, 10]  # outputs 48, 48, 96, 96, 96 of MobileNetV3-Small
    assert mobilenet.get_layer("block0_project") is not None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(depth=30), "depth=30"),
        (dict(depth=4), "depth=4"),
        (dict(widen_factor=0), "widen_factor=0"),
        (dict(widen_factor=2.5), r"widen_factor=2\.5"),
        (dict(dropout_rate=1.0), r"dropout_rate=1\.0"),
        (dict(mgic=True, mgic_min_width=0), "mgic_min_width=0"),
        (dict(mgic=True, mgic_min_width="wide"), "mgic_min_width='wide'"),
        (dict(mgic=True, group_size=3), "group_size=3"),
        (dict(classes=0), "classes=0"),
        (dict(input_shape=(2, 2, 3)), r"input_shape=\(2, 2, 3\)"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.WideResNet(**{"depth": 10, "widen_factor": 1, **kwargs})


def test_mgic_min_width_is_checked_on_every_mgic_builder():
    for builder in (models.MGICResNet20, models.MGICMobileNetV3Small, models.MGICWideResNet16_8):
        with pytest.raises(ValueError, match="mgic_min_width=-1"):
            builder(mgic_min_width=-1)
