"""What a failed TFLite conversion could not convert, and where, in one line.

With builtin ops only, TensorFlow's converter rejects an op that has no builtin TFLite
kernel with a long MLIR diagnostic. :func:`unsupported_ops` reads the ops and the name scopes
(``model/layer/.../Op``) out of it, and :func:`conversion_error` turns them into a
ValueError that says which op of which layer and why.
"""

import re

# A diagnostic location names the op and its scope: fused["Op:", "scope/.../Op@function"].
_LOCATION = re.compile(r'fused\["(?P<op>[\w.]+):", "(?P<scope>[^"@]+)@[^"]*"\]')
_REASON = re.compile(r"'tf\.(?P<op>[\w.]+)' op (?P<why>[^\n]+)")


def unsupported_ops(message):
    """``[(op, scope, reason)]`` of the ops the converter rejected, in order, once each.

    Example:

    >>> text = ('loc(callsite(fused["Digamma:", "model/special_1/Digamma@f"] at x)): '
    ...         "error: 'tf.Digamma' op is neither a custom op nor a flex op")
    >>> unsupported_ops(text)
    [('Digamma', 'model/special_1', 'is neither a custom op nor a flex op')]
    """
    found = []
    for line in str(message).splitlines():
        reason = _REASON.search(line)
        location = _LOCATION.search(line)
        if reason is None or location is None or location.group("op") != reason.group("op"):
            continue
        scope = location.group("scope").rsplit("/", 1)[0]
        entry = (reason.group("op"), scope, reason.group("why").strip())
        if entry not in found:
            found.append(entry)
    return found


def conversion_error(error):
    """A ValueError naming the unconvertible ops of a converter ``error``, or None when the
    message names none (the caller re-raises the original error then)."""
    found = unsupported_ops(error)
    if not found:
        return None
    where = "; ".join(f"{op} in {scope} ('tf.{op}' op {why})" for op, scope, why in found)
    ops = sorted({op for op, _, _ in found})
    return ValueError(
        "TFLite conversion with builtin ops only failed: these TensorFlow ops have no builtin "
        f"TFLite kernel (Flex and custom ops are not used): {where}. Rewrite those layers "
        "with builtin-convertible ops, or export a SavedModel instead. "
        f"Received: unsupported_ops={ops}"
    )
