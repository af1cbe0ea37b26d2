"""Public layers of keras_mgic."""

from keras_mgic.layers.batch_norm import BatchNormalization
from keras_mgic.layers.feed_forward import MGICFeedForward
from keras_mgic.layers.grouped_conv import GroupedConv2D
from keras_mgic.layers.level_blocks import (
    BottleneckBlock,
    InvertedResidualBlock,
    PreActResidualBlock,
    ResidualBlock,
    SqueezeExcite,
)
from keras_mgic.layers.mgic_block import MGICBlock
from keras_mgic.layers.point_cloud import (
    DiffGCNConv,
    DiffGCNResidualBlock,
    EdgeConv,
    KNNGraph,
    PointCoordinates,
    PointPooling,
    PointRestriction,
    PointTransition,
    PointUnpooling,
)
from keras_mgic.layers.resize import ResizeLike
from keras_mgic.layers.transfer import ChannelProlongation, ChannelRestriction
from keras_mgic.layers.transition import ChannelTransition

__all__ = [
    "BatchNormalization",
    "BottleneckBlock",
    "ChannelProlongation",
    "ChannelRestriction",
    "ChannelTransition",
    "DiffGCNConv",
    "DiffGCNResidualBlock",
    "EdgeConv",
    "GroupedConv2D",
    "InvertedResidualBlock",
    "KNNGraph",
    "MGICBlock",
    "MGICFeedForward",
    "PointCoordinates",
    "PointPooling",
    "PointRestriction",
    "PointTransition",
    "PointUnpooling",
    "PreActResidualBlock",
    "ResidualBlock",
    "ResizeLike",
    "SqueezeExcite",
]
