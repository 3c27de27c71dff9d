"""Datasets by name: the ``"dataset"`` kind of component, and tfae's own.

A config's ``[data] source`` names a registered dataset (or a file or folder). tfae registers, through its
own entry points like any plugin:

- ``"digits"`` (``DigitsDataset``, ``load_digits()``): the 1,797 8x8 handwritten digits, shipped inside tfae;
- ``"mnist"`` and ``"fashion_mnist"`` (``MNISTDataset``, ``FashionMNISTDataset``): 60,000 28x28 images each,
  downloaded once by Keras;
- ``"dsprites"`` (``DSpritesDataset``; ``DSprites``, ``load_dsprites``): dSprites rendered on the fly, with
  the factors that generated each image.

``BaseDataset`` (in ``base.py``) is the contract a plugin's dataset fulfils; ``Dataset`` is what it loads.
"""

from tfae.datasets.base import BaseDataset, Dataset
from tfae.datasets.digits import DigitsDataset, load_digits
from tfae.datasets.dsprites import DSprites, DSpritesDataset, load_dsprites
from tfae.datasets.fashion_mnist import FashionMNISTDataset
from tfae.datasets.mnist import MNISTDataset

__all__ = [
    "BaseDataset",
    "DSprites",
    "DSpritesDataset",
    "Dataset",
    "DigitsDataset",
    "FashionMNISTDataset",
    "MNISTDataset",
    "load_digits",
    "load_dsprites",
]
