"""DGCNN, DiffGCN and MGIC-DiffGCN trained on one point-cloud data set, one after the other.

Usage: python benchmarks/point_clouds.py [--dataset digit_points] [--epochs 30]
       [--points 128] [--write] [--quick]
       python benchmarks/point_clouds.py --dataset modelnet10 --data-dir /data/ModelNet10
       [--epochs 100] [--points 1024] [--write] [--quick]

Trains ``dgcnn``, ``diffgcn`` and ``mgic_diffgcn`` (the builders' defaults; the paper's
Sec. 5.4 skeleton, k = 10) with ``keras_mgic.training.train`` on ``--dataset``:

- ``digit_points`` (default): the bundled handwritten digits as clouds of
  ``(x, y, intensity)`` points, 1,437 training and 360 test digits, 128 points per cloud
  unless ``--points`` says otherwise; rotation by at most 15 degrees, scaling and jitter.
- ``modelnet10``: ModelNet-10's OFF meshes, 3,991 training and 908 test shapes as clouds
  of ``(x, y, z)`` points sampled on the surfaces, 1,024 per cloud (the paper's setting)
  unless ``--points`` says otherwise. ``--data-dir`` names the ``ModelNet10`` folder or its
  parent, laid out as ``ModelNet10/<class>/{train,test}/<name>.off`` (as ``ModelNet10.zip``
  from the Princeton ModelNet page unpacks). The package downloads nothing.

Each data set trains with its own augmentation and ``training.train``'s recipe defaults
(``keras_mgic.training.DATASET_DEFAULTS``: batch 32 and learning rate 0.05 for the digits;
ModelNet-10 has no entry there and gets the general batch 128 and learning rate 0.1). The
script reports for each model the test accuracy, the best test accuracy over the epochs,
parameters, MACs at the cloud size and the median seconds per training epoch, with the
MGIC / DiffGCN ratios. The target: MGIC-DiffGCN within 2 points of DiffGCN's accuracy at no
more than a third of its MACs. ``--write`` draws the three learning curves to
``docs/point_clouds_curves.png`` and writes the ``point_clouds`` section of BENCHMARKS.md
(on ModelNet-10: ``docs/point_clouds_modelnet10_curves.png`` and the
``point_clouds_modelnet10`` section, so the digits' results stay); ``--quick`` (2 epochs on
at most 64 training and 32 test clouds of 32 points, k = 3) writes nothing.
"""

import dataclasses
import inspect
import os
import pathlib
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common as bench  # noqa: E402

from keras_mgic import models, training  # noqa: E402
from keras_mgic.data.modelnet import SPLITS, mesh_files, modelnet_root  # noqa: E402

MODELS = {"DGCNN": "dgcnn", "DiffGCN": "diffgcn", "MGIC-DiffGCN": "mgic_diffgcn"}
MODELNET10 = "modelnet10"


@dataclasses.dataclass(frozen=True)
class DataSet:
    """What the script needs to know of a data set: its default cloud size, the name of a
    cloud in the section's text, and where ``--write`` puts its section and figure."""

    points: int
    cloud: str
    title: str
    section: str
    figure: str


DATASETS = {
    "digit_points": DataSet(
        128, "digit", "the digit point sets", "point_clouds", "point_clouds_curves.png"
    ),
    MODELNET10: DataSet(
        1024,
        "shape",
        "ModelNet-10",
        "point_clouds_modelnet10",
        "point_clouds_modelnet10_curves.png",
    ),
}
#: A ``--quick`` run: 2 epochs on at most 64 training and 32 test clouds of 32 points, k = 3
#: (DiffGCN's multigrid pooling halves the points 3 times and needs k + 1 left: 32 / 8 = 4).
QUICK = {"epochs": 2, "points": 32, "max_train_examples": 64, "max_test_examples": 32, "k": 3}
#: ``--quick``'s batch on ModelNet-10, whose default batch (128) exceeds 64 clouds.
QUICK_MODELNET_BATCH = 4


def parse(argv=None):
    """The command line, with ``--points`` resolved to the data set's default and
    ``--data-dir`` checked (``parser.error`` names the flag)."""
    parser = bench.parser(
        __doc__,
        quick="2 epochs on at most 64 training and 32 test clouds of 32 points, writes nothing",
        write="update BENCHMARKS.md and the learning-curve figure in docs/",
    )
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="digit_points")
    parser.add_argument(
        "--data-dir", help="the ModelNet10 folder or its parent (required for modelnet10)"
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--points", type=int, help="points per cloud (default: 128 digits, 1,024 ModelNet-10)"
    )
    args = parser.parse_args(argv)
    if args.points is None:
        args.points = DATASETS[args.dataset].points
    check_data_dir(parser, args)
    return args


