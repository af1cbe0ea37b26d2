"""The benchmark harness every script in ``benchmarks/`` uses.

- ``parser``: the scripts' command line (``--write`` updates BENCHMARKS.md, ``--quick`` is a
  smoke run), so a script declares only its own arguments.
- ``interleaved``: the timing loop. Warm-up calls first (tracing, compilation), then rounds
  in which the timed functions alternate, so that a load change on a shared machine hits
  them all alike; one median per function and round.
- ``compare``: per-round ratios against a baseline and their median with its spread, the
  figure a claim in BENCHMARKS.md names (``Comparison.describe``: "0.34 (0.31-0.37, 5
  rounds)").
- ``environment`` and ``header``: the machine and library line, and the load average before
  and after the measurement.
- ``markdown_table`` and ``write_section``: the table writer into BENCHMARKS.md.
- ``adamw_cosine``, ``epoch_timer`` and ``training_summary``: the recipe, the per-epoch
  test accuracy and seconds, and the summary rows of the scripts that train models side by
  side (token_models.py, mobilenet_v3_accuracy.py).

Timers are injectable (``timer=``), so the harness is tested with fake clocks.
"""

import argparse
import dataclasses
import os
import pathlib
import platform
import statistics
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "BENCHMARKS.md"


def environment():
    """One line naming the machine and the library versions."""
    import keras

    parts = [
        f"machine: {platform.machine()} {platform.processor() or ''}".strip(),
        f"cores: {os.cpu_count()}",
        f"python {platform.python_version()}",
        f"keras {keras.__version__} ({keras.backend.backend()})",
    ]
    try:
        import tensorflow as tf

        parts.append(f"tensorflow {tf.__version__} ({_tensorflow_cpu_kernels()})")
    except ImportError:
        pass
    return ", ".join(parts)


def _tensorflow_cpu_kernels():
    """Whether TensorFlow runs its CPU convolutions through oneDNN, which decides how fast
    grouped convolutions and their gradients are. TensorFlow turns oneDNN on by default on
    CPUs with AVX-512 VNNI, BF16 or AMX; ``TF_ENABLE_ONEDNN_OPTS=0`` / ``1`` overrides it.
    Without it, grouped-convolution gradients take ``keras_mgic.ops``' portable lowering."""
    from keras_mgic import ops

    return "oneDNN" if ops._tensorflow_has_grouped_gradients() else "no oneDNN"


def median_ms(fn, repeat=10, warmup=2, timer=time.perf_counter):
    """Median wall time of ``fn()`` in milliseconds (``fn`` must block until done)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = timer()
        fn()
        times.append(timer() - start)
    return 1e3 * statistics.median(times)


def parser(
    doc, quick="fewer rounds and repeats", write="update BENCHMARKS.md", rounds=None, repeat=None
):
    """The scripts' command line: ``--write``, ``--quick`` (none when ``quick`` is None), and
    for a timed script ``--rounds`` (interleaved rounds, ``compare``) and ``--repeat`` (calls
    a round) with the defaults given; the script adds its own."""
    result = argparse.ArgumentParser(description=doc.splitlines()[0])
    result.add_argument("--write", action="store_true", help=write)
    if quick is not None:
        result.add_argument("--quick", action="store_true", help=quick)
    if rounds is not None:
        result.add_argument("--rounds", type=int, default=rounds, help="interleaved rounds")
    if repeat is not None:
        result.add_argument("--repeat", type=int, default=repeat, help="calls a round")
    return result


def announce(extra=""):
    """Prints the machine and library line (and ``extra``) a run starts with; returns it."""
    env = environment()
    print(env, extra) if extra else print(env)
    return env


def save_figure(fig, name, dpi=120):
    """Writes ``fig`` to ``docs/NAME`` (the figures BENCHMARKS.md and the docs show)."""
    out = REPO / "docs" / name
    out.parent.mkdir(exist_ok=True)
    savefig_atomically(fig, out, dpi)
    print(f"wrote {out}")
    return out


def savefig_atomically(fig, path, dpi=120):
    """``fig.savefig`` to a temporary name beside ``path`` (same suffix: the format), then a
    rename into place, as ``write_atomically`` does for text."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(temporary, dpi=dpi)
    os.replace(temporary, path)


#: The columns of a comparison with the paper's counts (paper_tables.py, paper_table6.py).
PAPER_COLUMNS = (
    "params (ours)",
    "params (paper)",
    "Δ params",
    "MACs (ours)",
    "MACs (paper)",
    "Δ MACs",
)


