"""Files that a crash never leaves half-written: the run's checkpoint, its history and its model.

Every file is written under a temporary name in its own folder, flushed to disk, and then renamed over
the real name with ``os.replace``, which is atomic on POSIX and Windows file systems. A process killed at
any instant (SIGKILL, a power cut after the flush) therefore leaves either the old file or the new one,
never a mixture; a write that fails leaves the old file and removes the temporary one.

A write that fails for want of room (a full disk, a used-up quota, a file-size limit) raises a
``DiskFullError`` that names the file. HDF5, which Keras writes weights with, does not survive a write that
fails halfway: h5py then reports errors each time it touches the file, and the process can crash when it
exits. So tfae keeps HDF5 off the disk where it can: a ``.keras`` file's HDF5 part is built in memory
and tfae's own writes put it on disk; and before Keras writes anything, tfae claims the room the file will
need (``check_room``), so that a disk already too full fails before HDF5 starts.

The checkpoint is a folder (``backup/`` in a run folder) holding ``epoch-N.keras`` (the model with its
weights, the optimizer's state and every scheduler's counter after epoch ``N``) and ``checkpoint.json``,
which names that file, the number of finished epochs, their rows of ``history.csv`` and the random state
that training draws from (``random_state``). ``checkpoint.json`` is replaced only once the file it names is
on disk, and the older one is removed only after that, so the checkpoint is always a consistent pair.
"""

import contextlib
import csv
import errno
import io
import json
import math
import os
import random
import re
import secrets
import shutil
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np

from tfae.distribute import is_chief
from tfae.divergence import non_finite_losses
from tfae.errors import CheckpointError, DiskFullError
from tfae.keras_private import BackupAndRestoreWriter

CHECKPOINT_FILE = "checkpoint.json"
# 2: checkpoint.json holds the random state too ("random"); a checkpoint of format 1 resumes without it.
CHECKPOINT_FORMAT = 2
# Checkpoints written before tfae wrote them as .keras files hold .weights.h5 files; both load.
WEIGHTS_PATTERNS = ("epoch-*.keras", "epoch-*.weights.h5")
# The errors of a write that found no room: a full disk, a used-up quota, a file-size limit.
NO_ROOM = frozenset(code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG) if code)
# h5py reports HDF5's failed writes with the operating system's errno in the text only.
HDF5_ERRNO = re.compile(r"errno = (\d+)")
# What Keras' HDF5 file takes beyond the variables' bytes: 0.8 to 1.4 KiB per variable with Keras 3.15 and
# h5py 3.14, and a fixed part. Estimated high, so that HDF5 finds the room it was promised.
HDF5_BYTES_PER_VARIABLE = 1536
HDF5_BYTES_FIXED = 64 * 1024


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


def no_room(error: BaseException | None) -> int | None:
    """The errno of ``error`` when it is a write that found no room (``ENOSPC``, ``EDQUOT``, ``EFBIG``), or ``None``.

    The errors it was raised during are looked at too: Keras and ``zipfile`` can fail again while they clean
    up after the first failure. h5py reports HDF5's failed writes as ``OSError`` or ``RuntimeError``.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in NO_ROOM:
            return error.errno
        if isinstance(error, (OSError, RuntimeError)):
            found = HDF5_ERRNO.search(str(error))
            if found and int(found.group(1)) in NO_ROOM:
                return int(found.group(1))
        error = error.__cause__ or error.__context__
    return None


@contextlib.contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turns an error in the block that is a write finding no room into a ``DiskFullError`` naming ``path``.

    Example:

    ```python
    with writing("runs/vae/history.csv"):
        Path("runs/vae/history.csv").write_text(text)
    ```
    """
    try:
        yield
    except DiskFullError:
        raise
    except (OSError, RuntimeError) as error:
        code = no_room(error)
        if code is None:
            raise
        raise DiskFullError(str(path), code) from None


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yields a temporary path beside ``path`` (same folder, same suffix) to write the new file to.

    When the block finishes, the file is flushed to disk and renamed over ``path``; when it raises, the
    temporary file is removed and ``path`` is left as it was. A write that finds no room raises
    ``DiskFullError``.

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
        with writing(path):
            yield temporary
            with open(temporary, "rb+") as file:
                os.fsync(file.fileno())
            os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def make_folder(folder: str | os.PathLike[str]) -> None:
    """``mkdir -p folder``; a disk too full for the folder raises ``DiskFullError``."""
    with writing(folder):
        Path(folder).mkdir(parents=True, exist_ok=True)


def saved_size(model: keras.Model) -> int:
    """About how many bytes Keras' HDF5 file of ``model`` takes: its variables, its optimizer's, and HDF5's
    own structures (estimated high)."""
    variables = list(model.variables)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    size = HDF5_BYTES_FIXED
    for variable in variables:
        try:
            itemsize = np.dtype(variable.dtype).itemsize
        except TypeError:
            itemsize = 8
        size += math.prod(variable.shape) * itemsize + HDF5_BYTES_PER_VARIABLE
    return size


