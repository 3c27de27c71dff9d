"""Loading saved tfae models with the plugin registry, in Keras' safe mode."""

import json
import zipfile

import keras

from tfae.models.autoencoder import Autoencoder, registered_custom_objects


def _saved_model_config(filepath):
    try:
        with zipfile.ZipFile(filepath) as archive:
            return json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return {}


class _UnimportableSubclass:
    """Stands in for an Autoencoder subclass that this process cannot import.

    Its saved config holds the built encoder and decoder graphs, which are all an Autoencoder needs; the
    subclass's own constructor arguments are left out.
    """

    @staticmethod
    def from_config(config):
        kept = ("name", "trainable", "likelihood", "encoder", "decoder_network")
        return Autoencoder.from_config({key: value for key, value in config.items() if key in kept})


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
    saved = _saved_model_config(filepath)
    names = {saved.get("class_name"), saved.get("registered_name")} - {None}
    is_autoencoder = isinstance(saved.get("config"), dict) and "decoder_network" in saved["config"]
    known = names & set(objects) or any(keras.saving.get_registered_object(name) for name in names)
    if is_autoencoder and not known:
        for name in names:
            objects[name] = _UnimportableSubclass
    objects.update(custom_objects or {})
    return keras.saving.load_model(filepath, custom_objects=objects, compile=compile, safe_mode=True)
