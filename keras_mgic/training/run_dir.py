"""The run directory: checked before any work, written so that no kill loses or corrupts a result.

A finished run's files are replaced only when a new run succeeds, and only when it was asked to
(``overwrite``); until then the new run lives in ``DIR/in_progress/``: one checkpoint per
completed epoch (``epoch_0003.keras``, weights and optimizer state, then ``epoch_0003.json``,
its epoch, size, SHA-256 and the log rows so far) and ``log.csv``. Every file is written to a
temporary name in its folder (``.tmp_<pid>_...``), flushed and synced to disk, given the
usual permissions (``0o666`` less the umask) and renamed, so a reader never sees half a file;
a checkpoint counts only once its ``.json`` is in place, and the previous one is deleted
only after that. A run that fails before its first epoch is done leaves no folders behind.
"""

import csv
import hashlib
import json
import os
import re
import shutil
import tempfile

IN_PROGRESS = "in_progress"
#: Where checkpoints that do not load are moved (``DIR/set_aside/``), never deleted.
SET_ASIDE = "set_aside"
#: Files a finished run has; either one marks the folder as holding a finished run.
FINISHED_MARKERS = ("metrics.json", "model.keras")
#: Files a run writes into ``DIR`` (kept when it publishes, else removed as stale).
RUN_FILES = ("model.keras", "log.csv", "learning_curves.png", "predictions.png", "metrics.json")
#: Complete checkpoints kept in ``in_progress`` (the newest and the one before it).
KEPT_CHECKPOINTS = 2

_TEMPORARY = re.compile(r"^\.tmp_(\d+)_")
_CHECKPOINT = re.compile(r"^epoch_(\d{4,})\.(keras|json)$")


class OutputError(ValueError):
    """The output directory cannot be used (a file, unwritable, below a file, a finished run)."""


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