def load_average():
    """The 1-minute load average (None where the platform has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name, markdown, path=BENCHMARKS_MD):
    """Replaces the text between ``<!-- name:start -->`` and ``<!-- name:end -->``.

    The section is appended when the markers are missing; other sections are kept.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    write_atomically(path, text)
    print(f"wrote section {name!r} of {path}")


def write_atomically(path, text):
    """Writes ``text`` to a temporary name beside ``path``, then renames it into place: a
    kill leaves the old file whole, never a half-written one."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def interleaved(fns, rounds, repeat, warmup=2, timer=time.perf_counter):
    """Per-round median ms of each ``fns[key]()``: ``warmup`` calls each first (tracing,
    compilation), then ``rounds`` rounds in which the functions alternate, ``repeat`` calls
    each (an int, or a ``{key: calls}`` mapping), so that a load change on a shared machine
    hits them all alike. Returns ``{key: [ms of round 1, ...]}``."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    repeats = repeat if isinstance(repeat, dict) else dict.fromkeys(fns, repeat)
    samples = {key: [] for key in fns}
    for _ in range(rounds):
        for key, fn in fns.items():
            samples[key].append(median_ms(fn, repeat=repeats[key], warmup=0, timer=timer))
    return samples


@dataclasses.dataclass
class Comparison:
    """Interleaved timings of several functions against one baseline.

    ``ms[key]`` holds one median per round; ``ratios[key]`` the per-round ratios
    ``ms[key][i] / ms[baseline][i]``; the claim is their median, with their spread.
    """

    baseline: str
    ms: dict
    load_before: float = None
    load_after: float = None

    @property
    def rounds(self):
        return len(self.ms[self.baseline])

    @property
    def ratios(self):
        base = self.ms[self.baseline]
        return {
            key: [t / b for t, b in zip(values, base, strict=True)]
            for key, values in self.ms.items()
        }

    def ratio(self, key):
        """The median of the per-round ratios ``key / baseline``."""
        return statistics.median(self.ratios[key])

    def spread(self, key):
        """``(lowest, highest)`` per-round ratio."""
        return min(self.ratios[key]), max(self.ratios[key])

    def median_ms(self, key):
        return statistics.median(self.ms[key])

    def against(self, baseline):
        """The same timings against another baseline (e.g. each mode against its own)."""
        return dataclasses.replace(self, baseline=baseline)

    def describe(self, key, digits=2):
        """``"0.34 (0.31-0.37, 5 rounds)"``: the median ratio, its spread and the rounds."""
        low, high = self.spread(key)
        rounds = f"{self.rounds} round" + ("s" if self.rounds != 1 else "")
        return f"{self.ratio(key):.{digits}f} ({low:.{digits}f}-{high:.{digits}f}, {rounds})"


def compare(fns, baseline, rounds, repeat, warmup=2, timer=time.perf_counter, load=None):
    """Times ``fns`` interleaved (``interleaved``) and returns a ``Comparison`` against
    ``fns[baseline]``, with the load average before and after (``load``: the function that
    reads it, ``load_average`` by default)."""
    load = load or load_average
    before = load()
    ms = interleaved(fns, rounds, repeat, warmup=warmup, timer=timer)
    return Comparison(baseline, ms, load_before=before, load_after=load())


def load_averages(comparisons):
    """``"tf 1.07 -> 1.88, tflite 1.88 -> 1.77"``: the load average before and after each
    of several comparisons (``{label: Comparison}``)."""
    return ", ".join(
        f"{label} {c.load_before} -> {c.load_after}" for label, c in comparisons.items()
    )


def header(comparison=None, argv=None, env=None):
    """The lines above a BENCHMARKS.md table: the command, the machine and libraries, and
    for a timed section the rounds and the load average before and after. ``comparison``:
    one ``Comparison``, or ``{label: Comparison}`` for a section of several (the load of
    each is named, ``load_averages``)."""
    lines = [f"`{command(argv)}`", "", f"{env or environment()}."]
    if comparison is None:
        return "\n".join(lines)
    if isinstance(comparison, dict):
        rounds = next(iter(comparison.values())).rounds
        load = f"load average before -> after: {load_averages(comparison)}"
    else:
        rounds = comparison.rounds
        load = f"load average {comparison.load_before} before, {comparison.load_after} after"
    lines.append(
        f"{rounds} interleaved rounds after warm-up; ratios are the median of the per-round "
        f"ratios (spread in brackets); {load}."
    )
    return "\n".join(lines)