def check_room(path: str | os.PathLike[str], size: int) -> None:
    """Raises ``DiskFullError`` unless ``size`` more bytes fit beside ``path``.

    The room is claimed for real, in a scratch file beside ``path`` that is removed at once, so that a
    quota and a file-size limit count as they will for the file itself. Where the file system cannot claim
    room ahead, its free space is compared instead. Another process may still fill the disk in between.
    """
    path = Path(path)
    scratch = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial.room")
    try:
        with writing(path):
            descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                _claim(descriptor, size, path.parent)
            finally:
                os.close(descriptor)
    finally:
        scratch.unlink(missing_ok=True)


def _claim(descriptor: int, size: int, folder: Path) -> None:
    try:
        os.posix_fallocate(descriptor, 0, size)
        return
    except AttributeError:  # macOS and Windows have no posix_fallocate
        pass
    except OSError as error:
        if error.errno in NO_ROOM:
            raise
    if shutil.disk_usage(folder).free < size:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def remove_partial_files(folder):
    """Deletes the temporary files that a process killed while writing left in ``folder``."""
    for path in Path(folder).glob(".*.partial*"):
        path.unlink(missing_ok=True)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically."""
    with replacing(path) as temporary:
        temporary.write_bytes(data)


def save_model(model: keras.Model, path: str | os.PathLike[str]) -> None:
    """``model.save(path)``, atomically: a crash while saving leaves the previous file at ``path``.

    Raises:
        DiskFullError: the disk (or a quota, or a file-size limit) has no room for the file; nothing of it is
            left behind.
    """
    check_room(path, saved_size(model))
    with replacing(path) as temporary:
        model.save(temporary)


def seed_generator_states(model: keras.Model) -> list:
    """The state variables of every ``keras.random.SeedGenerator`` in ``model``, in a fixed order: the
    bottleneck's, its regularizers', a dropout layer's, at any depth.

    Keras saves a model's weights but not these, so a model loaded from a file draws the noise that the
    model drew when it was new. They are what ``model.variables`` holds beyond ``model.weights``.
    """
    weights = {id(weight) for weight in model.weights}
    states, seen = [], set()
    for variable in model.variables:
        if id(variable) not in weights and id(variable) not in seen:
            seen.add(id(variable))
            states.append(variable)
    return states


def random_state(model: keras.Model) -> dict:
    """The random state that training ``model`` draws from, as JSON-ready values.

    Its seed generators' states (``seed_generator_states``: the noise of a variational bottleneck, a
    regularizer's draws, dropout), and the global generators of Python's ``random`` and of NumPy, which a
    plugin's callback may use. ``restore_random_state`` puts it back.
    """
    version, words, gauss = random.getstate()
    name, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "seed_generators": [
            [variable.path, np.asarray(keras.ops.convert_to_numpy(variable)).tolist()]
            for variable in seed_generator_states(model)
        ],
        # The generators' words as hexadecimal text, one line each in checkpoint.json.
        "python": [version, _hex_words(words), gauss],
        "numpy": [name, _hex_words(keys), int(position), int(has_gauss), float(cached)],
    }


def restore_random_state(model: keras.Model, state: dict) -> None:
    """Puts back a ``random_state(model)`` of a model built from the same config.

    The seed generators are matched by their order in the model (their names carry counters of the process
    that made them, so they may differ). A model with another number of seed generators, or of other shapes
    (tfae or a plugin changed in between), gets none of them back, with a warning that the resumed run will
    not repeat an uninterrupted one exactly.

    Raises:
        CheckpointError: ``state`` is not a random state that ``random_state`` wrote.
    """
    try:
        saved = [(str(path), np.asarray(values)) for path, values in state["seed_generators"]]
        version, words, gauss = state["python"]
        python_state = (int(version), tuple(_words(words).tolist()), None if gauss is None else float(gauss))
        name, keys, position, has_gauss, cached = state["numpy"]
        numpy_state = (str(name), _words(keys), int(position), int(has_gauss), float(cached))
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise CheckpointError(f"its random state is unreadable ({type(error).__name__}: {error})") from None
    variables = seed_generator_states(model)
    if len(variables) != len(saved) or any(
        tuple(variable.shape) != values.shape for variable, (_, values) in zip(variables, saved)
    ):
        warnings.warn(
            f"The checkpoint holds the states of {len(saved)} seed generators, which do not match this model's "
            f"{len(variables)} (tfae or a plugin changed since it was written), so training goes on from their "
            "new states: from here on the run will not repeat an uninterrupted one exactly.",
            stacklevel=2,
        )
        return
    for variable, (_, values) in zip(variables, saved):
        variable.assign(values.astype(variable.dtype))


def _hex_words(words) -> str:
    return np.asarray(words, dtype="<u4").tobytes().hex()


def _words(text: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(text), dtype="<u4").astype(np.uint32)


def history_text(rows):
    """``history.csv`` as text: a header ``epoch,<logged names, sorted>`` and one row per epoch."""
    columns = sorted({key for row in rows for key in row if key != "epoch"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["epoch", *columns], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


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
