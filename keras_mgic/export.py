"""Export MGIC models to SavedModel and TFLite (LiteRT), with a parity check.

Three entry points and a few inspection helpers:

* :func:`to_saved_model` writes a TensorFlow SavedModel with a ``serving_default``
  signature whose batch dimension is dynamic (``None``), through Keras's own
  ``model.export(..., format="tf_saved_model")``.
* :func:`to_tflite` converts a Keras model (or a SavedModel folder) to a ``.tflite``
  flatbuffer with builtin TFLite ops only (never ``SELECT_TF_OPS``/Flex), as float32, float16
  (float16 weights, float32 compute and I/O) or full-integer int8 (int8 weights per channel
  and activations per tensor, calibrated on a representative data set, BatchNorms folded into
  the convolutions by the converter; float32 I/O by default, int8 I/O with
  ``integer_io=True``).
* :func:`check_parity` runs an exported file (SavedModel folder or ``.tflite``) next to
  the Keras model and returns the error figures: max absolute error, max error relative to
  the scale of the Keras logits, top-1 agreement.
* :func:`list_ops`, :func:`conv_groups` and :func:`check_builtin_ops` read the op codes of
  a ``.tflite`` file straight from its flatbuffer; :func:`undelegated_ops` lists the ops the
  runtime's XNNPACK delegate leaves to the builtin kernels.

Mixed-precision models (``mixed_float16``, ``mixed_bfloat16``, or pure ``float16`` /
``bfloat16`` policies) are exported by rebuilding them in float32 from their config and
copying the weights (:func:`float32_model`); the exported file computes in float32.
Converting them directly fails: the float16/bfloat16 ops have no builtin TFLite kernels.

Grouped convolutions export as single TFLite ``CONV_2D`` ops whose filter has fewer input
channels than the op's input (TF 2.21 converter), and XNNPACK runs them in float32, float16
and int8, faster than per-group convolutions joined by a concatenation
(``benchmarks/export_parity.py``); no export-time lowering is needed. :func:`conv_groups`
shows the groups of every ``CONV_2D`` in a file.

int8 accuracy: post-training quantization adds noise at every requantized tensor, and an
MGIC block has several per level (restriction, prolongation, the coarse-fine difference, the
correction sum), so the top-1 agreement with Keras depends on how well trained the model is
(its logit margins) and on the depth of the channel hierarchy; check it with
:func:`check_parity` on held-out data, and prefer float16 where it falls short.

Export needs TensorFlow and the TensorFlow or JAX Keras backend (Keras exports JAX models
through jax2tf). On PyTorch, :func:`to_saved_model` and :func:`to_tflite` raise a
``ValueError`` that says so (:func:`check_export_backend`): save the model as ``.keras`` and
export it from a process started with ``KERAS_BACKEND=tensorflow``.

TFLite files run on ``ai_edge_litert.interpreter.Interpreter`` (the ``litert`` extra) when
it is installed, else on ``tf.lite.Interpreter``.
"""

import collections
import os
import tempfile

import numpy as np

QUANTIZATIONS = (None, "float16", "int8")
RUNTIMES = ("auto", "litert", "tensorflow")

_REDUCED_PRECISION_POLICIES = ("mixed_float16", "mixed_bfloat16", "float16", "bfloat16")
_DTYPE_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy")


# --------------------------------------------------------------------------------------
# Mixed precision: rebuild in float32.
# --------------------------------------------------------------------------------------


def _force_float32(config):
    """Returns ``config`` with every reduced-precision dtype policy replaced by float32."""
    if isinstance(config, dict):
        out = {}
        for key, value in config.items():
            if key == "dtype" and _is_reduced_precision(value):
                out[key] = "float32"
            else:
                out[key] = _force_float32(value)
        return out
    if isinstance(config, (list, tuple)):
        return type(config)(_force_float32(value) for value in config)
    return config


def _is_reduced_precision(dtype):
    if isinstance(dtype, str):
        return dtype in _REDUCED_PRECISION_POLICIES
    if isinstance(dtype, dict) and dtype.get("class_name") in _DTYPE_POLICY_CLASSES:
        return dtype.get("config", {}).get("name") in _REDUCED_PRECISION_POLICIES
    return False


