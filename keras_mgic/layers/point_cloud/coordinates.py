"""PointCoordinates: the coordinates of point-cloud inputs ``(batch, points, dims +
features)``."""

import keras

from keras_mgic.layers.validation import point_channels, positive_int


@keras.saving.register_keras_serializable(package="keras_mgic")
class PointCoordinates(keras.layers.Layer):
    """The first ``coordinate_dim`` channels of every point: its coordinates.

    The point-cloud models take one tensor ``(batch, points, coordinate_dim + features)``
    whose leading channels are the coordinates; this layer splits them off for the k-NN graph
    and for DiffGCN's gradient.

    Args:
        coordinate_dim: positive int, the number of leading coordinate channels.
        **kwargs: base ``keras.layers.Layer`` arguments.

    Example:

    >>> tuple(PointCoordinates(3)(keras.ops.ones((2, 10, 4))).shape)
    (2, 10, 3)
    """

    def __init__(self, coordinate_dim, **kwargs):
        super().__init__(**kwargs)
        self.coordinate_dim = positive_int("coordinate_dim", coordinate_dim)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def build(self, input_shape):
        channels = point_channels("PointCoordinates", input_shape)
        if channels < self.coordinate_dim:
            raise ValueError(
                f"The input has fewer channels per point than the model's {self.coordinate_dim} "
                f"coordinates (`coordinate_dim`). Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        return inputs[..., : self.coordinate_dim]

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.coordinate_dim)

    def get_config(self):
        config = super().get_config()
        config["coordinate_dim"] = self.coordinate_dim
        return config
