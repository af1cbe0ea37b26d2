"""Semantic segmentation with MGIC-LR-ASPP-MobileNetV3-Small on the offline digit mosaics.

The paper's segmentation network (Sec. 5.3): an LR-ASPP head on an MGIC-MobileNetV3-Small
encoder at output stride 16. This script spells out every piece so you can copy and change
it; ``keras-mgic train --model mgic_lraspp_mobilenet_v3_small --dataset digit_mosaics`` does
the same in one command (and writes the run's files, resumes, ...).

- Data: the bundled handwritten digits on 128x128 canvases, every ink pixel labelled with
  its digit + 1 and the background 0 (11 classes); the image and its mask are augmented
  alike (random scale, pad, crop). Masks use 255 for pixels to ignore.
- Model: any input size (``input_shape=(None, None, 3)``), raw 0-255 pixels in, per-pixel
  logits out.
- Loss and metrics skip the ignore label: ``SparseCategoricalCrossentropy(ignore_class=255)``,
  ``keras_mgic.metrics.MeanIoU`` and ``PixelAccuracy``.
- Export: a float32 TFLite file that takes any image size, checked pixel by pixel against
  Keras on the held-out mosaics.

Usage::

    python examples/segmentation.py --epochs 15
    python examples/segmentation.py --smoke      # a few small mosaics, one epoch
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_mgic import data, export, metrics, models, training  # noqa: E402
from keras_mgic.profiling import count_flops, count_params  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=0.2)
    parser.add_argument("--output", default="runs/segmentation")
    parser.add_argument(
        "--smoke",
        action="store_true",
        default=bool(os.environ.get("KERAS_MGIC_SMOKE")),
        help="32x32 mosaics, 16 training and 8 test ones, one epoch (also with KERAS_MGIC_SMOKE=1)",
    )
    args = parser.parse_args(argv)
    size, limits = None, (None, None)
    if args.smoke:
        size, limits = 32, (16, 8)
        args.epochs, args.batch_size = 1, 8

    # 1. Data: (image, mask) pipelines; the test mosaics show digits no training one shows.
    mosaics = data.load_dataset(
        "digit_mosaics",
        batch_size=args.batch_size,
        image_size=size,
        max_train_examples=limits[0],
        max_test_examples=limits[1],
    )
    steps_per_epoch = int(mosaics.train.cardinality())

    # 2. Model: MGIC encoder, LR-ASPP head; any input size, raw 0-255 pixels.
    model = models.MGICLRASPPMobileNetV3Small(
        input_shape=(None, None, 3), classes=mosaics.num_classes
    )
    print(
        f"{model.name}: {count_params(model):,} parameters, "
        f"{count_flops(model, mosaics.input_shape):,} MACs at {mosaics.input_shape[:2]}"
    )

    # 3. Loss and metrics that skip the ignore label (255); SGD with a cosine schedule.
    schedule = training.learning_rate_schedule(
        args.learning_rate, "cosine", args.epochs, steps_per_epoch
    )
    mean_iou = metrics.MeanIoU(mosaics.num_classes, ignore_label=mosaics.ignore_label)
    model.compile(
        optimizer=training.make_optimizer(schedule, weight_decay=1e-4, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=mosaics.ignore_label
        ),
        metrics=[mean_iou, metrics.PixelAccuracy(mosaics.num_classes)],
    )
    model.fit(
        mosaics.train,
        validation_data=mosaics.test,
        epochs=args.epochs,
        verbose=2,
    )
    results = model.evaluate(mosaics.test, verbose=0, return_dict=True)
    print(
        f"test mean IoU {results['mean_iou']:.4f}, pixel accuracy {results['pixel_accuracy']:.4f}"
    )
    per_class = mean_iou.per_class_iou()  # NaN: a class that never occurred
    print(
        "per-class IoU:",
        {n: round(float(v), 3) for n, v in zip(mosaics.class_names, per_class, strict=True)},
    )

    # 4. Save, and export a TFLite file that takes any image size; check it pixel by pixel.
    os.makedirs(args.output, exist_ok=True)
    model.save(os.path.join(args.output, "model.keras"))
    images, masks = next(iter(mosaics.test))
    path = export.to_tflite(model, os.path.join(args.output, "model.tflite"))
    figures = export.check_parity(model, path, np.asarray(images), labels=np.asarray(masks))
    print(f"TFLite float32: {export.format_parity(figures)}")
    print(f"saved {os.path.join(args.output, 'model.keras')} and {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
