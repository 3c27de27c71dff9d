"""Autoencoder models: ``Autoencoder``, ``DeepAutoencoder``, and ``LayoutAutoencoder`` (the dense and
convolutional layouts that ``tfae train`` builds from a config); ``load_model`` brings a saved one back."""

from tfae.models.autoencoder import Autoencoder
from tfae.models.deep import DeepAutoencoder
from tfae.models.layouts import LayoutAutoencoder
from tfae.models.saving import load_model

__all__ = ["Autoencoder", "DeepAutoencoder", "LayoutAutoencoder", "load_model"]
