"""Files that Keras downloads once into ``~/.keras/datasets`` (MNIST, Fashion-MNIST), with an offline remedy."""

from __future__ import annotations

import os
from pathlib import Path

from tfae.errors import DataError

DOWNLOAD_ROOT = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def keras_datasets_folder() -> Path:
    """Where Keras keeps downloaded datasets: ``$KERAS_HOME/datasets``, by default ``~/.keras/datasets``."""
    return Path(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras"))) / "datasets"


def download(file_name: str, subfolder: str, dataset: str) -> Path:
    """The path of ``DOWNLOAD_ROOT + file_name`` in the Keras datasets folder, downloaded first if missing.

    Raises:
        DataError: the download failed; the message says which file to put where.
    """
    import keras

    folder = keras_datasets_folder() / subfolder
    if (folder / file_name).exists():
        return folder / file_name
    try:
        return Path(
            keras.utils.get_file(
                file_name,
                origin=DOWNLOAD_ROOT + file_name,
                cache_dir=str(keras_datasets_folder().parent),
                cache_subdir=str(Path("datasets") / subfolder),
            )
        )
    except Exception as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise DataError(
            f"cannot download {dataset} ({reason}); this machine may be offline. Download "
            f"{DOWNLOAD_ROOT}{file_name} on a machine that is online and put it at {folder / file_name}, "
            'or train on the built-in digits with [data] source = "digits"'
        ) from None
