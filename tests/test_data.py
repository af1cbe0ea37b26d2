"""keras_mgic.data: the offline digits set and the TFDS path under tfds.testing.mock_data;
both pipelines yield raw 0-255 float32 pixels."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mgic import data


@pytest.fixture(scope="module")
def digits_arrays():
    return data.load_digits_arrays()


def _stack(dataset):
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset], strict=True)
    return np.concatenate(images), np.concatenate(labels)


# -------------------------------------------------------------------------------------- digits


def test_digits_arrays_shapes_labels_and_split(digits_arrays):
    (x_train, y_train), (x_test, y_test) = digits_arrays
    assert x_train.shape == (1437, 32, 32, 3) and x_test.shape == (360, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    # Stratified: every class has its share (about 36) of the 360 test images.
    counts = np.bincount(y_test)
    assert counts.sum() == 360 and counts.min() >= 35 and counts.max() <= 37
    # RGB made of one grey level, full 0..255 range.
    np.testing.assert_array_equal(x_train[..., 0], x_train[..., 2])
    assert x_train.min() == 0 and x_train.max() == 255


def test_digits_split_is_fixed_and_disjoint(digits_arrays):
    (x_train, y_train), (x_test, y_test) = digits_arrays
    (x_train2, y_train2), (x_test2, y_test2) = data.load_digits_arrays()
    np.testing.assert_array_equal(x_train, x_train2)
    np.testing.assert_array_equal(y_test, y_test2)
    # The split is the documented one: train_test_split(test_size=360, stratify, seed 0).
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    labels = load_digits().target
    _, _, expected_train, expected_test = train_test_split(
        np.arange(len(labels)), labels, test_size=360, stratify=labels, random_state=0
    )
    np.testing.assert_array_equal(y_train, expected_train)
    np.testing.assert_array_equal(y_test, expected_test)
    # No test image appears in the training set (after upsampling, digits are distinct).
    train_keys = {image.tobytes() for image in x_train}
    assert sum(image.tobytes() in train_keys for image in x_test) <= 2


def test_digits_pipeline_raw_pixels_batched_and_unaugmented_test():
    digits = data.load_dataset("digits", batch_size=64, augment=False)
    assert digits.input_shape == (32, 32, 3) and digits.num_classes == 10
    assert (digits.num_train, digits.num_test) == (1437, 360)
    train_x, train_y = _stack(digits.train)
    assert train_x.dtype == np.float32 and train_x.shape[1:] == (32, 32, 3)
    assert len(train_x) == (1437 // 64) * 64  # the partial training batch is dropped
    assert train_y.min() >= 0 and train_y.max() <= 9
    test_x, test_y = _stack(digits.test)
    assert len(test_x) == 360  # test batches are kept whole
    # Raw 0-255 pixels (the models rescale them), in order, matching the arrays.
    (_, _), (x_test, y_test) = data.load_digits_arrays()
    np.testing.assert_array_equal(test_y, y_test)
    np.testing.assert_array_equal(test_x, x_test.astype(np.float32))
    assert train_x.min() == 0.0 and train_x.max() == 255.0


def test_digits_augmentation_shifts_but_does_not_flip():
    plain = data.load_dataset("digits", batch_size=32, augment=False, max_train_examples=64)
    augmented = data.load_dataset("digits", batch_size=32, augment=True, max_train_examples=64)
    x_plain, y_plain = _stack(plain.train)
    x_aug, y_aug = _stack(augmented.train)
    assert x_aug.shape == x_plain.shape == (64, 32, 32, 3)
    # Same shuffle seed: same order of labels; the images were shifted.
    np.testing.assert_array_equal(y_plain, y_aug)
    assert not np.allclose(x_plain, x_aug)
    # Every augmented image is a zero-padded translate of the original (a black border).
    for original, shifted in zip(x_plain, x_aug, strict=True):
        padded = np.pad(original[..., 0], 4, constant_values=0.0)
        matches = [
            np.allclose(padded[i : i + 32, j : j + 32], shifted[..., 0], atol=1e-5)
            for i in range(9)
            for j in range(9)
        ]
        assert any(matches), "not a pad-and-crop translate (a flip would fail here)"


def test_digits_other_image_size():
    digits = data.load_dataset("digits", batch_size=16, image_size=16, max_train_examples=32)
    images, _ = next(iter(digits.train))
    assert digits.input_shape == (16, 16, 3) and tuple(images.shape) == (16, 16, 16, 3)


# ---------------------------------------------------------------------------------------- TFDS


@pytest.fixture
def mock_cifar():
    with tfds.testing.mock_data(num_examples=12):
        yield


def test_tfds_cifar10_shapes_dtype_raw_pixels(mock_cifar, tmp_path):
    cifar = data.load_dataset("cifar10", batch_size=4, data_dir=str(tmp_path), augment=False)
    assert cifar.input_shape == (32, 32, 3) and cifar.num_classes == 10
    assert (cifar.num_train, cifar.num_test) == (12, 12)
    x, y = _stack(cifar.train)
    assert x.shape == (12, 32, 32, 3) and x.dtype == np.float32
    assert y.dtype == np.int64 and y.min() >= 0 and y.max() < 10
    # The test images are the raw uint8 images as float32, unchanged.
    raw = tfds.load("cifar10", split="test", as_supervised=True, data_dir=str(tmp_path))
    raw_x = np.stack([image.numpy() for image, _ in raw])
    test_x, _ = _stack(cifar.test)
    np.testing.assert_array_equal(test_x, raw_x.astype(np.float32))


def test_tfds_augmentation_changes_images_keeps_shape(mock_cifar):
    plain = data.load_dataset("cifar10", batch_size=12, augment=False)
    augmented = data.load_dataset("cifar10", batch_size=12, augment=True)
    x_plain, y_plain = _stack(plain.train)
    x_aug, y_aug = _stack(augmented.train)
    assert x_aug.shape == x_plain.shape == (12, 32, 32, 3)
    np.testing.assert_array_equal(y_plain, y_aug)
    assert not np.allclose(x_plain, x_aug)
    # A second pass draws new crops/flips.
    x_aug2, _ = _stack(augmented.train)
    assert not np.allclose(x_aug, x_aug2)


def test_tfds_imagenet_style_sizes(mock_cifar):
    cifar = data.load_dataset("cifar100", batch_size=4, image_size=96)
    x, _ = next(iter(cifar.train))
    x_test, _ = next(iter(cifar.test))
    assert cifar.num_classes == 100
    assert tuple(x.shape) == (4, 96, 96, 3) and tuple(x_test.shape) == (4, 96, 96, 3)
    assert np.isfinite(x.numpy()).all()


def test_tfds_missing_dataset_says_how_to_fix(tmp_path):
    with pytest.raises(data.DatasetNotAvailableError, match="--data-dir.*Received: name='cifar10'"):
        data.load_dataset("cifar10", data_dir=str(tmp_path))


# -------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "no_such_dataset_xyz"}, "Unknown data set.*Received: name='no_such"),
        ({"name": ""}, "Received: name=''"),
        ({"batch_size": 0}, "Received: batch_size=0"),
        ({"batch_size": 2.5}, "Received: batch_size=2.5"),
        ({"batch_size": 5000}, "larger than the training set.*Received: batch_size=5000"),
        ({"image_size": -1}, "Received: image_size=-1"),
        ({"max_train_examples": 0}, "Received: max_train_examples=0"),
    ],
)
def test_clear_value_errors(kwargs, match, tmp_path):
    kwargs = {"name": "digits", **kwargs}
    with pytest.raises(ValueError, match=match):
        data.load_dataset(data_dir=str(tmp_path), **kwargs)


def test_make_pipeline_validates_batch_size():
    raw = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 3), np.uint8), np.zeros(4)))
    with pytest.raises(ValueError, match="Received: batch_size=-2"):
        data.make_pipeline(raw, batch_size=-2, training=False, image_size=8)
