"""The 8x8 handwritten digits, shipped inside tfae so that training works offline right after install.

``load_digits()`` returns the 1,797 images of the test set of the UCI "Optical Recognition of Handwritten
Digits" data (E. Alpaydin and C. Kaynak, 1998; CC BY 4.0), as scikit-learn ships them in
``sklearn.datasets.load_digits`` (BSD-3-Clause). ``digits.npz`` was written once from scikit-learn 1.9's copy,
unchanged: ``images`` (uint8, values 0..16, shape (1797, 8, 8)) and ``labels`` (uint8, 0..9). Reading it
needs only NumPy. Registered as the data set ``"digits"``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np

from tfae.datasets.base import BaseDataset, Dataset
from tfae.hookspecs import hookimpl

DIGITS_LEVELS = 16


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Returns the 8x8 handwritten digits as ``(images, labels)``.

    Returns:
        ``images``: float32 array of shape ``(1797, 8, 8)`` with values in [0, 1] (the 17 grey levels
        0..16 divided by 16); ``labels``: int64 array of shape ``(1797,)`` with the digit, 0..9.

    Example:

    >>> images, labels = load_digits()
    >>> images.shape, labels[:3].tolist()
    ((1797, 8, 8), [0, 1, 2])
    """
    with resources.files("tfae.datasets").joinpath("digits.npz").open("rb") as file, np.load(file) as data:
        images = data["images"].astype("float32") / DIGITS_LEVELS
        labels = data["labels"].astype("int64")
    return images, labels


class DigitsDataset(BaseDataset):
    """``"digits"``: the 1,797 8x8 handwritten digits that ship with tfae (``load_digits``), labelled 0 to 9."""

    def load(self) -> Dataset:
        images, labels = load_digits()
        return Dataset(images, labels, source="digits")


@hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    register(DigitsDataset, name="digits")
