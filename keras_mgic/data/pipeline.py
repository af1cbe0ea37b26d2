"""The batched ``tf.data`` pipeline of raw 0-255 float32 images.

The images stay raw pixels: the models rescale them themselves
(``include_preprocessing=True``), so a trained model needs no outside normalization. Batching
drops the last partial training batch (every step has the same batch size) and keeps test
batches whole; then ``prefetch(AUTOTUNE)``.
"""

from keras_mgic.data.augmentation import (
    CIFAR_STYLE_MAX_SIZE,
    evaluation_transform,
    training_transform,
)
from keras_mgic.data.checks import positive_int


def make_pipeline(
    dataset,
    *,
    batch_size,
    training,
    image_size,
    augment=True,
    flip=True,
    shuffle_buffer=10_000,
    seed=0,
    source_shape=None,
):
    """Turns an unbatched ``(image, label)`` dataset into a batched pipeline.

    Args:
        dataset: ``tf.data.Dataset`` of ``(image, label)``, images ``uint8`` 0-255 (or float
            0-255) of shape ``(h, w, 3)``.
        batch_size: positive int, the (global) batch size.
        training: shuffle, augment and drop the last partial batch when True.
        image_size: height and width of the output images.
        augment: apply the training augmentation (only when ``training``).
        flip: include the random horizontal flip in the augmentation.
        shuffle_buffer: shuffle buffer size (training only).
        seed: seed of the shuffle and the augmentation layers.
        source_shape: the images' static ``(h, w, c)`` if known (``None`` entries allowed).

    Returns:
        A ``tf.data.Dataset`` of ``(float32 images 0-255 (batch, image_size, image_size, 3),
        int64 labels (batch,))``, prefetched.

    Example:

    >>> import tensorflow as tf
    >>> raw = tf.data.Dataset.from_tensor_slices(
    ...     (tf.zeros((8, 32, 32, 3), tf.uint8), tf.zeros((8,), tf.int64)))
    >>> ds = make_pipeline(raw, batch_size=4, training=True, image_size=32)
    >>> [tuple(x.shape) for x, _ in ds]
    [(4, 32, 32, 3), (4, 32, 32, 3)]
    """
    import tensorflow as tf

    batch_size = positive_int("batch_size", batch_size)
    image_size = positive_int("image_size", image_size)
    source_shape = tuple(source_shape or (None, None, 3))
    resize = evaluation_transform(image_size, source_shape)
    augmenter = training_transform(image_size, flip, seed) if training and augment else None
    if augmenter is not None and image_size > CIFAR_STYLE_MAX_SIZE:
        resize = None  # the random resized crop sets the size

    def preprocess(image, label):
        image = tf.cast(image, tf.float32)
        if resize is not None:
            image = resize(image)
        if augmenter is not None:
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
