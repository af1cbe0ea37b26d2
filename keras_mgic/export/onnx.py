"""ONNX export: Keras's ``model.export(format="onnx")`` (tf2onnx) with a dynamic batch.

The file runs on ONNX Runtime (``pip install onnxruntime``, or the package's ``onnx``
extra, which also installs ``onnx`` and ``tf2onnx``); :func:`keras_mgic.export.check_parity`
compares it with the Keras model as it does TFLite files.
"""

import importlib.util

from keras_mgic.export import paths
from keras_mgic.export.precision import float32_model
from keras_mgic.export.saved_model import serving_signature, single_input

#: The backend whose ONNX route keeps a dynamic batch dimension (tf2onnx).
ONNX_BACKENDS = ("tensorflow",)
#: The packages an ONNX export needs, and the one that runs the file.
ONNX_PACKAGES = ("tf2onnx", "onnx")


def check_onnx_backend():
    """Raises a clear error unless this process can write an ONNX file.

    ONNX export needs the TensorFlow Keras backend with ``tf2onnx`` and ``onnx`` installed
    (``pip install keras-mgic[onnx]``). On JAX Keras needs ``jax2onnx``, and on PyTorch its
    exporter fixes the batch size; a model from either is exported by saving it as
    ``.keras`` and loading that file in a process started with ``KERAS_BACKEND=tensorflow``.

    Raises:
        ValueError: on another backend.
        ImportError: naming the missing package.
    """
    import keras

    backend = keras.backend.backend()
    if backend not in ONNX_BACKENDS:
        raise ValueError(
            "ONNX export needs the TensorFlow Keras backend. Save the model with "
            "`model.save('model.keras')`, then export it in a process started with "
            "KERAS_BACKEND=tensorflow (for example `KERAS_BACKEND=tensorflow keras-mgic export "
            f"model.keras --format onnx`). Received: keras.backend.backend()={backend!r}"
        )
    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"ONNX export needs {' and '.join(missing)}: `pip install keras-mgic[onnx]` "
            f"(or `pip install tf2onnx onnx onnxruntime`). Received: missing={missing}"
        )


def onnx_inputs(path):
    """The inputs of an ONNX file: ``{name: shape}``, ``None`` for a dynamic size.

    Example:

    >>> onnx_inputs("model.onnx")  # doctest: +SKIP
    {'inputs': (None, 32, 32, 3)}
    """
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {tensor.name for tensor in graph.initializer}
    shapes = {}
    for tensor in graph.input:
        if tensor.name in initializers:
            continue
        dims = tensor.type.tensor_type.shape.dim
        shapes[tensor.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
    return shapes


def to_onnx(model, path, opset=None, verbose=False):
    """Exports a model as an ONNX file with a dynamic batch dimension.

    Uses ``model.export(path, format="onnx")`` (tf2onnx on the TensorFlow backend) with the
    input signature of :func:`keras_mgic.export.to_saved_model`: ``(None, *input_shape)``
    float32, named ``inputs`` (the serving input name of every export route). The file is
    checked with ``onnx.checker`` and its batch dimension checked to be dynamic.
    Mixed-precision models are first rebuilt in float32 (``float32_model``).

    ``path`` is checked before any work (its folder must exist and be writable; it must
    not be a folder); the file is written next to it and renamed into place, so a failed
    export leaves ``path`` as it was.

    Args:
        model: a built single-input ``keras.Model``.
        path: the ``.onnx`` file to write.
        opset: ONNX opset version, or None for tf2onnx's default.
        verbose: print Keras's export message.

    Returns:
        ``path`` as a string.

    Raises:
        ValueError: if ``path`` cannot be written, the model has several inputs, or the
            backend is not TensorFlow.
        ImportError: without ``tf2onnx`` or ``onnx``.

    Example:

    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    >>> path = to_onnx(model, "/tmp/doc.onnx")
    >>> check_parity(model, path, np.ones((3, 8, 8, 3), "float32"))["max_rel_error"] < 1e-5
    True
    """
    check_onnx_backend()
    single_input(model)
    path = paths.check_output_path(path, "file")
    model = float32_model(model)
    with paths.atomic_file(path) as temporary:
        model.export(
            temporary, format="onnx", input_signature=serving_signature(model), verbose=verbose
        )
        _check_file(temporary)
    return path


def _check_file(path):
    import onnx

    onnx.checker.check_model(str(path))
    shapes = onnx_inputs(path)
    batch_dims = {name: shape[0] if shape else None for name, shape in shapes.items()}
    if any(dim is not None for dim in batch_dims.values()):
        raise RuntimeError(
            f"The exported ONNX file has a fixed batch dimension. Received: batch_dims={batch_dims}"
        )
