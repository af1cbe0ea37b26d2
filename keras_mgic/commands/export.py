"""``keras-mgic export MODEL.keras``: SavedModel, TFLite or ONNX, then the parity figures.

Examples::

    keras-mgic export model.keras --format saved_model
    keras-mgic export model.keras --format onnx
    keras-mgic export model.keras --format tflite --quantization float16
    keras-mgic export model.keras --format tflite --quantization int8 \\
        --representative-data digits
    keras-mgic export mosaics/model.keras --format tflite --quantization int8 \\
        --representative-data digit_mosaics
    keras-mgic export points/model.keras --format tflite --quantization float16 \\
        --representative-data digit_points

Every argument, the model file and the output path are checked before any conversion work;
an error is one line on stderr and exit status 2. An existing output is refused unless
``--overwrite``. The output is written to a temporary file or folder next to it, synced and
renamed into place, so a failed or killed export leaves the old output as it was or the new
one complete. A model file that is not a ``.keras`` archive is reported as such. ONNX needs
the ``onnx`` extra (tf2onnx, onnx, onnxruntime). int8 is
refused for the point-cloud models: the TFLite runtime aborts on a quantized k-NN graph
(``keras_mgic.export.int8_support``); ``digit_points`` then only holds out parity inputs.

``--representative-data`` gives the inputs that calibrate int8 quantization (required for
``--quantization int8``) and the held-out inputs of the parity check:

* ``digits``: the package's offline data set (scikit-learn's bundled digits as RGB images)
  as raw 0-255 pixels, as ``keras_mgic.data`` yields them and ``keras-mgic train`` feeds
  them (its models rescale their input themselves, ``include_preprocessing=True``).
  Training images calibrate; the fixed test split is held out. Needs a square RGB model
  input.
* ``digit_mosaics``: the offline segmentation set (``keras_mgic.data.digit_mosaics``),
  for segmentation models: training mosaics calibrate; the test mosaics are held out, and
  their masks give each file's mean IoU next to the Keras model's. Needs a square RGB
  model input, or one of any size (then 128x128 mosaics).
* ``digit_points``: the offline point-set data set (``keras_mgic.data.digit_points``), for
  point-cloud classifiers with ``(points, 3)`` inputs ``(x, y, intensity)``: training
  clouds calibrate, the test clouds are held out (256 points each for a model that takes
  any number).
* a folder: every ``.npy`` file in it (one input ``(H, W, C)`` or a batch ``(N, H, W, C)``
  each, already preprocessed exactly as the model expects) and every image file
  (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``), resized to the model's input size,
  as raw 0-255 pixel values when the model rescales its input itself, else scaled to
  [0, 1] (use ``.npy`` files for any other preprocessing). The inputs are shuffled with a
  fixed seed; the first ``--calibration-samples`` calibrate and the rest are held out (if
  none are left, parity reuses the calibration inputs).

At most ``--calibration-samples`` inputs calibrate and ``--parity-samples`` check parity.
Without data, parity is checked on uniform random inputs in the model's input range
([0, 255) for a model that rescales its input itself, else [0, 1)). A model that takes any
input size (``input_shape=(None, None, 3)``, e.g. the segmentation models ``keras-mgic
train`` writes) is exported for any size; its random parity inputs are 64x64, the digits
32x32, and the images of a folder keep their own (common) size.
"""

import os
import sys
import zipfile

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
#: Representative data sets the package ships (no download).
BUILTIN_DATA = ("digits", "digit_mosaics", "digit_points")
#: Height and width of the random parity inputs of a model that takes any size.
ANY_SIZE_INPUT = 64


