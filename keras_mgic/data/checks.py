"""Argument checks of the data pipelines."""

import numpy as np


def positive_int(name, value, allow_none=False):
    """``int(value)`` if it is a positive integer (or None when allowed), else ValueError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)
