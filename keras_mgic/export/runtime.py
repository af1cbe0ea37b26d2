"""Running exported files: TFLite interpreters, SavedModel signatures, XNNPACK coverage.

TFLite files run on ``ai_edge_litert.interpreter.Interpreter`` (the ``litert`` extra) when
it is installed, else on ``tf.lite.Interpreter``; ONNX files on ONNX Runtime (the ``onnx``
extra).
"""

import os

import numpy as np

RUNTIMES = ("auto", "litert", "tensorflow")


def interpreter_class(runtime="auto"):
    """The TFLite interpreter class: LiteRT's when installed, else TensorFlow's.

    Args:
        runtime: ``"auto"`` (``ai_edge_litert`` if importable, else ``tf.lite``),
            ``"litert"`` or ``"tensorflow"``.

    Returns:
        An ``Interpreter`` class taking ``model_path``.

    Example:

    >>> interpreter_class("tensorflow").__module__.startswith("tensorflow")
    True
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"`runtime` must be one of {RUNTIMES}. Received: runtime={runtime!r}")
    if runtime in ("auto", "litert"):
        try:
            from ai_edge_litert.interpreter import Interpreter

            return Interpreter
        except ImportError:
            if runtime == "litert":
                raise
    import tensorflow as tf

    return tf.lite.Interpreter


def interpreter_nodes(interpreter):
    """The nodes of an allocated interpreter's execution plan, delegate nodes included.

    Neither ``ai_edge_litert`` nor ``tf.lite`` has a public API for the node list after
    delegation (which ops a delegate took): this is the package's one use of a private
    interpreter method, ``Interpreter._get_ops_details()``. A test fails if it disappears.

    Args:
        interpreter: an interpreter after ``allocate_tensors()``.

    Returns:
        A list of dicts with ``index``, ``op_name``, ``inputs`` and ``outputs``.
    """
    return interpreter._get_ops_details()


def _delegated(nodes):
    """The indices of the nodes that a delegate node replaced."""
    delegates = [node for node in nodes if node["op_name"] == "DELEGATE"]
    producer = {
        int(t): node for node in nodes if node["op_name"] != "DELEGATE" for t in node["outputs"]
    }
    delegated = set()
    for delegate in delegates:
        boundary = {int(t) for t in delegate["inputs"]}
        stack = [int(t) for t in delegate["outputs"]]
        while stack:
            t = stack.pop()
            if t in boundary or t not in producer or producer[t]["index"] in delegated:
                continue
            delegated.add(producer[t]["index"])
            stack.extend(int(i) for i in producer[t]["inputs"] if i >= 0)
    return delegated


def undelegated_ops(tflite_path, runtime="auto"):
    """The ops of a ``.tflite`` file that the runtime's default delegate (XNNPACK) leaves out.

    The interpreter applies XNNPACK by default on CPU; ops it does not take run on the
    builtin TFLite kernels (for grouped convolutions that can be the slow reference kernel).
    This loads the file, lets the delegate partition the graph, and returns the names of the
    ops outside every delegate partition. It reads the node list through
    :func:`interpreter_nodes` (a private interpreter API): treat it as a diagnostic.

    Args:
        tflite_path: a ``.tflite`` file.
        runtime: see :func:`interpreter_class`.

    Returns:
        A list of op names in execution order; empty when XNNPACK runs the whole graph.

    Example:

    >>> undelegated_ops("model_int8.tflite")  # doctest: +SKIP
    ['HARD_SWISH', 'HARD_SWISH']
    """
    interpreter = interpreter_class(runtime)(model_path=os.fspath(tflite_path))
    interpreter.allocate_tensors()
    nodes = interpreter_nodes(interpreter)
    delegated = _delegated(nodes)
    return [
        node["op_name"]
        for node in nodes
        if node["op_name"] != "DELEGATE" and node["index"] not in delegated
    ]


def _quantize(values, details):
    scale, zero_point = details["quantization"]
    info = np.iinfo(details["dtype"])
    return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(
        details["dtype"]
    )


def _dequantize(values, details):
    scale, zero_point = details["quantization"]
    if np.issubdtype(details["dtype"], np.integer) and scale:
        return (values.astype("float32") - zero_point) * scale
    return values.astype("float32")


def _single_io_interpreter(tflite_path, runtime, num_threads):
    kwargs = {} if num_threads is None else {"num_threads": num_threads}
    interpreter = interpreter_class(runtime)(model_path=os.fspath(tflite_path), **kwargs)
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            "run_tflite needs a single-input, single-output model. Received: "
            f"inputs={len(inputs)}, outputs={len(outputs)}"
        )
    return interpreter


def _invoke(interpreter, chunk):
    details = interpreter.get_input_details()[0]
    if np.issubdtype(details["dtype"], np.integer):
        chunk = _quantize(chunk, details)
    interpreter.set_tensor(details["index"], chunk)
    interpreter.invoke()
    out_details = interpreter.get_output_details()[0]
    return _dequantize(interpreter.get_tensor(out_details["index"]), out_details)


def run_tflite(tflite_path, inputs, runtime="auto", batch_size=64, num_threads=None):
    """Runs a single-input, single-output ``.tflite`` file on a batch of float inputs.

    Integer inputs and outputs (``to_tflite(..., integer_io=True)``) are quantized and
    dequantized with the scale and zero point stored in the file, so the result is always
    float32.

    Args:
        tflite_path: a ``.tflite`` file.
        inputs: float array ``(n, ...)``.
        runtime: see :func:`interpreter_class`.
        batch_size: inputs per ``invoke`` (the input is resized to it).
        num_threads: interpreter threads, or None for the runtime's default.

    Returns:
        float32 NumPy array of outputs, ``(n, ...)``.

    Example:

    >>> run_tflite("model.tflite", np.zeros((3, 32, 32, 3), "float32")).shape  # doctest: +SKIP
    (3, 10)
    """
    interpreter = _single_io_interpreter(tflite_path, runtime, num_threads)
    index = interpreter.get_input_details()[0]["index"]
    inputs = np.asarray(inputs, dtype="float32")
    outputs, current = [], None
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        if current != chunk.shape:
            interpreter.resize_tensor_input(index, chunk.shape)
            interpreter.allocate_tensors()
            current = chunk.shape
        outputs.append(_invoke(interpreter, chunk))
    return np.concatenate(outputs, axis=0)


def run_saved_model(path, inputs, batch_size=64):
    """Runs the ``serving_default`` signature of a single-output SavedModel.

    Args:
        path: a SavedModel folder.
        inputs: float array ``(n, ...)``.
        batch_size: inputs per call.

    Returns:
        float32 NumPy array of outputs, ``(n, ...)``.

    Example:

    >>> run_saved_model("saved_model", np.zeros((3, 32, 32, 3), "float32")).shape  # doctest: +SKIP
    (3, 10)
    """
    import tensorflow as tf

    signature = tf.saved_model.load(os.fspath(path)).signatures["serving_default"]
    _, specs = signature.structured_input_signature
    (name,) = specs
    inputs = np.asarray(inputs, dtype="float32")
    outputs = []
    for start in range(0, len(inputs), batch_size):
        result = signature(**{name: tf.constant(inputs[start : start + batch_size])})
        (value,) = result.values()
        outputs.append(value.numpy().astype("float32"))
    return np.concatenate(outputs, axis=0)


def onnx_session(path):
    """An ONNX Runtime ``InferenceSession`` of ``path`` on the CPU.

    Raises:
        ImportError: without ``onnxruntime``, saying how to install it.
    """
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            "Running an ONNX file needs ONNX Runtime: `pip install onnxruntime` (or "
            "`keras-mgic[onnx]`). Received: no `onnxruntime` module installed"
        ) from error
    return onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])


def run_onnx(path, inputs, batch_size=64):
    """Runs a single-input, single-output ONNX file on ONNX Runtime.

    Args:
        path: an ``.onnx`` file.
        inputs: float array ``(n, ...)``.
        batch_size: inputs per run (the file's batch dimension is dynamic).

    Returns:
        float32 NumPy array of outputs, ``(n, ...)``.

    Example:

    >>> run_onnx("model.onnx", np.zeros((3, 32, 32, 3), "float32")).shape  # doctest: +SKIP
    (3, 10)
    """
    session = onnx_session(path)
    feeds, fetches = session.get_inputs(), session.get_outputs()
    if len(feeds) != 1 or len(fetches) != 1:
        raise ValueError(
            "run_onnx needs a single-input, single-output model. Received: "
            f"inputs={len(feeds)}, outputs={len(fetches)}"
        )
    name = feeds[0].name
    inputs = np.asarray(inputs, dtype="float32")
    outputs = [
        session.run(None, {name: inputs[start : start + batch_size]})[0].astype("float32")
        for start in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(outputs, axis=0)
