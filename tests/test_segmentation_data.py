"""keras_mgic.data's segmentation sets: the digit mosaics (labels, split, determinism), the
joint augmentation of images and masks, mask checks, and the TFDS sets under
tfds.testing.mock_data."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from sklearn.datasets import load_digits

from keras_mgic import data
from keras_mgic.data import digit_mosaics, segmentation_pipeline, tfds_segmentation
from keras_mgic.data.digits import digits_split_indices


def _stack(dataset):
    pairs = [(np.asarray(x), np.asarray(y)) for x, y in dataset]
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])


# ---------------------------------------------------------------------------- digit mosaics


def test_mosaic_masks_label_every_ink_pixel_with_its_digit():
    digits = load_digits()
    sources = digits.images[:50] / 16.0
    images, masks, placements = digit_mosaics.make_mosaics(sources, digits.target[:50], 6, 64)
    assert images.dtype == masks.dtype == np.uint8 and images.shape == (6, 64, 64, 3)
    for index, mosaic in enumerate(placements):
        covered = np.zeros((64, 64), bool)
        assert 2 <= len(mosaic) <= 4
        for source, top, left, size in mosaic:
            window = (slice(top, top + size), slice(left, left + size))
            ink = tf.image.resize(sources[source][..., None], (size, size)).numpy()[..., 0]
            expected = np.where(ink >= digit_mosaics.INK_THRESHOLD, digits.target[source] + 1, 0)
            np.testing.assert_array_equal(masks[index][window], expected)
            assert np.all(images[index][window][expected > 0] > 0)  # labelled pixels are ink
            assert not covered[window].any()  # digits never overlap
            covered[window] = True
        assert not masks[index][~covered].any() and not images[index][~covered].any()
        assert np.array_equal(images[index][..., 0], images[index][..., 2])  # gray RGB


def test_mosaics_are_deterministic_and_use_disjoint_digits():
    first = digit_mosaics.load_digit_mosaic_arrays(num_train=40, num_test=20, with_sources=True)
    again = digit_mosaics.load_digit_mosaic_arrays(num_train=40, num_test=20)
    other = digit_mosaics.load_digit_mosaic_arrays(num_train=40, num_test=20, seed=1)
    for split in range(2):
        for array in range(2):
            np.testing.assert_array_equal(first[split][array], again[split][array])
        assert not np.array_equal(first[split][1], other[split][1])
    train_digits, test_digits = first[2]
    split_train, split_test = digits_split_indices(load_digits().target)
    assert set(train_digits) <= set(split_train) and set(test_digits) <= set(split_test)
    assert len(train_digits) > 50 and len(test_digits) > 30
    (_, train_masks), (_, test_masks) = first[:2]
    assert set(np.unique(train_masks)) == set(range(11))  # background and every digit
    assert test_masks.max() < 11


def test_load_dataset_digit_mosaics():
    mosaics = data.load_dataset("digit_mosaics", batch_size=8, max_train_examples=16)
    assert (mosaics.task, mosaics.num_classes, mosaics.ignore_label) == (
        "semantic_segmentation",
        11,
        255,
    )
    assert mosaics.input_shape == (128, 128, 3) and mosaics.class_names[:2] == ("background", "0")
    assert (mosaics.num_train, mosaics.num_test) == (16, 200)
    x, y = _stack(mosaics.train)
    assert x.shape == (16, 128, 128, 3) and x.dtype == np.float32 and y.dtype == np.int32
    assert set(np.unique(y)) <= set(range(11)) | {255}
    # The test pairs are the fixed test mosaics, unchanged.
    test_x, test_y = _stack(mosaics.test)
    (_, _), (raw_x, raw_y) = digit_mosaics.load_digit_mosaic_arrays()
    np.testing.assert_array_equal(test_x, raw_x.astype(np.float32))
    np.testing.assert_array_equal(test_y, raw_y)


# ------------------------------------------------------------------------------ augmentation


def _labelled_blocks(count=6, size=32):
    """Images whose first channel is 10 x their mask (blocks of classes 0-3)."""
    rng = np.random.default_rng(0)
    masks = np.kron(rng.integers(0, 4, (count, 4, 4)), np.ones((size // 4, size // 4)))
    masks = masks.astype(np.uint8)
    images = np.repeat(masks[..., None] * 10, 3, axis=-1).astype(np.uint8)
    images[..., 1] = np.arange(size)[None, None, :]  # the column, to see flips
    return images, masks


def _pipeline(images, masks, **kwargs):
    raw = tf.data.Dataset.from_tensor_slices((images, masks))
    options = dict(batch_size=len(images), training=True, crop_size=24, seed=3)
    return make_pipeline(raw, **{**options, **kwargs})


make_pipeline = segmentation_pipeline.make_segmentation_pipeline


def test_crop_and_flip_move_image_and_mask_alike():
    images, masks = _labelled_blocks(count=16)
    x, y = next(iter(_pipeline(images, masks, scale_range=(1.0, 1.0))))
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == (16, 24, 24, 3) and y.shape == (16, 24, 24)
    np.testing.assert_array_equal(x[..., 0], 10.0 * y)
    columns = x[..., 1]
    steps = np.diff(columns, axis=-1)
    flipped = np.all(steps == -1, axis=(1, 2))
    assert flipped.any() and (~flipped).any()  # each has probability 1/2 in 16 draws
    assert np.all(steps[~flipped] == 1)


def test_scaling_down_pads_the_mask_with_the_ignore_label():
    images, masks = _labelled_blocks(size=32)
    x, y = next(iter(_pipeline(images, masks, scale_range=(0.5, 0.5), flip=False)))
    x, y = np.asarray(x), np.asarray(y)
    # 32 -> 16 pixels, padded to 24: the padding is black and ignored.
    assert np.all(y[:, 16:, :] == 255) and np.all(y[:, :, 16:] == 255)
    assert np.all(x[:, 16:] == 0) and np.all(x[:, :, 16:] == 0)
    assert set(np.unique(y[:, :16, :16])) <= {0, 1, 2, 3}  # nearest neighbour: no blends
    np.testing.assert_array_equal(x[:, :16, :16, 0], 10.0 * y[:, :16, :16])


def test_augmentation_is_deterministic_for_a_seed_and_changes_every_epoch():
    images, masks = _labelled_blocks()
    first = _pipeline(images, masks)
    epochs = [np.asarray(next(iter(first))[1]) for _ in range(2)]
    again = np.asarray(next(iter(_pipeline(images, masks)))[1])
    np.testing.assert_array_equal(epochs[0], again)
    assert not np.array_equal(epochs[0], epochs[1])


def test_test_pairs_keep_their_size_and_are_not_augmented():
    images, masks = _labelled_blocks(count=4)
    x, y = next(iter(_pipeline(images, masks, training=False)))
    np.testing.assert_array_equal(np.asarray(x), images.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(y), masks)


# ------------------------------------------------------------------------------- bad masks


def test_check_masks_names_the_offending_example():
    masks = np.zeros((5, 4, 4), np.uint8)
    masks[3, 1, 2] = 11
    masks[4, 0, 0] = 255  # the ignore label is fine
    with pytest.raises(ValueError, match=r"Received: train masks\[3\] holds \[11\]$"):
        data.check_masks(masks, 11, "train masks")
    assert data.check_masks(masks, 12) is not None
    with pytest.raises(ValueError, match="dtype float32"):
        data.check_masks(masks.astype(np.float32), 12)


@pytest.mark.parametrize(
    "name, image_size, match",
    [
        ("digit_mosaics", 8, "at least 16 .*Received: image_size=8$"),
        ("digit_mosaics", 33, "even .*Received: image_size=33$"),
        ("oxford_iiit_pet", 12, "at least 16 .*Received: image_size=12$"),
    ],
)
def test_crops_the_models_cannot_take_are_refused(name, image_size, match):
    with pytest.raises(ValueError, match=match):
        data.load_dataset(name, batch_size=2, image_size=image_size)


def test_segmentation_datasets_check_masks_before_any_pipeline():
    images, masks = _labelled_blocks(count=4)
    bad = masks.copy()
    bad[2, 0, 0] = 7
    with pytest.raises(ValueError, match=r"test masks\[2\] holds \[7\]"):
        data.segmentation_datasets((images, masks), (images, bad), 4, batch_size=2)
    with pytest.raises(ValueError, match="Received: num_classes=1$"):
        data.segmentation_datasets((images, masks), (images, masks), 1, batch_size=2)
    with pytest.raises(ValueError, match="needs a mask of its height and width"):
        data.segmentation_datasets((images, masks[:, :8]), (images, masks), 4, batch_size=2)


# ------------------------------------------------------------------------------------- TFDS


def test_cityscapes_label_ids_become_the_19_train_ids():
    ids = tf.constant([[7, 8, 26, 33], [0, 1, 6, 255]], tf.uint8)
    mapped = tfds_segmentation.map_labels(ids, tfds_segmentation.CITYSCAPES_TRAIN_IDS)
    assert mapped.numpy().tolist() == [[0, 1, 13, 18], [255, 255, 255, 255]]
    table = tfds_segmentation.lookup_table(tfds_segmentation.CITYSCAPES_TRAIN_IDS)
    assert sorted(set(table.tolist()) - {255}) == list(range(19))


@pytest.fixture
def mock_tfds():
    with tfds.testing.mock_data(num_examples=4):
        yield


def test_tfds_oxford_iiit_pet(mock_tfds, tmp_path):
    pets = data.load_dataset("oxford_iiit_pet", batch_size=2, image_size=32, data_dir=str(tmp_path))
    assert pets.num_classes == 2 and pets.class_names == ("background", "pet")
    assert (pets.num_train, pets.num_test, pets.input_shape) == (4, 4, (32, 32, 3))
    for split in (pets.train, pets.test):
        x, y = _stack(split)
        assert x.shape == (4, 32, 32, 3) and y.shape == (4, 32, 32)
        assert set(np.unique(y)) <= {0, 1, 255}
    # The trimap's band (3) and anything else is ignored: the raw masks say where.
    raw = tfds.load("oxford_iiit_pet", split="test", data_dir=str(tmp_path))
    trimaps = np.stack(
        [np.asarray(tf.image.resize(e["segmentation_mask"], (32, 32), "nearest")) for e in raw]
    )[..., 0]
    _, test_masks = _stack(pets.test)
    np.testing.assert_array_equal(test_masks == 255, (trimaps != 1) & (trimaps != 2))
    np.testing.assert_array_equal(test_masks == 1, trimaps == 1)


def test_tfds_cityscapes_crops_train_and_keeps_test_at_full_size(mock_tfds, tmp_path):
    city = data.load_dataset(
        "cityscapes", batch_size=2, image_size=48, max_test_examples=2, data_dir=str(tmp_path)
    )
    assert city.num_classes == 19 and (city.num_train, city.num_test) == (4, 2)
    x, y = _stack(city.train)
    assert x.shape == (4, 48, 48, 3) and set(np.unique(y)) <= set(range(19)) | {255}
    x, y = next(iter(city.test))
    assert tuple(x.shape) == (2, 1024, 2048, 3) and tuple(y.shape) == (2, 1024, 2048)


def test_cityscapes_missing_offline_says_how_to_get_it(tmp_path):
    with pytest.raises(data.DatasetNotAvailableError, match="downloads/manual"):
        data.load_dataset("cityscapes", batch_size=2, data_dir=str(tmp_path))
