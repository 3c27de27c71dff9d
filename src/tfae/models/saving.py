"""Loading saved tfae models with the plugin registry, in Keras' safe mode."""

import json
import zipfile

import keras

from tfae.models.autoencoder import Autoencoder, registered_custom_objects


def _saved_class_name(filepath):
    try:
        with zipfile.ZipFile(filepath) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None, None
    return config.get("class_name"), config.get("config", {})


def load_model(filepath, custom_objects=None, compile=True):
    """Loads a ``.keras`` file saved from a tfae model.

    The plugins are loaded first, so every bottleneck, regularizer, schedule and likelihood the file names
    is found through the registry, and no ``custom_objects`` are needed. A subclass of ``Autoencoder`` that
    cannot be imported here (a notebook's convolutional VAE, say) loads as an ``Autoencoder`` with the same
    layers and weights. Keras' safe mode stays on: loading never runs code from the file.

    Args:
        filepath: path to a ``.keras`` file.
        custom_objects: optional extra classes, as in ``keras.saving.load_model``.
        compile: whether to restore the compiled state (optimizer, loss).

    Returns:
        The model.
    """
    objects = registered_custom_objects()
    class_name, config = _saved_class_name(filepath)
    if class_name and class_name not in objects and isinstance(config, dict) and "decoder_network" in config:
        objects[class_name] = Autoencoder
    objects.update(custom_objects or {})
    return keras.saving.load_model(filepath, custom_objects=objects, compile=compile, safe_mode=True)
