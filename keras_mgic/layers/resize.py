"""ResizeLike: resizes a feature map to the height and width of another tensor."""

import keras

from keras_mgic import ops

INTERPOLATIONS = ("bilinear", "nearest")


def _resize(images, height, width, interpolation):
    """``keras.ops.image.resize`` to ``(height, width)``; sizes known only at run time
    (TensorFlow graphs of models with a ``None`` input size) go to
    ``keras_mgic.ops.resize_to_dynamic_size``, since ``keras.ops.image.resize`` takes
    Python ints."""
    if isinstance(height, int) and isinstance(width, int):
        return keras.ops.image.resize(
            images, (height, width), interpolation=interpolation, data_format="channels_last"
        )
    return ops.resize_to_dynamic_size(images, height, width, interpolation)


@keras.saving.register_keras_serializable(package="keras_mgic")
class ResizeLike(keras.layers.Layer):
    """Resizes its first input to the height and width of its second input.

    ``ResizeLike()([x, reference])`` is ``x`` resized to ``reference``'s spatial size, which
    may be known only when the model runs (an input of shape ``(None, None, 3)``): the
    segmentation heads upsample their logits to the size of the image they were given, as
    PyTorch's ``F.interpolate(x, size=reference.shape[-2:])`` does. Bilinear resizing
    samples at pixel centers (half-pixel centers, ``align_corners=False`` in PyTorch), as
    ``keras.ops.image.resize`` does; TFLite runs it as one builtin ``RESIZE_BILINEAR`` op.

    Args:
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    Input: ``[x, reference]``, channels-last tensors of rank 4. Output: ``(batch,
    reference_height, reference_width, x_channels)``, in ``x``'s dtype.

    Example:

    >>> x, image = keras.ops.ones((1, 4, 4, 8)), keras.ops.ones((1, 32, 24, 3))
    >>> tuple(ResizeLike()([x, image]).shape)
    (1, 32, 24, 8)
    """

    def __init__(self, interpolation="bilinear", **kwargs):
        super().__init__(**kwargs)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"`interpolation` must be one of {INTERPOLATIONS}. "
                f"Received: interpolation={interpolation!r}"
            )
        self.interpolation = interpolation

    def _check(self, input_shape):
        shapes = list(input_shape) if isinstance(input_shape, (list, tuple)) else []
        if len(shapes) != 2 or any(not isinstance(s, (list, tuple)) or len(s) != 4 for s in shapes):
            raise ValueError(
                "ResizeLike takes two rank-4 inputs, [x, reference] (batch, height, width, "
                f"channels). Received: input_shape={input_shape}"
            )
        return shapes

    def build(self, input_shape):
        self._check(input_shape)

    def call(self, inputs):
        x, reference = inputs
        height, width = keras.ops.shape(reference)[1:3]
        return _resize(x, height, width, self.interpolation)

    def compute_output_shape(self, input_shape):
        (batch, _, _, channels), reference = self._check(input_shape)
        return (batch, reference[1], reference[2], channels)

    def get_config(self):
        config = super().get_config()
        config["interpolation"] = self.interpolation
        return config
