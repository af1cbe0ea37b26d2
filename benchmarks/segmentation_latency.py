"""TFLite latency of the MGIC LR-ASPP segmenters against their dense twins at 512x1024.

Usage: python benchmarks/segmentation_latency.py [--write] [--quick] [--height 512 --width 1024]
       [--rounds 15] [--repeat 5]

Builds LR-ASPP-MobileNetV3-Small and -Large (19 classes, random weights) dense and MGIC, the
MGIC ones at the builders' defaults (s_g = 16, s_c = 32, the reference coarsening rule) and at
the paper's ImageNet setting (s_g = s_c = 64, which groups none of these narrow encoders' blocks),
for a fixed 512x1024 input (half of Cityscapes'
resolution in each direction), converts each to float32 TFLite with
``keras_mgic.export.to_tflite``, and times batch-1 inference with the default interpreter
(LiteRT when installed; XNNPACK delegate) at 1 and 2 threads, the models alternating over
several rounds (``_common.compare``). Prints the median latency, the MGIC / dense ratios (the
medians of the per-round ratios, with their spread) and the MACs ratios beside them;
``--write`` writes the ``segmentation_latency`` section of BENCHMARKS.md.
"""

import os
import pathlib
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import (  # noqa: E402
    environment,
    markdown_table,
    tflite_runtime,
    write_section,
)

from keras_mgic import export, models, profiling  # noqa: E402

#: The paper's ImageNet layout (its Table 4 setting), which groups none of these encoders' blocks.
PAPER_IMAGENET_LAYOUT = {"group_size": 64, "coarsest_size": 64}
#: (label, model name, builder arguments, dense twin's label).
MODELS = (
    ("LR-ASPP-Small", "lraspp_mobilenet_v3_small", {}, None),
    ("MGIC-Small (default)", "mgic_lraspp_mobilenet_v3_small", {}, "LR-ASPP-Small"),
    ("MGIC-Small (s_g = s_c = 64)", "mgic_lraspp_mobilenet_v3_small", PAPER_IMAGENET_LAYOUT,
     "LR-ASPP-Small"),
    ("LR-ASPP-Large", "lraspp_mobilenet_v3_large", {}, None),
    ("MGIC-Large (default)", "mgic_lraspp_mobilenet_v3_large", {}, "LR-ASPP-Large"),
    ("MGIC-Large (s_g = s_c = 64)", "mgic_lraspp_mobilenet_v3_large", PAPER_IMAGENET_LAYOUT,
     "LR-ASPP-Large"),
)  # fmt: skip


def convert(shape, folder, quick):
    """Every model as a float32 ``.tflite`` file: ``{label: (path, params, MACs)}``."""
    converted = {}
    for label, name, kwargs, _ in MODELS:
        if quick and "Large" in label:
            continue
        model = models.get_model(name, input_shape=shape, **kwargs)
        path = export.to_tflite(model, os.path.join(folder, f"{name}_{len(converted)}.tflite"))
        converted[label] = (path, profiling.count_params(model), profiling.count_flops(model))
        print(f"converted {label}: {os.path.getsize(path) / 1e6:.1f} MB", flush=True)
        del model
        keras.backend.clear_session()
    return converted


def _invoker(path, threads, shape):
    """One invoke of the segmenter at ``path`` on a random raw-pixel image of ``shape``."""
    x = np.random.default_rng(0).uniform(0, 255, (1, *shape)).astype("float32")
    return bench.tflite_invoker(path, x, threads)


def latency(converted, shape, rounds, repeat):
    """``{threads: Comparison}`` of all models, interleaved, against the first."""
    results = {}
    for threads in (1, 2):
        invokers = {label: _invoker(c[0], threads, shape) for label, c in converted.items()}
        results[threads] = bench.compare(invokers, next(iter(invokers)), rounds, repeat)
        print(threads, {k: round(results[threads].median_ms(k), 1) for k in invokers}, flush=True)
    return results


def table(converted, results):
    rows = []
    twins = {label: twin for label, _, _, twin in MODELS}
    for label, (_, params, macs) in converted.items():
        twin = twins[label]
        cells = [label, f"{params / 1e6:.3f}M", f"{macs / 1e9:.2f}B"]
        for threads in (1, 2):
            cells.append(f"{results[threads].median_ms(label):.0f}")
        if twin is None:
            cells += ["–", "–", "–"]
        else:
            cells += [
                f"{macs / converted[twin][2]:.2f}",
                *(results[t].against(twin).describe(label) for t in (1, 2)),
            ]
        rows.append(cells)
    header = [
        "model",
        "params",
        "MACs",
        "ms, 1 thread",
        "ms, 2 threads",
        "MACs / dense",
        "latency / dense, 1 thread",
        "latency / dense, 2 threads",
    ]
    return markdown_table(header, rows)


def main(argv=None):
    parser = bench.parser(__doc__, quick="Small models, one round", rounds=15, repeat=5)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=1024)
    args = parser.parse_args(argv)
    shape = (args.height, args.width, 3)
    env = environment()
    runtime = tflite_runtime()
    print(env, f"runtime: {runtime}", flush=True)
    rounds, repeat = (1, 2) if args.quick else (args.rounds, args.repeat)
    with tempfile.TemporaryDirectory() as folder:
        converted = convert(shape, folder, args.quick)
        results = latency(converted, shape, rounds, repeat)
    text = table(converted, results)
    print(text)
    if args.write and not args.quick:
        write_section(
            "segmentation_latency",
            "## TFLite latency: MGIC vs dense LR-ASPP segmenters at "
            f"{args.height}x{args.width}\n\n"
            f"{bench.header({f'{t} thread(s)': c for t, c in results.items()}, env=env)}\n\n"
            f"Float32, batch 1, 19 classes, random weights, {runtime} interpreter with XNNPACK; "
            f"per round the median of {repeat} invokes.\n\n{text}\n\n"
            "MGIC (default): s_g = 16, s_c = 32, the reference coarsening rule (the blocks of "
            "32 channels and more have grouped fine levels); MGIC (s_g = s_c = 64): the "
            "paper's ImageNet setting, which groups none of these blocks (every block only "
            "gains coarse levels).",
        )


if __name__ == "__main__":
    main()