def add_arguments(parser):
    parser.add_argument("model", help="a .keras model file")
    parser.add_argument(
        "--format",
        choices=("saved_model", "tflite", "onnx"),
        required=True,
        help="export format (onnx: needs the onnx extra)",
    )
    parser.add_argument(
        "--quantization",
        choices=("float16", "int8"),
        default=None,
        help="TFLite quantization (default: none, float32)",
    )
    parser.add_argument(
        "--representative-data",
        metavar="digits|digit_mosaics|digit_points|DIR",
        default=None,
        help="calibration and parity inputs: 'digits', 'digit_mosaics' (segmentation), "
        "'digit_points' (point clouds) or a "
        "folder of images / .npy files",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="output path (default: next to MODEL, e.g. model_int8.tflite, model_saved_model)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output (default: refuse)"
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
    if export_format == "onnx":
        return f"{stem}.onnx"
    return f"{stem}_{quantization}.tflite" if quantization else f"{stem}.tflite"


def takes_raw_pixels(model):
    """Whether a model rescales its input itself: a ``Rescaling`` layer right after it.

    The builders' ``include_preprocessing=True`` (and so every model ``keras-mgic train``
    writes) starts with one; such a model takes raw 0-255 pixel values.
    """
    import keras

    return any(isinstance(layer, keras.layers.Rescaling) for layer in model.layers[:3])


def _square_size(input_shape, name, any_size):
    """The image size a square RGB model input takes (``any_size`` for ``(None, None, 3)``)."""
    height, width, channels = input_shape
    if height is None and width is None and channels == 3:
        return any_size
    if height != width or channels != 3:
        raise ValueError(
            f"The {name} data set needs a model with a square RGB input (size, size, 3). "
            f"Received: input_shape={tuple(input_shape)}"
        )
    return height


def _digits(input_shape):
    """The digits training and test images as raw 0-255 pixels (float32)."""
    from keras_mgic import data

    size = _square_size(input_shape, "digits", 32)
    (train, _), (test, _) = data.load_digits_arrays(image_size=size)
    return train.astype("float32"), test.astype("float32")


def _digit_mosaics(input_shape):
    """Training mosaics, test mosaics (raw 0-255 pixels, float32) and the test masks."""
    from keras_mgic.data import digit_mosaics

    size = _square_size(input_shape, "digit_mosaics", digit_mosaics.DEFAULT_SIZE)
    (train, _), (test, masks) = digit_mosaics.load_digit_mosaic_arrays(size=size)
    return train.astype("float32"), test.astype("float32"), masks


def _digit_points(input_shape):
    """The digit_points training and test clouds ``(x, y, intensity)``, float32."""
    from keras_mgic.data import digit_points

    points, channels = input_shape
    if channels != 3:
        raise ValueError(
            "The digit_points data set needs a model taking (points, 3) clouds of (x, y, "
            f"intensity). Received: input_shape={tuple(input_shape)}"
        )
    num_points = points or digit_points.DIGIT_POINTS_DEFAULT_POINTS
    (train, _), (test, _) = digit_points.load_digit_points_arrays(num_points)
    return train, test


def _load_file(file, input_shape, raw_pixels):
    """The inputs of one ``.npy`` or image file as a batch, or ``None`` for another file."""
    import keras
    import numpy as np

    suffix = os.path.splitext(file)[1].lower()
    if suffix == ".npy":
        array = np.load(file).astype("float32")
        return array[None] if array.ndim == len(input_shape) else array
    if suffix not in IMAGE_SUFFIXES:
        return None
    height, width, channels = input_shape
    target_size = None if height is None or width is None else (height, width)
    image = keras.utils.load_img(
        file, color_mode="grayscale" if channels == 1 else "rgb", target_size=target_size
    )
    pixels = keras.utils.img_to_array(image, dtype="float32")[None]
    return pixels if raw_pixels else pixels / 255.0


def _folder(path, input_shape, raw_pixels=False):
    """The inputs stored in a folder of ``.npy`` files and images, in file-name order."""
    import numpy as np

    arrays = []
    for name in sorted(os.listdir(path)):
        array = _load_file(os.path.join(path, name), input_shape, raw_pixels)
        if array is None:
            continue
        # A model of any input size takes any (common) size: the first file's.
        expected = tuple(arrays[0].shape[1:]) if arrays else tuple(input_shape)
        if not _fits(array.shape[1:], expected):
            raise ValueError(
                "Every representative input must have the model's input shape "
                f"{tuple(input_shape)} (one size for all). Received: shape="
                f"{tuple(array.shape[1:])} in {name!r}"
            )
        arrays.append(array)
    if not arrays:
        raise ValueError(
            f"No .npy or image files ({', '.join(IMAGE_SUFFIXES)}) in the representative data "
            f"folder. Received: representative_data={path!r}"
        )
    return np.concatenate(arrays, axis=0)


def _fits(shape, expected):
    return len(shape) == len(expected) and all(
        e is None or s == e for s, e in zip(shape, expected, strict=True)
    )


def load_representative_data(source, input_shape, calibration_samples=200, raw_pixels=False):
    """Calibration and held-out inputs from ``"digits"`` or a folder (see the module doc).

    Args:
        source: ``"digits"`` or a folder of ``.npy`` and image files.
        input_shape: the model's input shape without the batch dimension.
        calibration_samples: how many of a folder's inputs calibrate (the rest are held
            out); the digits set has its own train/test split.
        raw_pixels: a folder's image files as raw 0-255 pixel values (for a model that
            rescales its input itself, see :func:`takes_raw_pixels`) instead of scaled to
            [0, 1]. The digits are always raw pixels.

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
    if source == "digit_mosaics":
        return _digit_mosaics(input_shape)[:2]
    if source == "digit_points":
        return _digit_points(input_shape)
    inputs = _folder(source, input_shape, raw_pixels)
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


def _check_options(args):
    if args.format != "tflite" and (args.quantization or args.integer_io):
        raise ValueError(
            "Quantization applies to TFLite only: use --format tflite. "
            f"Received: quantization={args.quantization!r}, integer_io={args.integer_io}"
        )
    if args.quantization == "int8" and args.representative_data is None:
        raise ValueError(
            "--quantization int8 needs --representative-data (digits, digit_mosaics, "
            "digit_points or a folder) to calibrate. Received: representative_data=None"
        )
    for name in ("calibration_samples", "parity_samples"):
        if getattr(args, name) < 1:
            raise ValueError(
                f"--{name.replace('_', '-')} must be positive. "
                f"Received: {name}={getattr(args, name)}"
            )
    source = args.representative_data
    if source not in (None, *BUILTIN_DATA) and not os.path.isdir(source):
        raise ValueError(
            "`--representative-data` must be 'digits', 'digit_mosaics', 'digit_points' or an "
            f"existing folder. Received: representative_data={source!r}"
        )


def check_model_file(path):
    """Raises ``ValueError`` unless ``path`` is a ``.keras`` archive (a zip with a config)."""
    if not os.path.isfile(path):
        raise ValueError(f"No such model file. Received: model={path!r}")
    valid = zipfile.is_zipfile(path)
    if valid:
        with zipfile.ZipFile(path) as archive:
            valid = "config.json" in archive.namelist()
    if not valid:
        raise ValueError(
            "The model file is not a valid .keras file (a zip archive holding config.json "
            f"and the weights); it may be truncated or corrupt. Received: model={path!r}"
        )


def _check_arguments(args):
    """Checks every argument, the model file and the output path; returns the output."""
    from keras_mgic.export import paths

    _check_options(args)
    check_model_file(args.model)
    output = args.output or default_output(args.model, args.format, args.quantization)
    kind = "folder" if args.format == "saved_model" else "file"
    return paths.check_output_path(output, kind, overwrite=args.overwrite)


def _load_model(path):
    import keras

    import keras_mgic  # noqa: F401  (registers the package's layers for load_model)

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001  (any failure means an unusable file)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"The model file is not a valid .keras file: could not load it "
            f"({type(error).__name__}: {reason}). Received: model={path!r}"
        ) from error


def _inputs(args, model, input_shape):
    """``(calibration, held_out, labels, description)`` for the export and the parity check
    (``labels``: the held-out masks of ``digit_mosaics``, else None)."""
    import numpy as np

    raw_pixels = takes_raw_pixels(model)
    source, labels = args.representative_data, None
    if source is None:
        scale = 255.0 if raw_pixels else 1.0
        rng = np.random.default_rng(0)
        shape = [ANY_SIZE_INPUT if size is None else size for size in input_shape]
        held_out = scale * rng.random((args.parity_samples, *shape), dtype="float32")
        return None, held_out, None, f"{len(held_out)} uniform random inputs"
    if source == "digit_mosaics":
        calibration, held_out, labels = _digit_mosaics(input_shape)
        labels = labels[: args.parity_samples]
    else:
        calibration, held_out = load_representative_data(
            source, input_shape, args.calibration_samples, raw_pixels
        )
    held_out = held_out[: args.parity_samples]
    description = f"{len(held_out)} held-out inputs of {source!r}"
    return calibration[: args.calibration_samples], held_out, labels, description


def _export(args, model, output, calibration):
    from keras_mgic import export

    if args.format == "saved_model":
        return export.to_saved_model(model, output)
    if args.format == "onnx":
        return export.to_onnx(model, output)
    return export.to_tflite(
        model,
        output,
        quantization=args.quantization,
        representative_data=calibration,
        integer_io=args.integer_io,
    )


def _report(args, model, output, calibration, held_out, labels, description):
    from keras_mgic import export

    kind = args.format if args.format != "tflite" else f"tflite {args.quantization or ''}"
    print(f"wrote {output} ({kind.strip()}, {_size(output) / 1024:.1f} KiB)")
    if args.format == "tflite":
        print(f"ops: {', '.join(export.check_builtin_ops(output))}")
        if args.quantization == "int8":
            print(f"calibrated on {len(calibration)} inputs")
    figures = export.check_parity(model, output, held_out, labels=labels)
    print(f"parity vs Keras on {description}: {export.format_parity(figures)}")


def _check_data_task(model, source):
    from keras_mgic.export.data_task import check_data_task

    check_data_task(model, source)


def run(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        output = _check_arguments(args)
        model = _load_model(args.model)
        _check_data_task(model, args.representative_data)
        input_shape = tuple(model.inputs[0].shape[1:])
        calibration, held_out, labels, description = _inputs(args, model, input_shape)
        _export(args, model, output, calibration)
    except (ValueError, OSError, ImportError) as error:
        message = " ".join(str(error).split())
        print(f"error: {message}", file=sys.stderr)
        return 2
    _report(args, model, output, calibration, held_out, labels, description)
    return 0
