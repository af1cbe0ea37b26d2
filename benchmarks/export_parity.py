"""Export parity and file sizes: SavedModel and TFLite float32 / float16 / int8 vs Keras.

Usage: python benchmarks/export_parity.py [--epochs N] [--deep] [--write] [--quick]
       [--rounds 15] [--repeat 10]

Trains MGIC-ResNet-20 (s_g=8, s_c=16) and MGIC-MobileNetV3-Small (width 0.5, s_g=8, the
literal coarsening rule with coarsest_size=32: blocks of 32 or more channels get one coarse
level) briefly on the offline digits set (1,000 training images normalised per channel with the
training set's mean and standard deviation, models built with ``include_preprocessing=False``;
Adam, then BatchNorm statistics recomputed on 500 of them), exports each with
``keras_mgic.export.to_saved_model`` and ``keras_mgic.export.to_tflite`` and prints, per file:
size, max |diff| and max |diff| / max |Keras logits| on the 360 held-out test images, top-1
agreement with Keras, test accuracy, single-image latency (batch 1, one thread, XNNPACK) and
the ops XNNPACK leaves to the builtin kernels. int8 is full-integer (int8 weights and
activations, float32 I/O), calibrated on 200 other training images.

A second table checks that grouped convolutions need no export-time lowering: the same model
exported with every grouped convolution lowered to per-group convolutions joined by a
concatenation (split + CONV_2D per group + CONCATENATION), against the native grouped
CONV_2D: same numbers, and the latency of each, the two files alternating over interleaved
rounds after warm-up (``_common.compare``; lowered / native is the median of the per-round
ratios, with their spread). The first table's latencies are of one file each
(``_common.median_ms``). ``--deep`` adds MGIC-MobileNetV3-Small with s_g = 8 and
coarsest_size=16 (a deeper channel hierarchy, about twice the ops). ``--quick``:
MGIC-ResNet-20 alone, one epoch, 2 rounds (a few minutes on 2 cores, nearly all of it
training and converting); the default run takes about 10 minutes on 2 idle cores (more with
``--deep``). ``--write`` replaces the ``export`` section of BENCHMARKS.md.
"""

import contextlib
import os
import pathlib
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import environment, markdown_table, median_ms, tflite_runtime, write_section  # noqa: E402

from keras_mgic import data, export  # noqa: E402
from keras_mgic import ops as mgic_ops  # noqa: E402
from keras_mgic.models import get_model  # noqa: E402

MODELS = {
    "MGIC-ResNet-20": ("mgic_resnet20", {"group_size": 8, "coarsest_size": 16}),
    "MGIC-MobileNetV3-Small 0.5": (
        "mgic_mobilenet_v3_small",
        {"alpha": 0.5, "group_size": 8, "coarsest_size": 32, "coarsening": "literal"},
    ),
}
DEEP = {
    "MGIC-MobileNetV3-Small 0.5 (deeper)": (
        "mgic_mobilenet_v3_small",
        {"alpha": 0.5, "group_size": 8, "coarsest_size": 16, "coarsening": "literal"},
    ),
}
TRAIN, CALIBRATION = 1000, 200


def _digits():
    """The digits normalised per channel with the training images' mean and std."""
    (x_train, y_train), (x_test, y_test) = data.load_digits_arrays()
    pixels = x_train / 255.0
    mean, std = pixels.mean(axis=(0, 1, 2)), pixels.std(axis=(0, 1, 2))
    x_train, x_test = ((x / 255.0 - mean) / std for x in (x_train, x_test))
    return x_train.astype("float32"), y_train, x_test.astype("float32"), y_test


