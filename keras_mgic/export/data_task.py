"""The task a built-in representative data set is for, checked against the model's.

``keras-mgic export --representative-data`` takes ``digits`` (image classification),
``digit_mosaics`` (segmentation) or ``digit_points`` (point-cloud classification). A model of
another task would be calibrated on the wrong inputs, or fail late with an unclear error;
:func:`check_data_task` says so in one line before any data is loaded or anything converted.
"""

#: Built-in data set -> (the task's name, model input rank, model output rank).
DATA_TASKS = {
    "digits": ("image classifiers", 4, 2),
    "digit_mosaics": ("segmentation models", 4, 4),
    "digit_points": ("point-cloud classifiers", 3, 2),
}


def model_task(model):
    """The built-in data set that fits ``model``'s task, or None if none does.

    Image classifiers take ``(batch, height, width, channels)`` and return ``(batch,
    classes)``; segmentation models return ``(batch, height, width, classes)``; point-cloud
    classifiers take ``(batch, points, channels)`` and return ``(batch, classes)``.

    Example:

    >>> model_task(keras.Sequential([keras.Input((8, 3)), keras.layers.Flatten()]))
    'digit_points'
    """
    ranks = (len(model.inputs[0].shape), len(model.outputs[0].shape))
    for source, (_, input_rank, output_rank) in DATA_TASKS.items():
        if ranks == (input_rank, output_rank):
            return source
    return None


def check_data_task(model, source):
    """Raises a one-line ``ValueError`` when a built-in data set does not fit the model.

    Args:
        model: the single-input, single-output Keras model to export.
        source: the ``--representative-data`` value; a folder (or None) is not checked.

    Raises:
        ValueError: naming the data set, the model's input and output shapes, and the
            built-in data set that fits the model, if one does.

    Example:

    >>> classifier = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten()])
    >>> check_data_task(classifier, "digits")  # fits: no error
    """
    if source not in DATA_TASKS:
        return
    fits = model_task(model)
    if fits == source:
        return
    task = DATA_TASKS[source][0]
    hint = f"use --representative-data {fits}" if fits else "use a folder of .npy inputs"
    raise ValueError(
        f"The {source!r} data set is for {task}; this model's input and output shapes are "
        f"not: {hint}. Received: input_shape={tuple(model.inputs[0].shape[1:])}, "
        f"output_shape={tuple(model.outputs[0].shape[1:])}, representative_data={source!r}"
    )
