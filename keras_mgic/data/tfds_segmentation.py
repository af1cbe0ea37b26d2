"""TFDS semantic segmentation sets through ``tfds.load``, offline unless asked.

- ``oxford_iiit_pet`` (TFDS ``oxford_iiit_pet``, 3,680 training and 3,669 test images of
  many sizes): the trimap of the Oxford-IIIT Pet data set (Parkhi et al. 2012; 1 pet, 2
  background, 3 the unclassified band along the outline) as 2 classes: 0 background, 1 pet,
  and the band ignored (255).
- ``cityscapes`` (TFDS ``cityscapes/semantic_segmentation``, 2,975 training and 500
  validation images of 1024x2048): the 19 evaluation classes ("train ids") of the Cityscapes
  benchmark (Cordts et al. 2016; the table of mcordts/cityscapesScripts,
  ``cityscapesscripts/helpers/labels.py``), every other label id ignored (255). Its files
  need a manual download: register at cityscapes-dataset.com, put
  ``leftImg8bit_trainvaltest.zip`` and ``gtFine_trainvaltest.zip`` in
  ``DATA_DIR/downloads/manual/``, then run ``tfds build cityscapes/semantic_segmentation
  --data_dir DATA_DIR`` (or pass ``download=True`` once).

Every mask value goes through a 256-entry table whose unlisted entries are 255, so a mask
never holds a value outside ``[0, classes)`` but the ignore label.
"""

import dataclasses

import numpy as np

from keras_mgic.data import tfds_source
from keras_mgic.data.segmentation_pipeline import IGNORE_LABEL

#: Cityscapes label id -> train id, the 19 classes of the benchmark (cityscapesScripts).
CITYSCAPES_TRAIN_IDS = {
    7: 0,  # road
    8: 1,  # sidewalk
    11: 2,  # building
    12: 3,  # wall
    13: 4,  # fence
    17: 5,  # pole
    19: 6,  # traffic light
    20: 7,  # traffic sign
    21: 8,  # vegetation
    22: 9,  # terrain
    23: 10,  # sky
    24: 11,  # person
    25: 12,  # rider
    26: 13,  # car
    27: 14,  # truck
    28: 15,  # bus
    31: 16,  # train
    32: 17,  # motorcycle
    33: 18,  # bicycle
}
CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)  # fmt: skip
#: Oxford-IIIT Pet trimap value -> class (the unclassified outline band is ignored).
PET_CLASSES_OF_TRIMAP = {1: 1, 2: 0}


@dataclasses.dataclass(frozen=True)
class SegmentationSource:
    """How one TFDS set becomes (image, mask) pairs.

    Attributes:
        tfds_name: the TFDS name (with its config).
        image_key: the image feature.
        mask_key: the mask feature.
        label_map: mask value -> class; every other value becomes the ignore label.
        class_names: the classes, in order.
        train_split: the training split.
        test_split: the evaluation split.
        crop_size: default training crop (height, width).
        resize_to: None, or the (height, width) every image is first resized to (sets whose
            images have many sizes; evaluation happens at that size).
        scale_range: the random scale of the training augmentation.
        manual_download: whether TFDS needs the files put in place by hand.
    """

    tfds_name: str
    image_key: str
    mask_key: str
    label_map: dict
    class_names: tuple
    train_split: str
    test_split: str
    crop_size: tuple
    resize_to: tuple | None
    scale_range: tuple
    manual_download: bool = False


SOURCES = {
    "oxford_iiit_pet": SegmentationSource(
        tfds_name="oxford_iiit_pet",
        image_key="image",
        mask_key="segmentation_mask",
        label_map=PET_CLASSES_OF_TRIMAP,
        class_names=("background", "pet"),
        train_split="train",
        test_split="test",
        crop_size=(224, 224),
        resize_to=(224, 224),
        scale_range=(0.75, 1.5),
    ),
    "cityscapes": SegmentationSource(
        tfds_name="cityscapes/semantic_segmentation",
        image_key="image_left",
        mask_key="segmentation_label",
        label_map=CITYSCAPES_TRAIN_IDS,
        class_names=CITYSCAPES_CLASSES,
        train_split="train",
        test_split="validation",
        crop_size=(768, 768),
        resize_to=None,
        scale_range=(0.5, 2.0),
        manual_download=True,
    ),
}


def lookup_table(label_map):
    """The 256-entry ``uint8`` table of a label map: unlisted values map to 255.

    Example:

    >>> lookup_table({1: 1, 2: 0})[:4].tolist()
    [255, 1, 0, 255]
    """
    table = np.full(256, IGNORE_LABEL, np.uint8)
    for value, label in label_map.items():
        table[value] = label
    return table


def map_labels(mask, label_map):
    """A ``uint8`` mask with every value mapped by ``label_map`` (others to 255)."""
    import tensorflow as tf

    table = tf.constant(lookup_table(label_map))
    return tf.gather(table, tf.cast(mask, tf.int32))


def _manual_download_error(source, data_dir):
    where = data_dir or "~/tensorflow_datasets"
    return tfds_source.DatasetNotAvailableError(
        f"The TFDS data set {source.tfds_name!r} is not prepared in {where}, and its files "
        "cannot be downloaded automatically: register at https://www.cityscapes-dataset.com, "
        "put leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip in "
        f"{where}/downloads/manual/, then run `tfds build {source.tfds_name} --data_dir "
        f"{where}` (or pass --download). Received: data_dir={data_dir!r}"
    )


def load_split(source, split, data_dir, download):
    """``(dataset of (image, mask), number of examples or None)`` of one split."""
    try:
        dataset, info = tfds_source.tfds_load(
            source.tfds_name, split, data_dir, download, as_supervised=False
        )
    except tfds_source.DatasetNotAvailableError as error:
        if source.manual_download:
            raise _manual_download_error(source, data_dir) from error
        raise
    size = tfds_source.split_size(info, split, dataset)
    image_key, mask_key, label_map = source.image_key, source.mask_key, source.label_map
    dataset = dataset.map(
        lambda example: (example[image_key], map_labels(example[mask_key], label_map))
    )
    return dataset, size
