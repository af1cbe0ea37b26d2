"""Point clouds from triangle meshes: points sampled on the surface by area, centred and
scaled to the unit sphere (as PointNet and DGCNN prepare ModelNet)."""

import numpy as np


def triangle_areas(vertices, triangles):
    """The area of every triangle, ``(n_triangles,)``."""
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=-1)


def sample_surface(vertices, triangles, num_points, rng, name="mesh"):
    """``num_points`` points uniformly distributed on the mesh's surface.

    A triangle is drawn with probability proportional to its area, then a point uniformly
    inside it (barycentric coordinates ``(1 - sqrt(u), sqrt(u) (1 - v), sqrt(u) v)``).

    Args:
        vertices: ``(n, 3)`` floats.
        triangles: ``(m, 3)`` vertex indices.
        num_points: positive int.
        rng: a ``numpy.random.Generator``.
        name: what the error message calls the mesh (its file).

    Returns:
        float64 ``(num_points, 3)``.

    Raises:
        ValueError: for a mesh of zero area.

    Example:

    >>> v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    >>> sample_surface(v, np.array([[0, 1, 2]]), 5, np.random.default_rng(0)).shape
    (5, 3)
    """
    areas = triangle_areas(vertices, triangles)
    total = areas.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError(
            f"The mesh has no surface to sample (total area {total:g}). Received: path={name!r}"
        )
    chosen = rng.choice(len(triangles), size=num_points, p=areas / total)
    u, v = rng.random(num_points), rng.random(num_points)
    root = np.sqrt(u)
    weights = np.stack([1 - root, root * (1 - v), root * v], axis=-1)
    corners = vertices[triangles[chosen]]  # (num_points, 3 corners, 3)
    return np.einsum("pc,pcd->pd", weights, corners)


def normalize_to_unit_sphere(points):
    """The points minus their centroid, divided by the largest distance from it.

    Example:

    >>> normalize_to_unit_sphere(np.array([[0.0, 0, 0], [2, 0, 0]])).tolist()
    [[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    """
    centred = points - points.mean(axis=0)
    radius = np.linalg.norm(centred, axis=-1).max()
    return centred / radius if radius > 0 else centred
