"""The paper's cost metrics: trainable parameters and multiply-adds (MACs, the paper's "FLOPs").

:func:`count_flops` runs the model once on a batch of one zero image with every costed layer
(convolutions, Dense, the MGIC transfers, ...) wrapped, and adds up the multiply-adds each
call does at the shapes it actually sees. It therefore sees inside nested layers
(``MGICBlock``'s levels, per-level blocks, ``ChannelTransition``, squeeze-excite) and counts
a shared layer once per call. Only multiply-adds of convolutions and matrix products count,
as in the paper: biases, BatchNorm, activations, additions and pooling are not counted.

Example:

>>> model = keras.Sequential([keras.Input((8, 8, 4)), keras.layers.Conv2D(8, 3)])
>>> count_params(model), count_flops(model)
(296, 10368)
"""

import functools
import math
import warnings

import keras
import numpy as np

from keras_mgic.layers.feed_forward import MGICFeedForward
from keras_mgic.layers.point_cloud import (
    DiffGCNConv,
    EdgeConv,
    PointPooling,
    PointRestriction,
    PointTransition,
    PointUnpooling,
)
from keras_mgic.layers.tokens import PositionEmbedding
from keras_mgic.layers.transfer import ChannelProlongation, ChannelRestriction


def _size(shape):
    return int(math.prod(int(d) for d in shape))


def _unique(variables):
    seen, result = set(), []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            result.append(variable)
    return result


def count_params(model):
    """Number of trainable parameters of a built model (or layer), as the paper counts them.

    BatchNorm's scale and offset count; its moving statistics (non-trainable) do not. A
    variable shared by several layers counts once.

    Args:
        model: a built ``keras.Model`` or ``keras.layers.Layer``.

    Returns:
        int.

    Example:

    >>> count_params(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    8
    """
    if not getattr(model, "built", False):
        raise ValueError(
            "count_params needs a built model (give it an Input or call it once). "
            f"Received: model={getattr(model, 'name', model)!r}"
        )
    return sum(_size(v.shape) for v in _unique(model.trainable_weights))


# ---------------------------------------------------------------------- per-layer MAC rules


def _output_elements(outputs):
    """Elements of one sample of the (first) output tensor."""
    return _size(keras.ops.shape(outputs)[1:])


def _conv_macs(layer, inputs, outputs):
    # kernel (*spatial, channels_in / groups, filters): each output costs prod(kernel[:-1]).
    return _output_elements(outputs) * _size(layer.kernel.shape[:-1])


def _depthwise_macs(layer, inputs, outputs):
    # kernel (*spatial, channels, depth_multiplier): each output costs prod(spatial).
    return _output_elements(outputs) * _size(layer.kernel.shape[:-2])


def _separable_macs(layer, inputs, outputs):
    spatial = _size(keras.ops.shape(outputs)[1:-1])
    return spatial * (_size(layer.depthwise_kernel.shape) + _size(layer.pointwise_kernel.shape))


def _transpose_conv_macs(layer, inputs, outputs):
    # Every input element is scattered through prod(kernel[:-1]) (spatial * filters) products.
    return _size(keras.ops.shape(inputs)[1:]) * _size(layer.kernel.shape[:-1])


def _dense_macs(layer, inputs, outputs):
    return _output_elements(outputs) * int(layer.kernel.shape[0])


def _pooling_macs(layer, inputs, outputs):
    # P^T on the features and the coordinates: one per nonzero of P (a fine point) per channel.
    features, coordinates = outputs[0], outputs[1]
    return 2 * (_output_elements(features) + _output_elements(coordinates))


def _restriction_macs(layer, inputs, outputs):
    return 2 * _output_elements(outputs)  # P^T: one per fine point per channel


def _unpooling_macs(layer, inputs, outputs):
    return _output_elements(outputs)  # P: one per fine point per channel


def _feed_forward_macs(layer, inputs, outputs):
    # Every level's grouped maps, once per position (token, pixel).
    shape = keras.ops.shape(outputs)
    return _size(shape[1:-1]) * layer.macs_per_position(int(shape[-1]))


def _einsum_dense_macs(layer, inputs, outputs):
    # Output elements times the kernel entries each one sums over (the kernel's axes that
    # the output does not keep), e.g. "abc,cde->abde": the c axis.
    operands, output_spec = layer.equation.split("->")
    kernel_spec = operands.split(",")[1]
    summed = [size for axis, size in zip(kernel_spec, layer.kernel.shape, strict=True)
              if axis not in output_spec]  # fmt: skip
    return _output_elements(outputs) * _size(summed)


