"""Hybrid MGIC: a sweep of ``mgic_min_width`` (narrow blocks stay dense) vs the dense twin.

Usage: python benchmarks/hybrid.py [--write] [--quick]
       [--models resnet50 mobilenet_v3_large] [--size 224] [--batch 8] [--rounds 15]
       [--repeat 3]

For ResNet-50 (thresholds None = all MGIC, 512, 1024, 2048; block output widths 256 to
2048) and MobileNetV3-Large (thresholds None, 80, 112, 160; block output widths 16 to 160;
each with the builders' default layout (the literal rule, s_g = 16, s_c = 64, dense
squeeze-excite), the former default (s_g = s_c = 64, the reference rule, grouped
squeeze-excite), ``coarsening="literal", coarsest_size=128`` and ``group_size=32``), every
hybrid and the dense model (1000 classes, random weights) are built side by side in one
process: parameters, MACs, the median TensorFlow ``predict_on_batch`` time at batch 8 and the
float32 TFLite (XNNPACK) latency at batch 1 with 2 threads (each model converted once), the
models alternating over rounds (``_common.compare``), and the ratios to the dense model (the
time ratios: medians of the per-round ratios, with their spread). Per model the best
threshold is the row with the lowest max(TF ratio, TFLite ratio) among the rows with fewer
parameters and MACs than the dense model (target: both ratios at most 0.8).
"""

import pathlib
import sys
import tempfile

import keras
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import (  # noqa: E402
    markdown_table,
    section_name,
    tflite_runtime,
    write_section,
)
from tflite_latency import _invoker as tflite_invoker  # noqa: E402

from keras_mgic import export, models, profiling  # noqa: E402

THREADS = 2
TARGET = 0.8
COUNT_KEYS = ("params", "macs")
#: MobileNetV3's layouts, pinned (the builders' default changed after this sweep was run):
#: the paper's stated s_g = s_c = 64 under the reference rule, the package's former default.
FORMER_DEFAULT = {
    "coarsening": "reference",
    "group_size": 64,
    "coarsest_size": 64,
    "grouped_squeeze_excite": True,
}
LITERAL = {**FORMER_DEFAULT, "coarsening": "literal", "coarsest_size": 128}
#: MobileNetV3's wide blocks with twice as many groups as the paper's s_g = 64.
SMALLER_GROUPS = {**FORMER_DEFAULT, "group_size": 32}

#: The swept models: dense twin, MGIC builder, thresholds and coarsening layouts.
FAMILIES = {
    "resnet50": {
        "label": "ResNet-50",
        "dense": "resnet50",
        "mgic": "mgic_resnet50",
        "thresholds": (None, 512, 1024, 2048),
        "layouts": {"default": {}},
    },
    "mobilenet_v3_large": {
        "label": "MobileNetV3-Large",
        "dense": "mobilenet_v3_large",
        "mgic": "mgic_mobilenet_v3_large",
        "thresholds": (None, 80, 112, 160),
        "layouts": {
            "default": {},
            "former default": FORMER_DEFAULT,
            "literal, s_c=128": LITERAL,
            "s_g=32, s_c=64": SMALLER_GROUPS,
        },
    },
}
TARGETS = (
    f"Target: a threshold whose TF inference and TFLite ratios are both at most {TARGET}, "
    "with fewer MACs and parameters than the dense model."
)


def variants(family):
    """``(layout, threshold, model name, kwargs)`` of the dense model, then every hybrid."""
    spec = FAMILIES[family]
    yield "dense", None, spec["dense"], {}
    for layout, kwargs in spec["layouts"].items():
        for threshold in spec["thresholds"]:
            yield layout, threshold, spec["mgic"], {**kwargs, "mgic_min_width": threshold}


def add_ratios(rows, comparisons):
    """The rows (row ``i`` is key ``i`` of each ``comparisons[mode]``, the dense row first) with
    each mode's median ms and ``{key}_ratio`` to the dense row: counts divided, times the
    median of the per-round ratios (``{mode}_text`` adds their spread)."""
    dense, result = rows[0], []
    for index, row in enumerate(rows):
        row = {**row, **{f"{k}_ratio": row[k] / dense[k] for k in COUNT_KEYS}}
        for mode, comparison in comparisons.items():
            row[mode] = comparison.median_ms(index)
            row[f"{mode}_ratio"] = comparison.ratio(index)
            row[f"{mode}_text"] = comparison.describe(index)
        result.append(row)
    return result


def best_row(rows):
    """The row with the lowest max(TF ratio, TFLite ratio) among the rows with fewer
    parameters and MACs than the dense model (ratios below 1); None when there is none."""
    smaller = [r for r in rows if r["params_ratio"] < 1 and r["macs_ratio"] < 1]
    return min(smaller, key=lambda r: max(r["tf_ratio"], r["tflite_ratio"]), default=None)


def meets_target(row, limit=TARGET):
    """Whether a row is smaller than the dense model and at most ``limit`` times its time."""
    smaller = row["params_ratio"] < 1 and row["macs_ratio"] < 1
    return smaller and max(row["tf_ratio"], row["tflite_ratio"]) <= limit


