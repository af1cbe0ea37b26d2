"""benchmarks/mobilenet_v3_accuracy.py: the cluttered-digits generator, the summary and the
verdict from given results, and ``--from-json`` (the training itself runs in the benchmark,
not here)."""

import json
import pathlib
import runpy

import numpy as np
import pytest

pytest.importorskip("sklearn")

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "mobilenet_v3_accuracy.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits()


def test_canvases_are_raw_grayscale_pixels(script):
    x, y = script["cluttered_digits"]("train", 6, seed=0)
    assert x.shape == (6, 64, 64, 1) and x.dtype == np.float32
    assert x.min() >= 0 and 100 < x.max() <= 255 and np.array_equal(x, np.round(x))
    assert y.shape == (6,) and y.dtype == np.int64 and set(y) <= set(range(10))


def test_the_label_is_the_placed_digits_class(script, digits):
    x, y, sources = script["cluttered_digits"](
        "test", 8, seed=3, size=32, digit_sizes=(8, 8), clutter=(0, 0), with_sources=True
    )
    for image, label, (digit, patches) in zip(x[..., 0], y, sources, strict=True):
        assert patches == [] and label == digits.target[digit]
        rows, cols = np.nonzero(image)
        ink = image[rows.min() :, cols.min() :][:8, :8]
        source = digits.images[digit]
        # The digit, at one brightness (rounded to whole pixel values), shifted so that its
        # first inked row and column come first.
        crop = source[source.any(1)][:, source.any(0)]
        scale = ink.max() / crop.max()
        np.testing.assert_allclose(ink[: crop.shape[0], : crop.shape[1]], crop * scale, atol=1.0)


def test_train_and_test_draw_from_disjoint_digits(script, digits):
    from keras_mgic.data.digits import digits_split_indices

    train, test = (set(ids) for ids in digits_split_indices(digits.target))
    used = {}
    for split in ("train", "test"):
        _, _, sources = script["cluttered_digits"](split, 40, seed=0, with_sources=True)
        used[split] = {i for digit, patches in sources for i in (digit, *patches)}
        assert all(6 <= len(patches) <= 8 for _, patches in sources)
        assert all(digit not in patches for digit, patches in sources)
    assert used["train"] <= train and used["test"] <= test
    assert not used["train"] & used["test"]


def test_canvases_are_deterministic_for_a_seed(script):
    first, second, other = (script["cluttered_digits"]("train", 4, seed=s) for s in (1, 1, 2))
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert not np.array_equal(first[0], other[0])


def _run(accuracy, seconds, params=1_527_818, macs=5_207_808):
    return {
        "accuracy": accuracy,
        "curve": [accuracy / 2, accuracy],
        "epoch_s": seconds,
        "params": params,
        "macs": macs,
    }


def _results():
    dense, mgic = "MobileNetV3-Small", "MGIC-MobileNetV3-Small"
    small = {"params": 1_510_282, "macs": 4_501_824}
    return [
        {dense: _run(0.80, 10.0), mgic: _run(0.78, 12.0, **small)},
        {dense: _run(0.84, 12.0), mgic: _run(0.80, 12.0, **small)},
    ]


def test_summary_has_mean_range_params_macs_and_seconds(script):
    assert script["_summary"](_results()) == [
        ("MobileNetV3-Small", "82.0 (80.0-84.0)", "1.53M", "5.21M", "11.0"),
        ("MGIC-MobileNetV3-Small", "79.0 (78.0-80.0)", "1.51M", "4.50M", "12.0"),
    ]


def test_verdict_is_computed_from_the_results(script):
    text = script["verdict"](_results())
    assert text.startswith("MGIC-MobileNetV3-Small: 3.0 points below the dense twin's mean")
    assert "below the dense seeds' range, 80.0-84.0" in text
    assert "0.99 of its parameters, 0.86 of its MACs and 1.10 of its seconds" in text
    assert "fewer parameters holds, fewer MACs holds, higher accuracy does not hold" in text
    close = _results()
    close[0]["MGIC-MobileNetV3-Small"]["accuracy"] = 0.86
    text = script["verdict"](close)
    assert "1.0 points above" in text and "(within the dense seeds' range" in text
    assert "higher accuracy not shown here" in text


def test_plot_writes_the_figure(script, saved_figures):
    pytest.importorskip("matplotlib")
    script["plot"](_results(), epochs=2)
    assert [path.name for path in saved_figures] == ["mobilenet_v3_accuracy.png"]
    assert saved_figures[0].stat().st_size


def test_from_json_writes_the_section_without_training(script, monkeypatch, tmp_path, capsys):
    saved = {
        "training": _results(),
        "settings": {
            "epochs": 2,
            "train": 3000,
            "test": 1000,
            "size": 32,
            "digit_sizes": [12, 24],
            "clutter": [0, 0],
        },
        "argv": ["mobilenet_v3_accuracy.py", "--write"],
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(saved))
    bench = script["main"].__globals__["bench"]
    written = {}
    monkeypatch.setitem(bench.__dict__, "write_section", written.__setitem__)
    monkeypatch.setitem(script["main"].__globals__, "plot", lambda results, epochs: None)
    script["main"](["--from-json", str(path), "--write"])
    out = capsys.readouterr().out
    assert "`python benchmarks/mobilenet_v3_accuracy.py --write`" in out
    assert "| MGIC-MobileNetV3-Small | 79.0 (78.0-80.0) | 1.51M | 4.50M | 12.0 |" in out
    assert "3,000 training canvases" in out and "2 epochs, 2 seeds" in out
    assert "a 32x32 grayscale canvas" in out and "12-24 px at a random place on an empty" in out
    assert "`input_shape=(32, 32, 1)`" in out
    assert list(written) == ["mobilenet_v3_accuracy"]
    assert written["mobilenet_v3_accuracy"].startswith(script["TITLE"])
