"""``load_dataset``: the training and test pipelines of the digits or a TFDS data set."""

import dataclasses

from keras_mgic.data import segmentation, tfds_source
from keras_mgic.data.checks import positive_int
from keras_mgic.data.digits import DIGITS, load_digits_arrays
from keras_mgic.data.pipeline import make_pipeline
from keras_mgic.data.point_datasets import POINT_DATASETS, load_point_dataset


@dataclasses.dataclass
class Datasets:
    """The batched training and test pipelines of one data set, and what a model needs.

    Attributes:
        name: the data set's name.
        train: ``tf.data.Dataset`` of ``(images, labels)`` batches, shuffled and augmented
            (unless ``augment=False``); images are raw 0-255 float32 pixels.
        test: ``tf.data.Dataset`` of ``(images, labels)`` batches, in order, not augmented.
        input_shape: ``(height, width, channels)`` of the images the pipelines yield.
        num_classes: number of classes; labels are ints in ``[0, num_classes)``.
        num_train: training examples (``None`` if unknown).
        num_test: test examples (``None`` if unknown).
        batch_size: the (global) batch size of both pipelines.
        task: ``"image_classification"`` (labels, one per image) or
            ``"semantic_segmentation"`` (masks ``(batch, height, width)`` of class indices,
            ``ignore_label`` for pixels to skip; ``keras_mgic.data.segmentation``).
        ignore_label: the mask value that the loss and metrics skip, or None.
        class_names: the classes' names, or None.
        model_arguments: builder arguments the data fix beyond ``input_shape`` and the
            classes, e.g. ``{"coordinate_dim": 2, "features": 1}`` for the point sets of
            ``"digit_points"`` (task ``"point_cloud_classification"``: clouds ``(batch,
            points, coordinate_dim + features)``, one label per cloud).
    """

    name: str
    train: object
    test: object
    input_shape: tuple
    num_classes: int
    num_train: int | None
    num_test: int | None
    batch_size: int
    task: str = "image_classification"
    ignore_label: int | None = None
    class_names: tuple | None = None
    model_arguments: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _Source:
    train: object
    test: object
    shape: tuple
    num_classes: int
    num_train: int | None
    num_test: int | None
    flip: bool


