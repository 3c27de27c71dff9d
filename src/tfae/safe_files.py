"""Files that a crash never leaves half-written, and writes that find the disk full.

Every file is written under a temporary name in its own folder, flushed to disk, and then renamed over
the real name with ``os.replace``, which is atomic on POSIX and Windows file systems. A process killed at
any instant (SIGKILL, a power cut after the flush) therefore leaves either the old file or the new one,
never a mixture; a write that fails leaves the old file and removes the temporary one.

A write that fails for want of room (a full disk, a used-up quota, a file-size limit) raises a
``DiskFullError`` that names the file. HDF5, which Keras writes weights with, does not survive a write that
fails halfway: h5py then reports errors each time it touches the file, and the process can crash when it
exits. So tfae keeps HDF5 off the disk where it can: a ``.keras`` file's HDF5 part is built in memory
and tfae's own writes put it on disk (``save_model``); and before Keras writes anything, tfae claims the
room the file will need (``check_room``), so that a disk already too full fails before HDF5 starts.

``tfae train`` writes its run folder with these functions, the other commands of ``tfae`` their output
files, and ``tfae.callbacks.BackupAndRestore`` its backup.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfae.errors import DiskFullError

if TYPE_CHECKING:
    import keras

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
