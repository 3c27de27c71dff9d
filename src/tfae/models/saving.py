"""Loading saved tfae models with the plugin registry, in Keras' safe mode, refusing files that ask to run code.

Before Keras reads a file, ``load_model`` checks it: it must be a complete ``.keras`` archive (a zip whose
members pass their checksums) whose declared sizes stay within the limits below, holding a tfae model
whose every component some loaded plugin provides (``tfae.models.provenance``); and its ``config.json``
may name no Python lambda, no class or function from a module outside Keras, tfae and the loaded plugins
(unless this process registered it), and none of the Keras functions that load, save or download files or
switch safe mode off. Keras' own safe mode stays on as the second line. Each refusal is a
``ModelFileError`` with a one-line message.

The archive and its sizes are checked by ``tfae.models.archive`` (limits documented there).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras

from tfae.errors import ModelFileError
from tfae.models.archive import config_size_limit, one_line, printable, read_config
from tfae.models.autoencoder import Autoencoder
from tfae.models.deep import DeepAutoencoder
from tfae.models.layouts import LayoutAutoencoder
from tfae.models.provenance import check_components
from tfae.plugins import get_registry
from tfae.serialization import component_classes

# The last part of the Keras APIs (keras.saving.load_model, keras.utils.get_file, ...) that a model file
# must never call: Keras 3.11 and later refuse them too; older versions called them (CVE-2025-9906).
NON_MODELLING_FUNCTIONS = frozenset(
    {
        "audio_dataset_from_directory",
        "clear_session",
        "deserialize_keras_object",
        "enable_unsafe_deserialization",
        "get_file",
        "image_dataset_from_directory",
        "load_img",
        "load_model",
        "load_weights",
        "model_from_json",
        "register_keras_serializable",
        "save_img",
        "save_model",
        "save_weights",
        "serialize_keras_object",
        "text_dataset_from_directory",
    }
)
# Layers that load something outside the file: a TensorFlow SavedModel, whose graph runs (CVE-2026-1462).
EXTERNAL_LAYERS = frozenset({"TFSMLayer"})


def saved_model_objects() -> dict[str, type]:
    """The classes a saved tfae model may name, for Keras' deserialization: tfae's models and the registry's
    components."""
    models = {model.__name__: model for model in (Autoencoder, DeepAutoencoder, LayoutAutoencoder)}
    return {**component_classes(), **models}


def _objects_named(config: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every ``{"class_name": ..., ...}`` object in a saved config, depth first, with its layer's name."""
    stack: list[tuple[Any, str | None]] = [(config, None)]
    while stack:
        value, layer = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get("class_name"), str):
                inner = value.get("config")
                if "inbound_nodes" in value or "build_config" in value:  # a layer
                    name = value.get("name") or (inner.get("name") if isinstance(inner, dict) else None)
                    layer = name if isinstance(name, str) else layer
                yield value, layer
            stack.extend((item, layer) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, layer) for item in value)


def _allowed_modules() -> set[str]:
    return {"builtins"} | {getattr(entry.component, "__module__", "") for entry in get_registry().entries()}


def _check_no_code(path: Path, config: dict[str, Any], objects: dict[str, Any]) -> None:
    """Refuses a config that names Python code, a module to import, or a Keras function that is no model part."""
    modules = _allowed_modules()
    for entry, layer in _objects_named(config):
        class_name = entry["class_name"]
        where = f" (in layer '{printable(layer)}')" if layer else ""
        if class_name == "__lambda__":
            raise ModelFileError(
                f"{path} holds Python code: a lambda function{where}, such as a Lambda layer's; tfae never runs "
                "code from a model file (Keras' safe mode is on). Rebuild the model with a registered Layer "
                "subclass instead of a Lambda layer"
            )
        module = entry.get("module")
        if not isinstance(module, str):
            continue
        function = class_name == "function"
        name = entry.get("config") if function and isinstance(entry.get("config"), str) else class_name
        # The name Keras looks the object up by, before it turns to the module.
        lookup = name if function else entry.get("registered_name", class_name)
        package = module.split(".")[0]
        if package == "keras" and (name in NON_MODELLING_FUNCTIONS or name in EXTERNAL_LAYERS):
            raise ModelFileError(
                f"{path} calls {printable(module)}.{printable(name)}{where}, which loads, saves or downloads files or "
                "changes how models load; a model file may hold layers and their parts only, so tfae refuses it"
            )
        known = isinstance(lookup, str) and (
            lookup in objects or keras.saving.get_registered_object(lookup) is not None
        )
        if known or package in ("keras", "tfae") or module in modules:
            continue
        raise ModelFileError(
            f"{path} names {printable(name)} from the module {printable(module)}{where}, which is neither Keras, tfae "
            "nor a loaded tfae plugin; tfae imports no module that a model file names. If it is your own class, import "
            "it before loading (so that @keras.saving.register_keras_serializable registers it) or pass it in "
            "custom_objects"
        )


class _UnimportableSubclass:
    """Stands in for an Autoencoder subclass that this process cannot import.

    Its saved config holds the built encoder and decoder graphs, which are all an Autoencoder needs; the
    subclass's own constructor arguments are left out.
    """

    @staticmethod
    def from_config(config: dict[str, Any]) -> Autoencoder:
        kept = ("name", "trainable", "likelihood", "encoder", "decoder_network")
        return Autoencoder.from_config({key: value for key, value in config.items() if key in kept})


