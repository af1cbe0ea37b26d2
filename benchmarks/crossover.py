"""From which width is one MGICBlock faster than the dense block? Per backend, train and infer.

Usage: python benchmarks/crossover.py [--write] [--quick] [--batch 4] [--sizes 8 16]
       [--widths 32 64 128 256 512 1024] [--group-size 16] [--coarsest-size 32]
       [--backends tensorflow tflite jax torch] [--rounds 15]

One MGICBlock (residual per-level block, group size 16, coarsest size 32) against the dense
ResNet basic block of the same width (the pair of ``block_scaling.py``), each as a
``keras.Model`` (Input -> block) compiled with SGD and mse, batch 4, 8x8 and 16x16. For the
TensorFlow (``jit_compile=False``), JAX and PyTorch backends (Keras's default compilation)
the median time of ``train_on_batch`` (forward, backward, update) and of
``predict_on_batch``, MGIC and dense alternating over rounds after warm-up (JAX compiles
outside the timings; ``_common.compare``); for TFLite, each model converted with
``keras_mgic.export.to_tflite`` (float32, batch 1, 2 threads, XNNPACK) and its ``invoke``
timed the same way. The Keras backend is fixed per process: one subprocess per backend.
Prints the ratio MGIC time / dense time per width and size (the median of the per-round
ratios, with their spread) and, per backend and mode, the crossover width: the smallest
width from which on the ratio stays below 1.
"""

import argparse
import functools
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _backend_workers as workers  # noqa: E402
import _common as bench  # noqa: E402
from _common import (  # noqa: E402
    REPO,
    environment,
    markdown_table,
    section_name,
    section_title,
    write_section,
)

SCRIPT = pathlib.Path(__file__).resolve()
BACKENDS = ("tensorflow", "tflite", "jax", "torch")
WIDTHS = (32, 64, 128, 256, 512, 1024)
SIZES = (8, 16)
TFLITE_THREADS = 2
MAX_REPEAT = 20
#: (column label, worker backend, mode): the columns of the ratio tables.
COLUMNS = (
    ("TF train", "tensorflow", "train"),
    ("TF inference", "tensorflow", "infer"),
    ("TFLite", "tensorflow", "tflite"),
    ("JAX train", "jax", "train"),
    ("JAX inference", "jax", "infer"),
    ("PyTorch train", "torch", "train"),
    ("PyTorch inference", "torch", "infer"),
)


# ----------------------------------------------------------------------- pure logic (tested)


def crossover(ratios):
    """The smallest width with ratio < 1 there and at every larger width, or None.

    ``ratios`` maps width to ratio (None: not measured, counted as not below 1).
    """
    found = None
    for width in sorted(ratios, reverse=True):
        ratio = ratios[width]
        if ratio is None or ratio >= 1:
            break
        found = width
    return found


def format_crossover(ratios):
    if not ratios or all(r is None for r in ratios.values()):
        return "—"
    width = crossover(ratios)
    return f"none up to {max(ratios)}" if width is None else str(width)


def format_ratio(comparison):
    return "—" if comparison is None else comparison.describe("mgic")


def _rows(results, backend, size):
    payload = results.get(backend) or {}
    return [row for row in payload.get("rows", []) if row["size"] == size]


def comparisons(results, size, widths):
    """``{column label: {width: Comparison of MGIC against dense, or None}}`` for one size.

    ``results`` maps a worker backend to its payload: ``{"rows": [{"size", "width",
    "params": {"mgic", "dense"}, "ms": {mode: {"mgic", "dense"}}, "load"}]}`` (or no rows),
    with the ms of each round in ``ms`` and the load average before and after in ``load``.
    """
    table = {}
    for label, backend, mode in COLUMNS:
        rows = {row["width"]: row for row in _rows(results, backend, size)}
        table[label] = {w: _comparison(rows.get(w), mode) for w in widths}
    return table


def _comparison(row, mode):
    """MGIC against dense in one mode of one worker row; None where it was not measured."""
    if row is None or mode not in row["ms"]:
        return None
    return bench.Comparison("dense", row["ms"][mode], *row["load"])


def ratios(results, size, widths):
    """``{column label: {width: MGIC / dense or None}}``: the medians of the per-round
    ratios (``comparisons``)."""
    return {
        label: {w: None if c is None else c.ratio("mgic") for w, c in column.items()}
        for label, column in comparisons(results, size, widths).items()
    }


def params(results, size):
    """``{width: (dense params, MGIC params)}`` from whichever worker measured the width."""
    found = {}
    for backend in results:
        for row in _rows(results, backend, size):
            found.setdefault(row["width"], (row["params"]["dense"], row["params"]["mgic"]))
    return found


