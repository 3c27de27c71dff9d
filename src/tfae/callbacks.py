"""Keras callbacks for training tfae models with ``fit``, under a ``tf.distribute`` strategy or without one.

``BackupAndRestore`` is ``keras.callbacks.BackupAndRestore`` made safe for several workers and for a crash
while it writes. A run of ``tfae train`` keeps its own checkpoint instead
(``tfae.training.checkpoints.Checkpoint``, in the run's ``backup/`` folder).
"""

from __future__ import annotations

import json
import os
import shutil

from tfae.distribute import is_chief
from tfae.keras_private import BackupAndRestoreWriter
from tfae.safe_files import check_room, make_folder, replacing, saved_size, write_text


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
    the file that records their epoch resumes from that epoch with the next epoch's weights.) A write that
    finds no room raises ``DiskFullError`` and leaves the previous backup whole too. A ``gs://`` or other
    URL is written as Keras writes it.

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
        make_folder(self.backup_dir)
        if self.double_checkpoint:
            for path, previous in ((weights_path, previous_weights_path), (metadata_path, previous_metadata_path)):
                if os.path.exists(path):
                    with replacing(previous) as temporary:
                        shutil.copyfile(path, temporary)
        # Keras writes this HDF5 file on disk itself: the room is claimed first (see check_room).
        check_room(weights_path, saved_size(self.model))
        with replacing(weights_path) as temporary:
            self.model.save_weights(temporary)
        write_text(metadata_path, json.dumps(metadata))


__all__ = ["BackupAndRestore"]
