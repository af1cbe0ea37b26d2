"""TFDS image-classification data sets through ``tfds.load``, offline unless asked.

Downloading is off by default: prepare the data once on a machine with internet access
(``tfds build cifar10``, or ``download=True``) and point ``data_dir`` at it.
"""


class DatasetNotAvailableError(FileNotFoundError):
    """A TFDS data set is not prepared in ``data_dir`` and downloading is off."""


def tfds_load(name, split, data_dir, download, as_supervised=True):
    """``tfds.load(name, split=...)`` as ``(dataset of (image, label), info)`` (of feature
    dicts with ``as_supervised=False``)."""
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
            as_supervised=as_supervised,
            with_info=True,
        )
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(
            "Unknown data set: expected 'digits' or a TFDS data set name "
            f"(e.g. 'cifar10', 'cifar100'). Received: name={name!r}"
        ) from error
    except (AssertionError, FileNotFoundError) as error:
        raise _not_available(name, data_dir) from error


def _not_available(name, data_dir):
    where = data_dir or "the default TFDS directory (~/tensorflow_datasets)"
    return DatasetNotAvailableError(
        f"The TFDS data set {name!r} is not prepared in {where} and downloading is off. "
        "Either point --data-dir (data_dir=) at a directory where it is prepared, or "
        f"prepare it on a machine with internet access (`tfds build {name} --data_dir DIR` "
        "or `tfds.load(name, download=True)`) and copy DIR here. "
        f"Received: name={name!r}, data_dir={data_dir!r}"
    )


def image_classification_info(info, name):
    """``(image_shape, num_classes)`` of an (image, ClassLabel) data set, else ValueError."""
    keys = getattr(info, "supervised_keys", None)
    if not keys or len(keys) != 2:
        raise ValueError(
            "Only TFDS image-classification data sets with (image, label) supervised keys are "
            f"supported. Received: name={name!r}"
        )
    image_key, label_key = keys
    num_classes = getattr(info.features[label_key], "num_classes", None)
    image_shape = getattr(info.features[image_key], "shape", None)
    if num_classes is None or image_shape is None or len(image_shape) != 3:
        raise ValueError(
            "Only TFDS image-classification data sets (an image feature and a ClassLabel) are "
            f"supported. Received: name={name!r}"
        )
    if image_shape[-1] not in (1, 3, None):
        raise ValueError(
            f"Only 1- or 3-channel images are supported. Received: image_shape={image_shape}"
        )
    return tuple(image_shape), int(num_classes)


def split_size(info, split, dataset):
    """Examples in ``split``: TFDS's count, else the dataset's cardinality, else None."""
    try:
        size = int(info.splits[split].num_examples)
        if size:
            return size
    except (KeyError, TypeError, ValueError):
        pass
    count = int(dataset.cardinality())
    return count if count >= 0 else None


def default_test_split(info):
    """``"test"`` if the data set has it (or no split list), else ``"validation"``."""
    splits = set(getattr(info, "splits", {}) or {})
    if not splits or "test" in splits:
        return "test"
    if "validation" in splits:
        return "validation"
    raise ValueError(
        f"The data set has neither a 'test' nor a 'validation' split; pass `test_split`. "
        f"Received: splits={sorted(splits)}"
    )
