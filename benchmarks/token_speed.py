"""Token models' wall-clock on TensorFlow, JAX and TFLite: MGIC over dense, layer and model.

Usage: python benchmarks/token_speed.py [--write] [--quick] [--rounds 15] [--repeat 2]
       [--backends tensorflow tflite jax] [--widths ViT-S ViT-B] [--depth 2] [--batch 8]

Three subjects, each a dense model and its MGIC twin built by the same code:

- the feed-forward alone: ``Input((197, d)) -> Dense(4d, gelu) -> Dense(d)`` against
  ``MGICFeedForward(4d)`` with its defaults (``group_size=64, coarsest_size=128``);
- the whole ViT (``keras_mgic.models.VisionTransformer(mgic=False/True)``) and
- the whole MLP-Mixer (``MLPMixer``): 224x224x3 images, 16x16 patches (196 tokens),
  ``--depth`` blocks, ``d / 64`` attention heads, 10 classes;

at ViT-S (d = 384, hidden 1536) and ViT-B (d = 768, hidden 3072) widths, batch 8. On the
TensorFlow (``jit_compile=False``, what ``fit`` uses on a CPU) and JAX (Keras's default
XLA compilation) backends: ``train_on_batch`` (forward, gradients, SGD update; the loss is
mse for the feed-forward and cross-entropy for the models) and ``predict_on_batch``. On
TFLite: each model converted with ``keras_mgic.export.to_tflite`` (float32), batch 1, 2
threads, ``invoke``. Each dense / MGIC pair is timed in interleaved rounds after warm-up
(``_common.compare``); the figure is the median of the per-round ratios MGIC / dense, with
its spread. Keras fixes its backend per process: one worker process per backend
(``_backend_workers``), TFLite inside the TensorFlow one.

The feed-forward's TensorFlow training step with the input gradient a transformer also
needs (the layer's own target) is timed by ``feed_forward.py``.
"""

import argparse
import pathlib
import sys

import numpy as np

SCRIPT = pathlib.Path(__file__).resolve()
sys.path.insert(0, str(SCRIPT.parent))
import _backend_workers as workers  # noqa: E402
import _common as bench  # noqa: E402

BACKENDS = ("tensorflow", "tflite", "jax")
WIDTHS = {"ViT-S": 384, "ViT-B": 768}
SUBJECTS = ("feed-forward", "ViT", "Mixer")
TOKENS = 197
IMAGE = 224
TFLITE_THREADS = 2
#: (column label, worker backend, mode): the ratio table's columns.
COLUMNS = (
    ("TF train", "tensorflow", "train"),
    ("TF inference", "tensorflow", "infer"),
    ("JAX train", "jax", "train"),
    ("JAX inference", "jax", "infer"),
    ("TFLite (batch 1)", "tensorflow", "tflite"),
)


# ----------------------------------------------------------------------------- worker


