"""Semantic segmentation data sets: ``(images, masks)`` pipelines for ``train`` and the export.

- ``"digit_mosaics"`` (offline, ``keras_mgic.data.digit_mosaics``): the bundled handwritten
  digits on 128x128 canvases, 11 classes (background and the ten digits), 600 training and
  200 test mosaics from disjoint digit images.
- ``"oxford_iiit_pet"`` and ``"cityscapes"`` (``keras_mgic.data.tfds_segmentation``) through
  ``tfds.load``, offline unless ``download=True``.

Masks hold class indices in ``[0, classes)`` or ``IGNORE_LABEL`` (255), which the loss and
the metrics skip. Masks from arrays are checked before a pipeline is made
(:func:`check_masks`); the TFDS sets map every mask value through a table that sends the
values it does not list to 255.

Example:

>>> data = load_segmentation_dataset("digit_mosaics", batch_size=16, max_train_examples=32)
>>> images, masks = next(iter(data.train))
>>> tuple(images.shape), tuple(masks.shape), data.num_classes
((16, 128, 128, 3), (16, 128, 128), 11)
"""

import numpy as np

from keras_mgic.data import digit_mosaics, tfds_segmentation
from keras_mgic.data.checks import positive_int
from keras_mgic.data.segmentation_pipeline import IGNORE_LABEL, make_segmentation_pipeline

#: The task name of these data sets (``Datasets.task``).
SEGMENTATION_TASK = "semantic_segmentation"
#: The segmentation data sets ``load_dataset`` knows.
SEGMENTATION_DATASETS = (digit_mosaics.DIGIT_MOSAICS, *tfds_segmentation.SOURCES)
#: Random scale of the digit mosaics' training augmentation (no flip: a mirrored digit is
#: another glyph).
MOSAIC_SCALE_RANGE = (0.75, 1.25)
#: The smallest training crop: the output stride of the segmentation encoders
#: (``keras_mgic.models.lraspp``), below which their 1/16 features would be padding.
MIN_IMAGE_SIZE = 16


def check_masks(masks, num_classes, name="masks"):
    """Raises a ValueError naming the first mask with a value outside ``[0, num_classes)``
    that is not the ignore label (255).

    Args:
        masks: integer array ``(n, height, width)`` (or with a trailing 1).
        num_classes: the number of classes.
        name: what the masks are, for the message (e.g. ``"train masks"``).

    Returns:
        ``masks``.

    Example:

    >>> check_masks(np.array([[[0, 1], [255, 2]]]), 3).shape
    (1, 2, 2)
    """
    masks = np.asarray(masks)
    if not np.issubdtype(masks.dtype, np.integer):
        raise ValueError(
            f"Segmentation masks must hold integer class indices. Received: {name} of dtype "
            f"{masks.dtype}"
        )
    bad = ((masks < 0) | (masks >= num_classes)) & (masks != IGNORE_LABEL)
    if bad.any():
        index = int(np.argmax(bad.reshape(len(masks), -1).any(axis=1)))
        values = np.unique(masks[index][bad[index]])
        raise ValueError(
            f"Mask values must be class indices in [0, {num_classes}) or the ignore label "
            f"{IGNORE_LABEL}. Received: {name}[{index}] holds {values[:8].tolist()}"
        )
    return masks


def _limited(arrays, limit):
    return tuple(array[:limit] for array in arrays)


def segmentation_datasets(
    train,
    test,
    num_classes,
    *,
    batch_size,
    name="arrays",
    crop_size=None,
    augment=True,
    flip=True,
    scale_range=MOSAIC_SCALE_RANGE,
    seed=0,
    class_names=None,
):
    """``Datasets`` of (image, mask) pipelines from in-memory arrays, masks checked first.

    Args:
        train: ``(images, masks)``: ``(n, h, w, 3)`` raw 0-255 images, ``(n, h, w)`` masks.
        test: the same for the test set.
        num_classes: number of classes (at least 2).
        batch_size: the (global) batch size.
        name: the data set's name.
        crop_size: the training crop (default: the images' size).
        augment: random scale, crop and flip of the training pairs.
        flip: include the horizontal flip.
        scale_range: the augmentation's random scale.
        seed: seed of the shuffle and the augmentation.
        class_names: optional names of the classes.

    Returns:
        A ``keras_mgic.data.Datasets`` with ``task="semantic_segmentation"``.

    Raises:
        ValueError: a mask value outside ``[0, num_classes)`` but 255 (naming the mask), or
            images and masks that do not match.
    """
    import tensorflow as tf

    from keras_mgic.data.datasets import Datasets

    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            f"`num_classes` must be an integer >= 2. Received: num_classes={num_classes!r}"
        )
    for split, (images, masks) in (("train", train), ("test", test)):
        if len(images) != len(masks) or tuple(images.shape[1:3]) != tuple(masks.shape[1:3]):
            raise ValueError(
                f"Every {split} image needs a mask of its height and width. Received: "
                f"images.shape={images.shape}, masks.shape={masks.shape}"
            )
        check_masks(masks, num_classes, f"{split} masks")
    crop_size = crop_size or tuple(train[0].shape[1:3])
    common = dict(batch_size=batch_size, crop_size=crop_size, seed=seed)
    pipelines = [
        make_segmentation_pipeline(
            tf.data.Dataset.from_tensor_slices(arrays),
            training=training,
            augment=augment,
            flip=flip,
            scale_range=scale_range,
            **common,
        )
        for arrays, training in ((train, True), (test, False))
    ]
    return Datasets(
        name=name,
        train=pipelines[0],
        test=pipelines[1],
        input_shape=(*_size_pair(crop_size), 3),
        num_classes=num_classes,
        num_train=len(train[0]),
        num_test=len(test[0]),
        batch_size=batch_size,
        task=SEGMENTATION_TASK,
        ignore_label=IGNORE_LABEL,
        class_names=class_names,
    )


