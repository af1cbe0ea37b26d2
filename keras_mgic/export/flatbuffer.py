"""Reading the operators of a ``.tflite`` file from its flatbuffer.

A ``.tflite`` file is a FlatBuffer of the TFLite schema (``tensorflow/compiler/mlir/lite/
schema/schema.fbs`` in the TensorFlow repository). The schema only ever appends fields and
enum values, so a field keeps its id and an op keeps its code across versions. This module
reads the few fields it needs (operator codes, and per operator its inputs' shapes and types)
with the public ``flatbuffers`` runtime, instead of the bindings generated from the schema
that TensorFlow and LiteRT ship as internal modules.
"""

import collections
import os

# ``BuiltinOperator`` of the TFLite schema, in code order (code 0 is ADD). An op added after
# this table is named ``BUILTIN_<code>``.
BUILTIN_OPERATORS = tuple(
    """
    ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE
    DEQUANTIZE EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION
    L2_POOL_2D LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL
    RELU RELU_N1_TO_1 RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH
    CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD
    UNIDIRECTIONAL_SEQUENCE_RNN GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE
    MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE
    BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE
    BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX MINIMUM LESS NEG PADV2
    GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE
    TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT
    REDUCE_PROD REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK
    REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE
    RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE
    CEIL REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG
    QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4
    NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL
    PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG
    REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL
    CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE ASSIGN_VARIABLE BROADCAST_ARGS
    RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU
    DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX
    UNSORTED_SEGMENT_SUM ATAN2 UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT
    STABLEHLO_LOGISTIC STABLEHLO_ADD STABLEHLO_DIVIDE STABLEHLO_MULTIPLY
    STABLEHLO_MAXIMUM STABLEHLO_RESHAPE STABLEHLO_CLAMP STABLEHLO_CONCATENATE
    STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CONVOLUTION STABLEHLO_SLICE
    STABLEHLO_CUSTOM_CALL STABLEHLO_REDUCE STABLEHLO_ABS STABLEHLO_AND STABLEHLO_COSINE
    STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR STABLEHLO_LOG STABLEHLO_MINIMUM
    STABLEHLO_NEGATE STABLEHLO_OR STABLEHLO_POWER STABLEHLO_REMAINDER STABLEHLO_RSQRT
    STABLEHLO_SELECT STABLEHLO_SUBTRACT STABLEHLO_TANH STABLEHLO_SCATTER
    STABLEHLO_COMPARE STABLEHLO_CONVERT STABLEHLO_DYNAMIC_SLICE
    STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_PAD STABLEHLO_IOTA STABLEHLO_DOT_GENERAL
    STABLEHLO_REDUCE_WINDOW STABLEHLO_SORT STABLEHLO_WHILE STABLEHLO_GATHER
    STABLEHLO_TRANSPOSE DILATE STABLEHLO_RNG_BIT_GENERATOR REDUCE_WINDOW
    STABLEHLO_COMPOSITE STABLEHLO_SHIFT_LEFT STABLEHLO_CBRT STABLEHLO_CASE
    """.split()
)

# ``TensorType`` of the TFLite schema, in code order, as NumPy-style names.
TENSOR_TYPES = tuple(
    """
    float32 float16 int32 uint8 int64 string bool int16 complex64 int8 float64
    complex128 uint64 resource variant uint32 uint16 int4 bfloat16 int2 uint4
    """.split()
)

_CUSTOM = BUILTIN_OPERATORS.index("CUSTOM")
_FILE_IDENTIFIER = b"TFL3"

# Field ids of the schema's tables (a field's vtable slot is 4 + 2 * id).
_MODEL_OPERATOR_CODES, _MODEL_SUBGRAPHS = 1, 2
_CODE_DEPRECATED_BUILTIN, _CODE_CUSTOM, _CODE_BUILTIN = 0, 1, 3
_SUBGRAPH_TENSORS, _SUBGRAPH_OPERATORS = 0, 3
_TENSOR_SHAPE, _TENSOR_TYPE = 0, 1
_OPERATOR_OPCODE_INDEX, _OPERATOR_INPUTS, _OPERATOR_OUTPUTS = 0, 1, 2

OpRecord = collections.namedtuple(
    "OpRecord", ["name", "builtin", "input_shapes", "input_types", "output_types"]
)


def _slot(table, field_id):
    return table.Offset(4 + 2 * field_id)


def _scalar(table, field_id, flags, default=0):
    slot = _slot(table, field_id)
    return table.Get(flags, table.Pos + slot) if slot else default


def _string(table, field_id):
    slot = _slot(table, field_id)
    return table.String(table.Pos + slot).decode() if slot else None


