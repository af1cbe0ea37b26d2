"""The multigrid hierarchy in channel space: level widths and group counts.

Coarsening rules (``coarsening`` of ``level_widths`` and ``MGICBlock``), for a block of
``channels`` input channels and coarsest size ``s_c``; the last width is the coarsest level,
whose block is fully coupled, and a width is only halved while it is even:

- ``"reference"`` (the default): the paper's public reference code
  (BGUCompSci/MultigridInChannelsCNNs, ``resnetMG.py``, ``genTensor4CycleDwGroup``) restricts
  at least once, then keeps halving while the width is at least ``s_c``. 64 channels with
  ``s_c = 16`` give 64, 32, 16, 8; 16 channels with ``s_c = 32`` give 16, 8.
- ``"literal"``: Algorithm 1 of the paper read literally (``n = floor(log2(c / s_c))``
  levels below the finest): halve while the width is at least ``s_c``, and do not coarsen a
  block narrower than ``s_c`` at all (16 channels with ``s_c = 32``: one level, 16).

Both give a coarsest width in ``[s_c / 2, s_c)`` when ``channels >= s_c``; they differ only
for blocks narrower than ``s_c``.

Groups on a level of width ``c`` (fixed group *size* ``s_g``, growing group *count*): the
largest ``g`` such that ``g`` divides ``c / 2`` and ``c / g >= s_g``; that is ``c / s_g``
whenever ``s_g`` divides ``c``, and 1 (fully coupled) when ``c < s_g``. Contiguous groups then
form a binary tree: the restriction maps group ``i`` of level ``j`` onto channels
``[i * s_g / 2, (i + 1) * s_g / 2)`` of level ``j + 1``, so each group of level ``j + 1``
merges two groups of level ``j``.
"""

#: The coarsening rules of ``level_widths``, the default first.
COARSENING_RULES = ("reference", "literal")


def check_coarsening(coarsening):
    """Returns ``coarsening`` if it is one of ``COARSENING_RULES``, else raises ValueError."""
    if coarsening not in COARSENING_RULES:
        raise ValueError(
            f"`coarsening` must be one of {COARSENING_RULES}. Received: coarsening={coarsening!r}"
        )
    return coarsening


def level_widths(channels, coarsest_size, coarsening="reference"):
    """Widths of the levels, finest first.

    Args:
        channels: width of the finest level.
        coarsest_size: ``s_c``.
        coarsening: ``"reference"`` (restrict at least once, then while the width is at
            least ``s_c``) or ``"literal"`` (only while the width is at least ``s_c``).

    Returns:
        A list of ints, the finest width first.

    Example:

    >>> level_widths(64, 16)
    [64, 32, 16, 8]
    >>> level_widths(16, 32), level_widths(16, 32, coarsening="literal")
    ([16, 8], [16])
    """
    check_coarsening(coarsening)
    widths = [channels]
    while widths[-1] % 2 == 0:
        first = coarsening == "reference" and len(widths) == 1
        if not (first or widths[-1] >= coarsest_size):
            break
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