def _size_pair(size):
    return tuple(size) if isinstance(size, (tuple, list)) else (size, size)


def _digit_mosaics(batch_size, image_size, augment, max_train, max_test, seed):
    size = image_size or digit_mosaics.DEFAULT_SIZE
    if size % 2:
        raise ValueError(
            f"`image_size` of the digit mosaics must be even (2x2 cells). Received: "
            f"image_size={size}"
        )
    # The mosaics are fixed (as the digits' split is); ``seed`` only shuffles and augments.
    train, test = digit_mosaics.load_digit_mosaic_arrays(size=size)
    return segmentation_datasets(
        _limited(train, max_train),
        _limited(test, max_test),
        digit_mosaics.NUM_CLASSES,
        batch_size=batch_size,
        name=digit_mosaics.DIGIT_MOSAICS,
        augment=augment,
        flip=False,  # a mirrored digit is another glyph
        scale_range=MOSAIC_SCALE_RANGE,
        seed=seed,
        class_names=digit_mosaics.CLASS_NAMES,
    )


def _tfds(name, batch_size, image_size, data_dir, download, augment, limits, seed):
    from keras_mgic.data.datasets import Datasets

    source = tfds_segmentation.SOURCES[name]
    crop_size = _size_pair(image_size) if image_size else source.crop_size
    resize_to = crop_size if source.resize_to is not None else None
    splits = []
    for split, limit in ((source.train_split, limits[0]), (source.test_split, limits[1])):
        dataset, size = tfds_segmentation.load_split(source, split, data_dir, download)
        dataset = dataset.take(limit) if limit else dataset
        splits.append((dataset, min(size, limit) if size and limit else size))
    common = dict(
        batch_size=batch_size,
        crop_size=crop_size,
        scale_range=source.scale_range,
        resize_to=resize_to,
        seed=seed,
    )
    return Datasets(
        name=name,
        train=make_segmentation_pipeline(splits[0][0], training=True, augment=augment, **common),
        test=make_segmentation_pipeline(splits[1][0], training=False, **common),
        input_shape=(*crop_size, 3),
        num_classes=len(source.class_names),
        num_train=splits[0][1],
        num_test=splits[1][1],
        batch_size=batch_size,
        task=SEGMENTATION_TASK,
        ignore_label=IGNORE_LABEL,
        class_names=source.class_names,
    )


def load_segmentation_dataset(
    name,
    *,
    batch_size,
    image_size=None,
    data_dir=None,
    download=False,
    augment=True,
    max_train_examples=None,
    max_test_examples=None,
    seed=0,
):
    """The training and test pipelines of a segmentation set (see the module docstring).

    Args:
        name: one of ``SEGMENTATION_DATASETS``.
        batch_size: the (global) batch size.
        image_size: the training crop's height and width (default: 128 for the digit
            mosaics, whose canvases it also sizes; 224 for the pets; 768 for Cityscapes).
            Test images keep their size (Cityscapes: 1024x2048), but the pets', which are
            resized to ``image_size`` first.
        data_dir: TFDS data directory.
        download: let TFDS download (and prepare) the data set if it is missing.
        augment: augment the training pairs.
        max_train_examples: keep only the first ``n`` training pairs.
        max_test_examples: keep only the first ``n`` test pairs.
        seed: seed of the shuffle and the augmentation (the digit mosaics themselves are
            fixed: ``digit_mosaics.load_digit_mosaic_arrays()``'s default seed).

    Returns:
        A ``keras_mgic.data.Datasets`` with ``task="semantic_segmentation"``.
    """
    batch_size = positive_int("batch_size", batch_size)
    if image_size is not None and positive_int("image_size", image_size) < MIN_IMAGE_SIZE:
        raise ValueError(
            f"`image_size` must be at least {MIN_IMAGE_SIZE} for segmentation (the models "
            f"downsample by {MIN_IMAGE_SIZE}). Received: image_size={image_size}"
        )
    if name == digit_mosaics.DIGIT_MOSAICS:
        data = _digit_mosaics(
            batch_size, image_size, augment, max_train_examples, max_test_examples, seed
        )
    elif name in tfds_segmentation.SOURCES:
        limits = (max_train_examples, max_test_examples)
        data = _tfds(name, batch_size, image_size, data_dir, download, augment, limits, seed)
    else:
        raise ValueError(
            f"Unknown segmentation data set: expected one of {list(SEGMENTATION_DATASETS)}. "
            f"Received: name={name!r}"
        )
    if data.num_train is not None and data.num_train < batch_size:
        raise ValueError(
            "`batch_size` is larger than the training set, so no full training batch exists "
            f"(the last partial batch is dropped). Received: batch_size={batch_size}, "
            f"num_train={data.num_train}"
        )
    return data
