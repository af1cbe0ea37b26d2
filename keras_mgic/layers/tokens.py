"""PositionEmbedding: the learned position embedding of the token models (ViT)."""

import keras


@keras.saving.register_keras_serializable(package="keras_mgic")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding, one vector per position, to ``(batch, tokens, channels)``.

    The weight ``embedding`` has shape ``(tokens, channels)``, both taken from the input
    shape when the layer is built (a ViT's patch grid is fixed by its input size). It does no
    multiply-adds: ``keras_mgic.count_flops`` counts it as 0.

    Args:
        initializer: initializer of the embedding (default a truncated normal with standard
            deviation 0.02, as in the ViT paper's code).
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    Example:

    >>> layer = PositionEmbedding()
    >>> tuple(layer(keras.ops.zeros((2, 16, 8))).shape), tuple(layer.embedding.shape)
    ((2, 16, 8), (16, 8))
    """

    def __init__(self, initializer=None, **kwargs):
        super().__init__(**kwargs)
        if initializer is None:
            initializer = keras.initializers.TruncatedNormal(stddev=0.02)
        self.initializer = keras.initializers.get(initializer)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def build(self, input_shape):
        tokens, channels = input_shape[1], input_shape[2]
        if tokens is None or channels is None:
            raise ValueError(
                "PositionEmbedding needs a known number of tokens and channels. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.embedding = self.add_weight(
            name="embedding", shape=(int(tokens), int(channels)), initializer=self.initializer
        )

    def call(self, inputs):
        return inputs + keras.ops.cast(self.embedding, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["initializer"] = keras.initializers.serialize(self.initializer)
        return config
