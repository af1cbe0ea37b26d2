"""``digit_mosaics``: an offline semantic segmentation set made of the bundled handwritten digits.

Each mosaic is a square canvas (128x128 by default) split into 2x2 cells; a random 2 to 4 of the
cells hold one digit each (one of scikit-learn's 8x8 digits, scaled bilinearly to 60-95% of
the cell, at a random place inside it, with a random brightness). The mask labels every ink
pixel of a digit with the digit's class + 1 (classes 1-10) and everything else 0 (the
background): 11 classes. A pixel is ink where the scaled digit reaches a quarter of full ink.
Digits never overlap, so every pixel has one label.

Training mosaics are drawn only from the training digits of the classification split
(``keras_mgic.data.digits``, 1,437 images) and test mosaics only from its test digits (360),
so no handwritten digit is seen in both. Everything is deterministic for a seed.
"""

import numpy as np

from keras_mgic.data.checks import positive_int
from keras_mgic.data.digits import digits_split_indices, sklearn_digits

#: The data set's name, its classes (background + 10 digits) and default sizes.
DIGIT_MOSAICS = "digit_mosaics"
NUM_CLASSES = 11
DEFAULT_SIZE = 128
DEFAULT_NUM_TRAIN = 600
DEFAULT_NUM_TEST = 200
#: The scaled digit's ink fraction above which a pixel is labelled with the digit.
INK_THRESHOLD = 0.25
#: Digit height and width as a fraction of the cell, and the digits per mosaic.
DIGIT_SCALE = (0.6, 0.95)
DIGITS_PER_MOSAIC = (2, 4)
#: Brightness of the ink at full intensity (raw pixel value).
BRIGHTNESS = (160, 255)
CLASS_NAMES = ("background", *(str(digit) for digit in range(10)))


def scaled_digits(sources, size):
    """Every source digit (values in [0, 1]) scaled bilinearly to ``size`` x ``size``."""
    import tensorflow as tf

    scaled = tf.image.resize(sources[..., None], (size, size), method="bilinear").numpy()
    return np.clip(scaled[..., 0], 0.0, 1.0)


def make_mosaics(sources, labels, count, size=DEFAULT_SIZE, seed=0):
    """``count`` mosaics of the digits ``sources`` (``(n, 8, 8)``, values in [0, 1]).

    Args:
        sources: the digit images to draw from, ``(n, h, w)`` floats in [0, 1].
        labels: their classes, ints in [0, 10).
        count: number of mosaics.
        size: height and width of a mosaic (even, at least 16).
        seed: seed of the layout, the digits drawn, their sizes and brightness.

    Returns:
        ``(images, masks, placements)``: ``uint8`` images ``(count, size, size, 3)`` (raw
        pixels, gray), ``uint8`` masks ``(count, size, size)`` in ``[0, 11)``, and for each
        mosaic a list of ``(source_index, top, left, digit_size)``.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> images, masks, placements = make_mosaics(rng.random((5, 8, 8)), np.arange(5), 2)
    >>> images.shape, masks.shape, bool(masks.max() <= 5)
    ((2, 128, 128, 3), (2, 128, 128), True)
    """
    count = positive_int("count", count)
    size = positive_int("size", size)
    if size % 2 or size < 16:
        raise ValueError(f"`size` must be an even integer >= 16. Received: size={size}")
    rng = np.random.default_rng(seed)
    cell = size // 2
    smallest, largest = (max(2, round(f * cell)) for f in DIGIT_SCALE)
    scaled = {s: scaled_digits(sources, s) for s in range(smallest, largest + 1)}
    images = np.zeros((count, size, size), np.float32)
    masks = np.zeros((count, size, size), np.uint8)
    placements = []
    for index in range(count):
        placed = []
        digits = rng.integers(DIGITS_PER_MOSAIC[0], DIGITS_PER_MOSAIC[1] + 1)
        for cell_index in rng.choice(4, size=digits, replace=False):
            source = int(rng.integers(len(sources)))
            digit_size = int(rng.integers(smallest, largest + 1))
            top = (cell_index // 2) * cell + int(rng.integers(cell - digit_size + 1))
            left = (cell_index % 2) * cell + int(rng.integers(cell - digit_size + 1))
            ink = scaled[digit_size][source]
            window = (index, slice(top, top + digit_size), slice(left, left + digit_size))
            images[window] = ink * rng.uniform(*BRIGHTNESS)
            masks[window] = np.where(ink >= INK_THRESHOLD, labels[source] + 1, 0)
            placed.append((source, top, left, digit_size))
        placements.append(placed)
    images = np.repeat(np.round(images).astype(np.uint8)[..., None], 3, axis=-1)
    return images, masks, placements


def load_digit_mosaic_arrays(
    size=DEFAULT_SIZE,
    num_train=DEFAULT_NUM_TRAIN,
    num_test=DEFAULT_NUM_TEST,
    seed=0,
    with_sources=False,
):
    """The digit mosaics: training mosaics of training digits, test mosaics of test digits.

    Args:
        size: height and width of the mosaics.
        num_train: training mosaics.
        num_test: test mosaics.
        seed: seed of the mosaics (the digit split is fixed).
        with_sources: also return, per set, the indices into
            ``sklearn.datasets.load_digits()`` of the digits its mosaics show.

    Returns:
        ``((train_images, train_masks), (test_images, test_masks))``, ``uint8``; with
        ``with_sources``, then ``(train_digits, test_digits)`` (sorted index arrays).

    Example:

    >>> (x_train, m_train), (x_test, m_test) = load_digit_mosaic_arrays(num_train=8,
    ...                                                                 num_test=4)
    >>> x_train.shape, m_test.shape, int(m_train.max()) < 11
    ((8, 128, 128, 3), (4, 128, 128), True)
    """
    digits = sklearn_digits()
    sources = digits.images.astype(np.float32) / 16.0
    labels = digits.target.astype(np.int64)
    train, test = digits_split_indices(labels)
    # Distinct seeds: the two sets must not share a layout sequence.
    x_train, m_train, p_train = make_mosaics(sources[train], labels[train], num_train, size, seed)
    x_test, m_test, p_test = make_mosaics(sources[test], labels[test], num_test, size, seed + 1)
    arrays = ((x_train, m_train), (x_test, m_test))
    if not with_sources:
        return arrays
    used = [
        np.unique([pool[place[0]] for mosaic in placements for place in mosaic])
        for pool, placements in ((train, p_train), (test, p_test))
    ]
    return (*arrays, tuple(used))
