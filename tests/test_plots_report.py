"""Learning curves a user can read at any run length, and the steady seconds per epoch."""

import csv

import pytest

from keras_mgic.training import report

matplotlib = pytest.importorskip("matplotlib")


def _write_log(path, epochs):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "loss", "accuracy", "val_loss", "val_accuracy"])
        for epoch in range(epochs):
            writer.writerow([epoch, 1.0 / (epoch + 1), 0.5, 1.2 / (epoch + 1), 0.4])
    return str(path)


@pytest.mark.parametrize("epochs", [1, 2, 3, 40])
def test_curves_have_markers_and_whole_epoch_ticks(tmp_path, epochs):
    import matplotlib.pyplot as plt

    from keras_mgic.training.plots import learning_curve_figure

    fig = learning_curve_figure({"run": _write_log(tmp_path / "log.csv", epochs)})
    try:
        for axis in fig.axes:
            lines = axis.get_lines()
            assert len(lines) == 2  # train and test
            assert all(line.get_marker() not in (None, "", "None") for line in lines)
            ticks = [t for t in axis.get_xticks() if 1 <= t <= epochs]
            assert ticks, "no epoch tick inside the data"
            assert all(float(t).is_integer() for t in ticks)
    finally:
        plt.close(fig)


def test_plot_learning_curves_writes_a_png(tmp_path):
    from keras_mgic.training.plots import plot_learning_curves

    out = plot_learning_curves({"run": _write_log(tmp_path / "log.csv", 1)}, tmp_path / "c.png")
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_seconds_per_epoch_leaves_out_the_tracing_epoch():
    assert report.steady_seconds([600.0, 10.0, 12.0]) == (11.0, [0])
    # A single epoch is all there is: its time, tracing included, and nothing left out.
    assert report.steady_seconds([600.0]) == (600.0, [])
    assert report.steady_seconds([]) == (None, [])
    # A resumed process traced again at its first epoch (index 3).
    assert report.steady_seconds([600.0, 10.0, 10.0, 500.0, 14.0], initial_epoch=3) == (
        10.0,
        [0, 3],
    )
    assert report.steady_seconds([float("nan"), 10.0]) == (10.0, [])


def test_seconds_note_says_what_was_left_out():
    assert "epoch 1" in report._seconds_note([0])
    assert "single epoch" in report._seconds_note([])