def _build(name, kwargs, size, batch, path):
    """Builds ``name``, converts it to ``path``; returns its inference call and its row."""
    model = models.get_model(
        name, input_shape=(size, size, 3), classifier_activation=None, **kwargs
    )
    export.to_tflite(model, path)
    x = np.random.default_rng(0).normal(size=(batch, size, size, 3)).astype("float32")
    row = {"params": profiling.count_params(model), "macs": profiling.count_flops(model)}
    return (lambda: model.predict_on_batch(x)), row


def measure(family, size, batch, rounds, repeat):
    """The rows of one family (dense first), with times and ratios, and the comparisons."""
    infers, invokers, rows = {}, {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for index, (layout, threshold, name, kwargs) in enumerate(variants(family)):
            path = pathlib.Path(tmp) / f"{index}.tflite"
            infers[index], row = _build(name, kwargs, size, batch, path)
            invokers[index] = tflite_invoker(path, THREADS, size)
            rows.append({"layout": layout, "threshold": threshold, **row})
            print(f"built and converted {name} {layout} mgic_min_width={threshold}", flush=True)
        comparisons = {
            "tf": bench.compare(infers, 0, rounds, repeat),
            "tflite": bench.compare(invokers, 0, rounds, repeat=10, warmup=3),
        }
    del infers, invokers
    keras.backend.clear_session()
    return add_ratios(rows, comparisons), comparisons


def _threshold(row):
    if row["layout"] == "dense":
        return "–"
    return "None (all MGIC)" if row["threshold"] is None else str(row["threshold"])


def _count(n):
    return f"{n / 1e9:.2f}G" if n >= 1e9 else f"{n / 1e6:.1f}M"


def table(rows):
    header = ["model", "mgic_min_width", "params", "MACs", "TF ms", "TFLite ms"]
    header += [f"{k} / dense" for k in ("params", "MACs", "TF", "TFLite")]
    cells = [
        (
            "dense" if row["layout"] == "dense" else f"MGIC ({row['layout']})",
            _threshold(row),
            f"{row['params'] / 1e6:.2f}M",
            _count(row["macs"]),
            f"{row['tf']:.1f}",
            f"{row['tflite']:.1f}",
            *(f"{row[f'{k}_ratio']:.2f}" for k in COUNT_KEYS),
            row["tf_text"],
            row["tflite_text"],
        )
        for row in rows
    ]
    return markdown_table(header, cells)


def best_line(family, rows):
    label = FAMILIES[family]["label"]
    row = best_row(rows)
    if row is None:
        return f"- {label}: no hybrid has fewer parameters and MACs than the dense model."
    met = "met" if meets_target(row) else "**not met**"
    return (
        f"- {label}: best mgic_min_width = {_threshold(row)} (coarsening {row['layout']}): "
        f"TF {row['tf_text']}, TFLite {row['tflite_text']}, params "
        f"{row['params_ratio']:.2f}, MACs {row['macs_ratio']:.2f} of the dense model; "
        f"target {met}."
    )


def main(argv=None):
    parser = bench.parser(__doc__, quick="fewer rounds and repeats", rounds=15, repeat=3)
    parser.add_argument("--models", nargs="+", choices=sorted(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)
    runtime = tflite_runtime()
    env = bench.announce(f"runtime: {runtime}")
    rounds, repeat = (1, 1) if args.quick else (args.rounds, args.repeat)
    for family in args.models:
        rows, comparisons = measure(family, args.size, args.batch, rounds, repeat)
        print(table(rows), best_line(family, rows), TARGETS, sep="\n\n", flush=True)
        if args.write:
            write_section(
                section_name(f"hybrid_{family}"),
                _section(args, family, rows, env, runtime, comparisons, repeat),
            )


def _section(args, family, rows, env, runtime, comparisons, repeat):
    """The BENCHMARKS.md section of one family (each family has its own, so that
    ``--models`` reruns one without touching the other)."""
    label = FAMILIES[family]["label"]
    title = bench.section_title(f"Hybrid MGIC-{label}: mgic_min_width keeps narrow blocks dense")
    timed = {"TF": comparisons["tf"], "TFLite": comparisons["tflite"]}
    return (
        f"## {title}\n\n{bench.header(timed, env=env)}\n\n"
        f"{args.size}x{args.size}x3, 1000 classes, random weights; blocks whose output is "
        "narrower than mgic_min_width stay dense. TF: `predict_on_batch` at batch "
        f"{args.batch}, per round the median of {repeat} calls; TFLite: float32, batch 1, "
        f"{THREADS} threads, {runtime} interpreter with XNNPACK, per round the median of 10 "
        "invokes.\n\n"
        f"{table(rows)}\n\nBest threshold (lowest max(TF ratio, TFLite ratio) among the rows "
        f"with fewer parameters and MACs than the dense model):\n\n{best_line(family, rows)}"
        f"\n\n{TARGETS}"
    )


if __name__ == "__main__":
    main()
