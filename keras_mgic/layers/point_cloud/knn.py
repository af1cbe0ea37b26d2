"""KNNGraph: the k-nearest-neighbour graph of a point set, on coordinates or on features."""

import keras

from keras_mgic.layers.validation import point_channels, positive_int


def check_enough_points(layer_name, points, k):
    """Raises ValueError when ``points`` (an int, or None when unknown) is below ``k + 1``."""
    if points is not None and points < k + 1:
        raise ValueError(
            f"{layer_name} needs at least k + 1 points (each point's k neighbours exclude the "
            f"point itself). Received: points={points}, k={k}"
        )


def knn_indices(inputs, k):
    """``(batch, points, k)`` int32 indices of every point's ``k`` nearest neighbours in
    ``inputs`` ``(batch, points, channels)``, itself excluded, nearest first (what
    :class:`KNNGraph` returns; no gradient flows through them).

    Example:

    >>> x = keras.ops.convert_to_tensor([[[0.0], [1.0], [3.0]]])
    >>> keras.ops.convert_to_numpy(knn_indices(x, 1))[0].tolist()
    [[1], [0], [1]]
    """
    x = keras.ops.cast(keras.ops.stop_gradient(inputs), "float32")
    squares = keras.ops.sum(x * x, axis=-1)
    products = keras.ops.matmul(x, keras.ops.transpose(x, (0, 2, 1)))
    distances = squares[:, :, None] - 2.0 * products + squares[:, None, :]
    index = keras.ops.arange(keras.ops.shape(x)[1])
    itself = keras.ops.expand_dims(index, 1) == keras.ops.expand_dims(index, 0)
    distances = keras.ops.where(itself, float("inf"), distances)
    _, neighbors = keras.ops.top_k(-distances, k, sorted=True)
    return keras.ops.cast(neighbors, "int32")


@keras.saving.register_keras_serializable(package="keras_mgic")
class KNNGraph(keras.layers.Layer):
    """Indices of every point's ``k`` nearest neighbours (Euclidean), itself excluded.

    Applied to coordinates it gives the fixed graph of a point cloud; applied to the
    features of a hidden layer it gives DGCNN's dynamic graph (Wang et al., "Dynamic Graph
    CNN for Learning on Point Clouds", ACM TOG 2019), recomputed at every layer. No gradient
    flows through the indices.

    The squared distances ``|x_i|^2 - 2 x_i . x_j + |x_j|^2`` are one batched matrix product,
    a ``(batch, points, points)`` float32 tensor (128 MB for 32 clouds of 1,024 points),
    then ``top_k``; nothing of size ``points^2 * channels`` is formed. The neighbours come
    nearest first; among equally distant points the lower index wins.

    Args:
        k: positive int, neighbours per point.
        **kwargs: base ``keras.layers.Layer`` arguments.

    Input: ``(batch, points, channels)`` with ``points >= k + 1``. Output: ``(batch, points,
    k)`` int32.

    Example:

    >>> x = keras.ops.convert_to_tensor([[[0.0], [1.0], [3.0], [7.0]]])
    >>> keras.ops.convert_to_numpy(KNNGraph(k=2)(x))[0].tolist()
    [[1, 2], [0, 2], [1, 0], [2, 1]]
    """

    def __init__(self, k, **kwargs):
        super().__init__(**kwargs)
        self.k = positive_int("k", k)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def build(self, input_shape):
        point_channels("KNNGraph", input_shape)
        check_enough_points("KNNGraph", input_shape[1], self.k)

    def call(self, inputs):
        return knn_indices(inputs, self.k)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:2], self.k)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="int32")

    def get_config(self):
        config = super().get_config()
        config["k"] = self.k
        return config
