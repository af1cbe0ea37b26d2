"""Layers on point sets ``(batch, points, channels)`` and their k-nearest-neighbour graphs.

- ``KNNGraph``: the k-NN graph, on coordinates or (dynamically) on features.
- ``EdgeConv``: DGCNN's edge convolution (Wang et al., ACM TOG 2019).
- ``DiffGCNConv``: DiffGCN's gradient convolution (Eliasof & Treister, NeurIPS 2020).
- ``DiffGCNResidualBlock``: a DiffGCN convolution added to its input (the MGIC per-level
  block of MGIC-DiffGCN).
- ``PointTransition``: the cheap width change in front of an MGIC block.
- ``PointCoordinates``: the coordinate channels of a point-cloud input.
- ``PointPooling``, ``PointUnpooling``: DiffGCN's multigrid pooling (``P^T``) and unpooling
  (``P``) with a static cluster count (``points / 2``), from a matching on the k-NN graph;
  ``PointRestriction``: ``P^T`` of other features with a pooling's clusters.

``EdgeConv``, ``DiffGCNConv`` and ``DiffGCNResidualBlock`` take ``filters`` and ``groups``,
so they are MGIC per-level blocks: ``MGICBlock(block="diffgcn_residual")`` (or
``"diffgcn"``, ``"edgeconv"``) on point features,
called as ``block(features, neighbors=..., coordinates=...)``. Written with ``keras.ops``
only (gathers, ``top_k`` and ``segment_sum``), they run on TensorFlow, JAX and PyTorch and
export to TFLite with builtin ops.
"""

from keras_mgic.layers.point_cloud.coordinates import PointCoordinates
from keras_mgic.layers.point_cloud.diffgcn import DiffGCNConv, graph_gradient, graph_laplacian
from keras_mgic.layers.point_cloud.diffgcn_block import DiffGCNResidualBlock
from keras_mgic.layers.point_cloud.edge_conv import EdgeConv
from keras_mgic.layers.point_cloud.graph_ops import (
    gather_neighbors,
    grouped_pointwise,
    scatter_to_neighbors,
)
from keras_mgic.layers.point_cloud.knn import KNNGraph
from keras_mgic.layers.point_cloud.pooling import (
    PointPooling,
    PointRestriction,
    PointUnpooling,
    gather_points,
    match_points,
)
from keras_mgic.layers.point_cloud.transition import PointTransition

#: The point-set per-level blocks of ``MGICBlock`` by name.
POINT_LEVEL_BLOCKS = {
    "edgeconv": EdgeConv,
    "diffgcn": DiffGCNConv,
    "diffgcn_residual": DiffGCNResidualBlock,
}

__all__ = [
    "POINT_LEVEL_BLOCKS",
    "DiffGCNConv",
    "DiffGCNResidualBlock",
    "EdgeConv",
    "KNNGraph",
    "PointCoordinates",
    "PointPooling",
    "PointRestriction",
    "PointUnpooling",
    "PointTransition",
    "gather_neighbors",
    "gather_points",
    "graph_gradient",
    "graph_laplacian",
    "grouped_pointwise",
    "match_points",
    "scatter_to_neighbors",
]
