"""Every use of Keras' private API in tfae, in one module.

Keras 3 has no public way to do these things. Each use is a small function or class here, with its own test in
``tests/test_keras_private.py``, so that a Keras upgrade that changes one breaks in one place, and CI runs
those tests against the oldest Keras that pyproject.toml allows as well as the newest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras


def all_layers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Every layer inside ``layer``, at any depth, ``layer`` first (``Layer._flatten_layers``)."""
    return list(layer._flatten_layers(include_self=True, recursive=True))


@contextlib.contextmanager
def unlocked_state(layer: keras.layers.Layer) -> Iterator[None]:
    """Lets a built layer take a new sub-layer or variable inside the block (``Layer._tracker``).

    Keras locks a layer's state once it is built; a model compiled again with another likelihood must still
    track the new likelihood's weights.
    """
    tracker = layer._tracker
    was_locked = tracker.locked
    tracker.unlock()
    try:
        yield
    finally:
        if was_locked:
            tracker.lock()


def set_untracked(layer: keras.layers.Layer, name: str, value: Any) -> None:
    """Sets ``layer.<name> = value`` without Keras tracking ``value`` (``Layer.__setattr__`` bypassed).

    Keras tracks a layer's attributes in ``Layer.__setattr__``: a layer or variable assigned there becomes
    part of the layer's state (its ``layers``, its ``weights``, its saved file), and a built layer refuses
    new state. A cache that shares the layer's own sub-layers (such as the autoencoder's data-space decoder)
    must stay out of it.

    Keras' saving still walks every attribute of a layer (``dir``), private ones last: ``name`` must be
    private (``_cache``), so that the sub-layers ``value`` shares are saved at their own paths first.
    """
    if not name.startswith("_"):
        raise ValueError(f"An untracked attribute's name must start with an underscore. Received: name={name!r}")
    object.__setattr__(layer, name, value)


def compiled_loss(model: keras.Model, y: Any, y_pred: Any, sample_weight: Any = None) -> Any:
    """The loss given to ``model.compile``, computed as Keras computes it in ``compute_loss``
    (``Trainer._compile_loss``), without the model's added losses; ``None`` when it was compiled with none."""
    if model._compile_loss is None:
        return None
    return model._compile_loss(y, y_pred, sample_weight)


def loss_tracker(model: keras.Model) -> Any:
    """The ``Mean`` that Keras logs as ``loss`` (``Trainer._loss_tracker``), which a train step updates."""
    return model._loss_tracker


def op_determinism_enabled() -> bool:
    """Whether ``tf.config.experimental.enable_op_determinism()`` is on: then XLA stays off, as Keras decides
    (TensorFlow has no public way to ask; Keras reads ``tensorflow.python.framework.config``)."""
    from tensorflow.python.framework.config import is_op_determinism_enabled

    return bool(is_op_determinism_enabled())


def creation_strategy(model: keras.Model) -> Any:
    """The ``tf.distribute`` strategy whose scope ``model`` was created in, or ``None``
    (``Model._distribute_strategy``; only TensorFlow's models have it)."""
    return getattr(model, "_distribute_strategy", None)


@contextlib.contextmanager
def abstract_variables() -> Iterator[None]:
    """Variables created inside the block get a shape and no memory, and are never filled in.

    Inside ``keras.StatelessScope(initialize_variables=False)`` Keras defers a new variable's initialiser
    (public); but it also lists the variable as waiting (``variables.register_uninitialized_variable``), and
    the next stateless scope to close initialises every variable on that list, which would allocate what the
    block was to spare. The block's variables are taken off the list, and the names Keras handed out inside
    it (``naming.uniquify``'s counts) are handed back, so that a model built afterwards gets the names it
    would have got without the block. Keras' default seeds come from Python's global generator, which is put
    back too. A variable made inside must not be used afterwards.
    """
    import random

    from keras.src.backend.common import global_state

    names = dict(global_state.get_global_attribute("object_name_uids", {}) or {})
    waiting_before = list(global_state.get_global_attribute("uninitialized_variables", []) or [])
    python_random = random.getstate()
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        random.setstate(python_random)
        global_state.set_global_attribute("uninitialized_variables", waiting_before)
        counts = global_state.get_global_attribute("object_name_uids")
        if counts is not None:
            counts.clear()
            counts.update(names)


class BackupAndRestoreWriter(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` whose subclass writes the backup's files itself.

    Keras writes the backup in ``_save_model`` from private attributes. Here that method hands the same
    paths and numbers to ``write_backup``, which a subclass implements; a URL (``gs://...``) is written as
    Keras writes it.
    """

    def _save_model(self) -> None:
        if "://" in str(self.backup_dir):
            return super()._save_model()
        self.write_backup(
            weights_path=self._weights_path,
            metadata_path=self._training_metadata_path,
            previous_weights_path=self._prev_weights_path,
            previous_metadata_path=self._prev_training_metadata_path,
            metadata={"epoch": self._current_epoch, "batch": self._last_batch_seen},
        )
        return None

    def write_backup(
        self,
        weights_path: str,
        metadata_path: str,
        previous_weights_path: str,
        previous_metadata_path: str,
        metadata: dict,
    ) -> None:
        """Writes the model's weights to ``weights_path`` and ``metadata`` (JSON) to ``metadata_path``; with
        ``double_checkpoint``, first copies the current files to the ``previous_`` paths."""
        raise NotImplementedError
