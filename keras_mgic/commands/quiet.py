"""TensorFlow without its start-up log lines, so that an error is one line on stderr.

``TF_CPP_MIN_LOG_LEVEL`` must be set before TensorFlow is imported, and even then TensorFlow's
native libraries print a few lines while they load (absl's "All log messages before
absl::InitializeLog() ..." and oneDNN's notice), straight to file descriptor 2. The console
script and the demo import TensorFlow through ``import_tensorflow_quietly`` first: it sets the
level, points descriptor 2 at ``os.devnull`` for the import only, and turns absl's and
TensorFlow's Python loggers down to errors. ``KERAS_MGIC_TF_LOGS=1`` keeps every line (to
debug an installation).
"""

import contextlib
import os
import sys

#: Set to "1" to see TensorFlow's start-up lines.
VERBOSE_ENV = "KERAS_MGIC_TF_LOGS"


@contextlib.contextmanager
def _stderr_to_devnull():
    """Points file descriptor 2 (what native code writes to) at ``os.devnull`` meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow_quietly():
    """Imports TensorFlow (when installed) without its start-up lines; a no-op once imported.

    Returns:
        True when TensorFlow is imported (now or before), False when it is not installed.
    """
    verbose = os.environ.get(VERBOSE_ENV) == "1"
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules:
        try:
            with contextlib.nullcontext() if verbose else _stderr_to_devnull():
                import tensorflow  # noqa: F401
        except ImportError:
            return False
    if not verbose:
        _quiet_python_loggers()
    return True


def _quiet_python_loggers():
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
