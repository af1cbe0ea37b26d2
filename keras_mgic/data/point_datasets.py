"""The point-set data sets of ``load_dataset``: ``"digit_points"`` (offline) and
``"modelnet10"`` (from a folder of OFF meshes)."""

from keras_mgic.data.checks import positive_int
from keras_mgic.data.digit_points import (
    DIGIT_POINTS,
    DIGIT_POINTS_COORDINATE_DIM,
    DIGIT_POINTS_DEFAULT_POINTS,
    DIGIT_POINTS_FEATURES,
    load_digit_points_arrays,
)
from keras_mgic.data.modelnet import MODELNET10, load_modelnet_arrays
from keras_mgic.data.point_augmentation import DIGIT_POINTS_AUGMENTATION, MODELNET_AUGMENTATION
from keras_mgic.data.point_pipeline import make_point_pipeline

#: The point-set data sets and their default points per cloud.
POINT_DATASETS = {DIGIT_POINTS: DIGIT_POINTS_DEFAULT_POINTS, MODELNET10: 1024}
#: The task of their ``Datasets`` (``keras_mgic.training.tasks``).
POINT_CLOUD_TASK = "point_cloud_classification"
#: What each data set's clouds hold: coordinates per point, then features per point.
POINT_LAYOUTS = {
    DIGIT_POINTS: {
        "coordinate_dim": DIGIT_POINTS_COORDINATE_DIM,
        "features": DIGIT_POINTS_FEATURES,
    },
    MODELNET10: {"coordinate_dim": 3, "features": 0},
}


def _arrays(name, num_points, data_dir, seed, max_train, max_test):
    if name == DIGIT_POINTS:
        (x_train, y_train), (x_test, y_test) = load_digit_points_arrays(num_points, seed)
        return x_train[:max_train], y_train[:max_train], x_test[:max_test], y_test[:max_test], 10
    x_train, y_train, classes = load_modelnet_arrays(data_dir, num_points, "train", max_train, seed)
    x_test, y_test, _ = load_modelnet_arrays(data_dir, num_points, "test", max_test, seed)
    return x_train, y_train, x_test, y_test, len(classes)


def load_point_dataset(
    name,
    *,
    batch_size,
    num_points=None,
    data_dir=None,
    augment=True,
    max_train_examples=None,
    max_test_examples=None,
    seed=0,
):
    """The training and test pipelines of a point-set data set (see ``load_dataset``).

    Returns:
        A ``keras_mgic.data.Datasets`` whose ``input_shape`` is ``(num_points, channels)``:
        3 channels ``(x, y, z)`` for ModelNet-10, 3 ``(x, y, intensity)`` for digit_points;
        its ``model_arguments`` say so (``coordinate_dim``, ``features``).
    """
    from keras_mgic.data.datasets import Datasets

    num_points = positive_int("num_points", num_points or POINT_DATASETS[name])
    x_train, y_train, x_test, y_test, num_classes = _arrays(
        name, num_points, data_dir, seed, max_train_examples, max_test_examples
    )
    if len(x_train) < batch_size:
        raise ValueError(
            "`batch_size` is larger than the training set, so no full training batch exists "
            f"(the last partial batch is dropped). Received: batch_size={batch_size}, "
            f"num_train={len(x_train)}"
        )
    augmentation = MODELNET_AUGMENTATION if name == MODELNET10 else DIGIT_POINTS_AUGMENTATION
    common = dict(batch_size=batch_size, seed=seed)
    train = make_point_pipeline(
        x_train, y_train, training=True, augmentation=augmentation if augment else None, **common
    )
    return Datasets(
        name=name,
        train=train,
        test=make_point_pipeline(x_test, y_test, training=False, **common),
        input_shape=tuple(x_train.shape[1:]),
        num_classes=num_classes,
        num_train=len(x_train),
        num_test=len(x_test),
        batch_size=batch_size,
        task=POINT_CLOUD_TASK,
        model_arguments=dict(POINT_LAYOUTS[name]),
    )
