"""DGCNN, DiffGCN and MGIC-DiffGCN trained on the digit point sets, one after the other.

Usage: python benchmarks/point_clouds.py [--epochs 30] [--points 128] [--write] [--quick]

Trains ``dgcnn``, ``diffgcn`` and ``mgic_diffgcn`` (the builders' defaults; the paper's
Sec. 5.4 skeleton, k = 10) with ``keras_mgic.training.train`` on ``digit_points`` (the
bundled handwritten digits as clouds of ``(x, y, intensity)`` points: 1,437 training and 360
test digits; the data set's training defaults, ``keras_mgic.training.DATASET_DEFAULTS``, and
its augmentation: rotation by at most 15 degrees, scaling, jitter), and reports for each the
test accuracy, the best test accuracy over the epochs, parameters, MACs at ``--points``
points per cloud and the median seconds per training epoch, with the MGIC / DiffGCN ratios.
The issue's target: MGIC-DiffGCN within 2 points of DiffGCN's accuracy at no more than a
third of its MACs. ``--write`` draws the three learning curves to
``docs/point_clouds_curves.png`` and writes the ``point_clouds`` section of BENCHMARKS.md;
``--quick`` (2 epochs on 64 clouds of 32 points) writes nothing.
"""

import argparse
import inspect
import os
import pathlib
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import REPO, command, environment, markdown_table, write_section  # noqa: E402

from keras_mgic import models, training  # noqa: E402

MODELS = {"DGCNN": "dgcnn", "DiffGCN": "diffgcn", "MGIC-DiffGCN": "mgic_diffgcn"}
DATASET = "digit_points"


def train_all(epochs, points, root, quick):
    limits = {"max_train_examples": 64, "max_test_examples": 32, "k": 4} if quick else {}
    k = limits.pop("k", None)
    runs = {}
    for label, name in MODELS.items():
        output = os.path.join(root, name)
        print(f"training {label} for {epochs} epochs", flush=True)
        metrics = training.train(
            name,
            DATASET,
            epochs=epochs,
            num_points=points,
            output=output,
            model_kwargs={"k": k} if k else None,
            **limits,
        )
        log = training.read_log(os.path.join(output, "log.csv"))
        runs[label] = (output, metrics, log)
        print(f"{label}: test accuracy {metrics['test_accuracy']:.4f}", flush=True)
    return runs


def training_table(runs):
    rows = []
    for label, (_, metrics, log) in runs.items():
        rows.append(
            (
                label,
                f"{100 * metrics['test_accuracy']:.1f}%",
                f"{100 * max(log['val_accuracy']):.1f}%",
                f"{metrics['params'] / 1e3:.1f}K",
                f"{metrics['flops'] / 1e6:.1f}M",
                f"{metrics['seconds_per_epoch']:.1f}",
            )
        )
    header = ["model", "test accuracy", "best epoch", "params", "MACs", "s / epoch"]
    return markdown_table(header, rows)


def mgic_defaults():
    """MGIC-DiffGCN's default s_g and s_c, read from the builder."""
    defaults = inspect.signature(models.MGICDiffGCN).parameters
    return f"s_g = {defaults['group_size'].default}, s_c = {defaults['coarsest_size'].default}"


def ratio_line(runs):
    """MGIC-DiffGCN against DiffGCN: accuracy difference and the cost ratios."""
    mgic, dense = runs["MGIC-DiffGCN"][1], runs["DiffGCN"][1]
    gap = 100 * (mgic["test_accuracy"] - dense["test_accuracy"])
    met = gap >= -2 and mgic["flops"] <= dense["flops"] / 3
    return (
        f"MGIC-DiffGCN against DiffGCN: accuracy {gap:+.1f} points, parameters "
        f"{mgic['params'] / dense['params']:.2f}, MACs {mgic['flops'] / dense['flops']:.2f}, "
        f"seconds per epoch {mgic['seconds_per_epoch'] / dense['seconds_per_epoch']:.2f}. "
        "Target (within 2 points at no more than a third of the MACs): "
        + ("met." if met else "**not met**.")
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--points", type=int, default=128)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md and docs/")
    parser.add_argument("--quick", action="store_true", help="smoke run, writes nothing")
    args = parser.parse_args(argv)
    epochs, points = (2, 32) if args.quick else (args.epochs, args.points)
    env = environment()
    print(env, flush=True)
    with tempfile.TemporaryDirectory() as root:
        runs = train_all(epochs, points, root, args.quick)
        table, ratios = training_table(runs), ratio_line(runs)
        print(table, ratios, sep="\n\n")
        if not args.write or args.quick:
            return
        training.plot_learning_curves(
            {label: os.path.join(output, "log.csv") for label, (output, _, _) in runs.items()},
            str(REPO / "docs" / "point_clouds_curves.png"),
            title=f"Point-cloud classifiers on {DATASET} ({points} points)",
        )
    first = runs["DGCNN"][1]
    text = (
        "## Point clouds: DGCNN, DiffGCN and MGIC-DiffGCN on the digit point sets\n\n"
        f"`{command()}`. Each model trained by `keras_mgic.training.train` for {epochs} "
        f"epochs on `{DATASET}` ({points} points per digit, 1,437 training and 360 test "
        f"digits; batch {first['batch_size']}, learning rate {first['learning_rate']}, "
        f"{first['schedule']} schedule, SGD with momentum, seed 0), one after the other, "
        f"with the builders' defaults (k = 10; DiffGCN: mass, gradient and Laplacian terms; "
        f"MGIC-DiffGCN: {mgic_defaults()}). MACs per cloud of {points} points (`count_flops`: "
        "k-NN distances, gathers and the products of DiffGCN's operators not counted); "
        "seconds are training seconds on this machine.\n"
        f"{env}\n\n{training_table(runs)}\n\n{ratio_line(runs)}\n\n"
        "Learning curves: `docs/point_clouds_curves.png`."
    )
    write_section("point_clouds", text)


if __name__ == "__main__":
    main()
