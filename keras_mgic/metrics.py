"""Semantic segmentation metrics with an ignore label: mean IoU and pixel accuracy.

Both keep a confusion matrix of the pixels seen (rows: true class, columns: predicted class,
the argmax of the logits), counted with ``keras.ops.bincount``, in metric variables that
``tf.distribute`` sums over replicas like any Keras metric's. Pixels whose label is the
ignore label (255) or outside ``[0, num_classes)`` are not counted.

- :class:`MeanIoU`: the mean over the classes that occur (in the labels or the predictions)
  of ``IoU_c = TP_c / (TP_c + FP_c + FN_c)``, the Cityscapes benchmark's measure (Cordts et
  al. 2016); ``per_class_iou()`` gives every class's IoU (NaN for a class that never occurs).
- :class:`PixelAccuracy`: the fraction of counted pixels whose class is predicted right.

They are part of the core (``import keras_mgic`` registers them), so a compiled ``.keras``
file that uses them loads with its metrics.

Example:

>>> metric = MeanIoU(num_classes=3)
>>> labels = np.array([[0, 1], [2, 255]])
>>> logits = np.eye(3)[[[0, 1], [1, 0]]]  # predicts 0, 1, 1, 0
>>> metric.update_state(labels, logits)
>>> round(float(metric.result()), 4)  # IoU 1, 0.5, 0 for classes 0, 1, 2
0.5
"""

import keras
import numpy as np

#: The label of pixels that are not counted (borders, unlabelled objects).
IGNORE_LABEL = 255


class _ConfusionMetric(keras.metrics.Metric):
    """A metric over the confusion matrix of per-pixel argmax predictions."""

    def __init__(self, num_classes, ignore_label=IGNORE_LABEL, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                f"`num_classes` must be an integer >= 2. Received: num_classes={num_classes!r}"
            )
        if ignore_label is not None and (
            isinstance(ignore_label, bool) or not isinstance(ignore_label, int)
        ):
            raise ValueError(
                f"`ignore_label` must be an int or None. Received: ignore_label={ignore_label!r}"
            )
        self.num_classes = num_classes
        self.ignore_label = ignore_label
        self.confusion = self.add_variable(
            shape=(num_classes, num_classes), initializer="zeros", name="confusion"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Counts the pixels of a batch: ``y_true`` labels ``(..., )``, ``y_pred`` scores
        ``(..., num_classes)`` (logits or probabilities)."""
        classes = self.num_classes
        labels = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
        predicted = keras.ops.reshape(
            keras.ops.cast(keras.ops.argmax(y_pred, axis=-1), "int32"), (-1,)
        )
        valid = keras.ops.logical_and(labels >= 0, labels < classes)
        if self.ignore_label is not None:
            valid = keras.ops.logical_and(valid, labels != self.ignore_label)
        weights = keras.ops.cast(valid, self.dtype)
        if sample_weight is not None:
            sample_weight = keras.ops.cast(sample_weight, self.dtype)
            weights = weights * keras.ops.reshape(
                keras.ops.broadcast_to(sample_weight, keras.ops.shape(y_true)), (-1,)
            )
        cells = keras.ops.where(valid, labels * classes + predicted, 0)
        counts = keras.ops.bincount(cells, weights=weights, minlength=classes * classes)
        counts = keras.ops.reshape(counts[: classes * classes], (classes, classes))
        self.confusion.assign_add(keras.ops.cast(counts, self.dtype))

    def reset_state(self):
        self.confusion.assign(keras.ops.zeros((self.num_classes, self.num_classes), self.dtype))

    def confusion_matrix(self):
        """The counts so far as a NumPy array ``(true class, predicted class)``."""
        return np.asarray(keras.ops.convert_to_numpy(self.confusion), dtype=np.float64)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "ignore_label": self.ignore_label})
        return config


@keras.saving.register_keras_serializable(package="keras_mgic")
class MeanIoU(_ConfusionMetric):
    """Mean intersection over union of per-pixel predictions, skipping the ignore label.

    Args:
        num_classes: number of classes (at least 2).
        ignore_label: the label of pixels not to count (default 255), or None.
        name: the metric's name; default ``"mean_iou"``.
        dtype: the dtype of the counts and the result.

    Example:

    >>> metric = MeanIoU(num_classes=2)
    >>> metric.update_state(np.array([0, 0, 1, 255]), np.eye(2)[[0, 1, 1, 1]])
    >>> metric.per_class_iou().round(3).tolist()  # class 0: 1 / 2, class 1: 1 / 2
    [0.5, 0.5]
    """

    def __init__(self, num_classes, ignore_label=IGNORE_LABEL, name="mean_iou", dtype=None):
        super().__init__(num_classes, ignore_label=ignore_label, name=name, dtype=dtype)

    def result(self):
        true_positives = keras.ops.diagonal(self.confusion)
        union = (
            keras.ops.sum(self.confusion, axis=0)
            + keras.ops.sum(self.confusion, axis=1)
            - true_positives
        )
        occurs = keras.ops.cast(union > 0, self.dtype)
        iou = keras.ops.divide_no_nan(true_positives, union)
        return keras.ops.divide_no_nan(keras.ops.sum(iou * occurs), keras.ops.sum(occurs))

    def per_class_iou(self):
        """Every class's IoU as a NumPy array, NaN for classes that never occurred."""
        confusion = self.confusion_matrix()
        true_positives = np.diag(confusion)
        union = confusion.sum(axis=0) + confusion.sum(axis=1) - true_positives
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, true_positives / union, np.nan)


@keras.saving.register_keras_serializable(package="keras_mgic")
class PixelAccuracy(_ConfusionMetric):
    """The fraction of pixels (but the ignored ones) whose class is predicted right.

    Args:
        num_classes: number of classes (at least 2).
        ignore_label: the label of pixels not to count (default 255), or None.
        name: the metric's name; default ``"pixel_accuracy"``.
        dtype: the dtype of the counts and the result.

    Example:

    >>> metric = PixelAccuracy(num_classes=2)
    >>> metric.update_state(np.array([0, 0, 1, 255]), np.eye(2)[[0, 1, 1, 1]])
    >>> round(float(metric.result()), 4)
    0.6667
    """

    def __init__(self, num_classes, ignore_label=IGNORE_LABEL, name="pixel_accuracy", dtype=None):
        super().__init__(num_classes, ignore_label=ignore_label, name=name, dtype=dtype)

    def result(self):
        correct = keras.ops.sum(keras.ops.diagonal(self.confusion))
        return keras.ops.divide_no_nan(correct, keras.ops.sum(self.confusion))
