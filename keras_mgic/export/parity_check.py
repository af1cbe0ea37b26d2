"""The parity check: an exported file's outputs against the Keras model's."""

import os

import numpy as np

from keras_mgic.export.runtime import run_onnx, run_saved_model, run_tflite


def parity(reference, outputs):
    """Error figures of ``outputs`` against ``reference`` logits, ``(n, classes)`` or, for a
    segmentation model, ``(n, height, width, classes)``.

    Args:
        reference: the Keras model's outputs.
        outputs: the exported model's outputs.

    Returns:
        A dict: ``max_abs_error`` (max |difference|), ``max_rel_error`` (max |difference|
        divided by the logits scale, max |reference|), ``logits_scale``,
        ``top1_agreement`` (fraction of rows, or of pixels for outputs of rank 4, with the
        same argmax over the classes), ``per_pixel`` (whether it counts pixels) and
        ``num_inputs``.

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
        "per_pixel": reference.ndim == 4,
        "num_inputs": int(reference.shape[0]),
    }


def mean_iou(labels, predictions, num_classes, ignore_label=255):
    """Mean IoU of predicted class indices against labels, over the classes that occur;
    pixels labelled ``ignore_label`` (or outside ``[0, num_classes)``) are not counted. The
    NumPy twin of ``keras_mgic.metrics.MeanIoU``.

    Example:

    >>> mean_iou(np.array([0, 1, 1, 255]), np.array([0, 1, 0, 0]), 2)
    0.5
    """
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    predictions = np.asarray(predictions).reshape(-1).astype(np.int64)
    counted = (labels >= 0) & (labels < num_classes) & (labels != ignore_label)
    cells = labels[counted] * num_classes + predictions[counted]
    confusion = np.bincount(cells, minlength=num_classes**2).reshape(num_classes, -1)
    hits = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - hits
    occurs = union > 0
    return float(np.mean(hits[occurs] / union[occurs])) if occurs.any() else 0.0


def check_parity(
    model, exported_path, inputs, runtime="auto", batch_size=64, labels=None, ignore_label=255
):
    """Compares an exported model with the Keras model on ``inputs``.

    ``exported_path`` is a ``.tflite`` file (run with ``run_tflite``; int8 I/O is
    (de)quantized there), an ``.onnx`` file (run on ONNX Runtime with ``run_onnx``) or a
    SavedModel folder (run with ``run_saved_model``). The
    Keras reference is ``model.predict(inputs)`` in inference mode, with the model's own
    dtype policy: for a mixed-precision model the figures include its float16 rounding.

    Args:
        model: the Keras model that was exported.
        exported_path: a ``.tflite`` or ``.onnx`` file, or a SavedModel folder.
        inputs: float array ``(n, ...)`` of held-out inputs.
        runtime: TFLite runtime, see ``interpreter_class``.
        batch_size: inputs per call.
        labels: optional true class indices of a segmentation model's inputs, ``(n, height,
            width)``: the figures then include each model's mean IoU.
        ignore_label: the label ``labels`` use for pixels not to count.

    Returns:
        The dict of :func:`parity`: ``max_abs_error``, ``max_rel_error`` (relative to
        max |Keras logits|), ``logits_scale``, ``top1_agreement`` (per pixel for a
        segmentation model), ``per_pixel``, ``num_inputs``; with ``labels``, also
        ``keras_mean_iou`` and ``mean_iou`` (the exported file's).

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
    elif exported_path.lower().endswith(".onnx"):
        outputs = run_onnx(exported_path, inputs, batch_size=batch_size)
    else:
        outputs = run_tflite(exported_path, inputs, runtime=runtime, batch_size=batch_size)
    if reference.ndim != 4:  # classifiers: one row of scores per input
        reference = reference.reshape(len(inputs), -1)
        outputs = outputs.reshape(len(inputs), -1)
    figures = parity(reference, outputs)
    if labels is not None:
        classes = reference.shape[-1]
        figures["keras_mean_iou"] = mean_iou(labels, reference.argmax(-1), classes, ignore_label)
        figures["mean_iou"] = mean_iou(labels, outputs.argmax(-1), classes, ignore_label)
    return figures


def format_parity(figures):
    """One line summarising the dict returned by :func:`check_parity`.

    Example:

    >>> format_parity(parity(np.array([[1.0, 2.0]]), np.array([[1.0, 2.0]])))
    'max abs error 0, max rel error 0 (logits scale 2), top-1 agreement 100.0% on 1 inputs'
    """
    agreement = "per-pixel agreement" if figures.get("per_pixel") else "top-1 agreement"
    digits = 2 if figures.get("per_pixel") else 1
    line = (
        f"max abs error {figures['max_abs_error']:.3g}, "
        f"max rel error {figures['max_rel_error']:.3g} "
        f"(logits scale {figures['logits_scale']:.3g}), "
        f"{agreement} {100 * figures['top1_agreement']:.{digits}f}% "
        f"on {figures['num_inputs']} inputs"
    )
    if "mean_iou" in figures:
        line += f", mean IoU {figures['mean_iou']:.4f} (Keras {figures['keras_mean_iou']:.4f})"
    return line
