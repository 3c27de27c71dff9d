"""Files that a crash never leaves half-written: the run's checkpoint, its history and its model.

Every file is written under a temporary name in its own folder, flushed to disk, and then renamed over
the real name with ``os.replace``, which is atomic on POSIX and Windows file systems. A process killed at
any instant (SIGKILL, a power cut after the flush) therefore leaves either the old file or the new one,
never a mixture; a write that fails (a full disk, a file-size limit) leaves the old file and removes the
temporary one.

The checkpoint is a folder (``backup/`` in a run folder) holding ``epoch-N.weights.h5`` (the weights, the
optimizer's state and every scheduler's counter after epoch ``N``) and ``checkpoint.json``, which names that
file, the number of finished epochs and their rows of ``history.csv``. ``checkpoint.json`` is replaced
only once the weights it names are on disk, and the older weights are removed only after that, so the
checkpoint is always a consistent pair.
"""

import contextlib
import csv
import io
import json
import math
import os
import secrets
import shutil
from pathlib import Path

import keras

from tfae.distribute import is_chief
from tfae.errors import CheckpointError
from tfae.keras_private import BackupAndRestoreWriter

CHECKPOINT_FILE = "checkpoint.json"
CHECKPOINT_FORMAT = 1


def _sync_folder(folder):
    """Flushes a folder's entries (a rename) to disk, where the platform allows it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows opens no folders; its renames need no such flush.
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def replacing(path):
    """Yields a temporary path beside ``path`` (same folder, same suffix) to write the new file to.

    When the block finishes, the file is flushed to disk and renamed over ``path``; when it raises, the
    temporary file is removed and ``path`` is left as it was.

    Example:

    ```python
    with replacing("runs/vae/model.keras") as temporary:
        model.save(temporary)
    ```
    """
    path = Path(path)
    suffix = ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix
    # A name of its own per process and call (not mkstemp's, whose file would keep mode 0600).
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial{suffix}")
    try:
        yield temporary
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def remove_partial_files(folder):
    """Deletes the temporary files that a process killed while writing left in ``folder``."""
    for path in Path(folder).glob(".*.partial*"):
        path.unlink(missing_ok=True)


def write_text(path, text):
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def save_model(model, path):
    """``model.save(path)``, atomically: a crash while saving leaves the previous file at ``path``."""
    with replacing(path) as temporary:
        model.save(temporary)


def history_text(rows):
    """``history.csv`` as text: a header ``epoch,<logged names, sorted>`` and one row per epoch."""
    columns = sorted({key for row in rows for key in row if key != "epoch"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["epoch", *columns], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def finite_losses(logs):
    """Whether every logged loss (``loss``, ``val_loss``, ``reconstruction_loss``, ...) is a finite number."""
    return all(
        math.isfinite(value)
        for key, value in logs.items()
        if key.endswith("loss") and isinstance(value, (int, float)) and not isinstance(value, bool)
    )


class Checkpoint(keras.callbacks.Callback):
    """Saves the training state after every epoch whose logged losses are all finite, crash-safely.

    ``restore(model)`` before ``fit`` loads the last checkpoint and returns the epoch to start from (pass it
    to ``fit`` as ``initial_epoch``). After each epoch the callback writes the weights and optimizer state,
    then ``checkpoint.json``, then ``history_path`` (when given) with one row per finished epoch. An epoch
    whose loss is NaN or inf is not saved, so the checkpoint keeps the last good state.

    Args:
        folder: the checkpoint folder (created on the first save).
        history_path: optional ``history.csv`` to keep in step with the checkpoint.
        writes: ``False`` on the workers of a multi-worker job other than the chief: they restore from the
            chief's checkpoint and write nothing.
    """

    def __init__(self, folder, history_path=None, writes=True):
        super().__init__()
        self.folder = Path(folder)
        self.history_path = None if history_path is None else Path(history_path)
        self.writes = writes
        self.rows = []
        self.epoch = 0

    @property
    def exists(self):
        """Whether the folder holds a checkpoint (a ``checkpoint.json``)."""
        return (self.folder / CHECKPOINT_FILE).is_file()

    def read(self):
        """The contents of ``checkpoint.json``: ``epoch``, ``weights`` (a file name) and ``history`` (rows).

        Raises:
            CheckpointError: the file is unreadable, or the weights it names are missing.
        """
        path = self.folder / CHECKPOINT_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            epoch, weights, rows = int(state["epoch"]), str(state["weights"]), list(state["history"])
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise CheckpointError(f"the checkpoint {path} is unreadable ({error})") from None
        if Path(weights).name != weights or not (self.folder / weights).is_file():
            raise CheckpointError(f"the checkpoint {path} names the weights file {weights!r}, which is missing")
        return {"epoch": epoch, "weights": weights, "history": rows}

    def restore(self, model):
        """Loads the last checkpoint into ``model`` (built and compiled); returns the epoch to start from.

        Without a checkpoint this is epoch 0. ``history_path`` is rewritten to the checkpoint's rows, so
        rows of epochs that were not saved (a crash after the history was written) are dropped.
        """
        self.rows, self.epoch = [], 0
        if self.writes:
            remove_partial_files(self.folder)
        if self.exists:
            state = self.read()
            self.load_weights(model, state["weights"])
            self.rows, self.epoch = state["history"], state["epoch"]
        self._write_history()
        return self.epoch

    def load_weights(self, model, weights=None):
        """Loads the checkpoint's weights (and optimizer state) into ``model``."""
        weights = self.read()["weights"] if weights is None else weights
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        try:
            model.load_weights(self.folder / weights)
        except (OSError, ValueError) as error:
            raise CheckpointError(f"cannot load the checkpoint {self.folder / weights}: {error}") from None

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if not self.writes or not finite_losses(logs):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        weights = f"epoch-{epoch + 1}.weights.h5"
        with replacing(self.folder / weights) as temporary:
            self.model.save_weights(temporary)
        row = {"epoch": epoch, **{key: float(value) for key, value in logs.items()}}
        state = {"format": CHECKPOINT_FORMAT, "epoch": epoch + 1, "weights": weights, "history": [*self.rows, row]}
        write_text(self.folder / CHECKPOINT_FILE, json.dumps(state, indent=1) + "\n")
        self.rows, self.epoch = state["history"], state["epoch"]
        for path in self.folder.glob("epoch-*.weights.h5"):
            if path.name != weights:
                path.unlink(missing_ok=True)
        self._write_history()

    def _write_history(self):
        if self.history_path is None or not self.writes:
            return
        if self.rows:
            write_text(self.history_path, history_text(self.rows))
        else:
            self.history_path.unlink(missing_ok=True)

    def remove(self):
        """Deletes the checkpoint: ``checkpoint.json`` first, so a crash meanwhile leaves no half checkpoint."""
        if not self.writes:
            return
        (self.folder / CHECKPOINT_FILE).unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)


