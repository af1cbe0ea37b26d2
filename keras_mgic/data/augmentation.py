"""Per-image transforms from core Keras preprocessing layers, run inside ``tf.data`` (no
keras-cv: it is frozen upstream and pulls the old ``keras-core``).

- CIFAR-size inputs (at most ``CIFAR_STYLE_MAX_SIZE``): zero padding of 4 pixels, a random
  crop back to the input size and a random horizontal flip (He et al. 2016, Sec. 4.2, which
  the MGIC paper follows). The images are raw 0-255 pixels, so the border is black.
- Larger inputs (ImageNet style): a random resized crop (area 8%-100%, aspect ratio
  3/4-4/3, from ``tf.image.sample_distorted_bounding_box``) and a random horizontal flip;
  evaluation images are resized to ``image_size / 0.875`` (aspect-preserving center crop) and
  center-cropped to ``image_size``.
"""

#: Inputs at most this size are augmented CIFAR-style, larger ones ImageNet-style.
CIFAR_STYLE_MAX_SIZE = 64
CIFAR_PADDING = 4
EVAL_CROP_FRACTION = 0.875


def training_transform(image_size, flip, seed):
    """The per-image training augmentation (``flip=False`` for digits: a mirrored digit is
    a different glyph)."""
    import keras

    # Distinct seeds: layers seeded alike would draw correlated crop offsets and flips.
    flipper = keras.layers.RandomFlip("horizontal", seed=seed + 1) if flip else None
    crop = _pad_and_crop(image_size, seed) if image_size <= CIFAR_STYLE_MAX_SIZE else None
    crop = crop or _random_resized_crop(image_size)

    def augment(image):
        image = crop(image)
        return flipper(image) if flipper is not None else image

    return augment


def _pad_and_crop(image_size, seed):
    import keras

    pad = keras.layers.ZeroPadding2D(CIFAR_PADDING)
    crop = keras.layers.RandomCrop(image_size, image_size, seed=seed)
    return lambda image: crop(pad(image[None])[0])


def _random_resized_crop(image_size):
    import keras
    import tensorflow as tf

    resize = keras.layers.Resizing(image_size, image_size)

    def crop(image):
        begin, size, _ = tf.image.sample_distorted_bounding_box(
            tf.shape(image),
            bounding_boxes=tf.zeros((1, 0, 4)),
            min_object_covered=0.0,
            aspect_ratio_range=(3 / 4, 4 / 3),
            area_range=(0.08, 1.0),
            max_attempts=10,
            use_image_if_no_bounding_boxes=True,
        )
        return resize(tf.slice(image, begin, size))

    return crop


def evaluation_transform(image_size, source_shape):
    """The resize (and center crop) of test images, or None when they have the right size."""
    import keras

    if tuple(source_shape[:2]) == (image_size, image_size):
        return None
    if image_size <= CIFAR_STYLE_MAX_SIZE:
        return keras.layers.Resizing(image_size, image_size)
    outer = int(round(image_size / EVAL_CROP_FRACTION))
    resize = keras.layers.Resizing(outer, outer, crop_to_aspect_ratio=True)
    crop = keras.layers.CenterCrop(image_size, image_size)
    return lambda image: crop(resize(image))
