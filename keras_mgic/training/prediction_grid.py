"""A PNG of segmentation results: input, true mask and predicted mask per row (matplotlib)."""

import os

import numpy as np

#: Colour of the ignore label in the masks (white).
IGNORE_COLOUR = (1.0, 1.0, 1.0)


def class_colours(num_classes):
    """``(num_classes, 3)`` RGB colours in [0, 1]: class 0 (usually the background) dark
    gray, the others from matplotlib's ``tab20`` (then evenly spaced hues beyond 20)."""
    import matplotlib

    colours = [(0.15, 0.15, 0.15)]
    tab20 = matplotlib.colormaps["tab20"]
    others = num_classes - 1
    for index in range(others):
        if others <= 20:
            colours.append(tab20(index / 20 + 1 / 40)[:3])
        else:
            colours.append(matplotlib.colormaps["hsv"](index / others)[:3])
    return np.array(colours[:num_classes])


def colour_masks(masks, num_classes, ignore_label=255):
    """RGB images ``(..., 3)`` of class-index masks; ignored (or out of range) pixels white.

    Example:

    >>> colour_masks(np.array([[0, 255]]), 2)[0, 1].tolist()
    [1.0, 1.0, 1.0]
    """
    masks = np.asarray(masks)
    palette = class_colours(num_classes)
    known = (masks >= 0) & (masks < num_classes)
    if ignore_label is not None:
        known &= masks != ignore_label
    rgb = palette[np.where(known, masks, 0)]
    rgb[~known] = IGNORE_COLOUR
    return rgb


def plot_prediction_grid(
    images, masks, predictions, path, num_classes, ignore_label=255, class_names=None
):
    """Writes a PNG with one row per image: the input, its mask and the model's prediction.

    Args:
        images: raw 0-255 images ``(n, h, w, 3)``.
        masks: true class indices ``(n, h, w)`` (``ignore_label`` drawn white).
        predictions: predicted class indices ``(n, h, w)``.
        path: the PNG to write (written to a temporary name, then renamed).
        num_classes: number of classes (sets the colours).
        ignore_label: the mask value drawn white, or None.
        class_names: optional names for a legend.

    Returns:
        ``path``.

    Example:

    >>> plot_prediction_grid(images, masks, predictions, "runs/seg/predictions.png",
    ...                      num_classes=11)  # doctest: +SKIP
    'runs/seg/predictions.png'
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_mgic.training.run_dir import atomic_write

    rows = len(images)
    fig, axes = plt.subplots(rows, 3, figsize=(6.6, 2.2 * rows + 0.6), squeeze=False)
    columns = (
        ("input", lambda i: np.clip(np.asarray(images[i]) / 255.0, 0, 1)),
        ("truth", lambda i: colour_masks(masks[i], num_classes, ignore_label)),
        ("prediction", lambda i: colour_masks(predictions[i], num_classes, ignore_label)),
    )
    for row in range(rows):
        for column, (title, picture) in enumerate(columns):
            axis = axes[row, column]
            axis.imshow(picture(row), interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(title)
    if class_names is not None:
        _legend(fig, class_names, num_classes)
    fig.tight_layout(rect=(0, 0.06 if class_names is not None else 0, 1, 1))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(path, lambda temporary: fig.savefig(temporary, dpi=100, format="png"))
    plt.close(fig)
    return path


def _legend(fig, class_names, num_classes):
    from matplotlib.patches import Patch

    palette = class_colours(num_classes)
    handles = [
        Patch(color=palette[index], label=str(name))
        for index, name in enumerate(class_names[:num_classes])
    ]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=7)
