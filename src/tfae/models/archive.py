"""What a ``.keras`` file must be before anything in it is read: a complete zip archive of bounded size.

The sizes are read from the zip's directory, before anything is inflated. ``config.json`` and
``metadata.json``, which Keras reads whole into memory, may each declare at most ``MAX_CONFIG_BYTES``
(16 MiB; ``tfae.load_model(..., max_config_bytes=)`` or the environment variable
``TFAE_MAX_MODEL_CONFIG_BYTES`` changes it). The weights may be as large as the model is, since Keras
stores every member uncompressed; but members that together declare more than that limit and more than
``MAX_EXPANSION`` (100) times the file's size on disk are a decompression bomb. A member must be stored,
taking the bytes it declares, or deflated, inflating to no more than it declares (checked 1 MiB at a time).
"""

from __future__ import annotations

import json
import numbers
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

from tfae.byte_sizes import readable_bytes
from tfae.errors import ModelFileError, escaped

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MESSAGE_LENGTH = 400
# A name that a file gives (a component's, a class's, a module's, a layer's) is shown in a message up to this
# many characters: registered names and module paths take a few dozen, and a file can hold one of megabytes.
MAX_NAME_LENGTH = 100
# A tfae model's config.json takes kilobytes (a layer takes about 1 kB of it). Keras reads it whole and
# parses it, which takes several times its size in memory.
MAX_CONFIG_BYTES = 16 * 2**20
MAX_CONFIG_BYTES_VARIABLE = "TFAE_MAX_MODEL_CONFIG_BYTES"
# The JSON members, read whole. (Keras reads the weights whole too, but only when the variables that the
# config builds fit in memory: their size is bounded by the model, not by this limit.)
WHOLE_MEMBERS = ("config.json", "metadata.json")
# Keras stores members uncompressed; DEFLATE reaches about 1000:1 on repeated bytes.
MAX_EXPANSION = 100
# Keras writes members stored; `zip` and zipfile can deflate them. zipfile inflates other methods (bzip2,
# LZMA) without a bound on each read, so a small stream could fill memory before any size is checked.
READABLE_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
CHUNK_BYTES = 2**20


def config_size_limit(value: int | None = None) -> int:
    """The size limit in force for ``config.json`` and ``metadata.json``.

    Args:
        value: the limit given to ``load_model``; ``None`` reads ``TFAE_MAX_MODEL_CONFIG_BYTES``, and
            without it ``MAX_CONFIG_BYTES``.

    Returns:
        The limit in bytes.

    Raises:
        ValueError: the value, or the environment variable, is not a positive whole number of bytes.
    """
    if value is None:
        text = os.environ.get(MAX_CONFIG_BYTES_VARIABLE, "").strip()
        if not text:
            return MAX_CONFIG_BYTES
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(
                f"{MAX_CONFIG_BYTES_VARIABLE} must be a positive whole number of bytes, such as "
                f"{MAX_CONFIG_BYTES} (16 MiB, the default). Received: {MAX_CONFIG_BYTES_VARIABLE}={text!r}"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"`max_config_bytes` must be a positive whole number of bytes, such as {MAX_CONFIG_BYTES} (16 MiB, "
            f"the default). Received: max_config_bytes={value!r}"
        )
    return int(value)


def _too_large(path: Path, member: str, what: str, limit: int, stopped: str = "it was not inflated") -> ModelFileError:
    """``what`` is ``"declares 3.0 GiB, over"`` or ``"inflates past"``."""
    return ModelFileError(
        f"{path}: its {member} {what} the {readable_bytes(limit, binary=True)} limit on what tfae reads of it "
        f"(a tfae model's {member} takes kilobytes), so the file is damaged or made to exhaust memory; {stopped}. "
        f"If you trust the file, raise the limit: load_model(..., max_config_bytes=N) or {MAX_CONFIG_BYTES_VARIABLE}=N"
    )


def _check_sizes(path: Path, archive: zipfile.ZipFile, limit: int) -> None:
    """Refuses an archive whose directory declares members too large to inflate, before inflating any."""
    members = archive.infolist()
    for info in members:
        if info.filename in WHOLE_MEMBERS and info.file_size > limit:
            raise _too_large(
                path, info.filename, f"declares {readable_bytes(info.file_size, binary=True)}, over", limit
            )
    total = sum(info.file_size for info in members)
    on_disk = path.stat().st_size
    if total > limit and total > MAX_EXPANSION * on_disk:
        largest = max(members, key=lambda info: info.file_size)
        named = printable(largest.filename)
        raise ModelFileError(
            f"{path} is a decompression bomb: its members declare {readable_bytes(total, binary=True)} in all "
            f"({named} {readable_bytes(largest.file_size, binary=True)}), more than {MAX_EXPANSION} times the "
            f"{readable_bytes(on_disk, binary=True)} the file takes on disk, and Keras stores a model's members "
            "uncompressed; it was not inflated. If you trust the file, raise the limit: "
            f"load_model(..., max_config_bytes=N) or {MAX_CONFIG_BYTES_VARIABLE}=N"
        )


