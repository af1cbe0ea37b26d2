"""benchmarks/init_curves.py: identical batches, the transfers' re-initialization, a smoke run."""

import json
import pathlib
import runpy

import keras
import numpy as np
import pytest

from keras_mgic.initializers import ChannelAveraging, NoisyChannelAveraging
from keras_mgic.layers import ChannelProlongation, ChannelRestriction, MGICBlock

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "init_curves.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def _small_model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4, 4, 16))
    x = MGICBlock(group_size=4, coarsest_size=4)(inputs)
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs)


def test_epoch_batches_are_deterministic_crops_of_the_padded_images(script):
    x = np.arange(10 * 6 * 6 * 3, dtype=np.float32).reshape(10, 6, 6, 3)
    y = np.arange(10)
    a, ya = script["epoch_batches"](x, y, seed=1, epoch=2, batch_size=4)
    b, yb = script["epoch_batches"](x, y, seed=1, epoch=2, batch_size=4)
    c, _ = script["epoch_batches"](x, y, seed=1, epoch=3, batch_size=4)
    assert a.shape == (8, 6, 6, 3) and ya.shape == (8,)  # full batches only: 2 x 4 of 10
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)
    assert len(set(ya.tolist())) == 8  # a permutation: no image twice
    padded = np.pad(x, ((0, 0), (4, 4), (4, 4), (0, 0)))
    for crop, label in zip(a, ya, strict=True):
        windows = [padded[label, r : r + 6, q : q + 6] for r in range(9) for q in range(9)]
        assert any(np.array_equal(crop, w) for w in windows)


def test_transfer_layers_and_their_reinitialization(script):
    model = _small_model()
    layers = script["transfer_layers"](model)
    restrictions = [layer for layer in layers if isinstance(layer, ChannelRestriction)]
    prolongations = [layer for layer in layers if isinstance(layer, ChannelProlongation)]
    assert len(restrictions) == len(prolongations) >= 2
    assert len(layers) == len(restrictions) + len(prolongations)
    kernels = {id(layer.kernel) for layer in layers}
    others = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights if id(w) not in kernels}

    count = script["reinitialize_transfers"](model, lambda seed: ChannelAveraging(), seed=0)
    assert count == len(layers)
    for layer in layers:
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        np.testing.assert_allclose(kernel, np.full(kernel.shape, 1 / kernel.shape[2]))
    count = script["reinitialize_transfers"](model, lambda s: NoisyChannelAveraging(seed=s), 0)
    draws = [keras.ops.convert_to_numpy(layer.kernel) for layer in layers]
    for layer, kernel in zip(layers, draws, strict=True):
        expected = NoisyChannelAveraging(seed=layers.index(layer))(kernel.shape)
        np.testing.assert_array_equal(kernel, keras.ops.convert_to_numpy(expected))
    for w in model.weights:  # nothing else changed
        if id(w) not in kernels:
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(w), others[w.path])


def test_same_seed_same_non_transfer_weights():
    a = [keras.ops.convert_to_numpy(w) for w in _small_model(3).weights]
    b = [keras.ops.convert_to_numpy(w) for w in _small_model(3).weights]
    assert len(a) == len(b) > 10
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_train_a_small_model_with_identical_batches(script):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4, 4, 16)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    data = ((x, y), (x[:4], y[:4]))

    def build(input_shape, seed):
        model = _small_model(seed)
        return keras.Model(model.inputs, keras.layers.Softmax()(model.outputs[0]))

    runs = [
        script["train"](
            "channel_averaging", lambda s: ChannelAveraging(), data, 0, 2, 8, 0.1, build=build
        )
        for _ in range(2)
    ]
    assert len(runs[0]["losses"]) == 2 and np.isfinite(runs[0]["losses"]).all()
    # Same seed, same initializer, same batches: the same curve.
    np.testing.assert_allclose(runs[0]["losses"], runs[1]["losses"], rtol=1e-5)
    assert runs[0]["kernels"] == len(script["transfer_layers"](build(None, 0)))


def test_from_json_merges_seeds_without_training(script, tmp_path):
    def record(path, seed_losses, accuracies):
        runs = [
            {"losses": losses, "accuracy": accuracy, "kernels": 36}
            for losses, accuracy in zip(seed_losses, accuracies, strict=True)
        ]
        path.write_text(json.dumps({"command": f"run {path.name}", "runs": {"a": runs}}))
        return str(path)

    first = record(tmp_path / "s01.json", [[2.0, 1.0], [4.0, 3.0]], [0.5, 0.7])
    second = record(tmp_path / "s2.json", [[3.0, 2.0]], [0.9])
    results = script["main"](["--from-json", first, second, "--seeds", "0", "1", "2"])
    np.testing.assert_allclose(results["a"]["losses"], [3.0, 2.0])
    assert results["a"]["accuracy"] == pytest.approx(0.7)
    assert results["a"]["seed_losses"] == [[2.0, 1.0], [4.0, 3.0], [3.0, 2.0]]


@pytest.mark.slow
def test_smoke_run(script):
    results = script["main"](
        ["--smoke", "--epochs", "1", "--seeds", "0", "--initializers", "channel_averaging"]
    )
    result = results["channel_averaging"]
    assert len(result["losses"]) == 1 and np.isfinite(result["losses"]).all()
    assert 0.0 <= result["accuracy"] <= 1.0
    # 3 blocks per stage; levels (reference rule, s_g 8, s_c 16): 16, 8 / 32, 16, 8 /
    # 64, 32, 16, 8, i.e. 1 + 2 + 3 restrictions and as many prolongations per block triple.
    assert result["kernels"] == 36
