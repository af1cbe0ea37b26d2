"""``preprocess_input`` and ``decode_predictions`` as ``keras.applications`` has them.

Each model module (``keras_mgic.models.resnet``, ``.wide_resnet``, ``.mobilenet_v3``,
``.lraspp``, ``.point_cloud``) exposes ``preprocess_input(x, data_format=None)`` and
``decode_predictions(preds, top=5, class_names=None)`` built from the functions here, so a
``keras.applications`` user's habit (call ``preprocess_input`` on raw images, then
``decode_predictions`` on the outputs) works unchanged:

* :func:`rescale_input` for the builders that default to ``include_preprocessing=False``
  (the (Wide) ResNets): it does outside the model exactly what ``include_preprocessing=True``
  does inside, raw ``[0, 255]`` pixels to ``[-1, 1]``. (``keras.applications.resnet``'s
  "caffe" preprocessing belongs to its ImageNet weights; these models have none.)
* :func:`identity_input` where the builders preprocess inside by default
  (``include_preprocessing=True``: MobileNetV3, LR-ASPP), as
  ``keras.applications.mobilenet_v3.preprocess_input`` is.
* :func:`decode_classes`: the ``top`` classes of each row of scores, named by
  ``class_names``; for 1000 classes without names, the ImageNet class index that
  ``keras.applications`` downloads (an offline machine gets a one-line error saying to pass
  ``class_names``).
* :func:`decode_pixels`: the segmentation twin, the ``top`` classes of each image by the
  share of pixels predicted as each.
"""

import keras
import numpy as np

DATA_FORMATS = (None, "channels_last", "channels_first")
#: The number of classes whose names ``decode_classes`` can fetch (ImageNet's).
IMAGENET_CLASSES = 1000


def _check_data_format(data_format):
    if data_format not in DATA_FORMATS:
        raise ValueError(
            f"`data_format` must be one of {DATA_FORMATS}. Received: data_format={data_format!r}"
        )


def _is_tensor(x):
    return not isinstance(x, (np.ndarray, list, tuple, int, float)) and hasattr(x, "shape")


def rescale_input(x, data_format=None, scale=1.0 / 127.5, offset=-1.0):
    """``x * scale + offset``: raw ``[0, 255]`` pixels to ``[-1, 1]`` by default.

    The same numbers as the builders' ``Rescaling`` layer (``include_preprocessing=True``),
    so ``model(rescale_input(images))`` with ``include_preprocessing=False`` equals the
    same weights' ``model(images)`` with ``include_preprocessing=True``. The scaling is
    per element, so ``data_format`` is only checked. A NumPy array (or a list) gives a new
    float32 NumPy array (float64 stays float64); a tensor gives a tensor of the backend.

    Args:
        x: images, a NumPy array, a nested list or a backend tensor.
        data_format: ``None``, ``"channels_last"`` or ``"channels_first"``.
        scale, offset: the affine map.

    Returns:
        The rescaled images.

    Example:

    >>> rescale_input(np.array([0.0, 127.5, 255.0])).tolist()
    [-1.0, 0.0, 1.0]
    """
    _check_data_format(data_format)
    if _is_tensor(x):
        dtype = x.dtype if "float" in str(x.dtype) else "float32"
        x = keras.ops.cast(x, dtype)
        return x * keras.ops.cast(scale, dtype) + keras.ops.cast(offset, dtype)
    x = np.asarray(x)
    dtype = x.dtype.type if np.issubdtype(x.dtype, np.floating) else np.float32
    return x.astype(dtype) * dtype(scale) + dtype(offset)


def identity_input(x, data_format=None):
    """``x`` unchanged: the model preprocesses its input itself.

    Example:

    >>> identity_input(np.array([0.0, 255.0])).tolist()
    [0.0, 255.0]
    """
    _check_data_format(data_format)
    return x


def _check_top(top):
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"`top` must be a positive integer. Received: top={top!r}")
    return int(top)


def _check_names(class_names, classes):
    if class_names is None:
        return None
    if isinstance(class_names, str) or len(class_names) != classes:
        count = "a string" if isinstance(class_names, str) else f"{len(class_names)} names"
        raise ValueError(
            f"`class_names` must list one name per class ({classes}, the last axis of "
            f"`preds`). Received: {count}"
        )
    return [str(name) for name in class_names]


