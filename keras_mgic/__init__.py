"""keras_mgic: Multigrid-in-Channels (MGIC) CNN layers and models for Keras 3.

Example:

>>> import keras, keras_mgic
>>> block = keras_mgic.MGICBlock(group_size=8, coarsest_size=16)
>>> tuple(block(keras.ops.ones((1, 8, 8, 64))).shape)
(1, 8, 8, 64)
"""

from keras_mgic import data, export, initializers, layers, models, ops, profiling
from keras_mgic.layers import MGICBlock
from keras_mgic.profiling import count_flops, count_params

__version__ = "0.1.0"

__all__ = [
    "MGICBlock",
    "__version__",
    "count_flops",
    "count_params",
    "data",
    "export",
    "initializers",
    "layers",
    "models",
    "ops",
    "profiling",
]
