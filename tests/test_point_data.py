"""Point-set data: OFF meshes the tests write (parsing, errors naming the file), surface
sampling by area, the ModelNet-10 folder loader, ``digit_points`` and the augmentation."""

import math
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_mgic.data import load_dataset, read_off
from keras_mgic.data.digit_points import INK_THRESHOLD, load_digit_points_arrays
from keras_mgic.data.digits import load_digits_arrays
from keras_mgic.data.modelnet import load_modelnet_arrays
from keras_mgic.data.point_augmentation import PointAugmentation, augment_points
from keras_mgic.data.point_sampling import normalize_to_unit_sphere, sample_surface

CUBE = """OFF
# a unit cube of 6 quads
8 6 0
0 0 0
1 0 0
1 1 0
0 1 0
0 0 1
1 0 1
1 1 1
0 1 1
4 0 3 2 1
4 4 5 6 7
4 0 1 5 4
4 1 2 6 5
4 2 3 7 6
4 3 0 4 7
"""


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as file:
        file.write(text)
    return str(path)


def _mesh(scale=1.0, shift=0.0):
    lines = CUBE.splitlines()
    vertices = [
        " ".join(str(float(v) * scale + shift) for v in line.split()) for line in lines[3:11]
    ]
    return "\n".join(lines[:3] + vertices + lines[11:]) + "\n"


# -------------------------------------------------------------------------------- OFF files


def test_read_off_triangulates_polygons(tmp_path):
    vertices, triangles = read_off(_write(tmp_path / "cube.off", CUBE))
    assert vertices.shape == (8, 3) and triangles.shape == (12, 3)  # 6 quads -> 12 triangles
    assert triangles.tolist()[:2] == [[0, 3, 2], [0, 2, 1]]


def test_read_off_takes_the_header_run_together_with_the_counts(tmp_path):
    text = CUBE.replace("OFF\n# a unit cube of 6 quads\n8 6 0", "OFF8 6 0")
    vertices, triangles = read_off(_write(tmp_path / "merged.off", text))
    assert vertices.shape == (8, 3) and triangles.shape == (12, 3)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Empty file"),
        ("# nothing\n\n", "Empty file"),
        ("PLY\n3 1 0\n", "No OFF header"),
        ("OFF\n0 0 0\n", "empty mesh"),
        ("OFF\nthree 1 0\n", "Malformed counts"),
        ("OFF\n3 1 0\n0 0 0\n1 0 0\n", "Fewer lines"),
        ("OFF\n3 1 0\n0 0 0\n1 nan 0\n0 1 0\n3 0 1 2\n", "NaN or infinite"),
        ("OFF\n3 1 0\n0 0 0\n1 0\n0 1 0\n3 0 1 2\n", "not three numbers"),
        ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 5\n", "out of range"),
        ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n", "fewer than 3 vertices"),
    ],
)
def test_bad_off_files_raise_a_value_error_naming_the_file(tmp_path, text, message):
    path = _write(tmp_path / "bad.off", text)
    with pytest.raises(ValueError, match=f"{message}.*Received: path='{path}'$"):
        read_off(path)


def test_a_missing_file_is_a_value_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match="Cannot read the mesh file.*missing.off"):
        read_off(str(tmp_path / "missing.off"))


# ------------------------------------------------------------------------------- sampling


def test_surface_sampling_follows_the_triangle_areas():
    # Two triangles in the plane z = 0 of areas 0.5 (x < 1) and 1.5 (x > 2).
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0], [3, 0, 0], [2, 3, 0]], float)
    triangles = np.array([[0, 1, 2], [3, 4, 5]])
    points = sample_surface(vertices, triangles, 20000, np.random.default_rng(0))
    assert np.all(points[:, 2] == 0)
    first = points[:, 0] <= 1
    assert abs(first.mean() - 0.25) < 0.015  # area share 0.5 / 2
    inside = points[first][:, 0] + points[first][:, 1] <= 1 + 1e-9
    assert inside.all()
    # Uniform inside a triangle: the mean is its centroid.
    np.testing.assert_allclose(points[first][:, :2].mean(0), [1 / 3, 1 / 3], atol=0.02)


