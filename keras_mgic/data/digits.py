"""The offline digits set: scikit-learn's bundled 8x8 handwritten digits as RGB images.

``sklearn.datasets.load_digits`` ships inside the scikit-learn wheel (1,797 images, 10
classes), so nothing is downloaded. Each image is scaled from 0..16 to 0..255, upsampled
bilinearly and repeated to 3 channels, so CIFAR-style networks run on it unchanged. The split
is fixed: ``train_test_split(test_size=360, stratify=labels, random_state=0)``, i.e. 1,437
training and 360 test images (35-37 per class), the same on every machine.
"""

import numpy as np

from keras_mgic.data.checks import positive_int

#: The name of the offline data set.
DIGITS = "digits"
#: Test images of the fixed split (stratified) and the split's seed.
DIGITS_TEST_SIZE = 360
DIGITS_SPLIT_SEED = 0


def sklearn_digits():
    """scikit-learn's bundled digits (``sklearn.datasets.load_digits()``), or a clear
    ImportError saying how to install scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            "The offline digits data set needs scikit-learn: pip install 'keras-mgic[datasets]'"
        ) from error
    return load_digits()


def digits_split_indices(labels):
    """``(train_indices, test_indices)`` of the fixed split into the bundled digits.

    The classification set (:func:`load_digits_arrays`) and the segmentation mosaics
    (``keras_mgic.data.digit_mosaics``) use this one split, so a digit image is a training
    image in both or a test image in both.

    Example:

    >>> from sklearn.datasets import load_digits
    >>> train, test = digits_split_indices(load_digits().target)
    >>> len(train), len(test), len(set(train) & set(test))
    (1437, 360, 0)
    """
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    return train_test_split(
        indices,
        test_size=DIGITS_TEST_SIZE,
        stratify=labels,
        random_state=DIGITS_SPLIT_SEED,
    )


def load_digits_arrays(image_size=32):
    """Returns the fixed digits split as uint8 RGB arrays, with no download.

    Args:
        image_size: height and width of the returned images.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images ``uint8`` of shape
        ``(n, image_size, image_size, 3)``, labels ``int64`` in ``[0, 10)``.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_digits_arrays()
    >>> x_train.shape, x_test.shape, int(y_train.max())
    ((1437, 32, 32, 3), (360, 32, 32, 3), 9)
    """
    import tensorflow as tf

    image_size = positive_int("image_size", image_size)
    digits = sklearn_digits()
    images = digits.images.astype(np.float32) * (255.0 / 16.0)
    images = tf.image.resize(images[..., None], (image_size, image_size), method="bilinear")
    images = np.clip(np.round(images.numpy()), 0, 255).astype(np.uint8)
    images = np.repeat(images, 3, axis=-1)
    labels = digits.target.astype(np.int64)
    train, test = digits_split_indices(labels)
    return (images[train], labels[train]), (images[test], labels[test])