class BackupAndRestore(BackupAndRestoreWriter):
    """``keras.callbacks.BackupAndRestore`` that only the chief writes, and that a crash cannot damage.

    Keras' callback writes the backup from every process; with several workers sharing ``backup_dir`` they
    would write the same files at once. Here every worker restores from ``backup_dir`` when training starts,
    so all resume from the same epoch with the same weights, and only the chief writes and finally deletes
    it. On several machines ``backup_dir`` must be storage that every worker reads (a network file system,
    or a ``gs://`` path).

    Keras also writes the backup's files in place, so a process killed while writing leaves a weights file
    that cannot be restored. Here, on a file system path, each file is written under a temporary name and
    renamed over the old one: a crash leaves the previous backup whole. (A crash between the weights and
    the file that records their epoch resumes from that epoch with the next epoch's weights.) A ``gs://``
    or other URL is written as Keras writes it.

    Args:
        backup_dir: the folder that holds the state after the last finished epoch.
        **kwargs: the other ``keras.callbacks.BackupAndRestore`` arguments.
    """

    def __init__(self, backup_dir, **kwargs):
        super().__init__(backup_dir, **kwargs)
        self.chief = True

    def on_train_begin(self, logs=None):
        strategy = getattr(self.model, "distribute_strategy", None)  # only TensorFlow's models have one
        self.chief = strategy is None or is_chief(strategy)
        super().on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.chief:
            super().on_epoch_end(epoch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if self.chief:
            super().on_train_batch_end(batch, logs)

    def on_train_end(self, logs=None):
        if self.chief:
            super().on_train_end(logs)

    def write_backup(self, weights_path, metadata_path, previous_weights_path, previous_metadata_path, metadata):
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for path, previous in ((weights_path, previous_weights_path), (metadata_path, previous_metadata_path)):
                if os.path.exists(path):
                    with replacing(previous) as temporary:
                        shutil.copyfile(path, temporary)
        with replacing(weights_path) as temporary:
            self.model.save_weights(temporary)
        write_text(metadata_path, json.dumps(metadata))
