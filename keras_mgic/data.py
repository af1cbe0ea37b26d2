"""tf.data input pipelines: TFDS image-classification data sets and an offline default.

Two sources, one pipeline:

- ``"digits"`` (the offline default): scikit-learn's bundled 8x8 handwritten digits
  (``sklearn.datasets.load_digits``: 1,797 images, 10 classes, shipped inside the
  scikit-learn wheel, so nothing is downloaded). Each image is scaled from 0..16 to 0..255,
  upsampled bilinearly to 32x32 and repeated to 3 channels (RGB), so CIFAR-style networks run
  on it unchanged. The train/test split is fixed: ``train_test_split(test_size=360,
  stratify=labels, random_state=0)``, i.e. 1,437 training and 360 test images (35-37 per class),
  the same on every machine.
- Any TFDS image-classification data set (``"cifar10"``, ``"cifar100"``, ``"imagenet2012"``,
  ...) through ``tfds.load(name, data_dir=..., download=...)``. Downloading is off by default:
  prepare the data once on a machine with internet access (``tfds build cifar10``, or
  ``download=True``) and point ``data_dir`` at it.

The pipeline (as in He et al. 2016, which the MGIC paper follows, Sec. 5.2): images are cast to
float32 in [0, 1] and normalised per channel with the training set's mean and standard
deviation; training images are augmented with core Keras preprocessing layers applied per
image inside ``tf.data`` (no keras-cv):

- CIFAR-size inputs (``image_size <= 64``): ``ZeroPadding2D(4)`` + ``RandomCrop`` back to the
  input size + ``RandomFlip("horizontal")``. The padding is applied after normalisation, so
  the border is the data set's mean colour. Digits are not flipped (a mirrored digit is a
  different glyph).
- ImageNet-size inputs (``image_size > 64``): a random resized crop (area 8%-100%, aspect ratio
  3/4-4/3, sampled with ``tf.image.sample_distorted_bounding_box``) resized with
  ``keras.layers.Resizing`` + ``RandomFlip("horizontal")``; evaluation images are resized to
  ``image_size / 0.875`` (aspect-preserving center crop) and center-cropped to ``image_size``.

Then batching (the last partial training batch is dropped so every step has the same batch
size; test batches are kept whole) and ``prefetch(AUTOTUNE)``.

Example:

>>> data = load_dataset("digits", batch_size=64)
>>> data.input_shape, data.num_classes, data.num_train, data.num_test
((32, 32, 3), 10, 1437, 360)
>>> images, labels = next(iter(data.train))
>>> tuple(images.shape), images.dtype.name
((64, 32, 32, 3), 'float32')
"""

import dataclasses

import numpy as np

#: The offline default data set.
DIGITS = "digits"
#: The fixed digits split: test images (stratified, 35-37 per class) and the split's seed.
DIGITS_TEST_SIZE = 360
DIGITS_SPLIT_SEED = 0

#: Per-channel mean and standard deviation (of [0, 1] pixels) of well-known training sets.
#: Other data sets get theirs estimated from up to ``STATS_SAMPLES`` training images.
CHANNEL_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "imagenet2012": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
STATS_SAMPLES = 2048

#: Inputs at most this size are augmented CIFAR-style, larger ones ImageNet-style.
CIFAR_STYLE_MAX_SIZE = 64
_CIFAR_PADDING = 4
_EVAL_CROP_FRACTION = 0.875


class DatasetNotAvailableError(FileNotFoundError):
    """A TFDS data set is not prepared in ``data_dir`` and downloading is off."""


@dataclasses.dataclass
class Datasets:
    """The batched training and test pipelines of one data set, and what a model needs.

    Attributes:
        name: the data set's name.
        train: ``tf.data.Dataset`` of ``(images, labels)`` batches, shuffled and augmented
            (unless ``augment=False``), endless only if repeated by the caller.
        test: ``tf.data.Dataset`` of ``(images, labels)`` batches, in order, not augmented.
        input_shape: ``(height, width, channels)`` of the images the pipelines yield.
        num_classes: number of classes; labels are ints in ``[0, num_classes)``.
        num_train: training examples (``None`` if unknown).
        num_test: test examples (``None`` if unknown).
        batch_size: the (global) batch size of both pipelines.
        mean: per-channel mean used for normalisation (of [0, 1] pixels).
        std: per-channel standard deviation used for normalisation.
    """

    name: str
    train: object
    test: object
    input_shape: tuple
    num_classes: int
    num_train: int | None
    num_test: int | None
    batch_size: int
    mean: tuple
    std: tuple


def _check_positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


