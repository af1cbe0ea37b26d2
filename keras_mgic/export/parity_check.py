"""The parity check: an exported file's outputs against the Keras model's."""

import os

import numpy as np

from keras_mgic.export.runtime import run_saved_model, run_tflite


def parity(reference, outputs):
    """Error figures of ``outputs`` against ``reference`` logits, both ``(n, classes)``.

    Args:
        reference: the Keras model's outputs.
        outputs: the exported model's outputs.

    Returns:
        A dict: ``max_abs_error`` (max |difference|), ``max_rel_error`` (max |difference|
        divided by the logits scale, max |reference|), ``logits_scale``,
        ``top1_agreement`` (fraction of rows with the same argmax) and ``num_inputs``.

    Example:

    >>> parity(np.array([[1.0, 2.0]]), np.array([[1.0, 2.1]]))["top1_agreement"]
    1.0
    """
    reference = np.asarray(reference, dtype="float64")
    outputs = np.asarray(outputs, dtype="float64")
    if reference.shape != outputs.shape:
        raise ValueError(
            "The exported model's outputs do not have the Keras model's shape. "
            f"Received: keras_shape={reference.shape}, exported_shape={outputs.shape}"
        )
    abs_error = float(np.max(np.abs(outputs - reference)))
    scale = float(np.max(np.abs(reference)))
    agreement = float(np.mean(np.argmax(outputs, -1) == np.argmax(reference, -1)))
    return {
        "max_abs_error": abs_error,
        "max_rel_error": abs_error / scale if scale > 0 else float("inf"),
        "logits_scale": scale,
        "top1_agreement": agreement,
        "num_inputs": int(reference.shape[0]),
    }


def check_parity(model, exported_path, inputs, runtime="auto", batch_size=64):
    """Compares an exported model with the Keras model on ``inputs``.

    ``exported_path`` is a ``.tflite`` file (run with ``run_tflite``; int8 I/O is
    (de)quantized there) or a SavedModel folder (run with ``run_saved_model``). The
    Keras reference is ``model.predict(inputs)`` in inference mode, with the model's own
    dtype policy: for a mixed-precision model the figures include its float16 rounding.

    Args:
        model: the Keras model that was exported.
        exported_path: a ``.tflite`` file or a SavedModel folder.
        inputs: float array ``(n, ...)`` of held-out inputs.
        runtime: TFLite runtime, see ``interpreter_class``.
        batch_size: inputs per call.

    Returns:
        The dict of :func:`parity`: ``max_abs_error``, ``max_rel_error`` (relative to
        max |Keras logits|), ``logits_scale``, ``top1_agreement``, ``num_inputs``.

    Example:

    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    >>> path = to_tflite(model, "/tmp/doc.tflite")
    >>> check_parity(model, path, np.ones((2, 8, 8, 3), "float32"))["max_rel_error"] < 1e-5
    True
    """
    inputs = np.asarray(inputs, dtype="float32")
    reference = np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0))
    exported_path = os.fspath(exported_path)
    if os.path.isdir(exported_path):
        outputs = run_saved_model(exported_path, inputs, batch_size=batch_size)
    else:
        outputs = run_tflite(exported_path, inputs, runtime=runtime, batch_size=batch_size)
    return parity(reference.reshape(len(inputs), -1), outputs.reshape(len(inputs), -1))


def format_parity(figures):
    """One line summarising the dict returned by :func:`check_parity`.

    Example:

    >>> format_parity(parity(np.array([[1.0, 2.0]]), np.array([[1.0, 2.0]])))
    'max abs error 0, max rel error 0 (logits scale 2), top-1 agreement 100.0% on 1 inputs'
    """
    return (
        f"max abs error {figures['max_abs_error']:.3g}, "
        f"max rel error {figures['max_rel_error']:.3g} "
        f"(logits scale {figures['logits_scale']:.3g}), "
        f"top-1 agreement {100 * figures['top1_agreement']:.1f}% "
        f"on {figures['num_inputs']} inputs"
    )
