"""MGIC-LR-ASPP-MobileNetV3-Small and its dense twin trained on the digit mosaics, then exported.

Usage: python benchmarks/segmentation.py [--epochs 15] [--write] [--quick]

Trains ``mgic_lraspp_mobilenet_v3_small`` (the builder's defaults: s_g = 16, s_c = 32, the
reference coarsening rule, alpha 1) and ``lraspp_mobilenet_v3_small`` with
``keras_mgic.training.train`` on the offline digit mosaics (600 training mosaics of 128x128,
200 test mosaics of other digit images; the data set's defaults: batch 16, learning rate 0.2,
cosine schedule, SGD with momentum 0.9 and weight decay 1e-4, random scale and crop), one after
the other on this machine, and reports for each: the test mean IoU and pixel accuracy, the
epoch and training seconds at which the test mean IoU first reached 0.6 and 0.8, parameters,
MACs (at 128x128) and the median seconds per epoch.

Then exports both trained models (SavedModel, TFLite float32 / float16 / int8; int8 calibrated
on 200 training mosaics) and checks each file on the 200 test mosaics: per-pixel argmax
agreement with Keras, max |difference| over max |Keras logit|, and the file's mean IoU.

``--write`` copies the MGIC run's ``predictions.png`` to ``docs/segmentation_predictions.png``,
draws both runs' curves to ``docs/segmentation_curves.png`` and writes the ``segmentation``
section of BENCHMARKS.md. ``--quick`` (a smoke run: 2 epochs on 48 mosaics) writes nothing.
"""

import argparse
import os
import pathlib
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import REPO, environment, markdown_table, tflite_runtime, write_section  # noqa: E402

import keras_mgic  # noqa: E402, F401  (registers the layers for load_model)
from keras_mgic import export, training  # noqa: E402
from keras_mgic.data import digit_mosaics  # noqa: E402

MODELS = {
    "MGIC-LR-ASPP-MobileNetV3-Small": "mgic_lraspp_mobilenet_v3_small",
    "LR-ASPP-MobileNetV3-Small": "lraspp_mobilenet_v3_small",
}
THRESHOLDS = (0.6, 0.8)
CALIBRATION = 200
FORMATS = (
    ("SavedModel", "saved_model", None),
    ("TFLite float32", "tflite", None),
    ("TFLite float16", "tflite", "float16"),
    ("TFLite int8", "tflite", "int8"),
)


def _reached(log, threshold):
    """``(epoch, cumulative training seconds)`` at which val_mean_iou first reached
    ``threshold``, or None."""
    seconds = 0.0
    for epoch, (value, spent) in enumerate(
        zip(log["val_mean_iou"], log["train_seconds"], strict=True), start=1
    ):
        seconds += spent
        if value >= threshold:
            return epoch, seconds
    return None


def train_all(epochs, root, quick):
    limits = {"max_train_examples": 48, "max_test_examples": 16} if quick else {}
    runs = {}
    for label, name in MODELS.items():
        output = os.path.join(root, name)
        print(f"training {label} for {epochs} epochs", flush=True)
        metrics = training.train(name, "digit_mosaics", epochs=epochs, output=output, **limits)
        log = training.read_log(os.path.join(output, "log.csv"))
        runs[label] = (output, metrics, log)
        print(f"{label}: mean IoU {metrics['mean_iou']:.4f}", flush=True)
    return runs


def _fmt_reached(reached):
    return "not reached" if reached is None else f"epoch {reached[0]} ({reached[1]:.0f} s)"


def training_table(runs):
    rows = []
    for label, (_, metrics, log) in runs.items():
        rows.append(
            (
                label,
                f"{metrics['mean_iou']:.3f}",
                f"{metrics['pixel_accuracy']:.3f}",
                *(_fmt_reached(_reached(log, t)) for t in THRESHOLDS),
                f"{metrics['params'] / 1e3:.1f}K",
                f"{metrics['flops'] / 1e6:.1f}M",
                f"{metrics['seconds_per_epoch']:.1f}",
            )
        )
    header = [
        "model",
        "test mean IoU",
        "pixel accuracy",
        *(f"mean IoU ≥ {t} at" for t in THRESHOLDS),
        "params",
        "MACs (128x128)",
        "s / epoch",
    ]
    return markdown_table(header, rows)


