"""TFLite (LiteRT) conversion: float32, float16 or full-integer int8, builtin ops only."""

import os
import tempfile

import numpy as np

from keras_mgic.export import paths
from keras_mgic.export.conversion_errors import conversion_error
from keras_mgic.export.flatbuffer import check_builtin_ops
from keras_mgic.export.int8_support import check_int8_support
from keras_mgic.export.precision import float32_model
from keras_mgic.export.saved_model import (
    check_export_backend,
    serving_inputs,
    single_input,
    write_saved_model,
)

QUANTIZATIONS = (None, "float16", "int8")


def _batches(data):
    """The arrays of ``data``: an array, a ``tf.data.Dataset``, an iterable or a callable."""
    import tensorflow as tf

    if callable(data) and not isinstance(data, tf.data.Dataset):
        data = data()
    if isinstance(data, tf.data.Dataset):
        return data.as_numpy_iterator()
    if isinstance(data, np.ndarray) or hasattr(data, "__array__"):
        return [np.asarray(data)]
    return data


def _samples(data, rank):
    """Yields single float32 samples of shape ``(1, ...)`` from ``data``."""
    for item in _batches(data):
        if isinstance(item, (tuple, list)):
            item = item[0]  # (inputs, labels) pairs
        item = np.asarray(item, dtype="float32")
        if item.ndim == rank - 1:
            item = item[None]
        if item.ndim != rank:
            raise ValueError(
                f"Representative samples must have rank {rank} (a batch) or {rank - 1} "
                f"(one sample). Received: shape={item.shape}"
            )
        for sample in item:
            yield sample[None]


def _representative_dataset(data, rank=4):
    def generator():
        count = 0
        for sample in _samples(data, rank):
            count += 1
            yield [sample]
        if count == 0:
            raise ValueError("`representative_data` is empty. Received: 0 samples")

    return generator


def _convert(saved_model_dir, quantization, representative_data, integer_io):
    """The TFLite flatbuffer of a SavedModel, builtin ops only."""
    import tensorflow as tf

    (input_shape,) = serving_inputs(saved_model_dir).values()
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative_dataset(
            representative_data, len(input_shape)
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if integer_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    try:
        return converter.convert()
    except Exception as error:  # the converter's ConverterError: name the ops, if it does
        explained = conversion_error(error)
        if explained is None:
            raise
        raise explained from error


def _check_options(quantization, representative_data, integer_io):
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"`quantization` must be one of {QUANTIZATIONS}. Received: "
            f"quantization={quantization!r}"
        )
    if quantization == "int8" and representative_data is None:
        raise ValueError(
            "Full-integer int8 quantization needs calibration inputs: pass "
            "`representative_data` (a few hundred inputs from the training distribution). "
            "Received: representative_data=None"
        )
    if integer_io and quantization != "int8":
        raise ValueError(
            "`integer_io=True` needs `quantization='int8'`. "
            f"Received: quantization={quantization!r}"
        )


def _check_source(model):
    """The SavedModel folder ``model`` names, or ``None`` for a Keras model (checked)."""
    if not isinstance(model, (str, os.PathLike)):
        check_export_backend()
        single_input(model)
        return None
    folder = os.fspath(model)
    if not os.path.isfile(os.path.join(folder, "saved_model.pb")):
        raise ValueError(
            f"`model` must be a keras.Model or a SavedModel folder. Received: model={folder!r}"
        )
    return folder


def _flatbuffer(model, saved_model_dir, options):
    if saved_model_dir is not None:
        return _convert(saved_model_dir, *options)
    model = float32_model(model)
    with tempfile.TemporaryDirectory() as folder:
        write_saved_model(model, folder)
        return _convert(folder, *options)


def to_tflite(model, path, quantization=None, representative_data=None, integer_io=False):
    """Converts a model to a TFLite (LiteRT) flatbuffer with builtin ops only.

    The model (rebuilt in float32 if it is mixed precision) goes through Keras's
    SavedModel export, then ``tf.lite.TFLiteConverter.from_saved_model`` with
    ``target_spec.supported_ops = [TFLITE_BUILTINS]`` (``[TFLITE_BUILTINS_INT8]`` for int8,
    so the conversion fails rather than leave a float op inside an int8 model). The
    flatbuffer is checked to contain no Flex or custom op (``check_builtin_ops``).

    ``path`` is checked before the conversion (its folder must exist and be writable; it
    must not be a folder); the file is written to a temporary file next to it and renamed
    into place, so a failed export leaves ``path`` as it was.

    Quantization modes:

    * ``None``: float32 weights and compute.
    * ``"float16"``: float16 weights (about half the size), dequantized to float32 at load
      time; float32 compute and I/O.
    * ``"int8"``: full-integer post-training quantization: int8 weights (per channel) and
      activations (per tensor) calibrated on ``representative_data``. Input and output stay
      float32, with a QUANTIZE op after the input and a DEQUANTIZE op before the output,
      unless ``integer_io=True``, which makes them int8 (scale and zero point in the
      interpreter's input/output details; ``check_parity`` applies them).

    Args:
        model: a built single-input ``keras.Model``, or the folder of a SavedModel written
            by ``to_saved_model`` (converting one SavedModel to several files skips
            tracing the Keras model again).
        path: the ``.tflite`` file to write.
        quantization: ``None``, ``"float16"`` or ``"int8"``.
        representative_data: calibration inputs, required for ``"int8"``: a NumPy array of
            inputs ``(n, height, width, channels)``, a ``tf.data.Dataset`` of inputs or
            ``(inputs, labels)`` (batched or not), or an iterable (or a callable returning
            one) of such arrays. Use a few hundred samples from the training distribution.
        integer_io: int8 input and output tensors (``"int8"`` only).

    Returns:
        ``path`` as a string.

    Raises:
        ValueError: for an invalid option, int8 for a model with a k-NN graph layer
            (``check_int8_support``), an unwritable ``path``, a flatbuffer with
            non-builtin ops, or an op with no builtin TFLite kernel (naming the op, its
            layer's name scope and the converter's reason).

    Example:

    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    >>> data = np.random.rand(32, 8, 8, 3).astype("float32")
    >>> path = to_tflite(model, "/tmp/doc.tflite", "int8", representative_data=data)
    >>> check_parity(model, path, data)["top1_agreement"] > 0.9
    True
    """
    _check_options(quantization, representative_data, integer_io)
    saved_model_dir = _check_source(model)
    if quantization == "int8" and saved_model_dir is None:
        check_int8_support(model)
    path = paths.check_output_path(path, "file")
    options = (quantization, representative_data, integer_io)
    flatbuffer = _flatbuffer(model, saved_model_dir, options)
    check_builtin_ops(flatbuffer)
    with paths.atomic_file(path) as temporary, open(temporary, "wb") as file:
        file.write(flatbuffer)
    return path
