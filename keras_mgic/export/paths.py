"""Export paths: checked before any conversion work, written atomically.

An export first checks that its output can be written (:func:`check_output_path`; the
command line also refuses an existing output unless ``--overwrite``), then writes into a
temporary file or folder next to it, syncs it to disk and renames that into place once it is
complete (:func:`atomic_file`, :func:`atomic_folder`; a folder replaces an old one in one
exchange of names on Linux): a failed or killed export leaves the old output as it was or the
new one complete, and a reader never sees a half-written file. What a killed export leaves
under a temporary name (``.NAME.tmp<pid>.*``) is removed by the next export to that path.
"""

import contextlib
import ctypes
import os
import re
import shutil
import sys
import tempfile

KINDS = ("file", "folder")


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _check_kind(path, kind):
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {KINDS}. Received: kind={kind!r}")
    if kind == "file" and os.path.isdir(path):
        raise ValueError(
            f"The output path is a folder; this export writes a file. Received: path={path!r}"
        )
    if kind == "folder" and os.path.lexists(path) and not os.path.isdir(path):
        raise ValueError(
            f"The output path is a file; a SavedModel is a folder. Received: path={path!r}"
        )
    if kind == "folder" and os.path.isdir(path) and os.listdir(path):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise ValueError(
                "The output folder exists and is not a SavedModel; it is left as it is. "
                f"Choose another path. Received: path={path!r}"
            )


def check_output_path(path, kind, overwrite=True):
    """Checks that an export can write ``path``, before any conversion work.

    The parent folder must exist and be writable (checked by creating and removing a
    temporary file in it). A file export must not name a folder; a folder export must not
    name a file, nor a non-empty folder that is not a SavedModel (an earlier SavedModel is
    replaced). With ``overwrite=False`` an existing ``path`` is refused.

    Args:
        path: the output path.
        kind: ``"file"`` (a ``.tflite`` file) or ``"folder"`` (a SavedModel).
        overwrite: whether an existing output may be replaced (``keras-mgic export``
            passes its ``--overwrite``).

    Returns:
        ``path`` as a string.

    Raises:
        ValueError: naming the path, if it cannot be written.

    Example:

    >>> check_output_path("/tmp/model.tflite", "file")
    '/tmp/model.tflite'
    """
    path = os.fspath(path)
    _check_kind(path, kind)
    if not overwrite and os.path.lexists(path):
        raise ValueError(
            "The output exists; it is left as it is. Pass --overwrite to replace it, or "
            f"choose another path. Received: path={path!r}"
        )
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        problem = "is a file" if os.path.lexists(parent) else "does not exist"
        raise ValueError(
            f"The folder of the output path {problem}: {parent!r}. Received: path={path!r}"
        )
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as error:
        raise ValueError(
            f"Cannot write in the folder of the output path ({error.strerror}). "
            f"Received: path={path!r}"
        ) from error
    return path


def _temporary_prefix(path, pid=None):
    return f".{os.path.basename(path)}.tmp{os.getpid() if pid is None else pid}."


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_stale_temporaries(path):
    """Removes what killed exports to ``path`` left under a temporary name."""
    parent = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(re.escape(f".{os.path.basename(path)}.tmp") + r"(\d+)\.")
    for name in os.listdir(parent):
        match = pattern.match(name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            stale = os.path.join(parent, name)
            if os.path.isdir(stale) and not os.path.islink(stale):
                shutil.rmtree(stale, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.remove(stale)


def _sync(path):
    """fsync of a file, or of every file in a folder and the folder."""
    if os.path.isdir(path):
        for root, _, names in os.walk(path):
            for name in names:
                _sync(os.path.join(root, name))
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path):
    """Yields a temporary path next to ``path``; renamed to ``path`` if the block succeeds.

    The rename (``os.replace``) is atomic: ``path`` holds either its old contents or the
    complete new file. If the block raises, the temporary file is removed.

    Example:

    >>> with atomic_file("/tmp/doc.txt") as temporary:
    ...     _ = open(temporary, "w").write("done")
    >>> open("/tmp/doc.txt").read()
    'done'
    """
    path = os.fspath(path)
    _remove_stale_temporaries(path)
    parent = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=parent, prefix=_temporary_prefix(path))
    os.close(descriptor)
    try:
        yield temporary
        _sync(temporary)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    _sync(parent)


@contextlib.contextmanager
def atomic_folder(path):
    """Yields an empty temporary folder next to ``path``; it replaces ``path`` on success.

    An existing folder at ``path`` trades names with the new one in one step (Linux's
    ``renameat2(RENAME_EXCHANGE)``), then the old one is removed; elsewhere it is renamed
    aside, the new folder renamed into place (the old one renamed back if that fails), then
    removed. If the block raises, the temporary folder is removed and ``path`` is untouched.

    Example:

    >>> with atomic_folder("/tmp/doc_folder") as temporary:
    ...     _ = open(os.path.join(temporary, "a.txt"), "w").write("done")
    >>> os.listdir("/tmp/doc_folder")
    ['a.txt']
    """
    path = os.fspath(path)
    _remove_stale_temporaries(path)
    parent = os.path.dirname(os.path.abspath(path))
    temporary = tempfile.mkdtemp(dir=parent, prefix=_temporary_prefix(path))
    try:
        yield temporary
        _sync(temporary)
        os.chmod(temporary, 0o777 & ~_umask())
        _replace_folder(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    _sync(parent)


def _exchange(first, second):
    """Swaps two paths' names atomically (Linux); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)
    renameat2.argtypes += (ctypes.c_uint,)
    at_cwd, exchange = -100, 2  # AT_FDCWD, RENAME_EXCHANGE
    return renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), exchange) == 0


def _replace_folder(new, path):
    if not os.path.lexists(path):
        os.rename(new, path)
        return
    if os.path.isdir(path) and _exchange(new, path):
        shutil.rmtree(new, ignore_errors=True)  # the old folder, under the temporary name
        return
    parent = os.path.dirname(os.path.abspath(path))
    old = tempfile.mkdtemp(dir=parent, prefix=_temporary_prefix(path))
    os.rmdir(old)
    os.rename(path, old)
    try:
        os.rename(new, path)
    except BaseException:
        os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)
