"""What depends on the task in a run: the model's input and output, loss, metrics, figures.

``train`` asks the data set's task (``Datasets.task``) for a :class:`Task` and leaves every
task-dependent step to it:

- ``model_input_shape(data)``: the input the model is built for, ``model_arguments(data)``
  what else the data fix in the builder's arguments, ``takes_raw_pixels`` whether the
  model gets a rescaling of raw 0-255 pixels;
- ``check_model(net, data)``: a ValueError unless the model's output suits the task (e.g. a
  classifier on a segmentation set), before anything is trained;
- ``compile_arguments(net, data)``: the loss and the metrics;
- ``results(evaluation, log_columns)``: the task's figures in ``metrics.json``;
- ``counting_shape(data)``: the input shape MACs are counted at;
- ``curve_metric``: the metric drawn next to the loss in ``learning_curves.png``;
- ``write_figures(net, data, path_of)``: extra PNGs of the run (their file names).

A new kind of task is a new class registered in ``TASKS`` under its ``Datasets.task`` name.
"""

import keras
import numpy as np

from keras_mgic.training.model import outputs_logits


def _output_shape(net):
    return tuple(net.outputs[0].shape) if getattr(net, "outputs", None) else None


def _last(values):
    return float(values[-1]) if values else None


class Task:
    """What every task shares: raw 0-255 inputs, the data set's builder arguments."""

    #: Whether the inputs are raw 0-255 pixels that the model must rescale.
    takes_raw_pixels = True

    def model_arguments(self, data):
        """Builder arguments the data fix beyond the input shape and the classes."""
        return dict(getattr(data, "model_arguments", None) or {})

    def check_model(self, net, data):
        """A ValueError unless the model's output has the rank the task's labels need."""
        shape = _output_shape(net)
        if shape is not None and len(shape) != self.output_rank:
            raise ValueError(
                f"The data set {data.name!r} has {self.labels}, so the model must output "
                f"{self.expected_output}. Received: output_shape={shape}"
            )


class ImageClassification(Task):
    """One label per image: sparse cross-entropy and accuracy."""

    name = "image_classification"
    curve_metric = "accuracy"
    output_rank = 2
    labels = "one label per image"
    expected_output = (
        "one row of class scores per image (batch, classes); a per-pixel model needs a "
        "segmentation data set (e.g. digit_mosaics)"
    )

    def model_input_shape(self, data):
        return tuple(data.input_shape)

    def counting_shape(self, data):
        return None  # the model's own input shape

    def compile_arguments(self, net, data):
        return {
            "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=outputs_logits(net)),
            "metrics": ["accuracy"],
        }

    def results(self, evaluation, log_columns):
        return {
            "test_accuracy": float(evaluation["accuracy"]),
            "test_loss": float(evaluation["loss"]),
            "train_accuracy": _last(log_columns.get("accuracy")),
            "train_loss": _last(log_columns.get("loss")),
        }

    def write_figures(self, net, data, path_of):
        return []


class SemanticSegmentation(Task):
    """One label per pixel: cross-entropy, mean IoU and pixel accuracy, all skipping the
    data set's ignore label; a PNG of test images, their masks and the predictions."""

    name = "semantic_segmentation"
    curve_metric = "mean_iou"
    output_rank = 4
    labels = "a class per pixel"
    expected_output = (
        "per-pixel class scores (batch, height, width, classes), e.g. "
        "mgic_lraspp_mobilenet_v3_small"
    )
    #: Test images in ``predictions.png``.
    GRID_IMAGES = 6

    def __init__(self):
        self._mean_iou = None

    def model_input_shape(self, data):
        return (None, None, data.input_shape[-1])  # any size: test images may be larger

    def counting_shape(self, data):
        return tuple(data.input_shape)

    def compile_arguments(self, net, data):
        from keras_mgic.metrics import MeanIoU, PixelAccuracy

        self._mean_iou = MeanIoU(data.num_classes, ignore_label=data.ignore_label)
        loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=outputs_logits(net), ignore_class=data.ignore_label
        )
        accuracy = PixelAccuracy(data.num_classes, ignore_label=data.ignore_label)
        return {"loss": loss, "metrics": [self._mean_iou, accuracy]}

    def results(self, evaluation, log_columns):
        """The figures of the last evaluation (``model.evaluate`` on the test set)."""
        per_class = self._mean_iou.per_class_iou() if self._mean_iou is not None else []
        return {
            "task": self.name,
            "mean_iou": float(evaluation["mean_iou"]),
            "pixel_accuracy": float(evaluation["pixel_accuracy"]),
            "per_class_iou": [None if np.isnan(v) else float(v) for v in per_class],
            "test_loss": float(evaluation["loss"]),
            "train_mean_iou": _last(log_columns.get("mean_iou")),
            "train_pixel_accuracy": _last(log_columns.get("pixel_accuracy")),
            "train_loss": _last(log_columns.get("loss")),
        }

    def write_figures(self, net, data, path_of):
        from keras_mgic.training.plots import plotting_available
        from keras_mgic.training.prediction_grid import plot_prediction_grid

        if not plotting_available():
            return []
        images, masks = _first_test_images(data.test, self.GRID_IMAGES)
        predictions = np.argmax(net.predict(images, verbose=0), axis=-1)
        plot_prediction_grid(
            images,
            masks,
            predictions,
            path_of("predictions.png"),
            num_classes=data.num_classes,
            ignore_label=data.ignore_label,
            class_names=data.class_names,
        )
        return ["predictions.png"]


def _first_test_images(dataset, count):
    images, masks = [], []
    for batch_images, batch_masks in dataset:
        images.append(np.asarray(batch_images))
        masks.append(np.asarray(batch_masks))
        if sum(len(x) for x in images) >= count:
            break
    return np.concatenate(images)[:count], np.concatenate(masks)[:count]


class PointCloudClassification(ImageClassification):
    """One label per point cloud ``(points, coordinate_dim + features)``: as image
    classification, with the data set's point layout (``Datasets.model_arguments``) passed
    to the builder and no pixel rescaling."""

    name = "point_cloud_classification"
    takes_raw_pixels = False
    labels = "one label per point cloud"
    expected_output = "one row of class scores per cloud (batch, classes), e.g. mgic_diffgcn"


#: ``Datasets.task`` -> the Task class that runs it.
TASKS = {
    task.name: task
    for task in (ImageClassification, SemanticSegmentation, PointCloudClassification)
}


def task_for(data):
    """A new :class:`Task` object for the data set's task (``data.task``)."""
    name = getattr(data, "task", ImageClassification.name)
    if name not in TASKS:
        raise ValueError(f"Unknown task: expected one of {sorted(TASKS)}. Received: task={name!r}")
    return TASKS[name]()
