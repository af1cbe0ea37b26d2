"""The batched ``tf.data`` pipeline of (image, mask) pairs for semantic segmentation.

Images stay raw 0-255 float32 pixels (the models rescale them, ``include_preprocessing=True``);
masks are int32 class indices ``(height, width)``, with ``IGNORE_LABEL`` (255) for pixels that
the loss and the metrics skip.

Training augmentation transforms the image and its mask alike (the usual semantic
segmentation recipe, e.g. DeepLab's, which the MobileNetV3 paper's segmentation experiments
use): a random scale (bilinear for the image, nearest neighbour for the mask), zero padding
(the mask padded with the ignore label) up to the crop size, a random crop and, where the
data allow it, a random horizontal flip. The random draws are stateless, from seeds that a
``tf.data.Dataset.random`` stream gives every example: the same ``seed`` gives the same
batches, and every epoch draws anew.
"""

from keras_mgic.data.checks import positive_int

#: The label of pixels that the loss and the metrics skip (borders, unlabelled objects).
IGNORE_LABEL = 255


def _pair(name, value):
    """``(height, width)`` from an int or a pair of positive ints."""
    values = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(values) != 2:
        raise ValueError(f"`{name}` must be an int or (height, width). Received: {name}={value!r}")
    return tuple(positive_int(name, v) for v in values)


def _check_scale_range(scale_range):
    low, high = scale_range
    if not 0 < low <= high:
        raise ValueError(
            "`scale_range` must be (low, high) with 0 < low <= high. "
            f"Received: scale_range={scale_range!r}"
        )
    return float(low), float(high)


def resize_pair(image, mask, size):
    """Resizes an image (bilinear) and its mask (nearest neighbour) to ``size``."""
    import tensorflow as tf

    image = tf.image.resize(image, size, method="bilinear")
    mask = tf.image.resize(mask, size, method="nearest")
    return image, mask


def augment_pair(image, mask, seeds, crop_size, scale_range, flip):
    """Random scale, pad, crop and (if ``flip``) horizontal flip of an image and its mask.

    Args:
        image: float32 ``(h, w, 3)``.
        mask: int32 ``(h, w, 1)``.
        seeds: int64 ``(2, 2)``: the stateless seeds of the scale and of the crop and flip.
        crop_size: ``(height, width)`` of the output.
        scale_range: ``(low, high)`` of the random scale factor.
        flip: whether to flip horizontally with probability 1/2.

    Returns:
        ``(image, mask)`` of ``crop_size``; pixels padded in are 0 in the image and
        ``IGNORE_LABEL`` in the mask.
    """
    import tensorflow as tf

    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.random.stateless_uniform((), seeds[0], scale_range[0], scale_range[1])
    size = tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), 1)
    image, mask = resize_pair(image, mask, size)
    height, width = crop_size
    pad_height = tf.maximum(height - size[0], 0)
    pad_width = tf.maximum(width - size[1], 0)
    paddings = [[0, pad_height], [0, pad_width], [0, 0]]
    image = tf.pad(image, paddings)
    # The mask is padded with IGNORE_LABEL: shift it by one so that 0 can stand for it.
    mask = tf.pad(mask - IGNORE_LABEL, paddings) + IGNORE_LABEL
    stacked = tf.concat([image, tf.cast(mask, tf.float32)], axis=-1)
    stacked = tf.image.stateless_random_crop(stacked, (height, width, 4), seeds[1])
    if flip:
        flip_seed = seeds[1] + tf.constant([0, 1], seeds.dtype)
        stacked = tf.image.stateless_random_flip_left_right(stacked, flip_seed)
    return stacked[..., :3], tf.cast(tf.round(stacked[..., 3:]), tf.int32)


def make_segmentation_pipeline(
    dataset,
    *,
    batch_size,
    training,
    crop_size,
    augment=True,
    flip=True,
    scale_range=(0.75, 1.25),
    resize_to=None,
    shuffle_buffer=1_000,
    seed=0,
):
    """Turns an unbatched ``(image, mask)`` dataset into a batched pipeline.

    Args:
        dataset: ``tf.data.Dataset`` of ``(image, mask)``: images ``(h, w, 3)`` of raw 0-255
            pixels (any dtype), masks ``(h, w)`` or ``(h, w, 1)`` of ints (class indices or
            ``IGNORE_LABEL``).
        batch_size: positive int, the (global) batch size.
        training: shuffle, augment and drop the last partial batch when True.
        crop_size: int or ``(height, width)``, the training images' size.
        augment: apply the training augmentation (only when ``training``); without it,
            training pairs are resized to ``crop_size``.
        flip: include the random horizontal flip.
        scale_range: ``(low, high)`` of the random scale.
        resize_to: None, or ``(height, width)`` every pair is first resized to (data sets
            with images of many sizes); test pairs keep their size otherwise.
        shuffle_buffer: shuffle buffer size (training only).
        seed: seed of the shuffle and the augmentation.

    Returns:
        A ``tf.data.Dataset`` of ``(float32 images (batch, h, w, 3), int32 masks (batch, h,
        w))``, prefetched.

    Example:

    >>> import tensorflow as tf
    >>> raw = tf.data.Dataset.from_tensor_slices(
    ...     (tf.zeros((8, 32, 32, 3), tf.uint8), tf.zeros((8, 32, 32), tf.uint8)))
    >>> ds = make_segmentation_pipeline(raw, batch_size=4, training=True, crop_size=24)
    >>> [(tuple(x.shape), tuple(y.shape)) for x, y in ds]
    [((4, 24, 24, 3), (4, 24, 24)), ((4, 24, 24, 3), (4, 24, 24))]
    """
    import tensorflow as tf

    batch_size = positive_int("batch_size", batch_size)
    crop_size = _pair("crop_size", crop_size)
    resize_to = None if resize_to is None else _pair("resize_to", resize_to)
    scale_range = _check_scale_range(scale_range)
    augmenting = training and augment

    def standardize(image, mask):
        image = tf.cast(image, tf.float32)
        mask = tf.cast(mask, tf.int32)
        if mask.shape.rank == 2:
            mask = mask[..., None]
        if resize_to is not None:
            image, mask = resize_pair(image, mask, resize_to)
        return image, mask

    def finish(image, mask):
        return image, mask[..., 0]

    def train_pair(pair, seeds):
        image, mask = standardize(*pair)
        if augmenting:
            image, mask = augment_pair(image, mask, seeds, crop_size, scale_range, flip)
        else:
            image, mask = resize_pair(image, mask, crop_size)
        image = tf.ensure_shape(image, (*crop_size, 3))
        return finish(image, tf.ensure_shape(mask, (*crop_size, 1)))

    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(4)
        seeds = seeds.map(lambda s: tf.reshape(s, (2, 2)))
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            train_pair, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
    else:
        dataset = dataset.map(
            lambda image, mask: finish(*standardize(image, mask)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    dataset = dataset.batch(batch_size, drop_remainder=training)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
