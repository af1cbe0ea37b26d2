"""The batched ``tf.data`` pipeline of point sets: ``(points, label)`` batches of float32
``(batch, num_points, channels)`` clouds and int64 labels.

Training: shuffled, augmented (``keras_mgic.data.point_augmentation``, seeded through
``tf.data.Dataset.random`` so a fixed seed repeats the run), the last partial batch dropped.
Test: in order, whole. Then ``prefetch(AUTOTUNE)``.
"""

from keras_mgic.data.checks import positive_int
from keras_mgic.data.point_augmentation import augment_points


def make_point_pipeline(
    points, labels, *, batch_size, training, augmentation=None, shuffle_buffer=10_000, seed=0
):
    """Turns arrays of clouds and labels into a batched pipeline.

    Args:
        points: float32 ``(n, num_points, channels)``, coordinates first.
        labels: int ``(n,)``.
        batch_size: positive int.
        training: shuffle, augment and drop the last partial batch when True.
        augmentation: a ``PointAugmentation``, or None for none (used only when training).
        shuffle_buffer: shuffle buffer size (training only).
        seed: seed of the shuffle and the augmentation.

    Returns:
        A ``tf.data.Dataset`` of ``(points, labels)`` batches.

    Example:

    >>> import numpy as np
    >>> data = make_point_pipeline(
    ...     np.zeros((8, 16, 3), "float32"), np.zeros(8, "int64"), batch_size=4, training=False)
    >>> [tuple(x.shape) for x, _ in data]
    [(4, 16, 3), (4, 16, 3)]
    """
    import tensorflow as tf

    batch_size = positive_int("batch_size", batch_size)
    dataset = tf.data.Dataset.from_tensor_slices((points, labels))
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if augmentation is not None:
            seeds = tf.data.Dataset.random(seed=seed).batch(2)
            dataset = tf.data.Dataset.zip((dataset, seeds)).map(
                lambda example, pair: (augment_points(example[0], augmentation, pair), example[1]),
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True,
            )
    dataset = dataset.map(lambda x, y: (x, tf.cast(y, tf.int64)))
    dataset = dataset.batch(batch_size, drop_remainder=training)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