def test_a_mesh_of_zero_area_is_an_error_naming_it():
    vertices = np.zeros((3, 3))
    with pytest.raises(ValueError, match="no surface.*Received: path='flat.off'"):
        sample_surface(vertices, np.array([[0, 1, 2]]), 4, np.random.default_rng(0), "flat.off")


def test_normalize_to_unit_sphere():
    points = np.random.default_rng(1).normal(size=(50, 3)) * 7 + 3
    normalized = normalize_to_unit_sphere(points)
    np.testing.assert_allclose(normalized.mean(0), 0, atol=1e-12)
    assert np.linalg.norm(normalized, axis=1).max() == pytest.approx(1.0)


# ------------------------------------------------------------------------------- ModelNet


def _modelnet(root):
    """Two classes, ``table`` (cubes) and ``bed`` (flat boxes), 3 train and 2 test each."""
    for name, scale in (("table", 1.0), ("bed", 3.0)):
        for split, count in (("train", 3), ("test", 2)):
            for index in range(count):
                text = _mesh(scale=scale, shift=index)
                _write(root / "ModelNet10" / name / split / f"{name}_{index:04d}.off", text)
    return str(root)


def test_modelnet_folder_gives_normalized_clouds_and_sorted_labels(tmp_path):
    root = _modelnet(tmp_path)
    points, labels, classes = load_modelnet_arrays(root, num_points=64, split="train")
    assert classes == ["bed", "table"] and labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert points.shape == (6, 64, 3) and points.dtype == np.float32
    np.testing.assert_allclose(points.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(points, axis=-1).max(axis=1), 1, atol=1e-5)
    # On the cube's faces: a coordinate at the centred, scaled cube's boundary.
    again, _, _ = load_modelnet_arrays(os.path.join(root, "ModelNet10"), 64, "train")
    np.testing.assert_array_equal(points, again)  # the ModelNet10 folder itself, same seed
    other, _, _ = load_modelnet_arrays(root, 64, "train", seed=1)
    assert not np.array_equal(points, other)


def test_modelnet_errors_name_the_folder_or_the_file(tmp_path):
    with pytest.raises(ValueError, match="Received: data_dir=None"):
        load_modelnet_arrays(None)
    with pytest.raises(ValueError, match=f"Received: data_dir='{tmp_path}'"):
        load_modelnet_arrays(str(tmp_path))
    root = _modelnet(tmp_path)
    bad = tmp_path / "ModelNet10" / "bed" / "test" / "bed_0001.off"
    _write(bad, CUBE.replace("0 1 1\n4", "0 nan 1\n4"))
    with pytest.raises(ValueError, match=f"NaN.*Received: path='{bad}'"):
        load_modelnet_arrays(root, 16, "test")
    _write(bad, "")
    with pytest.raises(ValueError, match=f"Empty file.*Received: path='{bad}'"):
        load_modelnet_arrays(root, 16, "test")


def test_load_dataset_modelnet10_pipelines(tmp_path):
    root = _modelnet(tmp_path)
    data = load_dataset("modelnet10", data_dir=root, num_points=32, batch_size=2, seed=3)
    assert (data.input_shape, data.num_classes, data.num_train, data.num_test) == (
        (32, 3),
        2,
        6,
        4,
    )
    batches = list(data.train)
    assert len(batches) == 3 and all(tuple(x.shape) == (2, 32, 3) for x, _ in batches)
    test_points = np.concatenate([x for x, _ in data.test])
    expected, labels, _ = load_modelnet_arrays(root, 32, "test", seed=3)
    np.testing.assert_array_equal(test_points, expected)  # in order, not augmented
    assert [int(y) for _, ys in data.test for y in ys] == labels.tolist()


# --------------------------------------------------------------------------- digit_points