def _size_kib(path):
    if os.path.isdir(path):
        files = [os.path.join(r, n) for r, _, names in os.walk(path) for n in names]
        return sum(os.path.getsize(f) for f in files) / 1024
    return os.path.getsize(path) / 1024


def parity_rows(label, model_path, folder, quick):
    model = keras.saving.load_model(model_path)
    (calibration, _), (held_out, masks) = digit_mosaics.load_digit_mosaic_arrays()
    count = 16 if quick else len(held_out)
    held_out, masks = held_out[:count].astype("float32"), masks[:count]
    calibration = calibration[: 16 if quick else CALIBRATION].astype("float32")
    rows = []
    for file_label, kind, quantization in FORMATS:
        path = os.path.join(folder, f"{label}_{quantization or kind}")
        if kind == "saved_model":
            export.to_saved_model(model, path)
        else:
            path = export.to_tflite(
                model, path + ".tflite", quantization, representative_data=calibration
            )
        figures = export.check_parity(model, path, held_out, labels=masks)
        print(f"{label} {file_label}: {export.format_parity(figures)}", flush=True)
        rows.append(
            (
                label if not rows else "",
                file_label,
                f"{_size_kib(path):.0f}",
                f"{100 * figures['top1_agreement']:.2f}%",
                f"{figures['max_rel_error']:.2g}",
                f"{figures['mean_iou']:.4f}",
                f"{figures['keras_mean_iou']:.4f}",
            )
        )
    return rows, len(held_out)


def write_docs(runs):
    docs = REPO / "docs"
    mgic_output = runs["MGIC-LR-ASPP-MobileNetV3-Small"][0]
    shutil.copyfile(
        os.path.join(mgic_output, "predictions.png"), docs / "segmentation_predictions.png"
    )
    training.plot_learning_curves(
        {label: os.path.join(output, "log.csv") for label, (output, _, _) in runs.items()},
        str(docs / "segmentation_curves.png"),
        title="LR-ASPP-MobileNetV3-Small on the digit mosaics",
        metric="mean_iou",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md and docs/")
    parser.add_argument("--quick", action="store_true", help="smoke run, writes nothing")
    args = parser.parse_args(argv)
    epochs = 2 if args.quick else args.epochs
    env = environment()
    print(env, f"runtime: {tflite_runtime()}", flush=True)
    with tempfile.TemporaryDirectory() as root:
        runs = train_all(epochs, root, args.quick)
        trained = training_table(runs)
        print(trained)
        parity, held_out = [], 0
        for label, (output, _, _) in runs.items():
            rows, held_out = parity_rows(
                label, os.path.join(output, "model.keras"), root, args.quick
            )
            parity += rows
        parity = markdown_table(
            ["model", "file", "size (KiB)", "per-pixel agreement", "max rel. error",
             "mean IoU (file)", "mean IoU (Keras)"],
            parity,
        )  # fmt: skip
        print(parity)
        if args.write and not args.quick:
            write_docs(runs)
    if args.write and not args.quick:
        first = next(iter(runs.values()))[1]
        text = (
            "## Segmentation: MGIC-LR-ASPP-Small and its dense twin on the digit mosaics\n\n"
            f"`python benchmarks/segmentation.py --epochs {epochs} --write`. Each model trained "
            f"by `keras_mgic.training.train` for {epochs} epochs on the digit mosaics (600 "
            "training mosaics of 128x128, 200 test mosaics of other digits; batch "
            f"{first['batch_size']}, learning rate {first['learning_rate']}, cosine schedule, "
            "seed 0), one after the other; the builders' defaults (MGIC: s_g = 16, s_c = 32, "
            "the reference coarsening rule). Mean IoU over the 11 classes on the test mosaics; "
            "seconds are training seconds on this machine.\n"
            f"{env}\n\n{trained}\n\n"
            f"Export of the trained models; parity on the {held_out} test mosaics (any input "
            "size: the files take 128x128 here); int8 is full-integer, calibrated on "
            f"{CALIBRATION} training mosaics, float32 input and output.\n\n{parity}\n\n"
            "Predictions of the MGIC model on test mosaics: `docs/segmentation_predictions.png`; "
            "learning curves: `docs/segmentation_curves.png`."
        )
        write_section("segmentation", text)


if __name__ == "__main__":
    main()