def ratio_table(results, size, widths):
    """The markdown table of one size: a row per width, a ratio column per backend/mode."""
    columns, counts = comparisons(results, size, widths), params(results, size)
    rows = []
    for w in widths:
        dense, mgic = counts.get(w, (None, None))
        rows.append(
            (
                w,
                "—" if dense is None else f"{dense:,}",
                "—" if mgic is None else f"{mgic:,}",
                *(format_ratio(columns[label][w]) for label, _, _ in COLUMNS),
            )
        )
    return markdown_table(["width", "dense params", "MGIC params", *columns], rows)


def crossover_table(results, sizes, widths):
    """Rows: backend/mode; columns: sizes; cells: the crossover width."""
    per_size = {size: ratios(results, size, widths) for size in sizes}
    rows = [
        (label, *(format_crossover(per_size[size][label]) for size in sizes))
        for label, _, _ in COLUMNS
    ]
    return markdown_table(["backend / mode", *(f"{s}x{s}" for s in sizes)], rows)


# --------------------------------------------------------------------------------- timing


def _repeat(fn, target_s):
    """Calls per sample so that a sample takes about ``target_s`` (one timed call)."""
    start = time.perf_counter()
    fn()
    return max(1, min(MAX_REPEAT, round(target_s / (time.perf_counter() - start))))


def time_interleaved(fns, rounds, target_s):
    """A ``Comparison`` of ``fns`` (against the first), the functions alternating over
    ``rounds`` rounds of about ``target_s`` each (two warm-up calls each first: tracing, JAX
    compilation)."""
    for fn in fns.values():
        fn(), fn()
    repeats = {key: _repeat(fn, target_s) for key, fn in fns.items()}
    return bench.compare(fns, next(iter(fns)), rounds, repeats, warmup=0)


def _models(args, size, width):
    import keras

    from keras_mgic.layers import MGICBlock, ResidualBlock

    blocks = {
        "mgic": MGICBlock(args.group_size, args.coarsest_size),
        "dense": ResidualBlock(width),
    }
    compiled = {}
    for key, block in blocks.items():
        inputs = keras.Input((size, size, width))
        model = keras.Model(inputs, block(inputs), name=key)
        kwargs = {"jit_compile": False} if keras.backend.backend() == "tensorflow" else {}
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", **kwargs)
        compiled[key] = model
    return compiled


def _keras_fns(compiled, batch, size, width):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, size, size, width)).astype("float32")
    y = rng.normal(size=x.shape).astype("float32")
    fns = {}
    for key, model in compiled.items():
        fns[f"train/{key}"] = functools.partial(model.train_on_batch, x, y)
        fns[f"infer/{key}"] = functools.partial(model.predict_on_batch, x)
    return fns


def _tflite_fns(compiled, size, width, tmp):
    import numpy as np

    from keras_mgic import export

    x = np.random.default_rng(0).normal(size=(1, size, size, width)).astype("float32")
    fns = {}
    for key, model in compiled.items():
        path = export.to_tflite(model, pathlib.Path(tmp) / f"{key}_{size}_{width}.tflite")
        fns[f"tflite/{key}"] = bench.tflite_invoker(path, x, TFLITE_THREADS)
    return fns


def _nest(times):
    """``{"train/mgic": ms, ...}`` -> ``{"train": {"mgic": ms}, ...}`` (ms: one per round)."""
    nested = {}
    for key, ms in times.items():
        mode, model = key.split("/")
        nested.setdefault(mode, {})[model] = ms
    return nested


def _progress(backend, size, width, ms, seconds):
    parts = []
    for mode, times in ms.items():
        c = bench.Comparison("dense", times)
        parts.append(
            f"{mode} MGIC {c.median_ms('mgic'):.3g} / dense {c.median_ms('dense'):.3g} ms"
            f" = {c.describe('mgic')}"
        )
    line = f"[{backend}] {size}x{size} width {width}: " + "; ".join(parts)
    print(f"{line} ({seconds:.0f} s)", flush=True)


def measure(args, backend, size, width, tmp):
    """One row of the worker's payload: params, the ms of every mode per round, the load."""
    import keras

    start = time.perf_counter()
    compiled = _models(args, size, width)
    rounds, target_s = (2, 0.1) if args.quick else (args.rounds, 0.3)
    fns = {}
    if backend != "tensorflow" or "tensorflow" in args.backends:
        fns.update(_keras_fns(compiled, args.batch, size, width))
    if backend == "tensorflow" and "tflite" in args.backends:
        fns.update(_tflite_fns(compiled, size, width, tmp))
    comparison = time_interleaved(fns, rounds, target_s)
    ms = _nest(comparison.ms)
    _progress(backend, size, width, ms, time.perf_counter() - start)
    row = {
        "size": size,
        "width": width,
        "params": {key: model.count_params() for key, model in compiled.items()},
        "ms": ms,
        "load": [comparison.load_before, comparison.load_after],
    }
    keras.backend.clear_session()
    return row