# ------------------------------------------------------------------------------------ digits


def load_digits_arrays(image_size=32):
    """Returns the fixed digits split as uint8 RGB arrays, with no download.

    scikit-learn's bundled 8x8 digits (values 0..16) are scaled to 0..255, upsampled
    bilinearly to ``image_size`` x ``image_size`` and repeated to 3 channels. The split is
    ``train_test_split(test_size=360, stratify=labels, random_state=0)``: 1,437 training and
    360 test images, identical on every call and machine.

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

    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as error:
        raise ImportError(
            "The offline digits data set needs scikit-learn: pip install 'keras-mgic[datasets]'"
        ) from error

    image_size = _check_positive_int("image_size", image_size)
    digits = load_digits()
    images = digits.images.astype(np.float32) * (255.0 / 16.0)
    images = tf.image.resize(images[..., None], (image_size, image_size), method="bilinear")
    images = np.clip(np.round(images.numpy()), 0, 255).astype(np.uint8)
    images = np.repeat(images, 3, axis=-1)
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images,
        labels,
        test_size=DIGITS_TEST_SIZE,
        stratify=labels,
        random_state=DIGITS_SPLIT_SEED,
    )
    return (x_train, y_train), (x_test, y_test)


# -------------------------------------------------------------------------------------- TFDS


def _tfds_load(name, split, data_dir, download):
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise ImportError(
            f"TFDS data sets such as {name!r} need tensorflow-datasets: "
            "pip install 'keras-mgic[datasets]'"
        ) from error

    try:
        return tfds.load(
            name,
            split=split,
            data_dir=data_dir,
            download=download,
            as_supervised=True,
            with_info=True,
        )
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(
            f"Unknown data set: expected {DIGITS!r} or a TFDS data set name "
            f"(e.g. 'cifar10', 'cifar100'). Received: name={name!r}"
        ) from error
    except (AssertionError, FileNotFoundError) as error:
        where = data_dir or "the default TFDS directory (~/tensorflow_datasets)"
        raise DatasetNotAvailableError(
            f"The TFDS data set {name!r} is not prepared in {where} and downloading is off. "
            "Either point --data-dir (data_dir=) at a directory where it is prepared, or "
            f"prepare it on a machine with internet access (`tfds build {name} --data_dir DIR` "
            "or `tfds.load(name, download=True)`) and copy DIR here. "
            f"Received: name={name!r}, data_dir={data_dir!r}"
        ) from error


def _supervised_keys_ok(info, name):
    keys = getattr(info, "supervised_keys", None)
    if not keys or len(keys) != 2:
        raise ValueError(
            "Only TFDS image-classification data sets with (image, label) supervised keys are "
            f"supported. Received: name={name!r}"
        )
    image_key, label_key = keys
    image_feature = info.features[image_key]
    label_feature = info.features[label_key]
    num_classes = getattr(label_feature, "num_classes", None)
    image_shape = getattr(image_feature, "shape", None)
    if num_classes is None or image_shape is None or len(image_shape) != 3:
        raise ValueError(
            "Only TFDS image-classification data sets (an image feature and a ClassLabel) are "
            f"supported. Received: name={name!r}"
        )
    return tuple(image_shape), int(num_classes)


def _split_size(info, split):
    try:
        return int(info.splits[split].num_examples) or None
    except (KeyError, TypeError, ValueError):
        return None


def _cardinality(dataset):
    count = int(dataset.cardinality())
    return count if count >= 0 else None


def _default_test_split(info):
    splits = set(getattr(info, "splits", {}) or {})
    if not splits or "test" in splits:
        return "test"
    if "validation" in splits:
        return "validation"
    raise ValueError(
        f"The data set has neither a 'test' nor a 'validation' split; pass `test_split`. "
        f"Received: splits={sorted(splits)}"
    )


# ---------------------------------------------------------------------------------- pipeline


def _estimate_stats(dataset, image_size):
    import tensorflow as tf

    sums = np.zeros(3)
    squares = np.zeros(3)
    count = 0
    for image, _ in dataset.take(STATS_SAMPLES):
        pixels = tf.image.convert_image_dtype(image, tf.float32).numpy().reshape(-1, 3)
        sums += pixels.sum(axis=0)
        squares += (pixels.astype(np.float64) ** 2).sum(axis=0)
        count += pixels.shape[0]
    if not count:
        raise ValueError(f"The training split is empty. Received: image_size={image_size}")
    mean = sums / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 1e-12))
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def _augmenters(image_size, flip, seed):
    """Per-image training transforms from core Keras layers (run per image in tf.data)."""
    import keras

    # Distinct seeds: layers seeded alike would draw correlated crop offsets and flips.
    flipper = keras.layers.RandomFlip("horizontal", seed=seed + 1) if flip else None
    if image_size <= CIFAR_STYLE_MAX_SIZE:
        pad = keras.layers.ZeroPadding2D(_CIFAR_PADDING)
        crop = keras.layers.RandomCrop(image_size, image_size, seed=seed)

        def augment(image):
            image = crop(pad(image[None])[0])
            return flipper(image) if flipper is not None else image

        return augment

    import tensorflow as tf

    resize = keras.layers.Resizing(image_size, image_size)

    def augment(image):
        begin, size, _ = tf.image.sample_distorted_bounding_box(
            tf.shape(image),
            bounding_boxes=tf.zeros((1, 0, 4)),
            min_object_covered=0.0,
            aspect_ratio_range=(3 / 4, 4 / 3),
            area_range=(0.08, 1.0),
            max_attempts=10,
            use_image_if_no_bounding_boxes=True,
        )
        image = resize(tf.slice(image, begin, size))
        return flipper(image) if flipper is not None else image

    return augment


def _eval_transform(image_size, source_shape):
    import keras

    if source_shape[:2] == (image_size, image_size):
        return None
    if image_size <= CIFAR_STYLE_MAX_SIZE:
        return keras.layers.Resizing(image_size, image_size)
    outer = int(round(image_size / _EVAL_CROP_FRACTION))
    resize = keras.layers.Resizing(outer, outer, crop_to_aspect_ratio=True)
    crop = keras.layers.CenterCrop(image_size, image_size)
    return lambda image: crop(resize(image))


def make_pipeline(
    dataset,
    *,
    batch_size,
    training,
    image_size,
    mean,
    std,
    augment=True,
    flip=True,
    shuffle_buffer=10_000,
    seed=0,
    source_shape=None,
):
    """Turns an unbatched ``(image, label)`` dataset into a normalised, batched pipeline.

    Args:
        dataset: ``tf.data.Dataset`` of ``(image, label)``, images ``uint8`` (or float in
            [0, 1]) of shape ``(h, w, 3)``.
        batch_size: positive int, the (global) batch size.
        training: shuffle, augment and drop the last partial batch when True.
        image_size: height and width of the output images.
        mean: per-channel mean of [0, 1] pixels.
        std: per-channel standard deviation of [0, 1] pixels.
        augment: apply the training augmentation (only when ``training``).
        flip: include the random horizontal flip in the augmentation.
        shuffle_buffer: shuffle buffer size (training only).
        seed: seed of the shuffle and the augmentation layers.
        source_shape: the images' static ``(h, w, c)`` if known (``None`` entries allowed).

    Returns:
        A ``tf.data.Dataset`` of ``(float32 images (batch, image_size, image_size, 3), int64
        labels (batch,))``, prefetched.

    Example:

    >>> import tensorflow as tf
    >>> raw = tf.data.Dataset.from_tensor_slices(
    ...     (tf.zeros((8, 32, 32, 3), tf.uint8), tf.zeros((8,), tf.int64)))
    >>> ds = make_pipeline(raw, batch_size=4, training=True, image_size=32,
    ...                    mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    >>> [tuple(x.shape) for x, _ in ds]
    [(4, 32, 32, 3), (4, 32, 32, 3)]
    """
    import tensorflow as tf

    batch_size = _check_positive_int("batch_size", batch_size)
    image_size = _check_positive_int("image_size", image_size)
    source_shape = tuple(source_shape or (None, None, 3))
    mean = tf.constant(mean, tf.float32)
    std = tf.constant(std, tf.float32)
    resize = _eval_transform(image_size, source_shape)
    augmenter = _augmenters(image_size, flip, seed) if (training and augment) else None
    imagenet_style = image_size > CIFAR_STYLE_MAX_SIZE

    def preprocess(image, label):
        image = tf.image.convert_image_dtype(image, tf.float32)
        if augmenter is not None and imagenet_style:
            image = augmenter(image)
        elif resize is not None:
            image = resize(image)
        image = (image - mean) / std
        if augmenter is not None and not imagenet_style:
            image = augmenter(image)
        image = tf.ensure_shape(image, (image_size, image_size, 3))
        return image, tf.cast(label, tf.int64)

    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.batch(batch_size, drop_remainder=training)
    options = tf.data.Options()
    # In-memory and TFDS sources alike: shard by element across workers.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


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
):
    """Builds the training and test pipelines of a data set.

    Args:
        name: ``"digits"`` (offline, the default) or a TFDS image-classification data set
            name such as ``"cifar10"``, ``"cifar100"`` or ``"imagenet2012"``.
        batch_size: positive int, the (global) batch size of both pipelines.
        image_size: output height and width. Defaults to the data set's own size (32 for
            digits and CIFAR; 224 for data sets with variable image sizes).
        data_dir: TFDS data directory (``None``: TFDS's default, ``~/tensorflow_datasets``).
        download: let TFDS download and prepare the data set if it is missing.
        augment: augment the training images (see the module docstring).
        train_split: the TFDS training split.
        test_split: the TFDS evaluation split (default: ``"test"``, else ``"validation"``).
        max_train_examples: keep only the first ``n`` training examples (tests, smoke runs).
        max_test_examples: keep only the first ``n`` test examples.
        seed: seed of the shuffle and the augmentation.

    Returns:
        A ``Datasets`` with ``train``, ``test``, ``input_shape``, ``num_classes``, sizes and
        normalisation statistics.

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
    import tensorflow as tf

    if not isinstance(name, str) or not name:
        raise ValueError(
            f"`name` must be {DIGITS!r} or a TFDS data set name. Received: name={name!r}"
        )
    batch_size = _check_positive_int("batch_size", batch_size)
    image_size = _check_positive_int("image_size", image_size, allow_none=True)
    max_train_examples = _check_positive_int(
        "max_train_examples", max_train_examples, allow_none=True
    )
    max_test_examples = _check_positive_int("max_test_examples", max_test_examples, allow_none=True)
    key = name.lower()

    if key == DIGITS:
        size = image_size or 32
        (x_train, y_train), (x_test, y_test) = load_digits_arrays(size)
        x_train, y_train = x_train[:max_train_examples], y_train[:max_train_examples]
        x_test, y_test = x_test[:max_test_examples], y_test[:max_test_examples]
        pixels = x_train.reshape(-1, 3).astype(np.float64) / 255.0
        mean = tuple(float(v) for v in pixels.mean(axis=0))
        std = tuple(float(v) for v in pixels.std(axis=0))
        train_raw = tf.data.Dataset.from_tensor_slices((x_train, y_train))
        test_raw = tf.data.Dataset.from_tensor_slices((x_test, y_test))
        source_shape, num_classes = (size, size, 3), 10
        num_train, num_test, flip = len(x_train), len(x_test), False
    else:
        train_raw, info = _tfds_load(key, train_split, data_dir, download)
        source_shape, num_classes = _supervised_keys_ok(info, key)
        test_split = test_split or _default_test_split(info)
        test_raw, _ = _tfds_load(key, test_split, data_dir, download)
        if source_shape[-1] not in (1, 3, None):
            raise ValueError(
                f"Only 1- or 3-channel images are supported. Received: image_shape={source_shape}"
            )
        if source_shape[-1] == 1:
            train_raw = train_raw.map(lambda x, y: (tf.image.grayscale_to_rgb(x), y))
            test_raw = test_raw.map(lambda x, y: (tf.image.grayscale_to_rgb(x), y))
            source_shape = (*source_shape[:2], 3)
        size = image_size or (source_shape[0] if source_shape[0] == source_shape[1] else 224)
        num_train = _split_size(info, train_split) or _cardinality(train_raw)
        num_test = _split_size(info, test_split) or _cardinality(test_raw)
        if max_train_examples:
            train_raw = train_raw.take(max_train_examples)
            num_train = min(num_train, max_train_examples) if num_train else None
        if max_test_examples:
            test_raw = test_raw.take(max_test_examples)
            num_test = min(num_test, max_test_examples) if num_test else None
        if key in CHANNEL_STATS:
            mean, std = CHANNEL_STATS[key]
        else:
            mean, std = _estimate_stats(train_raw, size)
        flip = True

    if num_train is not None and num_train < batch_size:
        raise ValueError(
            "`batch_size` is larger than the training set, so no full training batch exists "
            f"(the last partial batch is dropped). Received: batch_size={batch_size}, "
            f"num_train={num_train}"
        )
    common = dict(batch_size=batch_size, image_size=size, mean=mean, std=std, seed=seed, flip=flip)
    train = make_pipeline(
        train_raw, training=True, augment=augment, source_shape=source_shape, **common
    )
    test = make_pipeline(test_raw, training=False, source_shape=source_shape, **common)
    return Datasets(
        name=key,
        train=train,
        test=test,
        input_shape=(size, size, 3),
        num_classes=num_classes,
        num_train=num_train,
        num_test=num_test,
        batch_size=batch_size,
        mean=tuple(mean),
        std=tuple(std),
    )
