"""NumPy references of the point-set layers, written from the published definitions with
loops over points and edges (no vectorized trick of the layers), float64, ``get_weights()``
only, so they serve every Keras backend.

- ``np_knn``: exact distances, ``argsort``, the point itself excluded.
- ``np_edge_conv``: DGCNN's edge feature ``(x_j - x_i, x_i)`` per edge, the kernel, BN,
  activation, max over neighbours (WangYueFt/dgcnn, ``model.py``).
- ``np_diffgcn_gradient``: DiffGCN's auxiliary graph as BGUCompSci/DiffGCNs.py builds it
  (``DiffGCN.py``): one vertex per edge at the edge's midpoint, the mean of the two messages
  ``x_v * (midpoint - p_v)`` on it, then every point's mean over its incident edge vertices;
  ``np_diffgcn_laplacian`` the same edge values times ``p_v - midpoint``, averaged back.
"""

import numpy as np


def leaky_relu(x, slope=0.2):
    return np.where(x > 0, x, slope * x)


def relu(x):
    return np.maximum(x, 0)


def np_knn(points, k):
    """``(batch, n, k)`` neighbour indices, nearest first, itself excluded."""
    points = np.asarray(points, np.float64)
    distances = ((points[:, :, None, :] - points[:, None, :, :]) ** 2).sum(-1)
    n = points.shape[1]
    distances[:, np.arange(n), np.arange(n)] = np.inf
    return np.argsort(distances, axis=-1, kind="stable")[..., :k]


def np_point_bn(x, layer, training):
    """BatchNormalization over every axis but the last, with a built Keras BN's weights."""
    gamma, beta, moving_mean, moving_var = (np.asarray(v, np.float64) for v in layer.get_weights())
    axes = tuple(range(x.ndim - 1))
    mean, var = (x.mean(axes), x.var(axes)) if training else (moving_mean, moving_var)
    return (x - mean) / np.sqrt(var + layer.epsilon) * gamma + beta


def np_grouped_linear(x, kernel, groups):
    """``x (..., c)`` times a grouped kernel ``(c / groups, f)``, group by group."""
    x, kernel = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    cg, fg = x.shape[-1] // groups, kernel.shape[-1] // groups
    parts = [
        x[..., g * cg : (g + 1) * cg] @ kernel[:, g * fg : (g + 1) * fg] for g in range(groups)
    ]
    return np.concatenate(parts, axis=-1)


def np_edge_conv(layer, x, neighbors, training):
    """A built ``EdgeConv`` in NumPy: per edge ``[x_j - x_i, x_i]`` of each group."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(layer.get_weights()[0], np.float64)
    batch, n, channels = x.shape
    k, groups = neighbors.shape[-1], layer.groups
    cg, fg = channels // groups, layer.filters // groups
    edges = np.zeros((batch, n, k, layer.filters))
    for b in range(batch):
        for i in range(n):
            for m in range(k):
                j = neighbors[b, i, m]
                for g in range(groups):
                    part = slice(g * cg, (g + 1) * cg)
                    feature = np.concatenate([x[b, j, part] - x[b, i, part], x[b, i, part]])
                    columns = slice(g * fg, (g + 1) * fg)
                    edges[b, i, m, columns] = feature @ kernel[:, columns]
    edges = leaky_relu(np_point_bn(edges, layer.bn, training))
    return edges.max(axis=2)


def np_diffgcn_gradient(x, neighbors, coordinates):
    """``(batch, n, dims, channels)``: DiffGCN's gradient through its auxiliary graph."""
    x, p = np.asarray(x, np.float64), np.asarray(coordinates, np.float64)
    batch, n, channels = x.shape
    dims = p.shape[-1]
    out = np.zeros((batch, n, dims, channels))
    for b in range(batch):
        # Edges (source j = neighbour, target i = centre), as torch_cluster's knn_graph.
        edges = [(neighbors[b, i, m], i) for i in range(n) for m in range(neighbors.shape[-1])]
        incident = [[] for _ in range(n)]
        for j, i in edges:
            midpoint = (p[b, i] + p[b, j]) / 2
            messages = [np.outer(midpoint - p[b, v], x[b, v]) for v in (i, j)]
            value = np.mean(messages, axis=0)  # the edge vertex's mean of its two messages
            incident[i].append(value)
            incident[j].append(value)
        for v in range(n):
            out[b, v] = np.mean(incident[v], axis=0)
    return out


