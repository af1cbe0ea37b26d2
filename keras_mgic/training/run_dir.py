"""The run directory: checked before any work, written so that a failed command loses nothing.

A finished run's files are replaced only when a new run succeeds; until then the new run lives
in ``DIR/in_progress/`` (its ``BackupAndRestore`` state, its ``log.csv`` and the model after
its latest epoch). Every final file is written to a temporary name in the same folder and
renamed, so a reader never sees half a file. A run that fails before its first epoch is done
leaves no folders behind.
"""

import json
import os
import shutil
import tempfile

IN_PROGRESS = "in_progress"


class OutputError(ValueError):
    """The output directory cannot be used (a file, unwritable, below a file)."""


def check_output(path):
    """Raises ``OutputError`` unless ``path`` is, or can be created as, a writable folder.

    Creates nothing that outlives the check: it writes and removes one probe file in ``path``,
    or in its nearest existing parent when ``path`` does not exist yet.
    """
    path = os.path.abspath(os.fspath(path))
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        what = "is a file" if existing == path else f"is inside a file ({existing})"
        raise OutputError(f"The output must be a folder, but {path} {what}. Received: {path}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".keras_mgic_probe_", dir=existing)
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        raise OutputError(
            f"Cannot write to {existing} ({error.strerror}). Received: output={path}"
        ) from None
    return path


def atomic_write(path, write):
    """Calls ``write(temporary_path)``, then renames the temporary file to ``path``.

    The temporary name keeps ``path``'s extension (``model.save`` and ``savefig`` read it).
    """
    folder, name = os.path.split(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".tmp_{os.getpid()}_", suffix=f"_{name}", dir=folder)
    os.close(fd)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def write_json(path, data):
    def write(temporary):
        with open(temporary, "w") as f:
            json.dump(data, f, indent=2)

    return atomic_write(path, write)


class RunDir:
    """The folders and files of one run (``root`` is ``DIR`` or ``DIR/workers/<role>``)."""

    def __init__(self, root):
        self.root = os.path.abspath(os.fspath(root))
        self.in_progress = os.path.join(self.root, IN_PROGRESS)
        self.backup = os.path.join(self.in_progress, "backup")
        self.partial_log = os.path.join(self.in_progress, "log.csv")
        self.checkpoint = os.path.join(self.in_progress, "last.keras")
        self._created = []

    def path(self, name):
        return os.path.join(self.root, name)

    def resume_epoch(self):
        """Epochs an interrupted run completed (``BackupAndRestore``'s metadata), else 0."""
        try:
            with open(os.path.join(self.backup, "training_metadata.json")) as f:
                return int(json.load(f).get("epoch", 0))
        except (OSError, ValueError, AttributeError):
            return 0

    def prepare(self):
        """Creates the folders (remembering which) and drops the stale state of a run that
        never completed an epoch. Workers of one multi-worker run share the parent folders,
        so a folder another worker created meanwhile is left to it."""
        if not self.resume_epoch() and os.path.isdir(self.in_progress):
            shutil.rmtree(self.in_progress)
        missing = []
        folder = self.in_progress
        while not os.path.exists(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        for folder in reversed(missing):
            try:
                os.mkdir(folder)
            except FileExistsError:  # another worker of the same run made it first
                continue
            self._created.append(folder)

    def discard(self):
        """After a failure: removes the run's state unless an epoch can be resumed, and the
        folders ``prepare`` created if they are empty now."""
        if not self.resume_epoch() and os.path.isdir(self.in_progress):
            shutil.rmtree(self.in_progress, ignore_errors=True)
        for folder in reversed(self._created):
            try:
                os.rmdir(folder)
            except OSError:
                pass  # not empty: an epoch's state to resume from

    def finish(self):
        """Publishes the log and removes the run's state after success."""
        if os.path.exists(self.partial_log):
            os.replace(self.partial_log, self.path("log.csv"))
        shutil.rmtree(self.in_progress, ignore_errors=True)
