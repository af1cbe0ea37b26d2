"""Export MGIC models to SavedModel, TFLite (LiteRT) and ONNX, with a parity check.

One job per module:

* ``precision``: :func:`float32_model`, the float32 twin of a mixed-precision model (every
  export computes in float32: float16/bfloat16 ops have no builtin TFLite kernels).
* ``saved_model``: :func:`to_saved_model`, a SavedModel whose ``serving_default``
  signature has a dynamic batch dimension; :func:`check_export_backend`.
* ``onnx``: :func:`to_onnx`, an ``.onnx`` file (tf2onnx) with a dynamic batch dimension,
  for ONNX Runtime; :func:`check_onnx_backend`, :func:`onnx_inputs`.
* ``tflite``: :func:`to_tflite`, a ``.tflite`` flatbuffer with builtin TFLite ops only
  (never Flex ops), float32, float16 or full-integer int8.
* ``flatbuffer``: :func:`list_ops`, :func:`conv_groups` and :func:`check_builtin_ops`
  read the operators of a ``.tflite`` file.
* ``runtime``: :func:`run_tflite`, :func:`run_saved_model`, :func:`run_onnx`,
  :func:`interpreter_class` and :func:`undelegated_ops` (the ops XNNPACK leaves to the
  builtin kernels).
* ``parity_check``: :func:`check_parity`, :func:`parity` and :func:`format_parity`.
* ``paths``: output paths checked before any conversion work, written atomically.
* ``data_task``: :func:`check_data_task`, a built-in representative data set against the
  model's task (image classifier, segmentation model, point-cloud classifier).

Grouped convolutions export as single TFLite ``CONV_2D`` ops whose filter has fewer input
channels than the op's input, and XNNPACK runs them in float32, float16 and int8, faster
than per-group convolutions joined by a concatenation (``benchmarks/export_parity.py``);
no export-time lowering is needed.

int8 accuracy: post-training quantization adds noise at every requantized tensor, and an
MGIC block has several per level (restriction, prolongation, the coarse-fine difference, the
correction sum), so the top-1 agreement with Keras depends on how well trained the model is
(its logit margins) and on the depth of the channel hierarchy; check it with
:func:`check_parity` on held-out data, and prefer float16 where it falls short.

Export needs TensorFlow and the TensorFlow or JAX Keras backend (Keras exports JAX models
through jax2tf). On PyTorch, :func:`to_saved_model` and :func:`to_tflite` raise a
``ValueError`` that says so: save the model as ``.keras`` and export it from a process
started with ``KERAS_BACKEND=tensorflow``. ONNX export (:func:`to_onnx`) needs the
TensorFlow backend with ``tf2onnx`` and ``onnx`` (the ``onnx`` extra), and the parity check
of an ONNX file ``onnxruntime``. Importing this package imports neither
TensorFlow nor Keras; the functions import them when called.

Example:

>>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
>>> path = to_tflite(model, "/tmp/doc.tflite", quantization="float16")
>>> check_parity(model, path, np.ones((2, 8, 8, 3), "float32"))["top1_agreement"]
1.0
"""

from keras_mgic.export.data_task import DATA_TASKS, check_data_task
from keras_mgic.export.flatbuffer import check_builtin_ops, conv_groups, list_ops
from keras_mgic.export.onnx import ONNX_BACKENDS, check_onnx_backend, onnx_inputs, to_onnx
from keras_mgic.export.parity_check import check_parity, format_parity, parity
from keras_mgic.export.paths import check_output_path
from keras_mgic.export.precision import float32_model
from keras_mgic.export.runtime import (
    RUNTIMES,
    interpreter_class,
    onnx_session,
    run_onnx,
    run_saved_model,
    run_tflite,
    undelegated_ops,
)
from keras_mgic.export.saved_model import (
    EXPORT_BACKENDS,
    SERVING_INPUT_NAME,
    check_export_backend,
    serving_batch_dims,
    serving_signature,
    to_saved_model,
)
from keras_mgic.export.tflite import QUANTIZATIONS, to_tflite

__all__ = [
    "DATA_TASKS",
    "EXPORT_BACKENDS",
    "ONNX_BACKENDS",
    "SERVING_INPUT_NAME",
    "QUANTIZATIONS",
    "RUNTIMES",
    "check_builtin_ops",
    "check_data_task",
    "check_export_backend",
    "check_onnx_backend",
    "check_output_path",
    "check_parity",
    "conv_groups",
    "float32_model",
    "format_parity",
    "interpreter_class",
    "list_ops",
    "onnx_inputs",
    "onnx_session",
    "parity",
    "run_onnx",
    "run_saved_model",
    "run_tflite",
    "serving_batch_dims",
    "serving_signature",
    "to_onnx",
    "to_saved_model",
    "to_tflite",
    "undelegated_ops",
]
