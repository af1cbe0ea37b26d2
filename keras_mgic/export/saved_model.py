"""TensorFlow SavedModel export with a dynamic batch dimension.

Keras exports a SavedModel from the TensorFlow and JAX backends (jax2tf for JAX); its
PyTorch export path (``torch.export``) does not write one, so on PyTorch
:func:`check_export_backend` says how to export instead.
"""

import importlib.util
import os

from keras_mgic.export import paths
from keras_mgic.export.precision import dtype_name, float32_model

EXPORT_BACKENDS = ("tensorflow", "jax")
#: The name of the one input of every exported file (SavedModel, TFLite, ONNX).
SERVING_INPUT_NAME = "inputs"


def check_export_backend():
    """Raises a clear error unless this Keras backend can write a TensorFlow SavedModel.

    SavedModel and TFLite export need TensorFlow installed and the TensorFlow or JAX Keras
    backend. A model trained on PyTorch is exported by saving it as ``.keras`` and loading
    that file in a process started with ``KERAS_BACKEND=tensorflow``: the weights and
    outputs are the same on every backend.

    Raises:
        ValueError: on another backend.
        ImportError: on JAX without TensorFlow installed.
    """
    import keras

    backend = keras.backend.backend()
    if backend not in EXPORT_BACKENDS:
        raise ValueError(
            "SavedModel and TFLite export need the TensorFlow (or JAX) Keras backend. Save "
            "the model with `model.save('model.keras')`, then load and export it in a "
            "process started with KERAS_BACKEND=tensorflow (for example `KERAS_BACKEND="
            "tensorflow keras-mgic export model.keras --format tflite`). "
            f"Received: keras.backend.backend()={backend!r}"
        )
    if backend == "jax" and importlib.util.find_spec("tensorflow") is None:
        raise ImportError(
            "SavedModel and TFLite export need TensorFlow: `pip install tensorflow` (or "
            f"`keras-mgic[tensorflow-cpu]`). Received: keras.backend.backend()={backend!r} "
            "with no `tensorflow` module installed"
        )


def single_input(model):
    """The model's one input tensor; a ``ValueError`` for a multi-input model."""
    if len(model.inputs) != 1:
        raise ValueError(
            "Export supports models with exactly one input. "
            f"Received: len(model.inputs)={len(model.inputs)}"
        )
    return model.inputs[0]


def serving_signature(model):
    """The input signature of every export route: ``(None, *input_shape)``, named
    :data:`SERVING_INPUT_NAME` (``"inputs"``), in the model input's dtype.

    The SavedModel's ``serving_default`` signature, the TFLite file (converted from that
    SavedModel) and the ONNX file all take their one input under this name.

    Example:

    >>> serving_signature(keras.Sequential([keras.Input((8, 8, 3))]))[0].name
    'inputs'
    """
    import tensorflow as tf

    tensor = single_input(model)
    shape = (None, *tuple(tensor.shape)[1:])
    return [tf.TensorSpec(shape, dtype_name(tensor.dtype), name=SERVING_INPUT_NAME)]


def serving_inputs(path):
    """The input shapes of a SavedModel's ``serving_default`` signature.

    Read from ``saved_model.pb`` without loading the model.

    Args:
        path: a SavedModel folder.

    Returns:
        A dict from input name to shape tuple, ``None`` for a dynamic size.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(os.fspath(path), "saved_model.pb"), "rb") as file:
        proto.ParseFromString(file.read())
    shapes = {}
    for meta_graph in proto.meta_graphs:
        signature = meta_graph.signature_def.get("serving_default")
        if signature is None:
            continue
        for name, info in signature.inputs.items():
            dims = [] if info.tensor_shape.unknown_rank else info.tensor_shape.dim
            shapes[name] = tuple(None if dim.size < 0 else dim.size for dim in dims)
    if not shapes:
        raise ValueError(
            "The SavedModel has no 'serving_default' signature with inputs. "
            f"Received: path={os.fspath(path)!r}"
        )
    return shapes


def serving_batch_dims(path):
    """The batch dimension of every input of the ``serving_default`` signature.

    Example:

    >>> serving_batch_dims("saved_model")  # doctest: +SKIP
    {'inputs': None}
    """
    return {name: shape[0] if shape else None for name, shape in serving_inputs(path).items()}


def write_saved_model(model, folder, verbose=False):
    """Writes a float32 single-input model into ``folder``; checks the batch is dynamic."""
    model.export(
        folder, format="tf_saved_model", input_signature=serving_signature(model), verbose=verbose
    )
    batch_dims = serving_batch_dims(folder)
    if any(dim is not None for dim in batch_dims.values()):
        raise RuntimeError(
            "The exported serving signature has a fixed batch dimension. "
            f"Received: batch_dims={batch_dims}"
        )


def to_saved_model(model, path, verbose=False):
    """Exports a model as a TensorFlow SavedModel with a dynamic batch dimension.

    Uses ``model.export(path, format="tf_saved_model")`` with an explicit input signature
    ``(None, *input_shape)`` named ``inputs``; the endpoint is ``serve`` and the
    ``serving_default`` signature, whose batch dimension is checked to be ``None``.
    Mixed-precision models are first rebuilt in float32 (``float32_model``).

    ``path`` is checked before any work (its folder must exist and be writable; it must
    not be a file, nor a non-empty folder other than an earlier SavedModel). The SavedModel
    is written into a temporary folder next to ``path`` and renamed into place at the end,
    so a failed export leaves ``path`` as it was.

    Args:
        model: a built single-input ``keras.Model``.
        path: folder to write.
        verbose: print Keras's export message.

    Returns:
        ``path`` as a string.

    Raises:
        ValueError: if ``path`` cannot be written, the model has several inputs, or the
            Keras backend cannot export.

    Example:

    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    >>> path = to_saved_model(model, "/tmp/doc_saved_model")
    >>> tf.saved_model.load(path).serve(np.zeros((3, 8, 8, 3), "float32")).shape
    TensorShape([3, 6, 6, 4])
    """
    check_export_backend()
    single_input(model)
    path = paths.check_output_path(path, "folder")
    model = float32_model(model)
    with paths.atomic_folder(path) as folder:
        write_saved_model(model, folder, verbose=verbose)
    return path
