"""Reading triangle meshes from OFF files (Object File Format), as ModelNet ships them.

An OFF file holds the header ``OFF``, a line ``n_vertices n_faces n_edges``, then one
``x y z`` line per vertex and one ``n i_1 ... i_n`` line per face (a polygon of ``n``
vertex indices, from 0). Comments start with ``#``. Some ModelNet files run the header and
the counts together (``OFF490 518 0``); both forms are read. Polygons are split into
triangle fans. Every problem is a ValueError that names the file.
"""

import numpy as np


def _error(path, what):
    return ValueError(f"{what} in the mesh file. Received: path={str(path)!r}")


def _lines(path):
    """The file's non-empty lines with comments removed."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            text = file.read()
    except OSError as error:
        raise ValueError(
            f"Cannot read the mesh file: {error}. Received: path={str(path)!r}"
        ) from error
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def _counts(path, lines):
    """``(n_vertices, n_faces, index of the first vertex line)``."""
    if not lines:
        raise _error(path, "Empty file: no OFF header")
    if not lines[0].startswith("OFF"):
        raise _error(path, f"No OFF header (the first line is {lines[0][:40]!r})")
    rest = lines[0][3:].strip()
    first = 1
    if not rest:
        if len(lines) < 2:
            raise _error(path, "No vertex and face counts after the OFF header")
        rest, first = lines[1], 2
    try:
        counts = [int(value) for value in rest.split()]
    except ValueError:
        raise _error(path, f"Malformed counts line {rest[:40]!r}") from None
    if len(counts) < 2 or counts[0] < 0 or counts[1] < 0:
        raise _error(path, f"Malformed counts line {rest[:40]!r}")
    return counts[0], counts[1], first


def _vertices(path, lines, count):
    try:
        vertices = np.array([line.split()[:3] for line in lines], dtype=np.float64)
    except ValueError:
        raise _error(path, "A vertex line that is not three numbers") from None
    if vertices.shape != (count, 3):
        raise _error(path, "A vertex line that is not three numbers")
    if not np.all(np.isfinite(vertices)):
        raise _error(path, "NaN or infinite vertex coordinates")
    return vertices


def _triangles(path, lines, n_vertices):
    triangles = []
    for line in lines:
        try:
            values = [int(value) for value in line.split()]
        except ValueError:
            raise _error(path, f"A face line that is not integers ({line[:40]!r})") from None
        size, indices = (values[0], values[1:]) if values else (0, [])
        if size < 3 or len(indices) < size:
            raise _error(path, f"A face line with fewer than 3 vertices ({line[:40]!r})")
        indices = indices[:size]
        if min(indices) < 0 or max(indices) >= n_vertices:
            raise _error(path, f"A face vertex index out of range ({line[:40]!r})")
        triangles += [(indices[0], indices[i], indices[i + 1]) for i in range(1, size - 1)]
    return np.array(triangles, dtype=np.int64).reshape(-1, 3)


def read_off(path):
    """Reads a triangle mesh from an OFF file.

    Args:
        path: the ``.off`` file.

    Returns:
        ``(vertices, triangles)``: float64 ``(n_vertices, 3)`` and int64 ``(n_triangles, 3)``.

    Raises:
        ValueError: naming the file, for a missing or malformed header, counts, vertex or
            face line; NaN or infinite coordinates; an empty mesh (no vertices or faces).

    Example:

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "triangle.off")
    >>> _ = open(path, "w").write("OFF\\n3 1 0\\n0 0 0\\n1 0 0\\n0 1 0\\n3 0 1 2\\n")
    >>> vertices, triangles = read_off(path)
    >>> vertices.shape, triangles.tolist()
    ((3, 3), [[0, 1, 2]])
    """
    lines = _lines(path)
    n_vertices, n_faces, first = _counts(path, lines)
    if n_vertices == 0 or n_faces == 0:
        raise _error(path, f"An empty mesh ({n_vertices} vertices, {n_faces} faces)")
    body = lines[first:]
    if len(body) < n_vertices + n_faces:
        raise _error(
            path, f"Fewer lines than the {n_vertices} vertices and {n_faces} faces announced"
        )
    vertices = _vertices(path, body[:n_vertices], n_vertices)
    triangles = _triangles(path, body[n_vertices : n_vertices + n_faces], n_vertices)
    return vertices, triangles
