"""``keras-mgic train``: train a model with ``model.fit`` (see ``keras_mgic.training``).

Examples::

    keras-mgic train --model mgic_resnet20 --dataset digits --epochs 15 --output runs/digits
    keras-mgic train --model mgic_resnet56 --dataset cifar10 --data-dir ~/tensorflow_datasets \\
        --epochs 180 --schedule step --mixed-precision --output runs/cifar10
    TF_CONFIG=... keras-mgic train --model mgic_resnet56 --dataset cifar10 \\
        --distribute multi-worker --output /shared/runs/cifar10

Running the same command again with the same ``--output`` after an interruption resumes at
the next epoch. Bad arguments (e.g. an unknown model: the message lists the valid names) and a
TFDS data set missing offline exit with status 2 and a one-line error. ``--batch-size`` and
``--learning-rate`` are per replica: with ``R``
replicas the global batch is ``R * batch-size`` and the learning rate ``R * learning-rate``.
"""

import json
import sys

DEFAULT_EPOCHS = 30


def _model_kwargs(args):
    kwargs = {}
    if args.group_size is not None:
        kwargs["group_size"] = args.group_size
    if args.coarsest_size is not None:
        kwargs["coarsest_size"] = args.coarsest_size
    if args.dropout_rate:
        kwargs["dropout_rate"] = args.dropout_rate
    return kwargs


def add_arguments(parser):
    parser.add_argument(
        "--model", required=True, help="model name, e.g. mgic_resnet20 (see keras_mgic.models)"
    )
    parser.add_argument(
        "--dataset",
        default="digits",
        help="'digits' (offline, default) or a TFDS image-classification name, e.g. cifar10",
    )
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--batch-size", type=int, default=128, help="per replica")
    parser.add_argument(
        "--learning-rate", type=float, default=0.1, help="per replica (scaled by replicas)"
    )
    parser.add_argument(
        "--schedule",
        choices=("step", "cosine"),
        default="cosine",
        help="cosine decay, or the paper's divide-by-10 every epochs/6 epochs",
    )
    parser.add_argument(
        "--weight-decay", type=float, default=1e-4, help="decoupled weight decay of SGD"
    )
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed_float16 on a GPU (with loss scaling), mixed_bfloat16 on a CPU",
    )
    parser.add_argument("--jit-compile", action="store_true", help="compile with XLA")
    parser.add_argument("--output", default="runs/train", help="run directory (resumable)")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument(
        "--download", action="store_true", help="let TFDS download the data set if missing"
    )
    parser.add_argument(
        "--distribute",
        choices=("none", "mirrored", "multi-worker"),
        default="none",
        help="tf.distribute strategy (multi-worker reads TF_CONFIG)",
    )
    parser.add_argument("--image-size", type=int, default=None, help="input height and width")
    parser.add_argument("--group-size", type=int, default=None, help="s_g of MGIC models")
    parser.add_argument("--coarsest-size", type=int, default=None, help="s_c of MGIC models")
    parser.add_argument("--dropout-rate", type=float, default=0.0)
    parser.add_argument("--no-augment", action="store_true", help="no data augmentation")
    parser.add_argument(
        "--max-train-examples", type=int, default=None, help="train on the first N examples"
    )
    parser.add_argument(
        "--max-test-examples", type=int, default=None, help="test on the first N examples"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="1: progress bar")


def run(args):
    from keras_mgic.training import train

    try:
        metrics = _train(train, args)
    except (ValueError, FileNotFoundError) as error:  # bad arguments, missing data set
        print(f"keras-mgic train: error: {error}", file=sys.stderr)
        return 2
    keys = ("test_accuracy", "params", "flops", "epochs_completed", "seconds_per_epoch")
    print(json.dumps({key: metrics[key] for key in keys}))
    print(f"Wrote {args.output}/metrics.json, model.keras, log.csv, learning_curves.png")
    return 0


def _train(train, args):
    return train(
        args.model,
        args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        schedule=args.schedule,
        weight_decay=args.weight_decay,
        momentum=args.momentum,
        mixed_precision=args.mixed_precision,
        jit_compile=args.jit_compile,
        output=args.output,
        data_dir=args.data_dir,
        download=args.download,
        distribute=args.distribute,
        image_size=args.image_size,
        model_kwargs=_model_kwargs(args),
        augment=not args.no_augment,
        max_train_examples=args.max_train_examples,
        max_test_examples=args.max_test_examples,
        seed=args.seed,
        verbose=args.verbose,
    )
