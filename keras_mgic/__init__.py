"""keras_mgic: Multigrid-in-Channels (MGIC) CNN layers and models for Keras 3.

The core (``layers``, ``models``, ``ops``, ``initializers``, ``metrics``, ``profiling``) is
imported with the package; importing the layers registers them with Keras, so ``.keras`` files
load after ``import keras_mgic`` with no ``custom_objects``. The tools (``data``,
``training``, ``export``, ``compat``, ``demo``) are imported on first use:
``keras_mgic.training`` or ``import keras_mgic.training``.

Example:

>>> import keras, keras_mgic
>>> block = keras_mgic.MGICBlock(group_size=8, coarsest_size=16)
>>> tuple(block(keras.ops.ones((1, 8, 8, 64))).shape)
(1, 8, 8, 64)
"""

import importlib
import os
import sys

__version__ = "0.1.0"

_CORE = ("initializers", "layers", "metrics", "models", "ops", "profiling")
_TOOLS = ("compat", "data", "demo", "export", "training")
_CORE_NAMES = {"MGICBlock": "layers", "count_flops": "profiling", "count_params": "profiling"}


def _import_core():
    """Imports the core modules (registering the layers) and its top-level names."""
    for name in _CORE:
        globals()[name] = importlib.import_module(f"{__name__}.{name}")
    for name, module in _CORE_NAMES.items():
        globals()[name] = getattr(globals()[module], name)


def __getattr__(name):
    if name in _CORE or name in _TOOLS:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _CORE_NAMES:
        _import_core()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _in_console_script():
    """True inside the ``keras-mgic`` command: it imports the core (Keras and TensorFlow, some
    seconds) only when it runs a subcommand, so ``--help`` and usage errors answer at once."""
    argv = getattr(sys, "argv", None) or [""]
    return os.path.splitext(os.path.basename(argv[0]))[0] in ("keras-mgic", "keras-mgic-script")


def _run_with_dash_m():
    """True while ``python -m keras_mgic.<module>`` (the demo, the CLI) imports this package:
    ``sys.argv[0]`` is ``"-m"`` until the module is found."""
    return (getattr(sys, "argv", None) or [""])[0] == "-m"


if not _in_console_script():
    if _run_with_dash_m():  # our own entry points: no TensorFlow start-up lines
        from keras_mgic.commands.quiet import import_tensorflow_quietly

        import_tensorflow_quietly()
    _import_core()

# The tools stay out of `from keras_mgic import *`, which would import them all.
__all__ = ["MGICBlock", "__version__", "count_flops", "count_params", *_CORE]
