"""The checkpoint of a run: the training state after the last finished epoch, which a crash cannot damage.

The checkpoint is a folder (``backup/`` in a run folder) holding ``epoch-N.keras`` (the model with its
weights, the optimizer's state and every scheduler's counter after epoch ``N``) and ``checkpoint.json``,
which names that file, the number of finished epochs, their rows of ``history.csv`` and the random state
that training draws from (``tfae.training.random_state``). Each file is written as ``tfae.safe_files``
writes files, and ``checkpoint.json`` is replaced only once the file it names is on disk, and the older one
is removed only after that, so the checkpoint is always a consistent pair.
"""

import json
import shutil
import zipfile
from pathlib import Path

import keras

from tfae.callbacks import BackupAndRestore
from tfae.divergence import non_finite_losses
from tfae.errors import CheckpointError
from tfae.safe_files import make_folder, remove_partial_files, save_model, write_text
from tfae.training.history import history_text
from tfae.training.random_state import random_state, restore_random_state

CHECKPOINT_FILE = "checkpoint.json"
# 2: checkpoint.json holds the random state too ("random"); a checkpoint of format 1 resumes without it.
CHECKPOINT_FORMAT = 2
# Checkpoints written before tfae wrote them as .keras files hold .weights.h5 files; both load.
WEIGHTS_PATTERNS = ("epoch-*.keras", "epoch-*.weights.h5")


class Checkpoint(keras.callbacks.Callback):
    """Saves the training state after every epoch whose logged losses are all finite, crash-safely.

    ``restore(model)`` before ``fit`` loads the last checkpoint and returns the epoch to start from (pass it
    to ``fit`` as ``initial_epoch``). After each epoch the callback writes the model (``epoch-N.keras``: its
    weights and optimizer state), then ``checkpoint.json`` (with the random state, ``random_state``), then
    ``history_path`` (when given) with one row per finished epoch. ``restore`` puts the random state back
    too, so that the epochs after it draw the numbers that an uninterrupted run draws; the data's order is
    the caller's to make a function of the epoch (``tfae train`` does: ``tfae.training.run.EpochBatches``).
    An epoch whose loss is NaN or inf is not saved, so the checkpoint keeps the last good state. A write
    that finds no room raises ``DiskFullError`` and leaves the checkpoint as it was, so ``restore`` resumes
    from the last epoch saved.

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
        """The contents of ``checkpoint.json``: ``epoch``, ``weights`` (a file name), ``history`` (rows) and
        ``random`` (the random state, ``None`` in a checkpoint of an older tfae).

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
        return {"epoch": epoch, "weights": weights, "history": rows, "random": state.get("random")}

    def restore(self, model):
        """Loads the last checkpoint into ``model`` (built and compiled); returns the epoch to start from.

        Without a checkpoint this is epoch 0. ``history_path`` is rewritten to the checkpoint's rows, so
        rows of epochs that were not saved (a crash after the history was written) are dropped. The random
        state is put back (``restore_random_state``), the global generators of Python and NumPy included.

        Raises:
            CheckpointError: the checkpoint is unreadable, or its weights file or random state is.
        """
        self.rows, self.epoch = [], 0
        if self.writes:
            remove_partial_files(self.folder)
        if self.exists:
            state = self.read()
            self.load_weights(model, state["weights"])
            if state["random"] is not None:
                try:
                    restore_random_state(model, state["random"])
                except CheckpointError as error:
                    raise CheckpointError(f"the checkpoint {self.folder / CHECKPOINT_FILE}: {error}") from None
            self.rows, self.epoch = state["history"], state["epoch"]
            if self.writes:
                self._remove_weights(keep=state["weights"])
        self._write_history()
        return self.epoch

    def load_weights(self, model, weights=None):
        """Loads the checkpoint's weights (and optimizer state) into ``model``."""
        weights = self.read()["weights"] if weights is None else weights
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        try:
            model.load_weights(self.folder / weights)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise CheckpointError(f"cannot load the checkpoint {self.folder / weights}: {error}") from None

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if not self.writes or non_finite_losses(logs):
            return
        make_folder(self.folder)
        weights = f"epoch-{epoch + 1}.keras"
        # A .keras file: Keras builds its HDF5 part in memory, so a full disk fails in a plain write.
        save_model(self.model, self.folder / weights)
        row = {"epoch": epoch, **{key: float(value) for key, value in logs.items()}}
        state = {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch + 1,
            "weights": weights,
            "history": [*self.rows, row],
            # Taken after the epoch's validation, which draws noise too: what the next epoch starts from.
            "random": random_state(self.model),
        }
        try:
            write_text(self.folder / CHECKPOINT_FILE, json.dumps(state, indent=1) + "\n")
        except BaseException:
            if self._named_weights() != weights:  # no checkpoint names it: it would only take room
                (self.folder / weights).unlink(missing_ok=True)
            raise
        self.rows, self.epoch = state["history"], state["epoch"]
        self._remove_weights(keep=weights)
        self._write_history()

    def _named_weights(self):
        """The file that ``checkpoint.json`` names, or ``None``."""
        try:
            return str(json.loads((self.folder / CHECKPOINT_FILE).read_text(encoding="utf-8"))["weights"])
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def _remove_weights(self, keep):
        """Deletes the epochs' files other than ``keep``: older ones, and any that a failure left unnamed."""
        for pattern in WEIGHTS_PATTERNS:
            for path in self.folder.glob(pattern):
                if path.name != keep:
                    path.unlink(missing_ok=True)

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


__all__ = [
    "CHECKPOINT_FILE",
    "Checkpoint",
    # Its former place, kept for old imports: it is tfae.callbacks.BackupAndRestore.
    "BackupAndRestore",
]