def check_not_finished(path, overwrite):
    """Raises ``OutputError`` if ``path`` holds a finished run and no interrupted one, unless
    ``overwrite``. An interrupted run (a checkpoint in ``in_progress``) is resumed instead."""
    run = RunDir(path)
    if overwrite or not run.holds_finished_run() or run.has_checkpoint():
        return
    found = ", ".join(name for name in FINISHED_MARKERS if os.path.exists(run.path(name)))
    raise OutputError(
        f"The output folder holds a finished run ({found}); it is left as it is. Pass "
        f"--overwrite (train(overwrite=True)) to replace it and the files that describe its "
        f"model (its .tflite and SavedModel exports), or choose another output. "
        f"Received: output={run.root}"
    )


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sync_folder(folder):
    """Makes a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, write):
    """Calls ``write(temporary_path)``, syncs the file, then renames it to ``path``.

    The temporary file is in ``path``'s folder and keeps its extension (``model.save`` and
    ``savefig`` read it); the final file gets ``0o666`` less the umask (``0o644`` usually).
    If anything fails (or the process is interrupted), ``path`` keeps its old contents.
    """
    folder, name = os.path.split(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".tmp_{os.getpid()}_", suffix=f"_{name}", dir=folder)
    os.close(fd)
    try:
        write(temporary)
        with open(temporary, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _sync_folder(folder)
    return path


def write_json(path, data):
    def write(temporary):
        with open(temporary, "w") as f:
            json.dump(data, f, indent=2)

    return atomic_write(path, write)


def write_log(path, rows):
    """Writes ``rows`` (dicts with an ``epoch`` key) as a ``log.csv``, atomically."""
    keys = sorted({key for row in rows for key in row if key != "epoch"})

    def write(temporary):
        with open(temporary, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", *keys])
            for row in rows:
                writer.writerow([row["epoch"], *(row.get(key, "") for key in keys)])

    return atomic_write(path, write)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _process_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def remove_stale_temporaries(folder):
    """Removes the temporary files of processes that died while writing (never those of a
    live process). Returns their names."""
    removed = []
    if not os.path.isdir(folder):
        return removed
    for name in sorted(os.listdir(folder)):
        match = _TEMPORARY.match(name)
        if match and not _process_alive(int(match.group(1))):
            path = os.path.join(folder, name)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)
            removed.append(name)
    return removed


class RunDir:
    """The folders and files of one run (``root`` is ``DIR`` or ``DIR/workers/<role>``)."""

    def __init__(self, root):
        self.root = os.path.abspath(os.fspath(root))
        self.in_progress = os.path.join(self.root, IN_PROGRESS)
        self.partial_log = os.path.join(self.in_progress, "log.csv")
        self._created = []

    def path(self, name):
        return os.path.join(self.root, name)

    def holds_finished_run(self):
        return any(os.path.exists(self.path(name)) for name in FINISHED_MARKERS)

    # ------------------------------------------------------------------------ checkpoints

    def checkpoint_path(self, epoch, kind):
        return os.path.join(self.in_progress, f"epoch_{epoch:04d}.{kind}")

    def checkpoint_files(self):
        """``{epoch: {"keras", "json"}}`` of the checkpoint files in ``in_progress``."""
        found = {}
        if os.path.isdir(self.in_progress):
            for name in os.listdir(self.in_progress):
                match = _CHECKPOINT.match(name)
                if match:
                    found.setdefault(int(match.group(1)), set()).add(match.group(2))
        return found

    def save_checkpoint(self, save_model, epoch, metadata):
        """Writes checkpoint ``epoch`` (epochs completed): ``save_model(path)`` writes the
        ``.keras``, then its ``.json`` (``metadata`` with the file's size and SHA-256) makes
        it count. Then deletes all but the newest ``KEPT_CHECKPOINTS`` complete ones."""
        model_path = self.checkpoint_path(epoch, "keras")
        atomic_write(model_path, save_model)
        described = {
            **metadata,
            "epoch": int(epoch),
            "file": os.path.basename(model_path),
            "size": os.path.getsize(model_path),
            "sha256": sha256(model_path),
        }
        write_json(self.checkpoint_path(epoch, "json"), described)
        complete = sorted(e for e, kinds in self.checkpoint_files().items() if "json" in kinds)
        for old in complete[:-KEPT_CHECKPOINTS]:
            self.delete_checkpoint(old)

    def delete_checkpoint(self, epoch):
        """The ``.json`` first: a checkpoint without it no longer counts."""
        for kind in ("json", "keras"):
            path = self.checkpoint_path(epoch, kind)
            if os.path.exists(path):
                os.remove(path)

    def read_checkpoint(self, epoch):
        """The metadata of checkpoint ``epoch`` after checking its file against it; raises
        ``ValueError`` (the reason) if the checkpoint is incomplete or damaged."""
        try:
            with open(self.checkpoint_path(epoch, "json")) as f:
                metadata = json.load(f)
        except (OSError, ValueError) as error:
            raise ValueError(
                f"unreadable {os.path.basename(self.checkpoint_path(epoch, 'json'))}"
                f" ({type(error).__name__})"
            ) from None
        model_path = self.checkpoint_path(epoch, "keras")
        if not isinstance(metadata, dict) or metadata.get("epoch") != epoch:
            raise ValueError("its metadata does not describe it")
        if not os.path.exists(model_path):
            raise ValueError(f"{os.path.basename(model_path)} is missing")
        if os.path.getsize(model_path) != metadata.get("size"):
            raise ValueError(
                f"{os.path.basename(model_path)} has {os.path.getsize(model_path)} bytes, "
                f"not {metadata.get('size')}"
            )
        if sha256(model_path) != metadata.get("sha256"):
            raise ValueError(f"{os.path.basename(model_path)} does not match its checksum")
        rows = metadata.get("log")
        if not isinstance(rows, list) or [row.get("epoch") for row in rows] != list(range(epoch)):
            raise ValueError("its log rows are not one per epoch")
        return metadata

    def set_aside(self, epoch):
        """Moves checkpoint ``epoch``'s files to ``DIR/set_aside/`` (a free name); returns
        the folder."""
        folder = self.path(SET_ASIDE)
        os.makedirs(folder, exist_ok=True)
        for kind in ("json", "keras"):
            source = self.checkpoint_path(epoch, kind)
            if not os.path.exists(source):
                continue
            name, count = os.path.basename(source), 1
            target = os.path.join(folder, name)
            while os.path.exists(target):
                count += 1
                target = os.path.join(folder, f"{count}_{name}")
            os.rename(source, target)
        return folder

    def clean(self):
        """Removes what a killed process left that never counted: temporary files, and
        checkpoint files without their ``.json`` (``.keras`` written, ``.json`` not yet)."""
        remove_stale_temporaries(self.in_progress)
        remove_stale_temporaries(self.root)
        for epoch, kinds in self.checkpoint_files().items():
            if "json" not in kinds:
                self.delete_checkpoint(epoch)

    def has_checkpoint(self):
        return any("json" in kinds for kinds in self.checkpoint_files().values())

    # ----------------------------------------------------------------------- the folders

    def prepare(self):
        """Creates the folders (remembering which) and drops the stale state of a run that
        never completed an epoch. Workers of one multi-worker run share the parent folders,
        so a folder another worker created meanwhile is left to it."""
        self.clean()
        if not self.has_checkpoint() and os.path.isdir(self.in_progress):
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
        if not self.has_checkpoint() and os.path.isdir(self.in_progress):
            shutil.rmtree(self.in_progress, ignore_errors=True)
        for folder in reversed(self._created):
            try:
                os.rmdir(folder)
            except OSError:
                pass  # not empty: an epoch's state to resume from

    def finish(self):
        """Removes the run's state after success (its files are published): renamed to a
        temporary name first, so a kill during the removal leaves either the whole state
        (the next run publishes again) or a temporary folder the next run removes."""
        if os.path.isdir(self.in_progress):
            doomed = os.path.join(self.root, f".tmp_{os.getpid()}_{IN_PROGRESS}")
            os.rename(self.in_progress, doomed)
            _sync_folder(self.root)
            shutil.rmtree(doomed, ignore_errors=True)

    def stale_files(self, written):
        """The files in ``DIR`` that describe an earlier run's model and that this run did
        not write: its run files, ``.tflite`` exports and SavedModel folders."""
        stale = []
        for name in sorted(os.listdir(self.root)):
            path = self.path(name)
            if name in written or name.startswith("."):
                continue
            if name in RUN_FILES or (name.endswith(".tflite") and os.path.isfile(path)):
                stale.append(name)
            elif os.path.isdir(path) and os.path.isfile(os.path.join(path, "saved_model.pb")):
                stale.append(name)
        return stale

    def remove(self, names):
        for name in names:
            path = self.path(name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