def _attention_macs(layer, inputs, outputs, value=None):
    # The two products of the attention itself, per head: scores Q K^T (query positions x
    # key positions x key_dim) and scores times V (x value_dim). The query, key, value and
    # output projections are the layer's EinsumDense sublayers, counted on their own.
    queries = _size(keras.ops.shape(inputs)[1:-1])
    keys = queries if value is None else _size(keras.ops.shape(value)[1:-1])
    value_dim = layer._value_dim or layer._key_dim
    return layer._num_heads * queries * keys * (layer._key_dim + value_dim)


_attention_macs.needs_value = True  # the counter receives the attention's value tensor


#: Layer class -> function(layer, inputs, outputs) returning the multiply-adds of one call
#: for a batch of one. Extend with :func:`register_flop_counter`. More specific classes win
#: (the most derived registered base class of a layer is used).
FLOP_COUNTERS = {
    keras.layers.Conv1D: _conv_macs,
    keras.layers.Conv2D: _conv_macs,
    keras.layers.Conv3D: _conv_macs,
    keras.layers.DepthwiseConv1D: _depthwise_macs,
    keras.layers.DepthwiseConv2D: _depthwise_macs,
    keras.layers.SeparableConv1D: _separable_macs,
    keras.layers.SeparableConv2D: _separable_macs,
    keras.layers.Conv1DTranspose: _transpose_conv_macs,
    keras.layers.Conv2DTranspose: _transpose_conv_macs,
    keras.layers.Conv3DTranspose: _transpose_conv_macs,
    keras.layers.Dense: _dense_macs,
    keras.layers.EinsumDense: _einsum_dense_macs,
    keras.layers.MultiHeadAttention: _attention_macs,
    MGICFeedForward: _feed_forward_macs,
    ChannelRestriction: _conv_macs,
    ChannelProlongation: _conv_macs,
    # Point sets: kernels (rows per group, filters), applied once per point (see the layers).
    # The k-NN graph's distances (a points x points matrix product per KNNGraph), its top_k,
    # the gathers, scatters and element-wise products are not counted, as in the paper's
    # DGCNN row (Table 6); benchmarks/paper_table6.py lists the distance MACs apart.
    EdgeConv: _conv_macs,
    DiffGCNConv: _conv_macs,
    PointTransition: _conv_macs,
    # Multigrid pooling: P^T X and P Y as sparse products, one MAC per nonzero of P (one per
    # fine point) per channel; the matching (gathers and top_k) is not counted.
    PointPooling: _pooling_macs,
    PointRestriction: _restriction_macs,
    PointUnpooling: _unpooling_macs,
}

#: Leaf layers with weights that do no multiply-adds (no warning for them).
_NO_MACS = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.Embedding,
    keras.layers.PReLU,
    PositionEmbedding,
)


def register_flop_counter(layer_class):
    """Decorator registering the MAC count of a custom layer class for :func:`count_flops`.

    The function receives ``(layer, inputs, outputs)`` of one call on a batch of one and
    returns the number of multiply-adds.

    Example:

    >>> @register_flop_counter(keras.layers.Identity)
    ... def _identity_macs(layer, inputs, outputs):
    ...     return 0
    >>> del FLOP_COUNTERS[keras.layers.Identity]
    """

    def decorator(function):
        FLOP_COUNTERS[layer_class] = function
        return function

    return decorator


def _counter_for(layer):
    for cls in type(layer).__mro__:
        if cls in FLOP_COUNTERS:
            return FLOP_COUNTERS[cls]
    return None


def _layer_paths(model):
    """``id(layer) -> "outer/inner/leaf"`` for the model and every nested layer."""
    paths = {}

    def visit(layer, prefix):
        for child in layer._layers:
            if id(child) in paths:
                continue
            path = f"{prefix}/{child.name}" if prefix else child.name
            paths[id(child)] = (child, path)
            visit(child, path)

    if _counter_for(model) is not None:  # a bare costed layer, e.g. a Conv2D
        paths[id(model)] = (model, model.name)
    visit(model, "")
    return paths


def _input_shapes(model, input_shape):
    if input_shape is not None:
        shapes = [input_shape] if not isinstance(input_shape[0], (tuple, list)) else input_shape
        return [tuple(shape) for shape in shapes]
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError(
            "count_flops needs the input shape of a model without an Input layer: pass "
            "input_shape=(height, width, channels). "
            f"Received: input_shape={input_shape!r}"
        )
    shapes = [tuple(x.shape[1:]) for x in inputs]
    for shape in shapes:
        if any(d is None for d in shape):
            raise ValueError(
                "The model's input has unknown dimensions; pass a concrete input_shape (without "
                f"the batch axis), e.g. (224, 224, 3). Received: input_shape={shape!r}"
            )
    return shapes


