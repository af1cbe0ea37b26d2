"""keras_mgic: Multigrid-in-Channels (MGIC) CNN layers and models for Keras 3."""

from keras_mgic import initializers, layers, ops
from keras_mgic.layers import MGICBlock

__version__ = "0.1.0"

__all__ = ["MGICBlock", "initializers", "layers", "ops", "__version__"]
