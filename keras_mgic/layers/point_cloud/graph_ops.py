"""Gather and scatter along a k-nearest-neighbour graph, with ``keras.ops`` only.

A graph is a tensor ``neighbors`` of shape ``(batch, points, k)`` and integer dtype:
``neighbors[b, i]`` holds the indices (into the same point set) of point ``i``'s ``k``
neighbours, the edges ``j -> i``. Both operations flatten the batch into one index space
(``b * points + j``), so they are one ``take`` (TFLite ``GATHER``) and one
``segment_sum`` (TFLite ``UNSORTED_SEGMENT_SUM``), with memory linear in the number of edges.
"""

import keras

from keras_mgic import ops


def _flat_indices(neighbors, points):
    """``neighbors + b * points`` flattened: indices into the ``(batch * points, ...)`` rows."""
    batch = keras.ops.shape(neighbors)[0]
    offsets = keras.ops.reshape(keras.ops.arange(batch, dtype="int32") * points, (-1, 1, 1))
    return keras.ops.reshape(keras.ops.cast(neighbors, "int32") + offsets, (-1,))


def gather_neighbors(values, neighbors):
    """The values at every point's neighbours.

    Args:
        values: ``(batch, points, channels)`` tensor.
        neighbors: ``(batch, points, k)`` integer tensor of indices in ``[0, points)``.

    Returns:
        ``(batch, points, k, channels)``: ``out[b, i, m] = values[b, neighbors[b, i, m]]``.

    Example:

    >>> x = keras.ops.reshape(keras.ops.arange(6, dtype="float32"), (1, 3, 2))
    >>> keras.ops.convert_to_numpy(gather_neighbors(x, [[[2], [0], [0]]]))[0, :, 0].tolist()
    [[4.0, 5.0], [0.0, 1.0], [0.0, 1.0]]
    """
    neighbors = keras.ops.convert_to_tensor(neighbors)
    shape = keras.ops.shape(values)
    batch, points, channels = shape[0], shape[1], values.shape[-1]
    k = neighbors.shape[-1]
    rows = keras.ops.reshape(values, (-1, channels))
    gathered = keras.ops.take(rows, _flat_indices(neighbors, points), axis=0)
    return keras.ops.reshape(gathered, (batch, points, k, channels))


def _is_float64(x):
    return keras.backend.standardize_dtype(x.dtype) == "float64"


def scatter_to_neighbors(edge_values, neighbors):
    """Sums edge values onto the neighbour each edge points at (the transposed graph).

    Args:
        edge_values: ``(batch, points, k, channels)``: a value per edge ``neighbors[b, i, m]
            -> i``.
        neighbors: ``(batch, points, k)`` integer tensor of indices in ``[0, points)``.

    Returns:
        ``(batch, points, channels)``: ``out[b, j]`` is the sum of ``edge_values[b, i, m]``
        over every ``(i, m)`` with ``neighbors[b, i, m] == j``; zero for a point that is no
        one's neighbour.

    Example:

    >>> ones = keras.ops.ones((1, 3, 1, 1))
    >>> keras.ops.convert_to_numpy(scatter_to_neighbors(ones, [[[2], [0], [0]]]))[0, :, 0]
    array([2., 0., 1.], dtype=float32)
    """
    neighbors = keras.ops.convert_to_tensor(neighbors)
    shape = keras.ops.shape(edge_values)
    batch, points, channels = shape[0], shape[1], edge_values.shape[-1]
    rows = keras.ops.reshape(edge_values, (-1, channels))
    segments = _flat_indices(neighbors, points)
    if keras.backend.backend() == "torch" and _is_float64(edge_values):
        # PyTorch's segment_sum sums in float32; scatter (duplicate indices are summed)
        # keeps float64.
        indices = keras.ops.reshape(segments, (-1, 1))
        summed = keras.ops.scatter(indices, rows, (batch * points, channels))
    else:
        summed = keras.ops.segment_sum(rows, segments, num_segments=batch * points)
    summed = keras.ops.cast(summed, edge_values.dtype)  # PyTorch's segment_sum returns float32
    return keras.ops.reshape(summed, (batch, points, channels))


def grouped_pointwise(inputs, kernel, groups):
    """A grouped point-wise linear map (a 1x1 convolution) of the last axis.

    Args:
        inputs: ``(batch, points, channels)`` or ``(batch, points, k, channels)`` tensor.
        kernel: ``(channels // groups, filters)``: output channels
            ``[g * filters / groups, (g + 1) * filters / groups)`` read input channels
            ``[g * channels / groups, (g + 1) * channels / groups)`` (the grouped layout of
            ``keras.layers.Conv1D(groups=...)`` without its kernel-size axis).
        groups: the number of groups.

    Returns:
        ``(..., filters)``.

    Example:

    >>> y = grouped_pointwise(keras.ops.ones((2, 5, 8)), keras.ops.ones((4, 6)), groups=2)
    >>> tuple(y.shape)
    (2, 5, 6)
    """
    if groups == 1:
        if keras.backend.backend() == "torch" and _is_float64(inputs):
            # Keras's PyTorch matmul returns float32 for float64 operands; einsum keeps them.
            return keras.ops.einsum("...c,cf->...f", inputs, kernel)
        return keras.ops.matmul(inputs, kernel)
    kernel = keras.ops.reshape(kernel, (1, 1, *kernel.shape))
    if len(inputs.shape) == 4:
        return ops.grouped_conv2d(inputs, kernel, padding="valid", data_format="channels_last")
    outputs = ops.grouped_conv2d(
        keras.ops.expand_dims(inputs, 1), kernel, padding="valid", data_format="channels_last"
    )
    return keras.ops.squeeze(outputs, 1)
