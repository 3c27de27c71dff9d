"""Fashion-MNIST: the 60,000 28x28 pictures of clothes of its training split, downloaded once by Keras."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import numpy as np

from tfae.datasets.base import BaseDataset, Dataset
from tfae.datasets.download import download
from tfae.hookspecs import hookimpl

FASHION_MNIST_FOLDER = "fashion-mnist"
FASHION_MNIST_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz")
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class FashionMNISTDataset(BaseDataset):
    """``"fashion_mnist"``: the 60,000 training images of Fashion-MNIST (uint8, 28x28), labelled 0 to 9.

    Downloaded once into ``~/.keras/datasets/fashion-mnist/`` (or under ``$KERAS_HOME``); offline, the error
    says which files to download and where to put them.
    """

    def load(self) -> Dataset:
        labels_path, images_path = (
            download(name, FASHION_MNIST_FOLDER, "Fashion-MNIST") for name in FASHION_MNIST_FILES
        )
        with gzip.open(labels_path, "rb") as file:
            labels = np.frombuffer(file.read(), np.uint8, offset=8)
        with gzip.open(images_path, "rb") as file:
            images = np.frombuffer(file.read(), np.uint8, offset=16).reshape(len(labels), 28, 28)
        return Dataset(images, labels, source="fashion_mnist", class_names=list(CLASS_NAMES))


@hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    register(FashionMNISTDataset, name="fashion_mnist")
