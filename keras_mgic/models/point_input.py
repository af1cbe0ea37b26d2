"""The input of the point-cloud classifiers: one tensor ``(batch, points, coordinate_dim +
features)``, its shape resolved from ``input_shape``, ``input_tensor``, ``points`` and
``features``, and checked against the k-NN graph."""

import keras

from keras_mgic.layers.validation import is_int, positive_int

#: Points per cloud when neither ``points`` nor ``input_shape`` says (paper Sec. 5.4).
DEFAULT_POINTS = 1024


def _check_shape(input_shape):
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if (
        shape is None
        or len(shape) != 2
        or not all(size is None or (is_int(size) and size > 0) for size in shape)
        or shape[-1] is None
    ):
        raise ValueError(
            "`input_shape` must be (points, channels) with positive integers (points may be "
            f"None). Received: input_shape={input_shape!r}"
        )
    return shape


def _resolve_shape(input_shape, points, features, coordinate_dim):
    """``(points, channels)`` from the arguments, or ValueError for a disagreement."""
    if input_shape is None:
        features = 0 if features is None else features
        return (DEFAULT_POINTS if points is None else points, coordinate_dim + features)
    shape = _check_shape(input_shape)
    if points is not None and shape[0] != points:
        raise ValueError(
            "`points` and the points of `input_shape` (or `input_tensor`) disagree. "
            f"Received: points={points}, input_shape={shape}"
        )
    wrong = features is not None and shape[1] != coordinate_dim + features
    if shape[1] < coordinate_dim or wrong:
        expected = "at least" if features is None else "exactly"
        channels = coordinate_dim if features is None else coordinate_dim + features
        raise ValueError(
            f"The input has {shape[1]} channels per point; the model takes {expected} "
            f"{channels} (`coordinate_dim` coordinates, then `features`). Received: "
            f"input_shape={shape}, coordinate_dim={coordinate_dim}, features={features}"
        )
    return shape


def point_input(input_shape, input_tensor, points, features, coordinate_dim, k):
    """The model's input tensor: ``input_tensor`` itself, or a new ``keras.Input`` named
    ``"points"``.

    Args:
        input_shape: None or ``(points, channels)``, ``channels = coordinate_dim +
            features``; ``points`` may be None (any number above ``k``).
        input_tensor: None or a Keras tensor of shape ``(batch, points, channels)``.
        points: None or a positive int, the points per cloud (default 1,024, or those of
            ``input_shape``).
        features: None or an int >= 0, the features per point after the coordinates
            (default: the channels of ``input_shape`` beyond the coordinates, else 0).
        coordinate_dim: positive int, coordinates per point.
        k: positive int, neighbours in the k-NN graph.

    Returns:
        A Keras tensor.

    Raises:
        ValueError: for a malformed shape, fewer than ``k + 1`` points, channels that do not
            match ``coordinate_dim`` and ``features``, or an ``input_shape`` that disagrees
            with ``input_tensor`` or ``points``.

    Example:

    >>> tuple(point_input(None, None, 512, 1, 2, 10).shape)
    (None, 512, 3)
    """
    positive_int("coordinate_dim", coordinate_dim)
    positive_int("k", k)
    if points is not None:
        positive_int("points", points)
    if features is not None and (not is_int(features) or features < 0):
        raise ValueError(f"`features` must be an int >= 0 or None. Received: features={features!r}")
    if input_tensor is not None:
        if not keras.backend.is_keras_tensor(input_tensor):
            raise ValueError(
                "`input_tensor` must be a Keras tensor, e.g. `keras.Input(shape=...)`. "
                f"Received: input_tensor={input_tensor!r}"
            )
        tensor_shape = tuple(input_tensor.shape[1:])
        if input_shape is not None and tuple(input_shape) != tensor_shape:
            raise ValueError(
                "`input_shape` must match the shape of `input_tensor` (or be None). Received: "
                f"input_shape={input_shape!r}, input_tensor.shape={input_tensor.shape}"
            )
        input_shape = tensor_shape
    shape = _resolve_shape(input_shape, points, features, coordinate_dim)
    if shape[0] is not None and shape[0] < k + 1:
        raise ValueError(
            "The model's k-NN graph needs at least k + 1 points per cloud (each point's k "
            f"neighbours exclude itself). Received: points={shape[0]}, k={k}"
        )
    if input_tensor is not None:
        return input_tensor
    return keras.Input(shape=shape, name="points")
