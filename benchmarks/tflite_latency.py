"""Target 4: TFLite (XNNPACK) latency of MGIC-MobileNetV3-Large 1.0 vs MobileNetV3-Large.

Usage: python benchmarks/tflite_latency.py [--write] [--quick] [--size 224]

Converts both models (same builder, MGIC on / off; float32, random weights) with
``keras_mgic.export.to_tflite``, runs each with the default interpreter (LiteRT when
installed, else ``tf.lite``; XNNPACK delegate) at 1 and 2 threads, batch 1, alternating the
two models over several rounds, and prints the median latency, the MGIC / dense ratio
(target: at most 1.3) and the MACs ratio beside it.
"""

import argparse
import pathlib
import statistics
import sys
import tempfile

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import environment, markdown_table, median_ms, write_section  # noqa: E402

from keras_mgic import export, models, profiling  # noqa: E402


def _invoker(path, threads, size):
    interpreter = export.interpreter_class()(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    x = np.random.default_rng(0).normal(size=(1, size, size, 3)).astype("float32")

    def invoke():
        interpreter.set_tensor(index, x)
        interpreter.invoke()

    return invoke


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args(argv)
    env = environment()
    runtime = export.interpreter_class().__module__.split(".")[0]
    print(env, f"runtime: {runtime}")
    rounds = 2 if args.quick else 5
    names = {"dense": "mobilenet_v3_large", "mgic": "mgic_mobilenet_v3_large"}
    shape = (args.size, args.size, 3)
    info, files = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, name in names.items():
            model = models.get_model(name, input_shape=shape, classifier_activation=None)
            info[key] = (profiling.count_params(model), profiling.count_flops(model))
            files[key] = pathlib.Path(tmp) / f"{name}.tflite"
            export.to_tflite(model, files[key])
            info[key] += (files[key].stat().st_size,)
            print(f"converted {name}: {info[key][2] / 1e6:.1f} MB", flush=True)
        rows = []
        for threads in (1, 2):
            invokers = {key: _invoker(files[key], threads, args.size) for key in names}
            samples = {key: [] for key in names}
            for _ in range(rounds):
                for key, invoke in invokers.items():
                    samples[key].append(median_ms(invoke, repeat=10, warmup=3))
            dense, mgic = (statistics.median(samples[k]) for k in ("dense", "mgic"))
            rows.append(
                (
                    threads,
                    f"{dense:.1f}",
                    f"{mgic:.1f}",
                    f"{mgic / dense:.2f}",
                    f"{info['mgic'][1] / info['dense'][1]:.2f}",
                )
            )
            print(rows[-1], flush=True)
    table = markdown_table(
        [
            "threads",
            "MobileNetV3-Large ms",
            "MGIC-MobileNetV3-Large ms",
            "latency ratio",
            "MACs ratio",
        ],
        rows,
    )
    sizes = markdown_table(
        ["model", "params", "MACs", ".tflite MB"],
        [
            (names[k], f"{p / 1e6:.2f}M", f"{f / 1e6:.0f}M", f"{s / 1e6:.1f}")
            for k, (p, f, s) in info.items()
        ],
    )
    print(sizes)
    print(table)
    if args.write:
        text = (
            "## TFLite latency: MGIC-MobileNetV3-Large 1.0 vs MobileNetV3-Large 1.0\n\n"
            f"`python benchmarks/tflite_latency.py {' '.join(sys.argv[1:])}` (float32, batch 1, "
            f"{args.size}x{args.size}, {runtime} interpreter with XNNPACK; median over {rounds} "
            f"alternating rounds of the median of 10 invokes).\n{env}\n\n{sizes}\n\n{table}\n\n"
            "Target: latency ratio at most 1.3."
        )
        write_section("tflite_latency", text)


if __name__ == "__main__":
    main()
