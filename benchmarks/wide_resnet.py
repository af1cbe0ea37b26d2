"""MGIC-WRN-28-10 vs WRN-28-10: training step, inference and TFLite latency, side by side.

Usage: python benchmarks/wide_resnet.py [--write] [--quick] [--batch 32]
       [--depth 28] [--widen-factor 10]

Both Wide ResNets come from the same builder (MGIC on / off; s_g = 16, s_c = 32) and run in
one process on the same random CIFAR-shaped batch: the median time of one ``train_on_batch``
step (SGD, momentum 0.9) and of one ``predict_on_batch`` call (``resnet56.prepare`` and
``resnet56.compare_interleaved``), and the float32 TFLite latency at batch 1 with 2 threads
(``keras_mgic.export.to_tflite``, XNNPACK), each timed in interleaved rounds
(``_common.compare``). Prints the parameters and MACs, and the ratios MGIC / dense, the time
ratios as medians of the per-round ratios with their spread (targets: every time ratio at
most 0.5, aim 0.35; parameters ratio at most 0.2).
"""

import functools
import pathlib
import sys
import tempfile

import keras

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import (  # noqa: E402
    markdown_table,
    section_name,
    section_title,
    tflite_runtime,
    write_section,
)
from resnet56 import compare_interleaved, prepare  # noqa: E402
from tflite_latency import _invoker as tflite_invoker  # noqa: E402

from keras_mgic import export, models  # noqa: E402

SIZE = 32
CLASSES = 10
THREADS = 2
TARGETS = (
    "Targets: train step, inference and TFLite ratios MGIC / dense at most 0.5 (aim 0.35); "
    "parameters ratio at most 0.2."
)


def model_names(depth, widen_factor):
    """The registry names of the dense and MGIC WRN-``depth``-``widen_factor``.

    A variant that is not a named one (e.g. WRN-10-2 for a smoke run) is added to
    ``keras_mgic.models.MODELS`` for this process, so ``prepare`` builds it by name.
    """
    dense = f"wide_resnet{depth}_{widen_factor}"
    if dense not in models.MODELS:
        for mgic, name in ((False, dense), (True, f"mgic_{dense}")):
            models.MODELS[name] = functools.partial(
                models.WideResNet, depth, widen_factor, mgic=mgic
            )
    return {"dense": dense, "mgic": f"mgic_{dense}"}


def convert(names, tmp):
    """Converts each model once (float32); returns ``{key: path}``."""
    files = {}
    for key, name in names.items():
        model = models.get_model(
            name, input_shape=(SIZE, SIZE, 3), classes=CLASSES, classifier_activation=None
        )
        files[key] = pathlib.Path(tmp) / f"{key}.tflite"
        export.to_tflite(model, files[key])
        print(f"converted {name}: {files[key].stat().st_size / 1e6:.1f} MB", flush=True)
        del model
        keras.backend.clear_session()
    return files


def measure(names, batch, rounds, repeat):
    """The TFLite comparison (keys ``(model, "tflite")``), then the TensorFlow one (keys
    ``(model, "train" or "infer")``), and each model's parameters and MACs."""
    with tempfile.TemporaryDirectory() as tmp:
        files = convert(names, tmp)
        invokers = {
            (key, "tflite"): tflite_invoker(path, THREADS, SIZE) for key, path in files.items()
        }
        tflite = bench.compare(invokers, ("dense", "tflite"), rounds, repeat=10, warmup=3)
    prepared = {key: prepare(name, batch, classes=CLASSES) for key, name in names.items()}
    tensorflow = compare_interleaved(prepared, rounds, repeat)
    infos = {key: info for key, (_, _, info) in prepared.items()}
    return infos, {"tf": tensorflow, "tflite": tflite}


def _ratio(comparisons, mode):
    """MGIC / dense in ``mode``: the median of the per-round ratios with their spread."""
    comparison = comparisons["tflite" if mode == "tflite" else "tf"]
    return comparison.against(("dense", mode)).describe(("mgic", mode))


def table(infos, comparisons, labels):
    def ms(key, mode):
        return comparisons["tflite" if mode == "tflite" else "tf"].median_ms((key, mode))

    rows = [
        (
            labels[key],
            f"{r['params'] / 1e6:.2f}M",
            f"{r['flops'] / 1e9:.2f}G" if r["flops"] >= 1e9 else f"{r['flops'] / 1e6:.1f}M",
            f"{ms(key, 'train'):.0f}",
            f"{ms(key, 'infer'):.0f}",
            f"{ms(key, 'tflite'):.1f}",
        )
        for key, r in infos.items()
    ]
    dense, mgic = infos["dense"], infos["mgic"]
    counts = [f"{mgic[k] / dense[k]:.2f}" for k in ("params", "flops")]
    times = [_ratio(comparisons, mode) for mode in ("train", "infer", "tflite")]
    rows.append(("ratio MGIC / dense", *counts, *times))
    return markdown_table(
        ["model", "params", "MACs", "train step ms", "inference ms", "TFLite ms"], rows
    )


def main(argv=None):
    parser = bench.parser(__doc__, quick="fewer rounds and repeats", rounds=15, repeat=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--depth", type=int, default=28)
    parser.add_argument("--widen-factor", type=int, default=10)
    args = parser.parse_args(argv)
    runtime = tflite_runtime()
    env = bench.announce(f"runtime: {runtime}")
    rounds, repeat = (1, 1) if args.quick else (args.rounds, args.repeat)
    variant = f"WRN-{args.depth}-{args.widen_factor}"
    labels = {"dense": variant, "mgic": f"MGIC-{variant} (16/32)"}
    names = model_names(args.depth, args.widen_factor)
    infos, comparisons = measure(names, args.batch, rounds, repeat)
    text = table(infos, comparisons, labels)
    print(text)
    print(TARGETS)
    if args.write:
        timed = {"TF": comparisons["tf"], "TFLite": comparisons["tflite"]}
        body = (
            f"## {section_title(f'Wide ResNet: MGIC-{variant} vs {variant}')}\n\n"
            f"{bench.header(timed, env=env)}\n\n"
            f"{SIZE}x{SIZE}x3, {CLASSES} classes; TensorFlow: batch {args.batch}, per round "
            f"the median of {repeat} `train_on_batch` / `predict_on_batch` calls; TFLite: "
            f"float32, batch 1, {THREADS} threads, {runtime} interpreter with XNNPACK, per "
            f"round the median of 10 invokes.\n\n{text}\n\n{TARGETS}"
        )
        write_section(section_name("wide_resnet"), body)


if __name__ == "__main__":
    main()
