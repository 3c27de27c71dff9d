"""The checks of the data that ``fit``, ``evaluate`` and ``predict`` make before Keras sees it."""

from __future__ import annotations

from typing import Any

import keras

from tfae.replicas import distribution_devices, uneven_batches


def check_even_split(x: Any, batch_size: int | None, method: str) -> None:
    """Under a Keras distribution (JAX's data parallelism), refuses batches that do not split over the devices."""
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) == 0:
        return
    problem = uneven_batches(int(shape[0]), int(batch_size or 32), distribution_devices())
    if problem is not None:
        raise ValueError(f"{method} under keras.distribution.DataParallel: {problem}.")


def check_samples(model: keras.Model, x: Any, method: str) -> None:
    """Refuses an array with no samples, or samples of another shape than ``model`` was built for."""
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) == 0:
        return
    shape = tuple(shape)
    if shape[0] == 0:
        raise ValueError(f"{method} needs at least one sample. Received: an array of shape {shape}")
    encoder = getattr(model, "encoder", None)
    if encoder is None:
        return
    expected = tuple(encoder.input_shape[1:])
    fits = len(shape) == len(expected) + 1 and all(
        size is None or size == given for size, given in zip(expected, shape[1:])
    )
    if not fits:
        raise ValueError(
            f"This model takes samples of shape {expected} "
            f"(batches of shape (batch_size, {', '.join(map(str, expected))})); "
            f"{method} received samples of shape {shape[1:]} (an array of shape {shape})."
        )


def check_batch_size(model: keras.Model, batch_size: int, replicas: int = 1) -> None:
    """Refuses training batches of ``batch_size`` that one of ``model``'s regularizers cannot train on.

    Each regularizer's ``check_batch_size`` sees the samples one replica trains on, ``batch_size // replicas``
    under a ``tf.distribute`` strategy of ``replicas`` replicas.
    """
    share = batch_size // replicas
    for regularizer in getattr(getattr(model, "bottleneck", None), "regularizers", []):
        try:
            regularizer.check_batch_size(share)
        except ValueError as error:
            if replicas == 1:
                raise
            raise ValueError(
                f"{error} (a batch of {batch_size} over {replicas} replicas gives each {share} samples)"
            ) from None


def check_fit_batch_size(model: keras.Model, x: Any, batch_size: int | None, replicas: int = 1) -> None:
    """``check_batch_size`` for the batches ``fit`` makes of an array: ``batch_size`` samples (32 by default),
    or all of them when there are fewer. A dataset or a generator makes its own batches, unchecked here."""
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) == 0:
        return
    check_batch_size(model, min(int(batch_size or 32), int(shape[0])), replicas)