def check_data_dir(parser, args):
    """``--data-dir`` goes with modelnet10 only, and must hold ModelNet-10's layout with
    ``.off`` files in both splits (the errors of ``keras_mgic.data.modelnet``)."""
    if args.dataset != MODELNET10:
        if args.data_dir is not None:
            parser.error(f"--data-dir is read only with --dataset {MODELNET10}")
        return
    if args.data_dir is None:
        parser.error(
            f"--dataset {MODELNET10} needs --data-dir: the ModelNet10 folder "
            "(ModelNet10/<class>/{train,test}/*.off, unpacked from ModelNet10.zip of the "
            "Princeton ModelNet page; nothing is downloaded)"
        )
    try:
        root = modelnet_root(args.data_dir)
        for split in SPLITS:
            if not mesh_files(root, split):
                raise ValueError(
                    f"The {split} split has no .off files. "
                    f"Received: data_dir={str(args.data_dir)!r}"
                )
    except ValueError as error:
        parser.error(f"--data-dir: {error}")


def train_settings(dataset, data_dir, quick):
    """``training.train``'s data and size arguments beyond the model, epochs and points."""
    settings = {"data_dir": data_dir}
    if quick:
        settings.update(
            max_train_examples=QUICK["max_train_examples"],
            max_test_examples=QUICK["max_test_examples"],
            model_kwargs={"k": QUICK["k"]},
        )
        if dataset == MODELNET10:
            settings["batch_size"] = QUICK_MODELNET_BATCH
    return settings


def train_all(dataset, epochs, points, root, settings):
    """Trains the three models one after the other; ``{label: (output, metrics, log)}``."""
    runs = {}
    for label, name in MODELS.items():
        output = os.path.join(root, name)
        print(f"training {label} on {dataset} for {epochs} epochs", flush=True)
        metrics = training.train(
            name, dataset, epochs=epochs, num_points=points, output=output, **settings
        )
        log = training.read_log(os.path.join(output, "log.csv"))
        runs[label] = (output, metrics, log)
        print(f"{label}: test accuracy {metrics['test_accuracy']:.4f}", flush=True)
    return runs


def training_table(runs):
    """One row per model: accuracy, best epoch's accuracy, parameters, MACs, s / epoch."""
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
    return bench.markdown_table(header, rows)


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


def section(runs, dataset, epochs, points, env, argv=None):
    """The BENCHMARKS.md section of a run (written by ``--write``)."""
    spec, first = DATASETS[dataset], runs["DGCNN"][1]
    cloud = spec.cloud
    return (
        f"## Point clouds: DGCNN, DiffGCN and MGIC-DiffGCN on {spec.title}\n\n"
        f"{bench.header(argv=argv, env=env)}\n\n"
        f"Each model trained by `keras_mgic.training.train` for {epochs} epochs on "
        f"`{dataset}` ({points} points per {cloud}, {first['num_train']:,} training and "
        f"{first['num_test']:,} test {cloud}s; batch {first['batch_size']}, learning rate "
        f"{first['learning_rate']}, {first['schedule']} schedule, SGD with momentum, seed 0), "
        "one after the other, with the builders' defaults (k = 10; DiffGCN: mass, gradient "
        f"and Laplacian terms; MGIC-DiffGCN: {mgic_defaults()}). MACs per cloud of {points} "
        "points (`count_flops`: k-NN distances, gathers and the products of DiffGCN's "
        "operators not counted); seconds are training seconds on this machine.\n\n"
        f"{training_table(runs)}\n\n{ratio_line(runs)}\n\n"
        f"Learning curves: `docs/{spec.figure}`."
    )


def plot(runs, dataset, points):
    """The three learning curves, to the data set's figure in ``docs/``."""
    training.plot_learning_curves(
        {label: os.path.join(output, "log.csv") for label, (output, _, _) in runs.items()},
        str(bench.REPO / "docs" / DATASETS[dataset].figure),
        title=f"Point-cloud classifiers on {dataset} ({points} points)",
    )


def main(argv=None):
    args = parse(argv)
    epochs, points = (
        (QUICK["epochs"], QUICK["points"]) if args.quick else (args.epochs, args.points)
    )
    settings = train_settings(args.dataset, args.data_dir, args.quick)
    env = bench.announce()
    run_argv = sys.argv if argv is None else ["point_clouds.py", *argv]
    with tempfile.TemporaryDirectory() as root:
        runs = train_all(args.dataset, epochs, points, root, settings)
        print(training_table(runs), ratio_line(runs), sep="\n\n")
        if not args.write or args.quick:
            return runs
        plot(runs, args.dataset, points)
    text = section(runs, args.dataset, epochs, points, env, run_argv)
    bench.write_section(DATASETS[args.dataset].section, text)
    return runs


if __name__ == "__main__":
    main()