def _imagenet_index():
    """``{index: (wnid, description)}`` from the class index ``keras.applications`` uses."""
    import json

    from keras.src.applications import imagenet_utils

    try:
        path = keras.utils.get_file(
            "imagenet_class_index.json",
            imagenet_utils.CLASS_INDEX_PATH,
            cache_subdir="models",
            file_hash="c2c37ea517e94d9795004a39431a14cb",
        )
    except Exception as error:  # noqa: BLE001  (get_file raises plain Exceptions offline)
        raise ValueError(
            "decode_predictions needs the ImageNet class index for 1000 classes; it could "
            f"not be downloaded ({type(error).__name__}). Pass `class_names` (one name per "
            "class) instead. Received: class_names=None"
        ) from error
    with open(path) as file:
        return {int(key): tuple(value) for key, value in json.load(file).items()}


def decode_classes(preds, top=5, class_names=None):
    """The ``top`` classes of each row of ``preds``, best first, as ``keras.applications``.

    Args:
        preds: scores ``(samples, classes)`` (logits or probabilities), a NumPy array or a
            tensor.
        top: how many classes per sample (all of them if there are fewer).
        class_names: one name per class. Without it, 1000 classes are named by ImageNet's
            class index (downloaded by ``keras.utils.get_file`` as ``keras.applications``
            does; a ``ValueError`` when that fails), and any other number of classes is a
            ``ValueError`` asking for the names.

    Returns:
        One list per sample of ``(class_id, class_name, score)`` tuples, best first:
        ``class_id`` is the WordNet id for ImageNet's index, else the class index as a
        string.

    Example:

    >>> decode_classes(np.array([[0.1, 0.7, 0.2]]), top=2, class_names=["a", "b", "c"])
    [[('1', 'b', 0.7), ('2', 'c', 0.2)]]
    """
    top = _check_top(top)
    preds = keras.ops.convert_to_numpy(preds)
    if preds.ndim != 2:
        raise ValueError(
            "`decode_predictions` expects a batch of scores, a 2D array (samples, classes). "
            f"Received: preds.shape={preds.shape}"
        )
    names = _check_names(class_names, preds.shape[1])
    if names is not None:
        index = {i: (str(i), name) for i, name in enumerate(names)}
    elif preds.shape[1] == IMAGENET_CLASSES:
        index = _imagenet_index()
    else:
        raise ValueError(
            f"`decode_predictions` names {IMAGENET_CLASSES} ImageNet classes by itself; for "
            f"{preds.shape[1]} classes pass `class_names`. Received: preds.shape={preds.shape}"
        )
    results = []
    for row in preds:
        best = np.argsort(-row, kind="stable")[:top]
        results.append([(*index[int(i)], float(row[i])) for i in best])
    return results


def decode_pixels(preds, top=5, class_names=None):
    """The ``top`` classes of each segmentation output by their share of the pixels.

    Each pixel is predicted as its highest-scoring class; a class's score is the fraction
    of the image's pixels predicted as it. Classes no pixel is predicted as are left out.

    Args:
        preds: per-pixel scores ``(samples, height, width, classes)``.
        top: how many classes per image, at most.
        class_names: one name per class; default: the class indices as strings.

    Returns:
        One list per image of ``(class_id, class_name, pixel_fraction)`` tuples, largest
        first; ``class_id`` is the class index as a string.

    Example:

    >>> logits = np.zeros((1, 2, 2, 3)); logits[0, 0, :, 2] = 1
    >>> decode_pixels(logits, class_names=["background", "cat", "dog"])
    [[('0', 'background', 0.5), ('2', 'dog', 0.5)]]
    """
    top = _check_top(top)
    preds = keras.ops.convert_to_numpy(preds)
    if preds.ndim != 4:
        raise ValueError(
            "The segmentation `decode_predictions` expects per-pixel scores, a 4D array "
            f"(samples, height, width, classes). Received: preds.shape={preds.shape}"
        )
    classes = preds.shape[-1]
    names = _check_names(class_names, classes) or [str(i) for i in range(classes)]
    results = []
    for image in preds:
        counts = np.bincount(image.argmax(-1).reshape(-1), minlength=classes)
        fractions = counts / counts.sum()
        best = [i for i in np.argsort(-fractions, kind="stable")[:top] if counts[i]]
        results.append([(str(i), names[i], float(fractions[i])) for i in best])
    return results
