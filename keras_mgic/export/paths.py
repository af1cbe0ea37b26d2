"""Export paths: checked before any conversion work, written atomically.

An export first checks that its output can be written (:func:`check_output_path`), then
writes into a temporary file or folder next to it and renames that into place once it is
complete (:func:`atomic_file`, :func:`atomic_folder`): a failed export leaves every existing
file as it was, and a reader never sees a half-written file.
"""

import contextlib
import os
import shutil
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


def check_output_path(path, kind):
    """Checks that an export can write ``path``, before any conversion work.

    The parent folder must exist and be writable (checked by creating and removing a
    temporary file in it). A file export must not name a folder; a folder export must not
    name a file, nor a non-empty folder that is not a SavedModel (an earlier SavedModel is
    replaced).

    Args:
        path: the output path.
        kind: ``"file"`` (a ``.tflite`` file) or ``"folder"`` (a SavedModel).

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


def _temporary_name(path, suffix):
    parent, name = os.path.split(os.path.abspath(path))
    return os.path.join(parent, f".{name}.{os.getpid()}.{suffix}")


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
    descriptor, temporary = tempfile.mkstemp(
        dir=os.path.dirname(os.path.abspath(path)), prefix=f".{os.path.basename(path)}."
    )
    os.close(descriptor)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


@contextlib.contextmanager
def atomic_folder(path):
    """Yields an empty temporary folder next to ``path``; it replaces ``path`` on success.

    An existing folder at ``path`` is renamed aside, the new folder renamed into place,
    then the old one removed (it is renamed back if the second rename fails). If the block
    raises, the temporary folder is removed and ``path`` is untouched.

    Example:

    >>> with atomic_folder("/tmp/doc_folder") as temporary:
    ...     _ = open(os.path.join(temporary, "a.txt"), "w").write("done")
    >>> os.listdir("/tmp/doc_folder")
    ['a.txt']
    """
    path = os.fspath(path)
    temporary = tempfile.mkdtemp(
        dir=os.path.dirname(os.path.abspath(path)), prefix=f".{os.path.basename(path)}."
    )
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~_umask())
        _replace_folder(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _replace_folder(new, path):
    if not os.path.lexists(path):
        os.rename(new, path)
        return
    old = _temporary_name(path, "old")
    os.rename(path, old)
    try:
        os.rename(new, path)
    except BaseException:
        os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)