def _feed_forward(mgic, d, tokens):
    import keras

    from keras_mgic.layers import MGICFeedForward

    inputs = keras.Input((tokens, d))
    if mgic:
        return keras.Model(inputs, MGICFeedForward(4 * d)(inputs))
    hidden = keras.layers.Dense(4 * d, activation="gelu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(d)(hidden))


def build(subject, mgic, d, args):
    """The compiled dense (``mgic=False``) or MGIC model of ``subject`` at width ``d``."""
    import keras

    from keras_mgic.models import MLPMixer, VisionTransformer

    if subject == "feed-forward":
        model, loss = _feed_forward(mgic, d, args.tokens), "mse"
    else:
        kwargs = dict(dim=d, mlp_ratio=4, patch_size=16, depth=args.depth, classes=10)
        kwargs["input_shape"] = (args.image, args.image, 3)
        if subject == "ViT":
            model = VisionTransformer(heads=max(1, d // 64), mgic=mgic, **kwargs)
        else:
            model = MLPMixer(mgic=mgic, **kwargs)
        loss = "sparse_categorical_crossentropy"
    compile_kwargs = {"jit_compile": False} if keras.backend.backend() == "tensorflow" else {}
    model.compile(optimizer=keras.optimizers.SGD(1e-4), loss=loss, **compile_kwargs)
    return model


def _batch(model, batch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, *model.input_shape[1:])).astype("float32")
    if model.output_shape[-1] == 10:
        return x, np.arange(batch) % 10
    return x, rng.normal(size=(batch, *model.output_shape[1:])).astype("float32")


def _keras_fns(models, batch):
    fns = {"train": {}, "infer": {}}
    for key, model in models.items():
        x, y = _batch(model, batch)
        fns["train"][key] = lambda model=model, x=x, y=y: model.train_on_batch(x, y)
        fns["infer"][key] = lambda model=model, x=x: model.predict_on_batch(x)
    return fns


def _tflite_fns(models, tmp):
    from keras_mgic import export

    fns = {}
    for key, model in models.items():
        path = export.to_tflite(model, pathlib.Path(tmp) / f"{model.name}_{key}.tflite")
        x, _ = _batch(model, 1)
        fns[key] = bench.tflite_invoker(path, x, TFLITE_THREADS)
    return fns


def _counts(models):
    from keras_mgic import count_flops, count_params

    dense, mgic = models["dense"], models["mgic"]
    return {
        "params": [count_params(dense), count_params(mgic)],
        "macs": [count_flops(dense), count_flops(mgic)],
    }


def _row(comparison):
    low, high = comparison.spread("mgic")
    return {
        "ratio": comparison.ratio("mgic"),
        "low": low,
        "high": high,
        "rounds": comparison.rounds,
        "dense_ms": comparison.median_ms("dense"),
        "mgic_ms": comparison.median_ms("mgic"),
        "load": [comparison.load_before, comparison.load_after],
    }


def measure(subject, width, args, tmp):
    """``{mode: row}`` for one subject at one width on this worker's backend."""
    import keras

    backend = keras.backend.backend()
    d = WIDTHS[width]
    models = {key: build(subject, key == "mgic", d, args) for key in ("dense", "mgic")}
    fns = _keras_fns(models, args.batch) if backend in args.backends else {}
    if backend == "tensorflow" and "tflite" in args.backends:
        fns["tflite"] = _tflite_fns(models, tmp)
    result = {"subject": subject, "width": width, "modes": {}}
    if backend == "tensorflow":
        result["counts"] = _counts(models)
    for mode, pair in fns.items():
        comparison = bench.compare(pair, "dense", rounds=args.rounds, repeat=args.repeat)
        result["modes"][mode] = _row(comparison)
        print(f"[{backend}] {subject} {width} {mode}: {comparison.describe('mgic')}", flush=True)
    keras.backend.clear_session()
    return result


def worker(args):
    """Runs in a process started with ``KERAS_BACKEND=args.worker``; prints one JSON line."""

    def rows(tmp):
        pairs = [(subject, width) for width in args.widths for subject in args.subjects]
        return [measure(subject, width, args, tmp) for subject, width in pairs]

    workers.serve(args.worker, "tflite" in args.backends, rows)


# ----------------------------------------------------------------------------- parent


def _worker_command(args, backend):
    command = [sys.executable, str(SCRIPT), "--worker", backend]
    command += ["--backends", *args.backends, "--widths", *args.widths]
    command += ["--subjects", *args.subjects, "--depth", str(args.depth)]
    command += ["--batch", str(args.batch), "--tokens", str(args.tokens)]
    command += ["--image", str(args.image)]
    command += ["--rounds", str(args.rounds), "--repeat", str(args.repeat)]
    return command


def _cell(row):
    if row is None:
        return "—"
    return f"{row['ratio']:.2f} ({row['low']:.2f}-{row['high']:.2f})"


def _index(results):
    """``{(subject, width): {(backend, mode): row}}`` and ``{(subject, width): counts}``."""
    cells, counts = {}, {}
    for backend, payload in results.items():
        for result in payload.get("rows", []):
            key = (result["subject"], result["width"])
            for mode, row in result["modes"].items():
                cells.setdefault(key, {})[(backend, mode)] = row
            if "counts" in result:
                counts[key] = result["counts"]
    return cells, counts


def _ratio(pair):
    return "—" if pair is None else f"{pair[1] / pair[0]:.3f}"


def tables(results, args):
    """Two markdown tables: MGIC / dense per backend and mode, and the dense model's ms."""
    cells, counts = _index(results)
    ratio_rows, ms_rows = [], []
    for width in args.widths:
        for subject in args.subjects:
            key = (subject, width)
            found = counts.get(key, {})
            label = (subject, f"{width} ({WIDTHS[width]} -> {4 * WIDTHS[width]})")
            row = cells.get(key, {})
            columns = [row.get((backend, mode)) for _, backend, mode in COLUMNS]
            counted = [_ratio(found.get("params")), _ratio(found.get("macs"))]
            ratio_rows.append((*label, *counted, *map(_cell, columns)))
            ms_rows.append(
                (*label, *("—" if c is None else f"{c['dense_ms']:.1f}" for c in columns))
            )
    names = [name for name, _, _ in COLUMNS]
    return (
        bench.markdown_table(
            ["model", "width", "params / dense", "MACs / dense", *names], ratio_rows
        ),
        bench.markdown_table(["model", "width", *(f"{n} ms" for n in names)], ms_rows),
    )


def _loads(results):
    rows = [
        row["load"]
        for payload in results.values()
        for result in payload.get("rows", [])
        for row in result["modes"].values()
    ]
    return (rows[0][0], rows[-1][1]) if rows else (None, None)


def section(results, args, env_lines, argv=None):
    ratios, dense_ms = tables(results, args)
    before, after = _loads(results)
    return (
        "## Token models on TensorFlow, JAX and TFLite: MGIC over dense\n\n"
        f"{bench.header(argv=argv, env='; '.join(env_lines))}\n"
        f"{args.rounds} interleaved rounds after warm-up per pair and backend; ratios are the "
        "median of the per-round ratios MGIC / dense (spread in brackets); load average "
        f"{before} before the first pair, {after} after the last.\n\n"
        f"Batch {args.batch}; the feed-forward on {args.tokens} tokens, the models on "
        f"{args.image}x{args.image}x3 images with 16x16 patches, {args.depth} blocks; "
        "`train_on_batch` (SGD) and `predict_on_batch` (TensorFlow with "
        f"`jit_compile=False`, JAX compiled); TFLite float32, batch 1, {TFLITE_THREADS} "
        f"threads.\n\n{ratios}\n\nThe dense model's median time per call (ms):\n\n{dense_ms}"
    )


def parse_args(argv):
    parser = bench.parser(__doc__, quick="ViT-S only, 1 block, 2 rounds", rounds=15, repeat=2)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--widths", nargs="+", choices=tuple(WIDTHS), default=list(WIDTHS))
    parser.add_argument("--subjects", nargs="+", choices=SUBJECTS, default=list(SUBJECTS))
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=TOKENS)
    parser.add_argument("--image", type=int, default=IMAGE)
    parser.add_argument("--worker", choices=tuple(workers.MODULES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick and not args.worker:
        args.widths, args.depth, args.rounds, args.repeat = ["ViT-S"], 1, 2, 1
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    env_lines = [bench.environment(), workers.version_line()]
    print("\n".join(env_lines), flush=True)
    backends = workers.worker_backends(args.backends)
    results = {b: workers.run_worker(_worker_command(args, b), b) for b in backends}
    env_lines += workers.worker_lines(results)
    text = section(results, args, env_lines, argv=argv)
    print(text)
    if args.write:
        bench.write_section(bench.section_name("token_speed"), text)


if __name__ == "__main__":
    main()