def tflite_runtime():
    """The top-level module of the TFLite interpreter ``keras_mgic.export`` uses."""
    from keras_mgic import export

    return export.interpreter_class().__module__.split(".")[0]


def section_name(base):
    """``base``, or ``base + "_no_onednn"`` when TensorFlow runs without oneDNN here: the two
    kernel sets time grouped convolutions differently, so each keeps its own section."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return base
    return base if _tensorflow_cpu_kernels() == "oneDNN" else f"{base}_no_onednn"


def command(argv=None):
    """The command line that ran this script, as ``python benchmarks/NAME.py ARGS``, with the
    ``TF_ENABLE_ONEDNN_OPTS`` setting in front when one was given."""
    import sys

    argv = sys.argv if argv is None else argv
    script = pathlib.Path(argv[0]).name
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    prefix = f"TF_ENABLE_ONEDNN_OPTS={setting} " if setting is not None else ""
    return " ".join([f"{prefix}python benchmarks/{script}", *argv[1:]])


def section_title(title):
    """``title``, marked when TensorFlow runs without oneDNN here (see ``section_name``)."""
    return title if section_name("") == "" else f"{title} (TensorFlow without oneDNN)"


def tflite_invoker(path, x, threads=2):
    """A function running the TFLite file at ``path`` once on ``x`` (set input, invoke),
    on ``threads`` threads, for ``compare``."""
    from keras_mgic import export

    interpreter = export.interpreter_class()(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]

    def invoke():
        interpreter.set_tensor(index, x)
        interpreter.invoke()

    return invoke


def adamw_cosine(steps_per_epoch, epochs, peak=1e-3, weight_decay=0.05):
    """The side-by-side training recipe's optimizer: AdamW, the learning rate warmed up over
    the first epoch to ``peak`` and decayed by a cosine to 0 over the rest."""
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        max(1, (epochs - 1) * steps_per_epoch),
        warmup_target=peak,
        warmup_steps=steps_per_epoch,
    )
    return keras.optimizers.AdamW(schedule, weight_decay=weight_decay)


def epoch_timer(x_test, y_test, batch_size=120):
    """A Keras callback recording each epoch's seconds (``.times``, training only) and the
    test accuracy after it (``.accuracy``, measured after the epoch's clock stops)."""
    import keras
    import numpy as np

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self.accuracy = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)
            predictions = self.model.predict(x_test, batch_size=batch_size, verbose=0)
            self.accuracy.append(float(np.mean(predictions.argmax(-1) == y_test)))

    return EpochTimer()


def training_summary(results, macs_digits=0):
    """One row per model of side-by-side training runs: test accuracy mean (lowest-highest
    seed), parameters, MACs and the median seconds per epoch over the seeds.

    ``results``: one ``{model: run}`` mapping per seed, each run with ``accuracy`` (a
    fraction), ``params``, ``macs`` and ``epoch_s``."""
    rows = []
    for key in results[0]:
        runs = [seed_results[key] for seed_results in results]
        accuracy = [100 * run["accuracy"] for run in runs]
        seconds = [run["epoch_s"] for run in runs]
        rows.append(
            (
                key,
                f"{statistics.mean(accuracy):.1f} ({min(accuracy):.1f}-{max(accuracy):.1f})",
                f"{runs[0]['params'] / 1e6:.2f}M",
                f"{runs[0]['macs'] / 1e6:.{macs_digits}f}M",
                f"{statistics.median(seconds):.1f}",
            )
        )
    return rows


def fit_and_measure(model, data, epochs, batch=64):
    """Trains ``model`` side by side's way (``adamw_cosine``, cross-entropy, ``batch``) on
    ``data = ((x_train, y_train), (x_test, y_test))`` and returns its run: final test
    ``accuracy``, the ``curve`` per epoch, ``epoch_s`` (median epoch after the first, which
    traces the graph), ``params`` and ``macs``."""
    import numpy as np

    from keras_mgic import count_flops, count_params

    (x_train, y_train), (x_test, y_test) = data
    model.compile(
        optimizer=adamw_cosine(int(np.ceil(len(x_train) / batch)), epochs),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    timer = epoch_timer(x_test, y_test)
    model.fit(x_train, y_train, batch_size=batch, epochs=epochs, verbose=0, callbacks=[timer])
    return {
        "accuracy": timer.accuracy[-1],
        "curve": timer.accuracy,
        "epoch_s": statistics.median(timer.times[1:] or timer.times),
        "params": count_params(model),
        "macs": count_flops(model),
    }