def _vector(table, field_id, width=4):
    """The absolute positions of the elements of a vector field."""
    slot = _slot(table, field_id)
    if not slot:
        return []
    start = table.Vector(slot)
    return [start + width * i for i in range(table.VectorLen(slot))]


def _tables(table, field_id):
    from flatbuffers.table import Table

    return [Table(table.Bytes, table.Indirect(pos)) for pos in _vector(table, field_id)]


def _ints(table, field_id):
    from flatbuffers.number_types import Int32Flags

    return [table.Get(Int32Flags, pos) for pos in _vector(table, field_id)]


def _root(buffer, source):
    from flatbuffers import encode, packer
    from flatbuffers.table import Table

    if len(buffer) < 8 or bytes(buffer[4:8]) != _FILE_IDENTIFIER:
        raise ValueError(
            f"Not a TFLite flatbuffer (no {_FILE_IDENTIFIER.decode()} file identifier). "
            f"Received: tflite_path={source!r}"
        )
    return Table(buffer, encode.Get(packer.uoffset, buffer, 0))


def _op_name(code):
    from flatbuffers.number_types import Int8Flags, Int32Flags

    builtin = max(
        _scalar(code, _CODE_BUILTIN, Int32Flags),
        _scalar(code, _CODE_DEPRECATED_BUILTIN, Int8Flags),
    )
    if builtin == _CUSTOM:
        return _string(code, _CODE_CUSTOM) or "CUSTOM", False
    if builtin < len(BUILTIN_OPERATORS):
        return BUILTIN_OPERATORS[builtin], True
    return f"BUILTIN_{builtin}", True


def _tensor_type(tensor):
    from flatbuffers.number_types import Int8Flags

    code = _scalar(tensor, _TENSOR_TYPE, Int8Flags)
    return TENSOR_TYPES[code] if code < len(TENSOR_TYPES) else f"type_{code}"


def _operator_record(operator, codes, tensors):
    from flatbuffers.number_types import Uint32Flags

    name, builtin = codes[_scalar(operator, _OPERATOR_OPCODE_INDEX, Uint32Flags)]
    inputs = [tensors[i] if i >= 0 else None for i in _ints(operator, _OPERATOR_INPUTS)]
    outputs = [tensors[i] for i in _ints(operator, _OPERATOR_OUTPUTS) if i >= 0]
    return OpRecord(
        name,
        builtin,
        [tuple(_ints(t, _TENSOR_SHAPE)) if t is not None else None for t in inputs],
        [_tensor_type(t) if t is not None else None for t in inputs],
        [_tensor_type(t) for t in outputs],
    )


def read_ops(tflite):
    """The operators of a TFLite flatbuffer, every subgraph in execution order.

    Args:
        tflite: a ``.tflite`` file path, or the flatbuffer's bytes.

    Returns:
        A list of :class:`OpRecord`: ``name`` (``"CONV_2D"``, or a custom op's code such as
        ``"FlexErf"``), ``builtin`` (bool), ``input_shapes``, ``input_types`` and
        ``output_types`` (``None`` for an omitted optional input).
    """
    if isinstance(tflite, (bytes, bytearray)):
        buffer, source = bytes(tflite), "<bytes>"
    else:
        source = os.fspath(tflite)
        with open(source, "rb") as file:
            buffer = file.read()
    model = _root(buffer, source)
    codes = [_op_name(code) for code in _tables(model, _MODEL_OPERATOR_CODES)]
    records = []
    for subgraph in _tables(model, _MODEL_SUBGRAPHS):
        tensors = _tables(subgraph, _SUBGRAPH_TENSORS)
        for operator in _tables(subgraph, _SUBGRAPH_OPERATORS):
            records.append(_operator_record(operator, codes, tensors))
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
    records = read_ops(tflite_path)
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
    for record in read_ops(tflite_path):
        if record.name == "CONV_2D":
            input_shape, filter_shape = record.input_shapes[0], record.input_shapes[1]
            groups.append(input_shape[-1] // filter_shape[-1])
    return groups


def check_builtin_ops(tflite):
    """Raises ``ValueError`` if a TFLite flatbuffer holds Flex (Select TF) or custom ops.

    Args:
        tflite: a ``.tflite`` file, or the flatbuffer's bytes.

    Returns:
        The sorted set of op names of the file.

    Example:

    >>> check_builtin_ops("model.tflite")  # doctest: +SKIP
    ['ADD', 'CONV_2D', 'FULLY_CONNECTED', 'MEAN']
    """
    records = read_ops(tflite)
    foreign = sorted({record.name for record in records if not record.builtin})
    if foreign:
        raise ValueError(
            "The TFLite file uses ops that are not TFLite builtins (Flex/Select TF ops or "
            f"custom ops), which the stock LiteRT runtime cannot run. Received: ops={foreign}"
        )
    return sorted({record.name for record in records})
