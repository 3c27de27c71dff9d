"""The history file of a run, ``history.csv``: one row of logged values per finished epoch."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any


def history_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """``history.csv`` as text: a header ``epoch,<logged names, sorted>`` and one row per epoch."""
    columns = sorted({key for row in rows for key in row if key != "epoch"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["epoch", *columns], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
