"""Where a train step runs: the replica it is on and how many replicas train in sync.

The models and bottlenecks ask this module, never ``tfae.distribute``: it is all the core needs to know of
``tf.distribute``. TensorFlow is imported inside the functions, so it works under every Keras backend (where
there is always one replica).
"""

from __future__ import annotations

from typing import Any

import keras


def replicas_in_sync() -> int:
    """The number of replicas that train in sync under the current ``tf.distribute`` strategy; 1 elsewhere."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return int(tf.distribute.get_strategy().num_replicas_in_sync)


def in_strategy_scope() -> bool:
    """Whether code runs inside a ``tf.distribute`` strategy's scope (never under other Keras backends)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return bool(tf.distribute.has_strategy())


def is_multi_worker(strategy: Any) -> bool:
    """Whether ``strategy`` trains across several processes (workers), each holding only some replicas."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    return strategy.num_replicas_in_sync > len(strategy.extended.worker_devices)


def replica_position() -> tuple[Any, int]:
    """Returns ``(replica, replicas)``: this replica's index and the number of replicas in sync.

    Inside a ``tf.distribute`` step the index may be a tensor; everywhere else, and under other Keras
    backends, this is ``(0, 1)``.
    """
    if keras.backend.backend() != "tensorflow":
        return 0, 1
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def distribution_devices() -> int:
    """How many devices a Keras distribution (``keras.distribution.DataParallel``, JAX) splits each batch over; 1
    when none is active."""
    distribution = keras.distribution.distribution() if hasattr(keras, "distribution") else None
    mesh = getattr(distribution, "device_mesh", None)
    return 1 if mesh is None else int(mesh.devices.size)


def evenly_split_length(samples: int, batch_size: int, devices: int) -> int:
    """How many of ``samples``, in batches of ``batch_size``, every batch of which splits evenly over ``devices``:
    all of them but the few that leave the last batch uneven. ``batch_size`` is a multiple of ``devices``."""
    return samples - samples % batch_size % devices


def uneven_batches(samples: int, batch_size: int, devices: int) -> str | None:
    """Why ``samples`` in batches of ``batch_size`` cannot be split evenly over ``devices``, or ``None`` when they can.

    JAX shards each batch's rows over the devices and needs every batch, the last one too, to divide evenly.
    """
    if devices <= 1 or samples == 0:
        return None
    if batch_size % devices:
        return f"the batch size {batch_size} does not split over {devices} devices: use a multiple of {devices}"
    last = samples % batch_size
    if last % devices:
        keep = evenly_split_length(samples, batch_size, devices)
        return (
            f"the last batch, {last} of the {samples} samples, does not split over {devices} devices: give {keep} "
            f"samples (drop {last % devices}), or a batch size that divides {samples}"
        )
    return None


def multi_worker_logs(logs: Any) -> Any:
    """Returns a train or test step's logs in the shape Keras can average across workers.

    Keras averages each replica's logs with ``strategy.reduce("MEAN", value, axis=0)`` when several workers
    train, which fails on a scalar ("Invalid reduction dimension 0 for input with 0 dimensions",
    tensorflow/tensorflow#72388). Under several workers each scalar gets an axis of length one, and the
    average over it and the replicas is the scalar Keras logs; elsewhere ``logs`` is returned as it is.
    """
    if keras.backend.backend() != "tensorflow":
        return logs
    import tensorflow as tf

    if not is_multi_worker(tf.distribute.get_strategy()):
        return logs
    return tf.nest.map_structure(lambda value: tf.reshape(value, (1,)) if value.shape.rank == 0 else value, logs)
