"""Sizes in bytes as tfae's messages write them."""

from __future__ import annotations


def readable_bytes(size: float, binary: bool = False) -> str:
    """Returns ``size`` bytes as people write them, with one decimal.

    Powers of 1000 (``1.5 GB``) by default, for memory and disk space as their tools report them; powers of
    1024 (``16.0 MiB``) with ``binary=True``, for limits that are themselves powers of two. Below one
    thousand (or 1024) bytes, the whole number: ``920 bytes``.

    Args:
        size: the number of bytes, at least 0.
        binary: whether to count in KiB, MiB, ... instead of KB, MB, ...

    Example:

    >>> readable_bytes(1_500_000_000)
    '1.5 GB'
    >>> readable_bytes(3 * 2**30, binary=True)
    '3.0 GiB'
    """
    base = 1024 if binary else 1000
    units = ("KiB", "MiB", "GiB", "TiB", "PiB") if binary else ("KB", "MB", "GB", "TB", "PB")
    if size < base:
        return f"{size:.0f} bytes"
    amount = size / base
    for unit in units[:-1]:
        if amount < base:
            return f"{amount:.1f} {unit}"
        amount /= base
    return f"{amount:.1f} {units[-1]}"