def profile_flops(model, input_shape=None):
    """Multiply-adds of every costed layer call, in call order.

    Args:
        model: a built ``keras.Model`` (or a layer, with ``input_shape``).
        input_shape: shape of one sample without the batch axis (or a list of them for
            several inputs); defaults to the model's input shape.

    Returns:
        A list of ``(path, class_name, macs)`` tuples, ``path`` naming the layer inside its
        parents (e.g. ``"stage2_block1_mgic/level_0_block/conv1"``).

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="fc")])
    >>> profile_flops(model)
    [('fc', 'Dense', 12)]
    """
    shapes = _input_shapes(model, input_shape)
    data = [np.zeros((1, *shape), dtype="float32") for shape in shapes]
    if not model.built:  # a layer given with its input shape: build it (and its children)
        model(data[0] if len(data) == 1 else data, training=False)
    paths = _layer_paths(model)
    records = []
    unknown = set()
    originals = []

    def wrap(layer, path, counter):
        original = layer.call

        @functools.wraps(original)
        def call(*args, **kwargs):
            outputs = original(*args, **kwargs)
            inputs = args[0] if args else next(iter(kwargs.values()))
            extra = {}
            if getattr(counter, "needs_value", False):
                extra["value"] = args[1] if len(args) > 1 else kwargs.get("value")
            macs = int(counter(layer, inputs, outputs, **extra))
            records.append((path, type(layer).__name__, macs))
            return outputs

        return call

    for layer, path in paths.values():
        counter = _counter_for(layer)
        if counter is not None:
            originals.append(layer)
            object.__setattr__(layer, "call", wrap(layer, path, counter))
        elif not layer._layers and not isinstance(layer, _NO_MACS):
            if any(len(w.shape) >= 2 for w in layer.weights):
                unknown.add(type(layer).__name__)
    try:
        model(data[0] if len(data) == 1 else data, training=False)
    finally:
        for layer in originals:
            object.__delattr__(layer, "call")
    if unknown:
        warnings.warn(
            "count_flops has no rule for these layers with weights, counted as 0 MACs: "
            f"{sorted(unknown)}; register one with keras_mgic.profiling.register_flop_counter.",
            stacklevel=2,
        )
    return records


def count_flops(model, input_shape=None):
    """Multiply-adds (MACs) of one forward pass of one sample, as the paper counts FLOPs.

    Counted: convolutions (dense, grouped, depthwise, separable, transposed; any stride),
    Dense layers, and the MGIC restriction and prolongation operators, wherever they are
    nested (``MGICBlock`` levels, per-level blocks, ``ChannelTransition``, squeeze-excite).
    Token models: ``MGICFeedForward`` (every level's grouped maps and transfers, once per
    token), ``EinsumDense`` (output elements times the kernel entries each sums over) and
    ``MultiHeadAttention``: its projections (EinsumDense sublayers) plus the two attention
    products, ``heads x queries x keys x (key_dim + value_dim)``; the softmax, the scaling
    and LayerNormalization are not counted (like BatchNorm and activations).
    Point sets: ``EdgeConv``, ``DiffGCNConv`` and ``PointTransition`` count their kernel once
    per point (points x filters x kernel rows); the k-NN graph's distance products, ``top_k``,
    the gathers and scatters along the graph and DiffGCN's gradient products are not
    counted, as the paper's DGCNN row (Table 6) does not count them. ``PointPooling``,
    ``PointRestriction`` and ``PointUnpooling`` count ``P^T X`` and ``P Y`` as sparse
    products: one MAC per fine point per channel (the matching itself is not counted).
    A convolution's count is its output elements times the kernel size per output
    (``kh * kw * channels_in / groups``). Not counted, as in the paper: biases, BatchNorm,
    activations, additions, pooling and resizing. TensorFlow's profiler reports about two
    FLOPs per MAC plus those element-wise ops.

    The model runs once, eagerly, on a zero batch of one sample (``training=False``).

    Args:
        model: a built ``keras.Model`` (or a layer, with ``input_shape``).
        input_shape: shape of one sample without the batch axis (or a list of them for
            several inputs); defaults to the model's input shape.

    Returns:
        int, the number of multiply-adds.

    Example:

    >>> model = keras.Sequential([keras.Input((8, 8, 4)), keras.layers.Conv2D(8, 3, groups=2)])
    >>> count_flops(model)  # 6 * 6 * 8 outputs, 3 * 3 * 2 MACs each
    5184
    """
    return sum(macs for _, _, macs in profile_flops(model, input_shape))
