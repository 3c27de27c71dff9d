"""The check of a count given to tfae (a dimension, components, epochs, samples to draw): a positive integer.

A Python or NumPy integer passes and is returned as an ``int``; ``True`` does not, though Python counts it as 1.
No framework is imported: configs are checked before Keras loads.
"""

from __future__ import annotations

import numbers
from typing import Any


def is_count(value: Any) -> bool:
    """Whether ``value`` is a positive integer (a Python or NumPy one, not a bool)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and int(value) >= 1


def checked_count(value: Any, name: str, meaning: str | None = None, subject: str | None = None) -> int:
    """Returns ``value`` as an ``int``, or raises ``ValueError`` saying it must be a positive integer.

    Args:
        value: what was given.
        name: the argument's name, as the user wrote it.
        meaning: what the count counts, said after the name (``"the number of Gaussians"``).
        subject: the message's subject in place of the quoted name and meaning (``"The number of samples"``).

    Example:

    >>> checked_count(3, "latent_dim")
    3
    >>> checked_count(0, "components", meaning="the number of Gaussians")
    Traceback (most recent call last):
    ...
    ValueError: `components`, the number of Gaussians, must be a positive integer. Received: components=0
    """
    if not is_count(value):
        what = subject or (f"`{name}`, {meaning}," if meaning else f"`{name}`")
        raise ValueError(f"{what} must be a positive integer. Received: {name}={value!r}")
    return int(value)


def checked_optional_count(value: Any, name: str) -> int | None:
    """Returns ``value`` as an ``int``, or ``None`` for ``None``; raises ``ValueError`` for anything else that is
    not a positive integer (``"`latent_dim` must be a positive integer or None. ..."``)."""
    if value is None:
        return None
    if not is_count(value):
        raise ValueError(f"`{name}` must be a positive integer or None. Received: {name}={value!r}")
    return int(value)