def _model_class(saved: dict[str, Any], objects: dict[str, Any]) -> Any:
    names = [saved.get("registered_name"), saved.get("class_name")]
    for name in names:
        if isinstance(name, str):
            found = objects.get(name) or keras.saving.get_registered_object(name)
            if found is not None:
                return found
    return None


# Keras' words for a layer whose weights the file lacks, as in "Layer 'conv2d' expected 2 variables, but
# received 0 variables during loading".
_LAYER_WITHOUT_WEIGHTS = re.compile(r"Layer '([^']+)' expected \d+ variables, but received 0 variables")


def _deepest_cause(error: BaseException) -> BaseException:
    """The exception at the bottom of ``error``'s chain: Keras wraps a component's own message (a scheduler's
    refusal of a count, say) in "could not be deserialized properly", which says less."""
    seen = {id(error)}
    while True:
        cause = error.__cause__ or error.__context__
        if cause is None or id(cause) in seen:
            return error
        seen.add(id(cause))
        error = cause


def load_model(
    filepath: str | os.PathLike[str],
    custom_objects: dict[str, Any] | None = None,
    compile: bool = True,
    max_config_bytes: int | None = None,
) -> Autoencoder:
    """Loads a ``.keras`` file saved from a tfae model.

    The plugins are loaded first, so every bottleneck, regularizer, scheduler and likelihood the file names
    is found through the registry, and no ``custom_objects`` are needed; a file that names one that no
    loaded plugin provides is refused with what to install (the file records which distribution provided
    each component when it was saved). A subclass of ``Autoencoder`` that cannot be imported here (a
    notebook's convolutional VAE, say) loads as an ``Autoencoder`` with the same layers and weights. Keras'
    safe mode stays on: loading never runs code from the file, and a file that holds code (a Lambda layer's
    function) or names a module to import is refused before Keras reads it.

    Before anything in the archive is inflated, the sizes its zip directory declares are checked:
    ``config.json`` and ``metadata.json``, which are read whole into memory, may each declare at most
    ``max_config_bytes``, and all members together at most 100 times the file's size on disk once they pass
    that limit (Keras stores members uncompressed, so real weights of any size pass). A member must be
    stored or deflated, and a deflated one may not inflate past the size it declares.

    Args:
        filepath: path to a ``.keras`` file.
        custom_objects: optional extra classes, as in ``keras.saving.load_model``.
        compile: whether to restore the compiled state (optimizer, loss).
        max_config_bytes: the size limit in bytes. ``None`` (the default) reads the environment variable
            ``TFAE_MAX_MODEL_CONFIG_BYTES``, and without it uses 16 MiB (``tfae.models.archive.MAX_CONFIG_BYTES``):
            a tfae model's ``config.json`` takes kilobytes.

    Returns:
        The model.

    Raises:
        FileNotFoundError: there is no file at ``filepath``.
        ModelFileError: the file is not a complete ``.keras`` archive, declares members over the size limit,
            holds a model that is not a tfae autoencoder, names a component that no loaded plugin provides,
            holds code or names a module outside Keras, tfae and its plugins, or Keras cannot rebuild the
            model from it. The message is one line and names the file.
        ValueError: ``max_config_bytes``, or ``TFAE_MAX_MODEL_CONFIG_BYTES``, is not a positive number of bytes.
    """
    limit = config_size_limit(max_config_bytes)
    path = Path(filepath)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}" + (" (it is a folder)" if path.is_dir() else ""))
    saved = read_config(path, limit)
    objects = {**saved_model_objects(), **(custom_objects or {})}
    # Before the check for code: a component whose plugin is missing is named, with what to install.
    check_components(path, saved, objects)
    _check_no_code(path, saved, objects)
    model_class = _model_class(saved, objects)
    inner = saved.get("config")
    if model_class is None and isinstance(inner, dict) and "decoder_network" in inner:
        for name in (saved.get("class_name"), saved.get("registered_name")):
            if isinstance(name, str):
                objects[name] = _UnimportableSubclass
    elif not (isinstance(model_class, type) and issubclass(model_class, Autoencoder)):
        from_keras = str(saved.get("module")).split(".")[0] == "keras"
        shown = printable(saved["class_name"])
        kind = f"a Keras {shown} model" if from_keras else f"a {shown}"
        raise ModelFileError(
            f"{path} holds {kind}, not a tfae autoencoder; load it with keras.saving.load_model (safe_mode "
            "stays on there by default)"
        )
    try:
        return keras.saving.load_model(path, custom_objects=objects, compile=compile, safe_mode=True)
    except Exception as error:
        cause = one_line(_deepest_cause(error))
        unsaved = list(dict.fromkeys(_LAYER_WITHOUT_WEIGHTS.findall(cause)))
        if unsaved:
            layers = ("layers " if len(unsaved) > 1 else "layer ") + " and ".join(f"'{name}'" for name in unsaved)
            raise ModelFileError(
                f"cannot load the model in {path}: the file holds no weights for the {layers}, which the model "
                "probably made outside make_encoder and make_decoder (in __init__, say); tfae saves the layers that "
                f"those two make, so make every layer inside them, then train and save the model again. Keras said: "
                f"{cause}"
            ) from error
        raise ModelFileError(f"cannot load the model in {path}: {cause}") from error
