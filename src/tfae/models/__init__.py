"""Autoencoder models: ``Autoencoder`` and ``DeepAutoencoder``."""

from tfae.models.autoencoder import Autoencoder
from tfae.models.deep import DeepAutoencoder
from tfae.models.saving import load_model

__all__ = ["Autoencoder", "DeepAutoencoder", "load_model"]