def _train(name, kwargs, x, y, epochs):
    keras.utils.set_random_seed(0)
    model = get_model(
        name,
        input_shape=(32, 32, 3),
        classes=10,
        classifier_activation=None,
        include_preprocessing=False,
        **kwargs,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    model.fit(x[:TRAIN], y[:TRAIN], batch_size=64, epochs=epochs, verbose=0)
    norms = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:  # "precise BN": moving statistics of the trained weights
        layer.momentum = 0.0
    model(x[:500], training=True)
    for layer, momentum in zip(norms, momenta, strict=True):
        layer.momentum = momentum
    return model


@contextlib.contextmanager
def per_group_convolutions():
    """While active, keras_mgic's grouped convolutions trace as split + per-group conv +
    concat on the TensorFlow backend (what an export-time lowering would emit)."""
    native = mgic_ops._tensorflow_grouped_conv2d

    def lowered(inputs, kernel, strides, padding, dilation_rate):
        groups = inputs.shape[-1] // kernel.shape[-2]
        if groups == 1:
            return native(inputs, kernel, strides, padding, dilation_rate)
        pieces = zip(
            tf.split(inputs, groups, axis=-1), tf.split(kernel, groups, axis=-1), strict=True
        )
        return tf.concat(
            [native(x, k, strides, padding, dilation_rate) for x, k in pieces], axis=-1
        )

    mgic_ops._tensorflow_grouped_conv2d = lowered
    try:
        yield
    finally:
        mgic_ops._tensorflow_grouped_conv2d = native


def _latency_ms(path, image):
    interpreter = export.interpreter_class()(model_path=path, num_threads=1)
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()[0]
    interpreter.set_tensor(details["index"], image)
    return median_ms(interpreter.invoke, repeat=50, warmup=5)


def lowering_latency(native, lowered, image, rounds, repeat):
    """A ``Comparison`` of the lowered file's latency (``"lowered"``) against the native
    one's (``"native"``), batch 1, one thread, interleaved."""
    invokers = {
        "native": bench.tflite_invoker(native, image, threads=1),
        "lowered": bench.tflite_invoker(lowered, image, threads=1),
    }
    return bench.compare(invokers, "native", rounds, repeat, warmup=5)


def latency_cells(comparison):
    """Native ms, lowered ms (medians over the rounds) and lowered / native (the median of
    the per-round ratios, with their spread)."""
    return [
        f"{comparison.median_ms('native'):.2f}",
        f"{comparison.median_ms('lowered'):.2f}",
        comparison.describe("lowered"),
    ]


def _kib(path):
    if os.path.isdir(path):
        total = sum(
            os.path.getsize(os.path.join(root, f))
            for root, _, files in os.walk(path)
            for f in files
        )
    else:
        total = os.path.getsize(path)
    return f"{total / 1024:.0f}"


def main():
    parser = bench.parser(
        __doc__, quick="MGIC-ResNet-20 alone, one epoch, 2 rounds", rounds=15, repeat=10
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--deep", action="store_true", help="add the deeper MobileNetV3 hierarchy")
    args = parser.parse_args()
    epochs = 1 if args.quick else args.epochs
    rounds, repeat = (2, args.repeat) if args.quick else (args.rounds, args.repeat)

    try:
        import importlib.metadata

        litert = f"ai-edge-litert {importlib.metadata.version('ai-edge-litert')}"
    except importlib.metadata.PackageNotFoundError:
        litert = "ai-edge-litert not installed"
    runtime = tflite_runtime()
    header = f"{environment()}, {litert}; TFLite runtime: {runtime}"
    print(header)

    x_train, y_train, x_test, y_test = _digits()
    calibration = x_train[TRAIN : TRAIN + CALIBRATION]
    image = x_test[:1]
    models = dict(MODELS, **(DEEP if args.deep else {}))
    if args.quick:
        models = dict(list(MODELS.items())[:1])
    rows, lowering_rows, timed = [], [], {}
    with tempfile.TemporaryDirectory() as folder:
        for title, (name, kwargs) in models.items():
            model = _train(name, kwargs, x_train, y_train, epochs)
            logits = np.asarray(model.predict(x_test, verbose=0))
            accuracy = np.mean(np.argmax(logits, -1) == y_test)
            stem = os.path.join(folder, name + str(len(rows)))
            saved_model = export.to_saved_model(model, stem + "_saved_model")
            files = {"SavedModel": saved_model}
            for quantization in (None, "float16", "int8"):
                label = f"TFLite {quantization or 'float32'}"
                files[label] = export.to_tflite(
                    saved_model,
                    f"{stem}_{quantization}.tflite",
                    quantization,
                    representative_data=calibration,
                )
            for label, path in files.items():
                if os.path.isdir(path):
                    outputs = export.run_saved_model(path, x_test)
                    latency, undelegated = "", ""
                else:
                    export.check_builtin_ops(path)
                    outputs = export.run_tflite(path, x_test)
                    latency = f"{_latency_ms(path, image):.2f}"
                    undelegated = ", ".join(sorted(set(export.undelegated_ops(path)))) or "none"
                figures = export.parity(logits, outputs)
                rows.append(
                    [
                        title,
                        label,
                        _kib(path),
                        f"{figures['max_abs_error']:.2g}",
                        f"{figures['max_rel_error']:.2g}",
                        f"{100 * figures['top1_agreement']:.1f}%",
                        f"{100 * np.mean(np.argmax(outputs, -1) == y_test):.1f}% "
                        f"({100 * accuracy:.1f}%)",
                        latency,
                        undelegated,
                    ]
                )
                print(" | ".join(rows[-1]), flush=True)

            with per_group_convolutions():
                lowered_saved_model = export.to_saved_model(model, stem + "_lowered")
            for quantization in (None, "int8"):
                lowered = export.to_tflite(
                    lowered_saved_model,
                    f"{stem}_lowered_{quantization}.tflite",
                    quantization,
                    representative_data=calibration,
                )
                native = files[f"TFLite {quantization or 'float32'}"]
                groups = export.conv_groups(native)
                assert max(export.conv_groups(lowered)) == 1, "the lowering left a grouped conv"
                native_figures = export.parity(logits, export.run_tflite(native, x_test))
                lowered_figures = export.parity(logits, export.run_tflite(lowered, x_test))
                comparison = lowering_latency(native, lowered, image, rounds, repeat)
                timed[f"{title} {quantization or 'float32'}"] = comparison
                lowering_rows.append(
                    [
                        title,
                        quantization or "float32",
                        f"{sum(g > 1 for g in groups)} of {len(groups)}",
                        f"{len(export.list_ops(native))} / {len(export.list_ops(lowered))}",
                        f"{native_figures['max_rel_error']:.2g} / "
                        f"{lowered_figures['max_rel_error']:.2g}",
                        f"{100 * native_figures['top1_agreement']:.1f}% / "
                        f"{100 * lowered_figures['top1_agreement']:.1f}%",
                        *latency_cells(comparison),
                    ]
                )
                print(" | ".join(lowering_rows[-1]), flush=True)

    table = markdown_table(
        [
            "model",
            "format",
            "size (KiB)",
            "max abs err",
            "max rel err",
            "top-1 agreement",
            "test acc (Keras)",
            "latency ms (b=1, 1 thread)",
            "ops not on XNNPACK",
        ],
        rows,
    )
    lowering = markdown_table(
        [
            "model",
            "precision",
            "grouped CONV_2D",
            "ops native / lowered",
            "max rel err native / lowered",
            "top-1 agreement native / lowered",
            "native ms",
            "lowered ms",
            "lowered / native",
        ],
        lowering_rows,
    )
    text = (
        "## Export: SavedModel and TFLite parity, sizes, latency\n\n"
        f"{bench.header(timed, env=header)}\n\n"
        f"Parity on the {len(x_test)} held-out digits test images (32x32 RGB), models trained "
        f"{epochs} epochs on {TRAIN} training images; relative error is max |diff| / "
        "max |Keras logits|; int8 is full-integer with float32 I/O, calibrated on "
        f"{CALIBRATION} other training images.\n\n{table}\n\n"
        "Grouped convolutions: the native grouped CONV_2D files above vs the same models "
        "lowered at export to per-group convolutions + concatenation (errors vs Keras; "
        f"latency at batch 1 on one thread, the two files interleaved, per round the median "
        f"of {repeat} invokes; lowered / native is the median of the per-round ratios, spread "
        f"in brackets).\n\n{lowering}\n"
    )
    print()
    print(text)
    if args.write:
        write_section("export", text)


if __name__ == "__main__":
    main()