def worker(args):
    """Runs in a process started with ``KERAS_BACKEND=args.worker``; prints one JSON line."""

    def rows(tmp):
        sizes_widths = [(size, width) for size in args.sizes for width in args.widths]
        return [measure(args, args.worker, size, width, tmp) for size, width in sizes_widths]

    workers.serve(args.worker, "tflite" in args.backends, rows)


# --------------------------------------------------------------------------------- parent


def _worker_command(args, backend):
    command = [sys.executable, str(SCRIPT), "--worker", backend, "--batch", str(args.batch)]
    command += ["--sizes", *map(str, args.sizes), "--widths", *map(str, args.widths)]
    command += ["--group-size", str(args.group_size), "--coarsest-size", str(args.coarsest_size)]
    command += ["--backends", *args.backends, "--rounds", str(args.rounds)]
    command += ["--quick"] if args.quick else []
    return command


def plot(results, sizes, widths, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 4), sharey=True, squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        for label, series in ratios(results, size, widths).items():
            points = [(w, r) for w, r in series.items() if r is not None]
            if points:
                ax.semilogx(*zip(*points, strict=True), "o-", base=2, label=label)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(widths, [str(w) for w in widths])
        ax.set_xlabel("channels")
        ax.set_title(f"{size}x{size}")
    axes[0][0].set_ylabel("MGIC time / dense time")
    axes[0][-1].legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(exist_ok=True)
    bench.savefig_atomically(fig, path)
    print(f"wrote {path}")


def report(args, results):
    """The tables as markdown: one ratio table per size, then the crossover table."""
    parts = [f"### {s}x{s}\n\n{ratio_table(results, s, args.widths)}" for s in args.sizes]
    parts.append(
        "### Crossover: smallest width from which on MGIC / dense < 1\n\n"
        + crossover_table(results, args.sizes, args.widths)
    )
    return "\n\n".join(parts)


def _write(args, env_lines, tables, results):
    section = section_name("crossover")
    plot(results, args.sizes, args.widths, REPO / "docs" / f"{section}.png")
    rounds = 2 if args.quick else args.rounds
    before, after = run_load(results)
    env = "; ".join(env_lines)
    text = (
        f"## {section_title('One block, MGIC / dense time against width, per backend')}\n\n"
        f"{bench.header(env=env)}\n"
        f"{rounds} interleaved rounds after warm-up per width and backend; ratios are the "
        "median of the per-round ratios (spread in brackets); load average "
        f"{before} before the first width, {after} after the last.\n\n"
        f"Batch {args.batch}; MGICBlock group size {args.group_size}, coarsest size "
        f"{args.coarsest_size}, vs ResidualBlock(width); `train_on_batch` and "
        "`predict_on_batch` of Input -> block, SGD + mse; TFLite float32 batch 1, "
        f"{TFLITE_THREADS} threads.\n\n{tables}\n\n![crossover](docs/{section}.png)"
    )
    write_section(section, text)


def run_load(results):
    """The load average before the workers' first measurement and after their last."""
    rows = [row for payload in results.values() for row in payload.get("rows", [])]
    return (rows[0]["load"][0], rows[-1]["load"][1]) if rows else (None, None)


def parse_args(argv):
    parser = bench.parser(
        __doc__, quick="fewer repeats", write="update BENCHMARKS.md and the plot", rounds=15
    )
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS))
    parser.add_argument("--group-size", type=int, default=16)
    parser.add_argument("--coarsest-size", type=int, default=32)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--worker", choices=tuple(workers.MODULES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for width in args.widths:
        if width <= 0 or width % args.group_size:
            parser.error(
                f"--widths: every width must be a positive multiple of --group-size "
                f"{args.group_size}; received {width}"
            )
    args.widths = sorted(args.widths)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    env_lines = [environment(), workers.version_line()]
    print("\n".join(env_lines), flush=True)
    backends = workers.worker_backends(args.backends)
    results = {b: workers.run_worker(_worker_command(args, b), b) for b in backends}
    env_lines += workers.worker_lines(results)
    tables = report(args, results)
    print("\n".join(env_lines[2:]))
    print(tables)
    if args.write:
        _write(args, env_lines, tables, results)


if __name__ == "__main__":
    main()
