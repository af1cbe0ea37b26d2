"""Shared helpers of the benchmark scripts: environment header, timing, BENCHMARKS.md sections."""

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


def median_ms(fn, repeat=10, warmup=2):
    """Median wall time of ``fn()`` in milliseconds (``fn`` must block until done)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


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
    path.write_text(text)
    print(f"wrote section {name!r} of {path}")


def interleaved_ms(fns, rounds, repeat, warmup=2):
    """Median ms of each ``fns[key]()`` after ``warmup`` calls each (tracing, compilation),
    the functions alternating over ``rounds`` rounds of ``repeat`` calls (an int, or a
    ``{key: calls}`` mapping), so that a load change on a shared machine hits them all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    repeats = repeat if isinstance(repeat, dict) else dict.fromkeys(fns, repeat)
    samples = {key: [] for key in fns}
    for _ in range(rounds):
        for key, fn in fns.items():
            samples[key].append(median_ms(fn, repeat=repeats[key], warmup=0))
    return {key: statistics.median(values) for key, values in samples.items()}


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
