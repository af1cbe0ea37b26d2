"""``keras-mgic`` run in-process with its printed output captured, for the tests."""

import contextlib
import io

from keras_mgic import cli


def run_cli(*argv):
    """``(exit status, printed stdout)`` of ``keras-mgic ARGV``."""
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = cli.main([str(a) for a in argv])
    return code, printed.getvalue()
