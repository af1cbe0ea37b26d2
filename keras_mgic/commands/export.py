"""``keras-mgic export MODEL.keras``: SavedModel or TFLite, then the parity figures.

Examples::

    keras-mgic export model.keras --format saved_model
    keras-mgic export model.keras --format tflite --quantization float16
    keras-mgic export model.keras --format tflite --quantization int8 \\
        --representative-data digits

``--representative-data`` gives the inputs that calibrate int8 quantization (required for
``--quantization int8``) and the held-out inputs of the parity check:

* ``digits``: the package's offline data set (``keras_mgic.data.load_dataset("digits")``:
  scikit-learn's bundled digits as RGB images, normalised per channel with the training
  set's mean and standard deviation, exactly as ``keras-mgic train`` feeds them). Training
  images calibrate; the fixed test split is held out. Needs a square RGB model input.
* a folder: every ``.npy`` file in it (one input ``(H, W, C)`` or a batch ``(N, H, W, C)``
  each, already preprocessed exactly as the model expects) and every image file
  (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``), resized to the model's input size
  and scaled to [0, 1] with no other normalisation (use ``.npy`` files for any other
  preprocessing). The inputs are shuffled with a fixed seed; the first
  ``--calibration-samples`` calibrate and the rest are held out (if none are left, parity
  reuses the calibration inputs).

At most ``--calibration-samples`` inputs calibrate and ``--parity-samples`` check parity.
Without data, parity is checked on uniform random inputs in [0, 1).
"""

import os
import sys

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def add_arguments(parser):
    parser.add_argument("model", help="a .keras model file")
    parser.add_argument(
        "--format", choices=("saved_model", "tflite"), required=True, help="export format"
    )
    parser.add_argument(
        "--quantization",
        choices=("float16", "int8"),
        default=None,
        help="TFLite quantization (default: none, float32)",
    )
    parser.add_argument(
        "--representative-data",
        metavar="digits|DIR",
        default=None,
        help="calibration and parity inputs: 'digits' or a folder of images / .npy files",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="output path (default: next to MODEL, e.g. model_int8.tflite, model_saved_model)",
    )
    parser.add_argument(
        "--integer-io",
        action="store_true",
        help="int8 input and output tensors (int8 only; default: float32 I/O)",
    )
    parser.add_argument(
        "--calibration-samples",
        type=int,
        default=200,
        metavar="N",
        help="inputs used to calibrate int8 (default: 200)",
    )
    parser.add_argument(
        "--parity-samples",
        type=int,
        default=200,
        metavar="N",
        help="held-out inputs of the parity check (default: 200)",
    )


def default_output(model_path, export_format, quantization):
    """The output path used when ``--output`` is not given."""
    stem = os.path.splitext(model_path)[0]
    if export_format == "saved_model":
        return f"{stem}_saved_model"
    return f"{stem}_{quantization}.tflite" if quantization else f"{stem}.tflite"


def _digits(input_shape):
    """The digits training and test images, preprocessed as ``keras_mgic.data`` does."""
    import numpy as np

    from keras_mgic import data

    height, width, channels = input_shape
    if height != width or channels != 3:
        raise ValueError(
            "The digits data set needs a model with a square RGB input (size, size, 3). "
            f"Received: input_shape={tuple(input_shape)}"
        )
    datasets = data.load_dataset("digits", batch_size=64, image_size=height, augment=False)
    train = np.concatenate([images.numpy() for images, _ in datasets.train])
    test = np.concatenate([images.numpy() for images, _ in datasets.test])
    return train, test


def _folder(path, input_shape):
    """The inputs stored in a folder of ``.npy`` files and images, in file-name order."""
    import keras
    import numpy as np

    height, width, channels = input_shape
    arrays = []
    for name in sorted(os.listdir(path)):
        file = os.path.join(path, name)
        suffix = os.path.splitext(name)[1].lower()
        if suffix == ".npy":
            array = np.load(file).astype("float32")
            arrays.append(array[None] if array.ndim == len(input_shape) else array)
        elif suffix in IMAGE_SUFFIXES:
            image = keras.utils.load_img(
                file,
                color_mode="grayscale" if channels == 1 else "rgb",
                target_size=(height, width),
            )
            arrays.append(keras.utils.img_to_array(image, dtype="float32")[None] / 255.0)
    if not arrays:
        raise ValueError(
            f"No .npy or image files ({', '.join(IMAGE_SUFFIXES)}) in the representative data "
            f"folder. Received: representative_data={path!r}"
        )
    for array in arrays:
        if tuple(array.shape[1:]) != tuple(input_shape):
            raise ValueError(
                "Every representative input must have the model's input shape "
                f"{tuple(input_shape)}. Received: shape={tuple(array.shape[1:])}"
            )
    return np.concatenate(arrays, axis=0)