def float32_model(model):
    """Returns a float32 twin of a mixed-precision model, or the model itself.

    The twin is rebuilt from the model's serialized config with every ``mixed_float16``,
    ``mixed_bfloat16``, ``float16`` or ``bfloat16`` dtype policy replaced by ``float32``
    (the global policy is ``float32`` while it is built), then receives a float32 copy of
    every weight. Nested MGIC layers follow: they create their sub-layers with their own
    dtype policy. A model that is float32 throughout is returned unchanged.

    Converting a mixed-precision model directly would put float16 casts and float16
    arithmetic in the exported graph; the twin computes exactly what the float32 model
    with the same weights computes.

    Args:
        model: a built ``keras.Model`` whose class can be rebuilt from its config
            (functional, Sequential, or a registered subclass with ``get_config``).

    Returns:
        A ``keras.Model`` with only float32 variables and float32 compute.

    Example:

    >>> keras.mixed_precision.set_global_policy("mixed_float16")
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    >>> keras.mixed_precision.set_global_policy("float32")
    >>> float32_model(model).layers[0].compute_dtype
    'float32'
    """
    import keras

    serialized = keras.saving.serialize_keras_object(model)
    forced = _force_float32(serialized["config"])
    weights_float32 = all(_dtype_name(w.dtype) == "float32" for w in model.weights)
    if forced == serialized["config"] and weights_float32:
        return model
    serialized = dict(serialized, config=forced)
    serialized.pop("compile_config", None)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        twin = keras.saving.deserialize_keras_object(serialized)
    finally:
        keras.config.set_dtype_policy(previous)
    if not twin.built:
        twin.build(model.inputs[0].shape if model.inputs else None)
    source, target = model.weights, twin.weights
    if len(source) != len(target):
        raise ValueError(
            "Could not rebuild the model in float32: the rebuilt model has a different "
            f"number of weights. Received: len(model.weights)={len(source)}, "
            f"len(rebuilt.weights)={len(target)}"
        )
    for src, dst in zip(source, target, strict=True):
        if tuple(src.shape) != tuple(dst.shape):
            raise ValueError(
                "Could not rebuild the model in float32: weight shapes differ. "
                f"Received: {src.path}={tuple(src.shape)}, {dst.path}={tuple(dst.shape)}"
            )
        dst.assign(np.asarray(keras.ops.convert_to_numpy(src.value), dtype="float32"))
    return twin


def _dtype_name(dtype):
    return getattr(dtype, "name", str(dtype))


# --------------------------------------------------------------------------------------
# SavedModel.
# --------------------------------------------------------------------------------------


def _single_input(model):
    if len(model.inputs) != 1:
        raise ValueError(
            "Export supports models with exactly one input. "
            f"Received: len(model.inputs)={len(model.inputs)}"
        )
    return model.inputs[0]


def _input_signature(model):
    import tensorflow as tf

    tensor = _single_input(model)
    shape = (None, *tuple(tensor.shape)[1:])
    return [tf.TensorSpec(shape, _dtype_name(tensor.dtype), name="inputs")]


