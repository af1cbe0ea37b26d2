"""``keras-mgic train``: train a model with ``model.fit`` (see ``keras_mgic.training``).

Examples::

    keras-mgic train --model mgic_resnet20 --dataset digits --epochs 15 --output runs/digits
    keras-mgic train --model mgic_resnet56 --dataset cifar10 --data-dir ~/tensorflow_datasets \\
        --epochs 180 --schedule step --mixed-precision --output runs/cifar10
    keras-mgic train --model mgic_lraspp_mobilenet_v3_small --dataset digit_mosaics \\
        --epochs 20 --output runs/mosaics
    keras-mgic train --model mgic_diffgcn --dataset digit_points --output runs/points
    TF_CONFIG=... keras-mgic train --model mgic_resnet56 --dataset cifar10 \\
        --distribute multi-worker --output /shared/runs/cifar10

Every argument and the output folder are checked before anything is written or trained: a bad
value, an output that is a file or unwritable, a folder that holds a finished run (unless
``--overwrite``), or a TFDS data set missing offline is one line on stderr and exit status 2,
and an earlier run in the folder stays as it was.

After every epoch the run saves a checkpoint (the model, its optimizer state, the log rows)
in ``OUTPUT/in_progress/``, each file written to a temporary name, synced and renamed, the
previous one kept until the new one is complete. Running the same command again after a kill
(SIGKILL, a power cut) or Ctrl-C resumes after the last completed epoch ("Resuming from epoch
N"); a checkpoint that does not load is moved to ``OUTPUT/set_aside/`` with a one-line
message and the one before it is used (or the run starts again, saying so). ``log.csv`` then
has one row per epoch. Ctrl-C (or SIGTERM) stops at the next batch with a one-line message
and exit status 130 (143). A loss that becomes NaN stops the run with a one-line message and
exit status 1: nothing is published, an earlier model stays. ``--overwrite`` replaces a
finished run, and when the new run succeeds removes the files that describe the old model
(its ``.tflite`` files and SavedModel folders). On TensorFlow the same command and seed give
the same weights and metrics on the same machine (``--nondeterministic`` turns TensorFlow's
deterministic kernels off).
The written model takes raw 0-255 RGB images (point clouds as the data set holds them). A
segmentation model (``*_lraspp_*``) on a segmentation data set reports mean IoU and pixel
accuracy instead of accuracy; a point-cloud classifier (``dgcnn``, ``diffgcn``,
``mgic_diffgcn``) takes the data set's point layout (the ``keras_mgic.training.tasks``
module). ``--batch-size`` and ``--learning-rate`` are per
replica: with ``R`` replicas the global batch is ``R * batch-size`` and the learning rate
``R * learning-rate``.
"""

import json
import os
import sys
import textwrap

from keras_mgic.commands import arguments as types
from keras_mgic.commands import names

#: The figures printed after a run, those of its task (classification or segmentation).
HEADLINE = (
    "test_accuracy",
    "mean_iou",
    "pixel_accuracy",
    "params",
    "flops",
    "epochs_completed",
    "seconds_per_epoch",
)
#: Arguments passed to ``train`` only when given (``train``'s defaults apply otherwise).
_OPTIONAL = ("epochs", "batch_size", "learning_rate", "warmup_epochs", "weight_decay", "momentum")


