"""Reading a run's ``log.csv`` and drawing its learning curves (needs matplotlib)."""

import csv
import os


def read_log(path):
    """Reads a ``log.csv`` written by ``train`` into ``{column: [floats]}``.

    Example:

    >>> read_log("runs/demo/mgic_resnet20/log.csv")["accuracy"][-1]  # doctest: +SKIP
    0.98
    """
    columns = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for key, value in row.items():
                try:
                    columns.setdefault(key, []).append(float(value))
                except (TypeError, ValueError):
                    columns.setdefault(key, []).append(float("nan"))
    return columns


def plotting_available():
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_learning_curves(logs, path, title=None, metric="accuracy"):
    """Writes a PNG with loss (log scale) and ``metric`` per epoch (train solid, test dashed,
    a marker on every point, whole-epoch ticks).

    Args:
        logs: ``{label: log.csv path}``; one line pair per label.
        path: the PNG to write (written to a temporary name, then renamed).
        title: optional figure title.
        metric: the logged metric of the second panel (``"mean_iou"`` for segmentation).

    Returns:
        ``path``.

    Raises:
        ImportError: matplotlib is not installed.

    Example:

    >>> plot_learning_curves({"MGIC-ResNet-20": "runs/demo/mgic_resnet20/log.csv"},
    ...                      "runs/demo/curves.png")  # doctest: +SKIP
    'runs/demo/curves.png'
    """
    from keras_mgic.training.run_dir import atomic_write

    fig = learning_curve_figure(logs, title=title, metric=metric)
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(path, lambda temporary: fig.savefig(temporary, dpi=110, format="png"))
    plt.close(fig)
    return path


#: Markers on every point: a one-epoch run's single points stay visible, and a long run's
#: markers thin out (``markevery``) so the lines stay readable.
MARKERS = {"train": "o", "test": "s"}


def learning_curve_figure(logs, title=None, metric="accuracy"):
    """The matplotlib figure ``plot_learning_curves`` writes (loss and ``metric`` per epoch,
    a marker on every point, whole-epoch ticks); the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    keys = ("loss", metric)
    last = 1
    for index, (label, log_path) in enumerate(logs.items()):
        last = max(last, _plot_run(axes, read_log(log_path), label, f"C{index}", keys))
    axes[0].set_yscale("log")  # early test losses can be orders of magnitude above the rest
    for axis, key in zip(axes, keys, strict=True):
        # Whole epochs only: a 1- or 2-epoch run would otherwise get ticks such as 1.25.
        axis.set_xlim(0.5, last + 0.5)
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True, min_n_ticks=1))
        axis.set_xlabel("epoch")
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _plot_run(axes, columns, label, color, keys):
    epochs = [int(e) + 1 for e in columns.get("epoch", [])]
    style = {"color": color, "markersize": 4, "markevery": max(1, len(epochs) // 25)}
    for axis, key in zip(axes, keys, strict=True):
        if key in columns:
            axis.plot(
                epochs, columns[key], marker=MARKERS["train"], label=f"{label} train", **style
            )
        if f"val_{key}" in columns:
            axis.plot(
                epochs,
                columns[f"val_{key}"],
                "--",
                marker=MARKERS["test"],
                label=f"{label} test",
                **style,
            )
    return max(epochs, default=1)
