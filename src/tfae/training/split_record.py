"""The record of which samples a run trained on and which it held out, and the check that they are still those.

``tfae evaluate RUN`` scores "the samples that training held out", and ``tfae generate RUN --sampler gmm`` fits
to the training samples, by loading the run's data and splitting it again with its seed. That is only true
while the data and the seed are those of training: a data file reordered, a sample added, or the seed edited
in the run's ``config.toml`` splits other samples off, silently. So ``tfae train`` writes ``split.json`` beside
the config, a fingerprint of each side of the split (how many samples, and the SHA-256 of their values in the
order of the split):

```json
{"format": 1, "samples": 1797, "validation_split": 0.1, "seed": 0,
 "training": {"samples": 1617, "sha256": "9c1e..."}, "held_out": {"samples": 180, "sha256": "40ad..."}}
```

and whatever splits the data again compares it with the record first (``changed``), refusing with what
changed. A run folder from before the record has no ``split.json``; it is read as before, unchecked.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from tfae.errors import RunError

SPLIT_FILE = "split.json"
FORMAT = 1
# The bytes of samples copied out of the data at a time to be hashed, which bounds the memory a fingerprint
# takes whatever the data's size.
HASHED_BYTES_PER_CHUNK = 2**24


def fingerprint(x: np.ndarray, indices: np.ndarray) -> str:
    """The SHA-256 (hexadecimal) of the samples ``x[indices]``, in that order, with their shape and dtype."""
    digest = hashlib.sha256(json.dumps([list(x.shape[1:]), x.dtype.str]).encode())
    rows = max(1, HASHED_BYTES_PER_CHUNK // max(1, x[:1].nbytes))
    for start in range(0, len(indices), rows):
        digest.update(np.ascontiguousarray(x[indices[start : start + rows]]).data)
    return digest.hexdigest()


def split_record(x: np.ndarray, training: np.ndarray, held_out: np.ndarray, validation_split: float, seed: int) -> dict:
    """What ``split.json`` holds for the samples ``x`` split into ``training`` and ``held_out`` indices."""
    return {
        "format": FORMAT,
        "samples": len(x),
        "validation_split": validation_split,
        "seed": seed,
        "training": {"samples": len(training), "sha256": fingerprint(x, training)},
        "held_out": {"samples": len(held_out), "sha256": fingerprint(x, held_out)},
    }


def write_split_record(folder: str | Path, record: dict) -> None:
    """Writes ``record`` as the run folder's ``split.json`` (under a temporary name, renamed into place)."""
    from tfae.safe_files import write_text

    write_text(Path(folder) / SPLIT_FILE, json.dumps(record, indent=1) + "\n")


def read_split_record(folder: str | Path) -> dict | None:
    """The run folder's ``split.json``, or ``None`` when it has none (a run from before tfae wrote it).

    Raises:
        RunError: the file is there but is not a record tfae wrote.
    """
    path = Path(folder) / SPLIT_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise RunError(_unreadable(path, " ".join(str(error).split()))) from None
    if not _well_formed(record):
        raise RunError(_unreadable(path, f"not a record of format {FORMAT}"))
    return record


def _well_formed(record) -> bool:
    parts = ("training", "held_out")
    return (
        isinstance(record, dict)
        and record.get("format") == FORMAT
        and {"samples", "validation_split", "seed", *parts} <= record.keys()
        and all(isinstance(record[part], dict) and {"samples", "sha256"} <= record[part].keys() for part in parts)
    )


def _unreadable(path: Path, reason: str) -> str:
    return (
        f"cannot read {path}, the record of which samples the run held out ({reason}); delete it to use the "
        "run's data unchecked"
    )


def changed(
    record: dict, x: np.ndarray, indices: np.ndarray, part: str, validation_split: float, seed: int, source: str
) -> str | None:
    """What differs between the samples ``x[indices]`` (``part``: ``"training"`` or ``"held_out"``), split with
    ``validation_split`` and ``seed``, and the same side of the split in ``record``; ``None`` when nothing does."""
    if seed != record["seed"]:
        return f"its config.toml says [training] seed = {seed}, but training split the data with seed {record['seed']}"
    if validation_split != record["validation_split"]:
        return (
            f"its config.toml says [training] validation_split = {validation_split:g}, but training held out "
            f"{record['validation_split']:g} of the data"
        )
    if len(x) != record["samples"]:
        return f"{source} has {len(x)} samples now, and had {record['samples']} when training split it"
    if fingerprint(x, indices) != record[part]["sha256"]:
        which = "training held out" if part == "held_out" else "the model was trained on"
        return (
            f"the {len(indices)} samples of {source} that seed {seed} and validation_split {validation_split:g} "
            f"give are not those {which}: the data changed, or its samples were reordered, since training"
        )
    return None