def np_diffgcn_laplacian(x, neighbors, coordinates):
    """``(batch, n, dims, channels)``: DiffGCN's per-axis Laplacian (``GraphTranspose`` of
    BGUCompSci/DiffGCNs.py): every point's mean, over its incident edge vertices, of the edge
    vertex's gradient value times ``p_v - midpoint``, coordinate by coordinate."""
    x, p = np.asarray(x, np.float64), np.asarray(coordinates, np.float64)
    batch, n, channels = x.shape
    dims = p.shape[-1]
    out = np.zeros((batch, n, dims, channels))
    for b in range(batch):
        incident = [[] for _ in range(n)]
        for i in range(n):
            for j in neighbors[b, i]:
                midpoint = (p[b, i] + p[b, j]) / 2
                value = np.mean([np.outer(midpoint - p[b, v], x[b, v]) for v in (i, j)], axis=0)
                for v in (i, j):
                    incident[v].append(value * (p[b, v] - midpoint)[:, None])
        for v in range(n):
            out[b, v] = np.mean(incident[v], axis=0)
    return out


def np_diffgcn_components(layer, x, neighbors, coordinates):
    """``(batch, n, terms_width, channels)``: the layer's terms, mass, gradient, Laplacian."""
    parts = []
    if "mass" in layer.terms:
        parts.append(np.asarray(x, np.float64)[:, :, None, :])
    if "gradient" in layer.terms:
        parts.append(np_diffgcn_gradient(x, neighbors, coordinates))
    if "laplacian" in layer.terms:
        parts.append(np_diffgcn_laplacian(x, neighbors, coordinates))
    return np.concatenate(parts, axis=2)


def np_diffgcn_conv(layer, x, neighbors, coordinates, training, activation=relu):
    """A built ``DiffGCNConv`` in NumPy: each group's ``terms_width * c/g`` component values,
    term by term and coordinate-major, times its kernel columns; BN; ``activation``."""
    components = np_diffgcn_components(layer, x, neighbors, coordinates)
    kernel = np.asarray(layer.get_weights()[0], np.float64)
    batch, n, width, channels = components.shape
    groups = layer.groups
    cg, fg = channels // groups, layer.filters // groups
    out = np.zeros((batch, n, layer.filters))
    for g in range(groups):
        values = components[..., g * cg : (g + 1) * cg].reshape(batch, n, width * cg)
        out[..., g * fg : (g + 1) * fg] = values @ kernel[:, g * fg : (g + 1) * fg]
    return activation(np_point_bn(out, layer.bn, training))


def np_diffgcn_residual_block(block, x, neighbors, coordinates, training):
    """A built ``DiffGCNResidualBlock`` in NumPy: ``relu(x + BN(W grad x))``."""
    update = np_diffgcn_conv(block.conv, x, neighbors, coordinates, training, lambda h: h)
    return relu(np.asarray(x, np.float64) + update)


def np_match_points(coordinates, neighbors, rounds=4):
    """Point pooling's clusters, point by point: ``rounds`` handshake rounds (every unmatched
    point proposes to its nearest unmatched neighbour; mutual proposals pair), then the
    leftovers paired in the order of their projection on the layer's fixed direction;
    clusters numbered by the projection rank of their first point. Returns ``(batch, n)``
    cluster ids."""
    direction = np.array([1.0, 0.7548776662466927, 0.5698402909980532, 0.4301597090019468])
    coordinates = np.asarray(coordinates, np.float64)
    result = []
    for p, nbrs in zip(coordinates, np.asarray(neighbors), strict=True):
        n = len(p)
        partner = [None] * n
        for _ in range(rounds):
            proposal = [None] * n
            for i in range(n):
                if partner[i] is None:
                    proposal[i] = next((j for j in nbrs[i] if partner[j] is None), None)
            for i in range(n):
                j = proposal[i]
                if j is not None and proposal[j] == i:
                    partner[i] = j
        projection = p @ direction[: p.shape[1]]
        rank = np.empty(n, int)
        rank[np.argsort(projection, kind="stable")] = np.arange(n)
        pairs = sorted({tuple(sorted((i, partner[i]))) for i in range(n) if partner[i] is not None})
        leftovers = sorted((i for i in range(n) if partner[i] is None), key=lambda i: rank[i])
        pairs += [tuple(leftovers[m : m + 2]) for m in range(0, len(leftovers), 2)]
        firsts = [
            min(rank[i] for i in pair) + (n if partner[pair[0]] is None else 0) for pair in pairs
        ]
        clusters = np.empty(n, int)
        for c, pair in enumerate(pairs[m] for m in np.argsort(firsts)):
            clusters[list(pair)] = c
        result.append(clusters)
    return np.stack(result)
