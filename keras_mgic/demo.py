"""The offline demo: MGIC-ResNet-20 against its dense twin ResNet-20 on real data.

Run with ``python -m keras_mgic.demo`` (what ``make demo`` does). Both networks are trained
with the same recipe (``keras_mgic.training.train``: SGD momentum 0.9, decoupled weight decay
1e-4, cosine schedule, pad-and-crop augmentation) on scikit-learn's bundled handwritten
digits upsampled to 32x32 RGB (``keras_mgic.data``: 1,437 training and 360 test images, a
fixed stratified split, nothing downloaded). Afterwards the demo prints a side-by-side table
of test accuracy, trainable parameters, FLOPs (multiply-adds) and training seconds per epoch,
and writes::

    runs/demo/learning_curves.png        both models' loss and accuracy per epoch
    runs/demo/results.json               the table as JSON
    runs/demo/<model>/...                each run's model.keras, metrics.json, log.csv, plot

It takes a few minutes on a 2-core CPU. ``--epochs``, ``--batch-size`` and
``--learning-rate`` change the recipe; ``--quick`` runs one epoch on a slice (a smoke test).
Running it again replaces the previous demo's runs in the output folder (it trains with
``overwrite=True``); an interrupted demo resumes each run after its last completed epoch. The
same seed gives the same table on the same machine (TensorFlow's deterministic kernels).

Example:

>>> from keras_mgic import demo
>>> demo.main(["--quick", "--output", "runs/demo_quick"])  # doctest: +SKIP
0
"""

import argparse
import os
import sys
import time

from keras_mgic.commands import arguments as types

#: The two networks the demo compares: (model name, display name).
MODELS = (("mgic_resnet20", "MGIC-ResNet-20"), ("resnet20", "ResNet-20"))
#: The demo's recipe (tuned to finish in a few minutes on a 2-core CPU).
EPOCHS = 20
BATCH_SIZE = 64
LEARNING_RATE = 0.05


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m keras_mgic.demo",
        description="Train MGIC-ResNet-20 and ResNet-20 on the offline digits data set.",
    )
    parser.add_argument("--epochs", type=types.positive_int, default=EPOCHS)
    parser.add_argument("--batch-size", type=types.positive_int, default=BATCH_SIZE)
    parser.add_argument("--learning-rate", type=types.positive_float, default=LEARNING_RATE)
    parser.add_argument("--output", default=os.path.join("runs", "demo"))
    parser.add_argument(
        "--quick", action="store_true", help="one epoch on 128 examples (smoke test)"
    )
    parser.add_argument("--seed", type=types.non_negative_int, default=0)
    return parser


def format_table(rows):
    """The side-by-side table of the demo's results.

    Args:
        rows: list of dicts with ``name``, ``test_accuracy``, ``params``, ``flops``,
            ``seconds_per_epoch`` (median training seconds of an epoch) and optionally
            ``fit_seconds`` (the whole ``model.fit``, first-epoch tracing included).

    Returns:
        The table as a string.

    Example:

    >>> print(format_table([{"name": "A", "test_accuracy": 0.9, "params": 1000,
    ...                      "flops": 2_000_000, "seconds_per_epoch": 1.5}]))
    model | test accuracy | params | FLOPs (MACs) | s/epoch | fit s
    ----- | ------------- | ------ | ------------ | ------- | -----
    A     |        90.00% |  1.00K |        2.00M |    1.50 |   n/a
    """

    def human(value):
        if value is None:
            return "n/a"
        for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
            if value >= scale:
                return f"{value / scale:.2f}{unit}"
        return str(value)

    def seconds(value):
        return "n/a" if value is None else f"{value:.2f}"

    header = ("model", "test accuracy", "params", "FLOPs (MACs)", "s/epoch", "fit s")
    lines = [
        (
            row["name"],
            f"{100 * row['test_accuracy']:.2f}%",
            human(row["params"]),
            human(row["flops"]),
            seconds(row["seconds_per_epoch"]),
            seconds(row.get("fit_seconds")),
        )
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]

    def render(cells, align_right):
        out = []
        for index, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            right = align_right and index > 0
            out.append(str(cell).rjust(width) if right else str(cell).ljust(width))
        return " | ".join(out).rstrip()

    table = [render(header, False), " | ".join("-" * w for w in widths)]
    table += [render(line, True) for line in lines]
    return "\n".join(table)


def main(argv=None):
    args = build_parser().parse_args(argv)
    from keras_mgic.commands.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()  # no TensorFlow start-up lines: an error is one line
    try:
        return _run(args)
    except (ValueError, FileNotFoundError) as error:  # a bad output folder, a bad value
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"{build_parser().prog}: error: {message}", file=sys.stderr)
        return 2


def _run(args):
    from keras_mgic.training import run_dir

    run_dir.check_output(args.output)
    epochs = 1 if args.quick else args.epochs
    start = time.perf_counter()
    rows = [
        _train(args, index, model, display, epochs)
        for index, (model, display) in enumerate(MODELS, start=1)
    ]
    wall = time.perf_counter() - start
    plot = _plot(args.output, rows)
    run_dir.write_json(
        os.path.join(args.output, "results.json"), _summary(args, epochs, wall, rows)
    )
    print()
    print(format_table(rows))
    print()
    print(f"Total wall time {wall:.0f} s. Learning curves: {plot or 'not drawn (no matplotlib)'}")
    print(f"Models, logs and metrics: {args.output}/<model>/")
    return 0


def _train(args, index, model, display, epochs):
    """Trains one network of the pair; returns its table row (metrics and display name)."""
    from keras_mgic.training import train

    print(
        f"[{index}/{len(MODELS)}] Training {display} on digits (32x32 RGB, 10 classes) for "
        f"{epochs} epochs, batch {args.batch_size}, lr {args.learning_rate}, cosine ...",
        flush=True,
    )
    limit = 128 if args.quick else None
    metrics = train(
        model,
        "digits",
        epochs=epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        schedule="cosine",
        output=os.path.join(args.output, model),
        max_train_examples=limit,
        max_test_examples=limit,
        seed=args.seed,
        overwrite=True,  # the demo's own folder: a second `make demo` replaces the first
        verbose="auto",  # a progress bar on a terminal, a line per epoch when piped
    )
    print(
        f"    {display}: test accuracy {100 * metrics['test_accuracy']:.2f}% "
        f"({metrics['seconds_per_epoch']:.2f} s/epoch)",
        flush=True,
    )
    return {"name": display, "model": model, **metrics}


def _plot(output, rows):
    from keras_mgic.training import plot_learning_curves
    from keras_mgic.training.plots import plotting_available

    if not plotting_available():
        return None
    logs = {row["name"]: os.path.join(output, row["model"], "log.csv") for row in rows}
    return plot_learning_curves(
        logs,
        os.path.join(output, "learning_curves.png"),
        title="MGIC-ResNet-20 vs ResNet-20 on digits (test = 360 held-out images)",
    )


def _summary(args, epochs, wall, rows):
    keys = ("name", "model", "test_accuracy", "params", "flops", "seconds_per_epoch")
    keys += ("fit_seconds", "epochs_completed")
    return {
        "dataset": "digits (sklearn, 1437 train / 360 test, 32x32 RGB)",
        "epochs": epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "wall_seconds": wall,
        "results": [{key: row[key] for key in keys} for row in rows],
    }


if __name__ == "__main__":
    sys.exit(main())
