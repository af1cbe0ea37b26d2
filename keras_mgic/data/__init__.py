"""``tf.data`` input pipelines of raw 0-255 images: TFDS image-classification data sets and an
offline default.

- ``"digits"`` (``keras_mgic.data.digits``): scikit-learn's bundled handwritten digits as
  32x32 RGB images, a fixed 1,437 / 360 split, nothing downloaded.
- ``"digit_points"`` and ``"modelnet10"`` (``keras_mgic.data.point_datasets``): point sets,
  the digits as ``(x, y, intensity)`` points (offline) and ModelNet-10 from its folder of
  OFF meshes, with rotation, scaling and jitter for training.
- Any TFDS image-classification data set (``keras_mgic.data.tfds_source``): ``"cifar10"``,
  ``"cifar100"``, ``"imagenet2012"``, ... through ``tfds.load``, offline unless
  ``download=True``.

Both go through one pipeline (``keras_mgic.data.pipeline``): float32 pixels in 0-255 (the
models rescale them, ``include_preprocessing=True``), the paper's augmentation for training
(``keras_mgic.data.augmentation``), batching and prefetching.

Semantic segmentation sets (``keras_mgic.data.segmentation``) yield ``(images, masks)``:
``"digit_mosaics"`` (offline, the bundled digits on 64x64 canvases, 11 classes),
``"oxford_iiit_pet"`` and ``"cityscapes"`` (TFDS); masks use 255 for pixels to ignore.

Example:

>>> data = load_dataset("digits", batch_size=64)
>>> data.input_shape, data.num_classes, data.num_train, data.num_test
((32, 32, 3), 10, 1437, 360)
>>> images, labels = next(iter(data.train))
>>> tuple(images.shape), images.dtype.name
((64, 32, 32, 3), 'float32')
"""

from keras_mgic.data.augmentation import CIFAR_STYLE_MAX_SIZE
from keras_mgic.data.datasets import Datasets, load_dataset
from keras_mgic.data.digit_mosaics import DIGIT_MOSAICS, load_digit_mosaic_arrays
from keras_mgic.data.digit_points import DIGIT_POINTS, load_digit_points_arrays
from keras_mgic.data.digits import (
    DIGITS,
    DIGITS_SPLIT_SEED,
    DIGITS_TEST_SIZE,
    load_digits_arrays,
)
from keras_mgic.data.modelnet import MODELNET10, load_modelnet_arrays
from keras_mgic.data.off_mesh import read_off
from keras_mgic.data.pipeline import make_pipeline
from keras_mgic.data.point_datasets import POINT_DATASETS
from keras_mgic.data.point_pipeline import make_point_pipeline
from keras_mgic.data.segmentation import (
    SEGMENTATION_DATASETS,
    check_masks,
    load_segmentation_dataset,
    segmentation_datasets,
)
from keras_mgic.data.segmentation_pipeline import IGNORE_LABEL, make_segmentation_pipeline
from keras_mgic.data.tfds_source import DatasetNotAvailableError

__all__ = [
    "CIFAR_STYLE_MAX_SIZE",
    "DIGITS",
    "DIGITS_SPLIT_SEED",
    "DIGITS_TEST_SIZE",
    "DIGIT_MOSAICS",
    "DIGIT_POINTS",
    "DatasetNotAvailableError",
    "Datasets",
    "IGNORE_LABEL",
    "MODELNET10",
    "POINT_DATASETS",
    "SEGMENTATION_DATASETS",
    "check_masks",
    "load_dataset",
    "load_digit_mosaic_arrays",
    "load_digit_points_arrays",
    "load_digits_arrays",
    "load_modelnet_arrays",
    "load_segmentation_dataset",
    "make_pipeline",
    "make_point_pipeline",
    "make_segmentation_pipeline",
    "read_off",
    "segmentation_datasets",
]
