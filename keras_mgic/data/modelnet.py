"""ModelNet-10 from its standard folder of OFF meshes, as point clouds.

The data set (Wu et al., "3D ShapeNets", CVPR 2015; ``ModelNet10.zip`` from the Princeton
ModelNet page) unpacks to ``ModelNet10/<class>/{train,test}/<name>.off``: 10 classes,
3,991 training and 908 test meshes. Each mesh becomes ``num_points`` points sampled on its
surface by triangle area (``keras_mgic.data.point_sampling``), centred and scaled to the unit
sphere, float32 ``(num_points, 3)``. Classes are numbered in the sorted order of their folder
names. The sampling is seeded per file (the seed and the file's position in its split), so
the same folder gives the same clouds on every machine. Nothing is downloaded.
"""

import os

import numpy as np

from keras_mgic.data.checks import positive_int
from keras_mgic.data.off_mesh import read_off
from keras_mgic.data.point_sampling import normalize_to_unit_sphere, sample_surface

#: The data set's name for ``load_dataset``.
MODELNET10 = "modelnet10"
SPLITS = ("train", "test")


def modelnet_root(data_dir):
    """The folder holding the class folders: ``data_dir`` itself or its ``ModelNet10``.

    Raises:
        ValueError: naming ``data_dir`` when neither holds class folders with ``train`` and
            ``test`` sub-folders.
    """
    if data_dir is None:
        raise ValueError(
            "ModelNet-10 is read from its folder of OFF meshes (ModelNet10/<class>/{train,test}/"
            "*.off, unpacked from ModelNet10.zip of the Princeton ModelNet page): pass "
            "data_dir. Received: data_dir=None"
        )
    for root in (os.path.join(data_dir, "ModelNet10"), data_dir):
        if os.path.isdir(root) and _class_names(root):
            return root
    raise ValueError(
        "No ModelNet-10 folder found: expected <class>/train and <class>/test folders of .off "
        f"files in data_dir or in data_dir/ModelNet10. Received: data_dir={str(data_dir)!r}"
    )


def _class_names(root):
    return sorted(
        name
        for name in os.listdir(root)
        if all(os.path.isdir(os.path.join(root, name, split)) for split in SPLITS)
    )


def mesh_files(root, split):
    """``[(path, label)]`` of a split, sorted by class then file name."""
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS}. Received: split={split!r}")
    files = []
    for label, name in enumerate(_class_names(root)):
        folder = os.path.join(root, name, split)
        files += [
            (os.path.join(folder, file), label)
            for file in sorted(os.listdir(folder))
            if file.lower().endswith(".off")
        ]
    return files


def mesh_to_points(path, num_points, seed):
    """One mesh file as a float32 ``(num_points, 3)`` cloud on the unit sphere."""
    vertices, triangles = read_off(path)
    rng = np.random.default_rng(seed)
    points = sample_surface(vertices, triangles, num_points, rng, name=str(path))
    return normalize_to_unit_sphere(points).astype(np.float32)


def load_modelnet_arrays(data_dir, num_points=1024, split="train", max_examples=None, seed=0):
    """A split of ModelNet-10 as arrays.

    Args:
        data_dir: the ``ModelNet10`` folder or its parent.
        num_points: points per cloud.
        split: ``"train"`` or ``"test"``.
        max_examples: read only the first ``n`` files of the split (in sorted order).
        seed: seed of the surface sampling.

    Returns:
        ``(points, labels, class_names)``: float32 ``(n, num_points, 3)``, int64 ``(n,)``
        and the class folder names.

    Raises:
        ValueError: a missing folder, a split without meshes, or a bad mesh file (naming it).

    Example:

    >>> points, labels, names = load_modelnet_arrays(folder, 64)  # doctest: +SKIP
    """
    num_points = positive_int("num_points", num_points)
    root = modelnet_root(data_dir)
    files = mesh_files(root, split)[:max_examples]
    if not files:
        raise ValueError(
            f"The {split} split has no .off files. Received: data_dir={str(data_dir)!r}"
        )
    points = np.stack(
        [mesh_to_points(path, num_points, [seed, index]) for index, (path, _) in enumerate(files)]
    )
    labels = np.array([label for _, label in files], dtype=np.int64)
    return points, labels, _class_names(root)
