"""The multigrid hierarchy in channel space: level widths and group counts.

Coarsening rule (Algorithm 1 taken literally, and the paper's reference code): starting from
``channels``, the width is halved while it is at least ``coarsest_size`` (``c_j >= s_c``) and
even, so the coarsest width lies in ``[s_c / 2, s_c)`` when ``channels >= s_c``. The last
width is the coarsest level, whose block is fully coupled. This is the reading that
reproduces the paper's MGIC-ResNet-56 tables (see ``MGICBlock``).

Groups on a level of width ``c`` (fixed group *size* ``s_g``, growing group *count*): the
largest ``g`` such that ``g`` divides ``c / 2`` and ``c / g >= s_g``; that is ``c / s_g``
whenever ``s_g`` divides ``c``, and 1 (fully coupled) when ``c < s_g``. Contiguous groups then
form a binary tree: the restriction maps group ``i`` of level ``j`` onto channels
``[i * s_g / 2, (i + 1) * s_g / 2)`` of level ``j + 1``, so each group of level ``j + 1``
merges two groups of level ``j``.
"""


def level_widths(channels, coarsest_size):
    """Widths of the levels, finest first, e.g. ``level_widths(64, 16) == [64, 32, 16, 8]``."""
    widths = [channels]
    while widths[-1] % 2 == 0 and widths[-1] >= coarsest_size:
        widths.append(widths[-1] // 2)
    return widths


def level_groups(width, group_size):
    """Group count of the grouped convolutions and transfers on a level of ``width``."""
    if width < group_size or width % 2:
        return 1
    half = width // 2
    for groups in range(width // group_size, 0, -1):
        if half % groups == 0:
            return groups
    return 1


def make_divisible(value, divisor):
    """Rounds ``value`` to the nearest multiple of ``divisor``, never below 90% of it.

    The channel-rounding rule of the MobileNet papers (and ``keras.applications``), e.g.
    ``make_divisible(20, 8) == 24``.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded
