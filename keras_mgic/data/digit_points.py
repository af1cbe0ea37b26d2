"""``digit_points``: scikit-learn's bundled handwritten digits as point sets, offline.

Each digit of the fixed split of ``keras_mgic.data.digits`` (1,437 training and 360 test
images, upsampled bilinearly to 32x32) becomes ``num_points`` points ``(x, y, intensity)``:
the coordinates of ink pixels (intensity at least ``INK_THRESHOLD`` of 255), mapped from
the image frame to ``[-1, 1]`` (x to the right, y up), each point placed uniformly at random
inside its pixel, and the pixel's intensity scaled to ``[0, 1]`` as a feature. The pixels
are drawn without replacement while there are enough ink pixels, with replacement otherwise
(a digit has 340 to 690 of them at 32x32); the position inside the pixel keeps repeated
pixels apart, so no two points coincide and no k-NN distances tie. The draws use a fixed
seed per image, so every machine gets the same clouds. Models take them with
``coordinate_dim=2``, ``features=1``.
"""

import numpy as np

from keras_mgic.data.checks import positive_int
from keras_mgic.data.digits import load_digits_arrays

#: The data set's name for ``load_dataset``.
DIGIT_POINTS = "digit_points"
#: Points per digit by default.
DIGIT_POINTS_DEFAULT_POINTS = 256
#: Coordinates per point (the plane) and features per point (the intensity).
DIGIT_POINTS_COORDINATE_DIM = 2
DIGIT_POINTS_FEATURES = 1
#: Pixels at least this bright (of 255) are ink.
INK_THRESHOLD = 32
_IMAGE_SIZE = 32


def image_to_points(image, num_points, rng):
    """One grey image ``(size, size)`` of 0-255 values as a float32 ``(num_points, 3)`` set.

    Example:

    >>> image = np.zeros((32, 32)); image[10:20, 15] = 255
    >>> cloud = image_to_points(image, 20, np.random.default_rng(0))
    >>> cloud.shape, float(cloud[:, 2].min())
    ((20, 3), 1.0)
    """
    size = image.shape[0]
    rows, cols = np.nonzero(image >= INK_THRESHOLD)
    if len(rows) == 0:  # no ink: the brightest pixels stand in
        rows, cols = np.unravel_index(np.argsort(image, axis=None)[-1:], image.shape)
    chosen = rng.choice(len(rows), size=num_points, replace=len(rows) < num_points)
    offsets = rng.random((num_points, 2))
    x = (cols[chosen] + offsets[:, 0]) / size * 2 - 1
    y = 1 - (rows[chosen] + offsets[:, 1]) / size * 2
    intensity = image[rows[chosen], cols[chosen]] / 255.0
    return np.stack([x, y, intensity], axis=-1).astype(np.float32)


def load_digit_points_arrays(num_points=DIGIT_POINTS_DEFAULT_POINTS, seed=0):
    """The fixed digits split as point sets.

    Args:
        num_points: points per digit.
        seed: seed of the draws (each image gets ``[seed, split, index]``).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: float32 ``(n, num_points, 3)`` sets of
        ``(x, y, intensity)`` and int64 labels.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_digit_points_arrays(64)
    >>> x_train.shape, x_test.shape
    ((1437, 64, 3), (360, 64, 3))
    """
    num_points = positive_int("num_points", num_points)
    splits = load_digits_arrays(_IMAGE_SIZE)
    result = []
    for split, (images, labels) in enumerate(splits):
        clouds = [
            image_to_points(image[..., 0], num_points, np.random.default_rng([seed, split, i]))
            for i, image in enumerate(images)
        ]
        result.append((np.stack(clouds), labels))
    return tuple(result)