def test_digit_points_are_ink_pixels_with_their_intensity():
    (x_train, y_train), (x_test, y_test) = load_digit_points_arrays(64)
    assert x_train.shape == (1437, 64, 3) and x_test.shape == (360, 64, 3)
    (images, labels), _ = load_digits_arrays(32)
    np.testing.assert_array_equal(y_train, labels)
    for cloud, image in zip(x_train[:20], images[:20], strict=True):
        cols = np.floor((cloud[:, 0] + 1) / 2 * 32).astype(int)
        rows = np.floor((1 - cloud[:, 1]) / 2 * 32).astype(int)
        intensity = image[rows, cols, 0]
        assert np.all(intensity >= INK_THRESHOLD)
        np.testing.assert_allclose(cloud[:, 2], intensity / 255, atol=1e-6)
        assert len(np.unique(cloud[:, :2], axis=0)) == 64  # no two points coincide
    again, _ = load_digit_points_arrays(64)
    np.testing.assert_array_equal(again[0], x_train)


def test_load_dataset_digit_points():
    data = load_dataset(
        "digit_points", num_points=48, batch_size=16, max_train_examples=64, max_test_examples=20
    )
    assert (data.input_shape, data.num_classes, data.num_train, data.num_test) == (
        (48, 3),
        10,
        64,
        20,
    )
    x, y = next(iter(data.train))
    assert tuple(x.shape) == (16, 48, 3) and x.dtype == tf.float32 and y.dtype == tf.int64
    assert [tuple(x.shape) for x, _ in data.test] == [(16, 48, 3), (4, 48, 3)]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 32}, "image_size"),
        ({"num_points": 0}, "Received: num_points=0"),
    ],
)
def test_load_dataset_point_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_dataset("digit_points", batch_size=8, **kwargs)


def test_load_dataset_modelnet_without_a_folder():
    with pytest.raises(ValueError, match="Received: data_dir=None"):
        load_dataset("modelnet10", batch_size=8)


# --------------------------------------------------------------------------- augmentation


def test_rotation_about_the_up_axis_keeps_heights_and_features():
    points = np.random.default_rng(2).normal(size=(100, 4)).astype("float32")
    plain = PointAugmentation(coordinate_dim=3, scale_range=(1.0, 1.0), jitter_stddev=0.0)
    rotated = augment_points(tf.constant(points), plain, tf.constant([1, 2])).numpy()
    np.testing.assert_allclose(rotated[:, 2:], points[:, 2:], atol=1e-6)  # z and the feature
    np.testing.assert_allclose(
        np.linalg.norm(rotated[:, :2], axis=1), np.linalg.norm(points[:, :2], axis=1), rtol=1e-5
    )
    angle = np.arctan2(rotated[:, 1], rotated[:, 0]) - np.arctan2(points[:, 1], points[:, 0])
    angle = np.angle(np.exp(1j * angle))
    np.testing.assert_allclose(angle, angle[0], atol=1e-4)  # one rotation for all points
    assert abs(angle[0]) > 1e-3


def test_scaling_and_jitter_on_a_plane():
    points = np.random.default_rng(3).normal(size=(200, 3)).astype("float32")
    config = PointAugmentation(
        coordinate_dim=2, max_angle=math.radians(15), scale_range=(2.0, 2.0), jitter_stddev=0.0
    )
    out = augment_points(tf.constant(points), config, tf.constant([4, 5])).numpy()
    np.testing.assert_allclose(
        np.linalg.norm(out[:, :2], axis=1), 2 * np.linalg.norm(points[:, :2], axis=1), rtol=1e-5
    )
    np.testing.assert_array_equal(out[:, 2], points[:, 2])
    jitter_only = PointAugmentation(
        coordinate_dim=2, max_angle=0.0, scale_range=(1.0, 1.0), jitter_stddev=1.0, jitter_clip=0.05
    )
    out = augment_points(tf.constant(points), jitter_only, tf.constant([6, 7])).numpy()
    moved = np.abs(out[:, :2] - points[:, :2])
    assert moved.max() <= 0.05 + 1e-6 and moved.mean() > 0.03