def add_arguments(parser):
    parser.epilog = "\n".join(
        [names.listing(), "", textwrap.fill(names.MGIC_FLAGS + ".", width=92)]
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="NAME",
        help="model name, listed below (e.g. mgic_resnet20)",
    )
    parser.add_argument(
        "--dataset",
        default="digits",
        metavar="NAME",
        help="data set name, listed below (default: digits, offline); a classifier takes "
        "digits or a TFDS image-classification name, an *_lraspp_* model a segmentation set, "
        "a point-cloud model digit_points or modelnet10",
    )
    parser.add_argument("--epochs", type=types.positive_int, help="default: 30")
    parser.add_argument(
        "--batch-size",
        type=types.positive_int,
        help="per replica (default: 32 on digits and digit_points, 16 on digit_mosaics, else 128)",
    )
    parser.add_argument(
        "--learning-rate",
        type=types.positive_float,
        help="per replica (default: 0.05 on digits and digit_points, 0.2 on digit_mosaics, "
        "else 0.1)",
    )
    parser.add_argument(
        "--schedule",
        choices=("step", "cosine"),
        default="cosine",
        help="cosine decay after a warmup, or the paper's divide-by-10 every epochs/6 epochs",
    )
    parser.add_argument(
        "--warmup-epochs", type=types.non_negative_float, help="linear warmup (cosine; default 0)"
    )
    parser.add_argument(
        "--weight-decay", type=types.non_negative_float, help="decoupled (default: 1e-4)"
    )
    parser.add_argument("--momentum", type=types.fraction, help="SGD momentum (default: 0.9)")
    parser.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed_float16 on a GPU (with loss scaling), mixed_bfloat16 on a CPU",
    )
    parser.add_argument("--jit-compile", action="store_true", help="compile with XLA")
    parser.add_argument("--output", default="runs/train", help="run folder (resumable)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a finished run in --output (and remove its .tflite/SavedModel exports)",
    )
    parser.add_argument(
        "--nondeterministic",
        action="store_true",
        help="TensorFlow: no deterministic kernels (a little faster; runs then differ)",
    )
    _add_data_arguments(parser)
    parser.add_argument(
        "--distribute",
        choices=("none", "mirrored", "multi-worker"),
        default="none",
        help="tf.distribute strategy (multi-worker reads TF_CONFIG)",
    )
    parser.add_argument(
        "--group-size",
        type=types.positive_int,
        metavar="S_G",
        help="MGIC models: s_g, channels per group on the fine levels (default: the model's)",
    )
    parser.add_argument(
        "--coarsest-size",
        type=types.positive_int,
        metavar="S_C",
        help="MGIC models: s_c, the coarsest level's width at most (default: the model's)",
    )
    parser.add_argument(
        "--mgic-min-width",
        type=types.positive_int,
        help="MGIC models: blocks narrower than this stay dense (a hybrid)",
    )
    parser.add_argument("--dropout-rate", type=types.fraction, default=0.0)
    parser.add_argument("--seed", type=types.non_negative_int, default=0)
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=None,
        help="1: progress bar, 2: a line per epoch (default: 1 on a terminal, else 2)",
    )


def _add_data_arguments(parser):
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument(
        "--download", action="store_true", help="let TFDS download the data set if missing"
    )
    parser.add_argument("--image-size", type=types.positive_int, help="input height and width")
    parser.add_argument(
        "--num-points", type=types.positive_int, help="points per cloud (point-set data sets)"
    )
    parser.add_argument("--no-augment", action="store_true", help="no data augmentation")
    parser.add_argument(
        "--max-train-examples", type=types.positive_int, help="train on the first N examples"
    )
    parser.add_argument(
        "--max-test-examples", type=types.positive_int, help="test on the first N examples"
    )


def _model_kwargs(args):
    kwargs = {}
    if args.group_size is not None:
        kwargs["group_size"] = args.group_size
    if args.coarsest_size is not None:
        kwargs["coarsest_size"] = args.coarsest_size
    if args.mgic_min_width is not None:
        kwargs["mgic_min_width"] = args.mgic_min_width
    if args.dropout_rate:
        kwargs["dropout_rate"] = args.dropout_rate
    return kwargs


def train_kwargs(args):
    """``train``'s keyword arguments from the parsed command line."""
    kwargs = {name: getattr(args, name) for name in _OPTIONAL if getattr(args, name) is not None}
    names = (
        "schedule mixed_precision jit_compile output data_dir download distribute "
        "image_size num_points max_train_examples max_test_examples seed overwrite"
    )
    kwargs.update({name: getattr(args, name) for name in names.split()})
    kwargs["model_kwargs"] = _model_kwargs(args)
    kwargs["augment"] = not args.no_augment
    kwargs["deterministic"] = not args.nondeterministic
    kwargs["verbose"] = "auto" if args.verbose is None else args.verbose
    return kwargs


def _error(message, status=2):
    print(f"keras-mgic train: error: {message}", file=sys.stderr)
    return status


def _first_line(error):
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def run(args):
    from keras_mgic import training

    try:
        training.check_output(args.output)
        metrics = training.train(args.model, args.dataset, **train_kwargs(args))
    except (ValueError, FileNotFoundError) as error:  # bad arguments or output, missing data
        return _error(_first_line(error))
    except training.LossNaNError as error:
        return _error(_first_line(error), status=1)
    except training.TrainingInterrupted as error:
        print(f"keras-mgic train: {_first_line(error)}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:  # before or after model.fit: nothing half-written either
        print("keras-mgic train: interrupted; nothing half-written was left", file=sys.stderr)
        return 130
    print(json.dumps({key: metrics[key] for key in HEADLINE if key in metrics}))
    files = metrics.get("files", [])
    print(f"Wrote {', '.join(files)} to {os.path.abspath(args.output)}")
    if "model.keras" in files and not training.plots.plotting_available():
        print("No learning_curves.png: matplotlib is not installed (pip install matplotlib).")
    return 0