def _check_streams(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuses a member compressed by a method other than store and deflate, a stored one whose bytes differ
    in number from its declared size, or a deflated one whose stream inflates past its declared size,
    inflating 1 MiB at a time.

    zipfile truncates a member to its declared size, but ``read()`` of a whole member (as Keras reads
    ``config.json`` and the weights) first inflates up to 2 GiB of its stream in one piece.
    """
    with open(path, "rb") as file:
        for info in archive.infolist():
            if info.compress_type not in READABLE_METHODS:
                raise ModelFileError(
                    f"{path} compresses its member {printable(info.filename)} with method {info.compress_type}; a "
                    ".keras file's members are stored (as Keras writes them) or deflated, so tfae reads no other"
                )
            if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
                # zipfile would read all the stored bytes, then cut them to the declared size.
                raise ModelFileError(
                    f"{path} is damaged: its member {printable(info.filename)} is stored uncompressed in "
                    f"{readable_bytes(info.compress_size, binary=True)} but declares "
                    f"{readable_bytes(info.file_size, binary=True)}"
                )
            if info.compress_type == zipfile.ZIP_DEFLATED and _inflates_past(file, info):
                raise ModelFileError(
                    f"{path} is damaged or built to exhaust memory: its member {printable(info.filename)} declares "
                    f"{readable_bytes(info.file_size, binary=True)} but its stream inflates to more; it was not "
                    "inflated further"
                )


def _inflates_past(file: BinaryIO, info: zipfile.ZipInfo) -> bool:
    """Whether the deflated stream of ``info`` inflates to more than its declared ``file_size``."""
    file.seek(info.header_offset)
    header = file.read(30)
    if len(header) < 30:
        return False  # truncated: testzip reports it
    name_length, extra_length = struct.unpack("<2H", header[26:30])
    file.seek(info.header_offset + 30 + name_length + extra_length)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    left, inflated = info.compress_size, 0
    while left > 0 and not inflater.eof:
        data = file.read(min(left, CHUNK_BYTES))
        if not data:
            return False
        left -= len(data)
        while data and not inflater.eof:
            inflated += len(inflater.decompress(data, CHUNK_BYTES))
            if inflated > info.file_size:
                return True
            data = inflater.unconsumed_tail
    return False


def read_config(path: Path, limit: int = MAX_CONFIG_BYTES) -> dict[str, Any]:
    """The archive's ``config.json``, after checking that ``path`` is a complete ``.keras`` archive whose
    declared sizes are within ``limit``."""
    with open(path, "rb") as file:
        head = file.read(8)
    if head == HDF5_SIGNATURE:
        raise ModelFileError(
            f"{path} is an HDF5 file (Keras' legacy .h5 format, or weights alone), not a .keras model file; "
            "tfae loads the .keras files that model.save('name.keras') writes"
        )
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is not a .keras model file: a .keras file is a zip archive, and this one is truncated, "
            "damaged, or another kind of file"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            _check_sizes(path, archive, limit)
            _check_streams(path, archive)
            damaged = archive.testzip()
            if damaged is not None:
                raise ModelFileError(f"{path} is damaged: its member {printable(damaged)} fails its checksum")
            if "config.json" not in archive.namelist():
                raise ModelFileError(f"{path} is not a .keras model file: it holds no config.json")
            # zipfile stops at the declared size; the bound holds even if that ever changes.
            with archive.open("config.json") as member:
                text = member.read(limit + 1)
            if len(text) > limit:
                raise _too_large(path, "config.json", "inflates past", limit, "tfae read no further")
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as error:
        raise ModelFileError(f"{path} is damaged or truncated ({one_line(error, 200)})") from None
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as error:
        detail = one_line(error, 200)
        raise ModelFileError(f"{path} is damaged: its config.json is not valid JSON ({detail})") from None
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ModelFileError(f"{path} is not a Keras model file: its config.json describes no model")
    return config


def one_line(text: object, limit: int = MESSAGE_LENGTH) -> str:
    """``text`` (a message, often Keras' about a file) on one line, its control characters escaped, cut to
    ``limit`` characters."""
    text = " ".join(str(text).split("Full object config")[0].split())
    return escaped(text if len(text) <= limit else text[: limit - 3] + "...")


def printable(name: object, limit: int = MAX_NAME_LENGTH) -> str:
    """A name from a file as a message shows it, without quotes: its characters that are not printable
    escaped (``tfae.errors.escaped``), and, when longer than ``limit`` characters, cut there and followed by its
    length: ``aaaa... (8,000,000 characters)``."""
    text = str(name)
    if len(text) <= limit:
        return escaped(text)
    return f"{escaped(text[:limit])}... ({len(text):,} characters)"