def load_representative_data(source, input_shape, calibration_samples=200):
    """Calibration and held-out inputs from ``"digits"`` or a folder (see the module doc).

    Args:
        source: ``"digits"`` or a folder of ``.npy`` and image files.
        input_shape: the model's input shape without the batch dimension.
        calibration_samples: how many of a folder's inputs calibrate (the rest are held
            out); the digits set has its own train/test split.

    Returns:
        ``(calibration, held_out)``, float32 arrays of inputs.

    Example:

    >>> calibration, held_out = load_representative_data("digits", (32, 32, 3))
    >>> calibration.shape[1:], held_out.shape
    ((32, 32, 3), (360, 32, 32, 3))
    """
    import numpy as np

    if source == "digits":
        return _digits(input_shape)
    if not os.path.isdir(source):
        raise ValueError(
            "`--representative-data` must be 'digits' or an existing folder. "
            f"Received: representative_data={source!r}"
        )
    inputs = _folder(source, input_shape)
    inputs = inputs[np.random.default_rng(0).permutation(len(inputs))]
    calibration, held_out = inputs[:calibration_samples], inputs[calibration_samples:]
    return calibration, (held_out if len(held_out) else calibration)


def _size(path):
    if os.path.isdir(path):
        return sum(
            os.path.getsize(os.path.join(root, name))
            for root, _, names in os.walk(path)
            for name in names
        )
    return os.path.getsize(path)


def _check_arguments(args):
    if args.format == "saved_model" and (args.quantization or args.integer_io):
        raise ValueError(
            "Quantization applies to TFLite only: use --format tflite. "
            f"Received: quantization={args.quantization!r}, integer_io={args.integer_io}"
        )
    if args.quantization == "int8" and args.representative_data is None:
        raise ValueError(
            "--quantization int8 needs --representative-data (digits or a folder) to "
            "calibrate. Received: representative_data=None"
        )
    for name in ("calibration_samples", "parity_samples"):
        if getattr(args, name) < 1:
            raise ValueError(
                f"--{name.replace('_', '-')} must be positive. "
                f"Received: {name}={getattr(args, name)}"
            )
    if not os.path.isfile(args.model):
        raise ValueError(f"No such model file. Received: model={args.model!r}")


def run(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    import keras_mgic  # noqa: F401  (registers the package's layers for load_model)
    from keras_mgic import export

    try:
        _check_arguments(args)
        model = keras.saving.load_model(args.model, compile=False)
        input_shape = tuple(model.inputs[0].shape[1:])
        if args.representative_data is not None:
            calibration, held_out = load_representative_data(
                args.representative_data, input_shape, args.calibration_samples
            )
            calibration = calibration[: args.calibration_samples]
            held_out = held_out[: args.parity_samples]
            source = f"{len(held_out)} held-out inputs of {args.representative_data!r}"
        else:
            calibration = None
            rng = np.random.default_rng(0)
            held_out = rng.random((args.parity_samples, *input_shape), dtype="float32")
            source = f"{len(held_out)} uniform random inputs"
        output = args.output or default_output(args.model, args.format, args.quantization)
        if args.format == "saved_model":
            export.to_saved_model(model, output)
        else:
            export.to_tflite(
                model,
                output,
                quantization=args.quantization,
                representative_data=calibration,
                integer_io=args.integer_io,
            )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    kind = "saved_model" if args.format == "saved_model" else f"tflite {args.quantization or ''}"
    print(f"wrote {output} ({kind.strip()}, {_size(output) / 1024:.1f} KiB)")
    if args.format == "tflite":
        print(f"ops: {', '.join(export.check_builtin_ops(output))}")
        if args.quantization == "int8":
            print(f"calibrated on {len(calibration)} inputs")
    figures = export.check_parity(model, output, held_out)
    print(f"parity vs Keras on {source}: {export.format_parity(figures)}")
    return 0