def _serving_inputs(path):
    """The input shapes of the ``serving_default`` signature, ``None`` for dynamic sizes.

    Read from ``saved_model.pb`` without loading the model.
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


def _serving_batch_dims(path):
    """The batch dimension of every input of the ``serving_default`` signature."""
    return {name: shape[0] if shape else None for name, shape in _serving_inputs(path).items()}


# Keras exports a TensorFlow SavedModel from these backends (jax2tf for JAX); its PyTorch
# export path (torch.export) does not write a SavedModel.
EXPORT_BACKENDS = ("tensorflow", "jax")


def check_export_backend():
    """Raises a clear error unless this Keras backend can write a TensorFlow SavedModel.

    SavedModel and TFLite export need TensorFlow installed and the TensorFlow or JAX Keras
    backend. A model trained on PyTorch is exported by saving it as ``.keras`` and loading
    that file in a process started with ``KERAS_BACKEND=tensorflow``: the weights and
    outputs are the same on every backend.
    """
    import importlib.util

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


def _export_saved_model(model, path, verbose=False):
    check_export_backend()
    path = os.fspath(path)
    model.export(
        path, format="tf_saved_model", input_signature=_input_signature(model), verbose=verbose
    )
    batch_dims = _serving_batch_dims(path)
    if any(dim is not None for dim in batch_dims.values()):
        raise RuntimeError(
            "The exported serving signature has a fixed batch dimension. "
            f"Received: batch_dims={batch_dims}"
        )
    return path


def to_saved_model(model, path, verbose=False):
    """Exports a model as a TensorFlow SavedModel with a dynamic batch dimension.

    Uses ``model.export(path, format="tf_saved_model")`` with an explicit input signature
    ``(None, *input_shape)`` named ``inputs``; the endpoint is ``serve`` and the
    ``serving_default`` signature, whose batch dimension is checked to be ``None``.
    Mixed-precision models are first rebuilt in float32 (:func:`float32_model`).

    Args:
        model: a built single-input ``keras.Model``.
        path: folder to write.
        verbose: print Keras's export message.

    Returns:
        ``path`` as a string.

    Example:

    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    >>> path = to_saved_model(model, "/tmp/doc_saved_model")
    >>> tf.saved_model.load(path).serve(np.zeros((3, 8, 8, 3), "float32")).shape
    TensorShape([3, 6, 6, 4])
    """
    return _export_saved_model(float32_model(model), path, verbose=verbose)


# --------------------------------------------------------------------------------------
# TFLite.
# --------------------------------------------------------------------------------------


def _samples(data, rank):
    """Yields single float32 samples of shape ``(1, ...)`` from ``data``."""
    import tensorflow as tf

    if callable(data) and not isinstance(data, tf.data.Dataset):
        data = data()
    if isinstance(data, tf.data.Dataset):
        data = data.as_numpy_iterator()
    elif isinstance(data, np.ndarray) or hasattr(data, "__array__"):
        data = [np.asarray(data)]
    for item in data:
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

    (input_shape,) = _serving_inputs(saved_model_dir).values()
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
    return converter.convert()


def to_tflite(model, path, quantization=None, representative_data=None, integer_io=False):
    """Converts a model to a TFLite (LiteRT) flatbuffer with builtin ops only.

    The model (rebuilt in float32 if it is mixed precision) goes through Keras's
    SavedModel export, then ``tf.lite.TFLiteConverter.from_saved_model`` with
    ``target_spec.supported_ops = [TFLITE_BUILTINS]`` (``[TFLITE_BUILTINS_INT8]`` for int8,
    so the conversion fails rather than leave a float op inside an int8 model).
    The file is checked to contain no Flex or custom op (:func:`check_builtin_ops`).

    Quantization modes:

    * ``None``: float32 weights and compute.
    * ``"float16"``: float16 weights (about half the size), dequantized to float32 at load
      time; float32 compute and I/O.
    * ``"int8"``: full-integer post-training quantization: int8 weights (per channel) and
      activations (per tensor) calibrated on ``representative_data``. Input and output stay
      float32, with a QUANTIZE op after the input and a DEQUANTIZE op before the output,
      unless ``integer_io=True``, which makes them int8 (scale and zero point in the
      interpreter's input/output details; :func:`check_parity` applies them).

    Args:
        model: a built single-input ``keras.Model``, or the folder of a SavedModel written
            by :func:`to_saved_model` (converting one SavedModel to several files skips
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

    Example:

    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    >>> data = np.random.rand(32, 8, 8, 3).astype("float32")
    >>> path = to_tflite(model, "/tmp/doc.tflite", "int8", representative_data=data)
    >>> check_parity(model, path, data)["top1_agreement"] > 0.9
    True
    """
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
    path = os.fspath(path)
    if isinstance(model, (str, os.PathLike)):
        saved_model_dir = os.fspath(model)
        if not os.path.isfile(os.path.join(saved_model_dir, "saved_model.pb")):
            raise ValueError(
                "`model` must be a keras.Model or a SavedModel folder. "
                f"Received: model={saved_model_dir!r}"
            )
        flatbuffer = _convert(saved_model_dir, quantization, representative_data, integer_io)
    else:
        model = float32_model(model)
        with tempfile.TemporaryDirectory() as saved_model_dir:
            _export_saved_model(model, saved_model_dir)
            flatbuffer = _convert(saved_model_dir, quantization, representative_data, integer_io)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "wb") as file:
        file.write(flatbuffer)
    check_builtin_ops(path)
    return path


# --------------------------------------------------------------------------------------
# Reading a .tflite file.
# --------------------------------------------------------------------------------------


def _schema():
    try:
        from tensorflow.lite.python import schema_py_generated as schema
    except ImportError:  # LiteRT without TensorFlow
        from ai_edge_litert import schema_py_generated as schema
    return schema


_OpRecord = collections.namedtuple(
    "_OpRecord", ["name", "builtin", "input_shapes", "input_types", "output_types"]
)


def _read_ops(tflite_path):
    schema = _schema()
    with open(os.fspath(tflite_path), "rb") as file:
        buffer = file.read()
    model = schema.Model.GetRootAs(buffer, 0)
    builtin_names = {
        value: name for name, value in vars(schema.BuiltinOperator).items() if name.isupper()
    }
    type_names = {
        value: name.lower() for name, value in vars(schema.TensorType).items() if name.isupper()
    }
    custom = schema.BuiltinOperator.CUSTOM
    codes = []
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == custom:
            custom_code = code.CustomCode()
            name = custom_code.decode() if custom_code else "CUSTOM"
            codes.append((name, False))
        else:
            codes.append((builtin_names.get(builtin, f"UNKNOWN_{builtin}"), True))
    records = []
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)

        def tensor(i, subgraph=subgraph):
            return subgraph.Tensors(int(i)) if i >= 0 else None

        for o in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(o)
            name, builtin = codes[op.OpcodeIndex()]
            inputs = [tensor(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
            outputs = [tensor(i) for i in op.OutputsAsNumpy()] if op.OutputsLength() else []
            records.append(
                _OpRecord(
                    name,
                    builtin,
                    [tuple(t.ShapeAsNumpy().tolist()) if t is not None else None for t in inputs],
                    [type_names.get(t.Type()) if t is not None else None for t in inputs],
                    [type_names.get(t.Type()) for t in outputs if t is not None],
                )
            )
    return records


def list_ops(tflite_path, details=False):
    """The operators of a ``.tflite`` file, read from its flatbuffer, in execution order.

    Builtin ops are named as in the TFLite schema (``"CONV_2D"``, ``"HARD_SWISH"``);
    custom ops by their custom code (Flex ops are ``"Flex..."``).

    Args:
        tflite_path: a ``.tflite`` file.
        details: return one dict per op instead of its name: ``name``, ``builtin``
            (bool), ``input_shapes``, ``input_types`` and ``output_types`` (type names
            such as ``"float32"`` or ``"int8"``).

    Returns:
        A list of op names, or of dicts with ``details=True``.

    Example:

    >>> sorted(set(list_ops("model.tflite")))  # doctest: +SKIP
    ['ADD', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'MEAN']
    """
    records = _read_ops(tflite_path)
    if details:
        return [record._asdict() for record in records]
    return [record.name for record in records]


def conv_groups(tflite_path):
    """The number of groups of every ``CONV_2D`` op of a ``.tflite`` file.

    A ``CONV_2D`` whose filter ``(out, kh, kw, in / groups)`` has fewer input channels than
    its input tensor is a grouped convolution; 1 means dense.

    Args:
        tflite_path: a ``.tflite`` file.

    Returns:
        A list of ints, one per ``CONV_2D`` op in execution order.

    Example:

    >>> max(conv_groups("mgic_resnet20.tflite"))  # doctest: +SKIP
    2
    """
    groups = []
    for record in _read_ops(tflite_path):
        if record.name == "CONV_2D":
            input_shape, filter_shape = record.input_shapes[0], record.input_shapes[1]
            groups.append(input_shape[-1] // filter_shape[-1])
    return groups


def check_builtin_ops(tflite_path):
    """Raises ``ValueError`` if a ``.tflite`` file holds Flex (Select TF) or custom ops.

    Args:
        tflite_path: a ``.tflite`` file.

    Returns:
        The sorted set of op names of the file.

    Example:

    >>> check_builtin_ops("model.tflite")  # doctest: +SKIP
    ['ADD', 'CONV_2D', 'FULLY_CONNECTED', 'MEAN']
    """
    records = _read_ops(tflite_path)
    foreign = sorted({record.name for record in records if not record.builtin})
    if foreign:
        raise ValueError(
            "The TFLite file uses ops that are not TFLite builtins (Flex/Select TF ops or "
            f"custom ops), which the stock LiteRT runtime cannot run. Received: ops={foreign}"
        )
    return sorted({record.name for record in records})


# --------------------------------------------------------------------------------------
# Running exported files and the parity check.
# --------------------------------------------------------------------------------------


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


def undelegated_ops(tflite_path, runtime="auto"):
    """The ops of a ``.tflite`` file that the runtime's default delegate (XNNPACK) leaves out.

    The interpreter applies XNNPACK by default on CPU; ops it does not take run on the
    builtin TFLite kernels (for grouped convolutions that can be the slow reference kernel).
    This loads the file, lets the delegate partition the graph, and returns the names of the
    ops outside every delegate partition. It reads the interpreter's node list with
    ``Interpreter._get_ops_details()``, a private API of both ``ai_edge_litert`` and
    ``tf.lite``: treat it as a diagnostic.

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
    nodes = interpreter._get_ops_details()
    delegates = [node for node in nodes if node["op_name"] == "DELEGATE"]
    ops = [node for node in nodes if node["op_name"] != "DELEGATE"]
    producer = {int(t): node for node in ops for t in node["outputs"]}
    delegated = set()
    for delegate in delegates:
        boundary = {int(t) for t in delegate["inputs"]}
        stack = [int(t) for t in delegate["outputs"]]
        while stack:
            t = stack.pop()
            if t in boundary or t not in producer:
                continue
            node = producer[t]
            if node["index"] in delegated:
                continue
            delegated.add(node["index"])
            stack.extend(int(i) for i in node["inputs"] if i >= 0)
    return [node["op_name"] for node in ops if node["index"] not in delegated]


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
    interpreter_cls = interpreter_class(runtime)
    kwargs = {} if num_threads is None else {"num_threads": num_threads}
    interpreter = interpreter_cls(model_path=os.fspath(tflite_path), **kwargs)
    input_details = interpreter.get_input_details()
    output_details = interpreter.get_output_details()
    if len(input_details) != 1 or len(output_details) != 1:
        raise ValueError(
            "run_tflite needs a single-input, single-output model. Received: "
            f"inputs={len(input_details)}, outputs={len(output_details)}"
        )
    inputs = np.asarray(inputs, dtype="float32")
    outputs, current = [], None
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        if current != chunk.shape:
            interpreter.resize_tensor_input(input_details[0]["index"], chunk.shape)
            interpreter.allocate_tensors()
            current = chunk.shape
        details = interpreter.get_input_details()[0]
        if np.issubdtype(details["dtype"], np.integer):
            chunk = _quantize(chunk, details)
        interpreter.set_tensor(details["index"], chunk)
        interpreter.invoke()
        out_details = interpreter.get_output_details()[0]
        outputs.append(_dequantize(interpreter.get_tensor(out_details["index"]), out_details))
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

    ``exported_path`` is a ``.tflite`` file (run with :func:`run_tflite`; int8 I/O is
    (de)quantized there) or a SavedModel folder (run with :func:`run_saved_model`). The
    Keras reference is ``model.predict(inputs)`` in inference mode, with the model's own
    dtype policy: for a mixed-precision model the figures include its float16 rounding.

    Args:
        model: the Keras model that was exported.
        exported_path: a ``.tflite`` file or a SavedModel folder.
        inputs: float array ``(n, ...)`` of held-out inputs.
        runtime: TFLite runtime, see :func:`interpreter_class`.
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


__all__ = [
    "EXPORT_BACKENDS",
    "QUANTIZATIONS",
    "check_builtin_ops",
    "check_export_backend",
    "check_parity",
    "conv_groups",
    "float32_model",
    "format_parity",
    "interpreter_class",
    "list_ops",
    "parity",
    "run_saved_model",
    "run_tflite",
    "to_saved_model",
    "to_tflite",
    "undelegated_ops",
]
