"""The argument handling shared by the graph convolutions (``EdgeConv``, ``DiffGCNConv``)."""

import keras

from keras_mgic.layers.point_cloud.knn import check_enough_points, knn_indices
from keras_mgic.layers.validation import positive_int


def check_groups(layer_name, channels, filters, groups):
    """Raises ValueError unless ``groups`` divides both ``channels`` and ``filters``."""
    if channels % groups or filters % groups:
        raise ValueError(
            f"{layer_name} needs `groups` to divide the input channels and `filters`. "
            f"Received: channels={channels}, filters={filters}, groups={groups}"
        )


def check_k(k):
    """``k``: None or a positive int, the neighbours of a graph a layer builds itself."""
    return None if k is None else positive_int("k", k)


def graph_or_knn(layer_name, inputs, neighbors, k):
    """``neighbors`` when given, else the k-NN graph of ``inputs`` (a ValueError without
    ``k``)."""
    if neighbors is not None:
        return neighbors
    if k is None:
        raise ValueError(
            f"{layer_name} needs `neighbors` (e.g. from KNNGraph), or `k` to build the k-NN "
            "graph of its input. Received: neighbors=None, k=None"
        )
    check_enough_points(layer_name, inputs.shape[1], k)
    return knn_indices(inputs, k)


class GraphConv(keras.layers.Layer):
    """A point-set layer with ``filters`` output channels in ``groups`` groups, a kernel and
    an activation: the constructor contract of an MGIC per-level block (``filters``,
    ``groups``), so that ``MGICBlock(block=...)`` can build one per level. With ``k``, a
    call without ``neighbors`` builds the k-NN graph of the layer's input."""

    def __init__(
        self,
        filters,
        groups=1,
        activation="relu",
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        k=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.k = check_k(k)
        self.filters = positive_int("filters", filters)
        self.groups = positive_int("groups", groups)
        if filters % groups:
            raise ValueError(
                "`filters` must be divisible by `groups`. "
                f"Received: filters={filters}, groups={groups}"
            )
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "groups": self.groups,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "k": self.k,
            }
        )
        return config