def load_dataset(
    name=DIGITS,
    *,
    batch_size=128,
    image_size=None,
    data_dir=None,
    download=False,
    augment=True,
    train_split="train",
    test_split=None,
    max_train_examples=None,
    max_test_examples=None,
    seed=0,
    num_points=None,
):
    """Builds the training and test pipelines of a data set (raw 0-255 float32 images, or
    point sets).

    Args:
        name: ``"digits"`` (offline, the default) or a TFDS image-classification data set
            name such as ``"cifar10"``, ``"cifar100"`` or ``"imagenet2012"``; a semantic
            segmentation set, ``"digit_mosaics"`` (offline), ``"oxford_iiit_pet"`` or
            ``"cityscapes"`` (``keras_mgic.data.segmentation``: the pipelines yield
            ``(images, masks)``, ``image_size`` is the training crop); or a point-set
            data set, ``"digit_points"`` (offline) or ``"modelnet10"`` (OFF meshes in
            ``data_dir``), whose pipelines yield ``(points, labels)`` batches of float32
            ``(batch, num_points, channels)`` clouds (``keras_mgic.data.point_datasets``).
        batch_size: positive int, the (global) batch size of both pipelines.
        image_size: output height and width. Defaults to the data set's own size (32 for
            digits and CIFAR; 224 for data sets with variable image sizes).
        data_dir: TFDS data directory (``None``: TFDS's default, ``~/tensorflow_datasets``).
        download: let TFDS download and prepare the data set if it is missing.
        augment: augment the training images (``keras_mgic.data.augmentation``).
        train_split: the TFDS training split.
        test_split: the TFDS evaluation split (default: ``"test"``, else ``"validation"``).
        max_train_examples: keep only the first ``n`` training examples (tests, smoke runs).
        max_test_examples: keep only the first ``n`` test examples.
        seed: seed of the shuffle and the augmentation (and of the point sampling).
        num_points: points per cloud of a point-set data set (default 256 for digit_points,
            1,024 for modelnet10); not used for images.

    Returns:
        A ``Datasets`` with ``train``, ``test``, ``input_shape``, ``num_classes`` and sizes.

    Raises:
        ValueError: unknown data set name, non-positive sizes, or a data set that is not an
            image-classification one.
        DatasetNotAvailableError: a TFDS data set is not prepared in ``data_dir`` and
            ``download`` is False.

    Example:

    >>> data = load_dataset("digits", batch_size=32, max_train_examples=64)
    >>> data.num_train, [tuple(x.shape) for x, _ in data.train]
    (64, [(32, 32, 32, 3), (32, 32, 32, 3)])
    """
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"`name` must be {DIGITS!r} or a TFDS data set name. Received: name={name!r}"
        )
    batch_size = positive_int("batch_size", batch_size)
    image_size = positive_int("image_size", image_size, allow_none=True)
    limits = (
        positive_int("max_train_examples", max_train_examples, allow_none=True),
        positive_int("max_test_examples", max_test_examples, allow_none=True),
    )
    key = name.lower()
    if num_points is not None and key not in POINT_DATASETS:
        raise ValueError(
            f"`num_points` applies to the point-set data sets {sorted(POINT_DATASETS)} only. "
            f"Received: name={name!r}, num_points={num_points!r}"
        )
    if key in segmentation.SEGMENTATION_DATASETS:
        return segmentation.load_segmentation_dataset(
            key,
            batch_size=batch_size,
            image_size=image_size,
            data_dir=data_dir,
            download=download,
            augment=augment,
            max_train_examples=limits[0],
            max_test_examples=limits[1],
            seed=seed,
        )
    if key in POINT_DATASETS:
        if image_size is not None:
            raise ValueError(
                f"`image_size` does not apply to the point-set data set {key!r} (use "
                f"`num_points`). Received: image_size={image_size}"
            )
        return load_point_dataset(
            key,
            batch_size=batch_size,
            num_points=positive_int("num_points", num_points, allow_none=True),
            data_dir=data_dir,
            augment=augment,
            max_train_examples=limits[0],
            max_test_examples=limits[1],
            seed=seed,
        )
    if key == DIGITS:
        source = _digits(image_size or 32, *limits)
    else:
        source = _tfds(key, image_size, data_dir, download, train_split, test_split, *limits)
    height, width = source.shape[:2]
    size = image_size or (height if height == width and height else 224)  # variable: 224
    if source.num_train is not None and source.num_train < batch_size:
        raise ValueError(
            "`batch_size` is larger than the training set, so no full training batch exists "
            f"(the last partial batch is dropped). Received: batch_size={batch_size}, "
            f"num_train={source.num_train}"
        )
    common = dict(
        batch_size=batch_size,
        image_size=size,
        seed=seed,
        flip=source.flip,
        source_shape=source.shape,
    )
    return Datasets(
        name=key,
        train=make_pipeline(source.train, training=True, augment=augment, **common),
        test=make_pipeline(source.test, training=False, **common),
        input_shape=(size, size, 3),
        num_classes=source.num_classes,
        num_train=source.num_train,
        num_test=source.num_test,
        batch_size=batch_size,
    )


def _digits(size, max_train, max_test):
    import tensorflow as tf

    (x_train, y_train), (x_test, y_test) = load_digits_arrays(size)
    x_train, y_train = x_train[:max_train], y_train[:max_train]
    x_test, y_test = x_test[:max_test], y_test[:max_test]
    return _Source(
        train=tf.data.Dataset.from_tensor_slices((x_train, y_train)),
        test=tf.data.Dataset.from_tensor_slices((x_test, y_test)),
        shape=(size, size, 3),
        num_classes=10,
        num_train=len(x_train),
        num_test=len(x_test),
        flip=False,  # a mirrored digit is a different glyph
    )


def _tfds(name, image_size, data_dir, download, train_split, test_split, max_train, max_test):
    import tensorflow as tf

    train, info = tfds_source.tfds_load(name, train_split, data_dir, download)
    shape, num_classes = tfds_source.image_classification_info(info, name)
    test_split = test_split or tfds_source.default_test_split(info)
    test, _ = tfds_source.tfds_load(name, test_split, data_dir, download)
    if shape[-1] == 1:
        train = train.map(lambda x, y: (tf.image.grayscale_to_rgb(x), y))
        test = test.map(lambda x, y: (tf.image.grayscale_to_rgb(x), y))
        shape = (*shape[:2], 3)
    sizes = []
    for dataset, split, limit in ((train, train_split, max_train), (test, test_split, max_test)):
        size = tfds_source.split_size(info, split, dataset)
        sizes.append(min(size, limit) if size and limit else size)
    train = train.take(max_train) if max_train else train
    test = test.take(max_test) if max_test else test
    return _Source(train, test, shape, num_classes, sizes[0], sizes[1], flip=True)
