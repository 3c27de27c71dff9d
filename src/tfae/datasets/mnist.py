"""MNIST: the 60,000 28x28 handwritten digits of its training split, downloaded once by Keras."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tfae.datasets.base import BaseDataset, Dataset
from tfae.datasets.download import download
from tfae.hookspecs import hookimpl

MNIST_FILE = "mnist.npz"


class MNISTDataset(BaseDataset):
    """``"mnist"``: the 60,000 training images of MNIST (uint8, 28x28), labelled 0 to 9.

    Downloaded once into ``~/.keras/datasets/`` (or ``$KERAS_HOME/datasets/``); offline, the error says which
    file to download and where to put it.
    """

    def load(self) -> Dataset:
        with np.load(download(MNIST_FILE, "", "MNIST"), allow_pickle=False) as data:
            return Dataset(data["x_train"], data["y_train"], source="mnist")


@hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    register(MNISTDataset, name="mnist")
