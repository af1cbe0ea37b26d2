"""Train MGIC-ResNet-56 on CIFAR-10 with TFDS, model.fit, mixed precision and checkpoints.

The paper's setting (Sec. 5.2.1): MGIC-ResNet-56 with ``s_g = 8``, ``s_c = 16``, SGD with
momentum 0.9 and weight decay 1e-4, batch 128, pad-and-crop + flip augmentation. This script
spells out every piece so you can copy and change it; ``keras-mgic train`` does the same in
one command (``keras-mgic train --model mgic_resnet56 --dataset cifar10 ...``).

It runs unchanged on a GPU (mixed_float16 with loss scaling) and on a CPU (mixed_bfloat16).
CIFAR-10 must be prepared by TFDS (on a machine with internet: ``tfds build cifar10``, or
pass ``--download``); point ``--data-dir`` at it.

Usage::

    python examples/train_cifar10.py --data-dir ~/tensorflow_datasets --epochs 180
    python examples/train_cifar10.py --smoke      # fake CIFAR-10 (tfds mock data), 1 step

Kill it and start it again with the same ``--output``: it resumes at the next epoch.
"""

import argparse
import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from keras_mgic import data, models, training  # noqa: E402
from keras_mgic.profiling import count_params  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default=None,
        choices=sorted(models.MODELS),
        help="default: mgic_resnet56 (mgic_resnet20 with --smoke)",
    )
    parser.add_argument("--epochs", type=int, default=180)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--output", default="runs/cifar10")
    parser.add_argument("--no-mixed-precision", action="store_true")
    parser.add_argument(
        "--smoke",
        action="store_true",
        default=bool(os.environ.get("KERAS_MGIC_SMOKE")),
        help="fake CIFAR-10 from tfds.testing.mock_data, one tiny step "
        "(also with KERAS_MGIC_SMOKE=1)",
    )
    args = parser.parse_args(argv)

    limit = None
    mock = contextlib.nullcontext()
    if args.smoke:
        import tensorflow_datasets as tfds

        mock = tfds.testing.mock_data(num_examples=8)
        args.model = args.model or "mgic_resnet20"
        args.epochs, args.batch_size, limit = 1, 8, 8
    args.model = args.model or "mgic_resnet56"

    # 1. Mixed precision: set the policy before building the model. The builders keep the
    #    logits in float32; under mixed_float16, compile() adds dynamic loss scaling.
    if not args.no_mixed_precision:
        keras.config.set_dtype_policy(training.mixed_precision_policy())
    print("dtype policy:", keras.config.dtype_policy().name)

    # 2. Data: TFDS CIFAR-10 as raw 0-255 pixels, augmented (pad 4 + random crop + flip).
    with mock:
        cifar = data.load_dataset(
            "cifar10",
            batch_size=args.batch_size,
            data_dir=args.data_dir,
            download=args.download,
            max_train_examples=limit,
            max_test_examples=limit,
        )
    steps_per_epoch = int(cifar.train.cardinality())

    # 3. Model and optimizer: SGD, momentum 0.9, decoupled weight decay 1e-4, the paper's
    #    step schedule (divide by 10 every 30 of 180 epochs, scaled to --epochs).
    #    The model takes the pipeline's raw 0-255 pixels and rescales them itself.
    model = models.get_model(
        args.model,
        input_shape=cifar.input_shape,
        classes=cifar.num_classes,
        include_preprocessing=True,
    )
    schedule = training.learning_rate_schedule(
        args.learning_rate, "step", args.epochs, steps_per_epoch
    )
    model.compile(
        optimizer=training.make_optimizer(schedule, weight_decay=1e-4, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    print(f"{model.name}: {count_params(model):,} trainable parameters")

    # 4. Checkpoints: BackupAndRestore resumes a killed run; ModelCheckpoint keeps the
    #    latest model every epoch; CSVLogger appends one row per epoch.
    os.makedirs(args.output, exist_ok=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(args.output, "backup")),
        keras.callbacks.ModelCheckpoint(os.path.join(args.output, "checkpoints", "last.keras")),
        keras.callbacks.CSVLogger(os.path.join(args.output, "log.csv"), append=True),
        keras.callbacks.TerminateOnNaN(),
    ]
    model.fit(
        cifar.train,
        validation_data=cifar.test,
        epochs=args.epochs,
        callbacks=callbacks,
        shuffle=False,  # the tf.data pipeline already shuffles every epoch
        verbose=2 if args.smoke else 1,
    )
    loss, accuracy = model.evaluate(cifar.test, verbose=0)
    model.save(os.path.join(args.output, "model.keras"))
    print(f"test accuracy {accuracy:.4f}, test loss {loss:.4f}")
    print(f"saved {os.path.join(args.output, 'model.keras')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
