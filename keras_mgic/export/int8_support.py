"""Layers whose int8 TFLite kernels cannot run, refused before any conversion."""


def _all_layers(layer):
    yield layer
    for child in getattr(layer, "layers", ()):
        yield from _all_layers(child)


def check_int8_support(model):
    """Raises a ``ValueError`` naming the first layer that cannot be int8-quantized.

    The k-NN graph (``keras_mgic.layers.KNNGraph``) computes pairwise distances with a
    batched matrix product of two activations and picks neighbours with top-k. Fully
    quantized, the TFLite runtime of TensorFlow 2.21 aborts the whole process on this
    subgraph (measured with and without the XNNPACK delegate), and int8 distances would
    change which neighbours are nearest anyway. Point-cloud models export as float32 or
    float16.

    Args:
        model: a ``keras.Model``.

    Example:

    >>> import keras
    >>> check_int8_support(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    """
    from keras_mgic.layers.point_cloud.knn import KNNGraph

    for layer in _all_layers(model):
        if isinstance(layer, KNNGraph):
            raise ValueError(
                f"int8 quantization cannot export the k-NN graph layer {layer.name!r}: the "
                "TFLite runtime aborts on its quantized distance and top-k kernels, and "
                "int8 distances would change the neighbours. Export float32 or float16 "
                "instead. Received: quantization='int8'"
            )


__all__ = ["check_int8_support"]
