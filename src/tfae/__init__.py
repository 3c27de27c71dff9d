"""tfae: autoencoders for TensorFlow and Keras 3, built as a small core plus plugins.

Importing ``tfae`` is light: it loads no plugin and no deep-learning framework. The public modules are
``tfae.models``, ``tfae.bottlenecks``, ``tfae.regularizers``, ``tfae.schedulers``, ``tfae.likelihoods`` and
``tfae.plugins``; a plugin implements the hooks in ``tfae.hookspecs`` with ``@tfae.hookimpl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfae.hookspecs import hookimpl
from tfae.version import __version__

if TYPE_CHECKING:
    import os

    from tfae.models.autoencoder import Autoencoder


def load_model(filepath: str | os.PathLike[str], **kwargs: Any) -> Autoencoder:
    """Loads a saved tfae model (``.keras``), resolving its parts through the plugin registry.

    Keras' safe mode stays on: loading never runs code from the file.
    """
    from tfae.models.saving import load_model as _load_model

    return _load_model(filepath, **kwargs)


__all__ = ["hookimpl", "load_model", "__version__"]
