"""Scale-out on TensorFlow's own engine: a ``tf.distribute`` strategy from a name, and the cluster in
``TF_CONFIG``.

tfae's models train under any ``tf.distribute`` strategy as Keras models do: build and compile the model
inside ``strategy.scope()`` and call ``fit``. The batch size given to ``fit`` is the global batch, split
across the replicas, so the loss, its logged parts and the gradients are those of the same batch on one
device. docs/scaling.md shows the commands for one GPU, several GPUs and several machines. The backup that
only the chief worker writes is ``tfae.callbacks.BackupAndRestore``; what a model needs to know of
its replica is in ``tfae.replicas``.

Keras and TensorFlow are imported inside the functions that need them, so ``import tfae.distribute`` works
under any Keras backend, and a config's strategy is checked without loading either; the strategies
themselves need ``KERAS_BACKEND=tensorflow``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from tfae.errors import DistributeError

STRATEGIES = ("default", "mirrored", "multi-worker", "data_parallel")
# The task types a MultiWorkerMirroredStrategy job trains with; an "evaluator" runs beside them, apart.
TRAINING_TASKS = ("chief", "worker")


def training_strategy(name: str | None) -> Any:
    """The strategy that ``tfae train`` trains under for a config's ``[training] strategy``: ``None`` for
    ``"default"`` (one device, no scope to enter), else ``make_strategy(name)``."""
    return None if name in (None, "default") else make_strategy(name)


def make_strategy(name: str | None = "default", devices: Sequence[str] | None = None) -> Any:
    """Returns the strategy called ``name``: a ``tf.distribute`` strategy, or on JAX a Keras distribution.

    Args:
        name: ``"default"`` (or ``None``): TensorFlow's default strategy, one device.
            ``"mirrored"``: ``tf.distribute.MirroredStrategy``, one replica per local GPU (the CPU when
            there is none), or per device in ``devices``.
            ``"multi-worker"``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the machines that the
            ``TF_CONFIG`` environment variable lists; create it before any other TensorFlow work, as
            TensorFlow requires.
            ``"data_parallel"``: each batch split over the local devices, the model copied on each: under
            ``KERAS_BACKEND=jax`` ``keras.distribution.DataParallel``, under TensorFlow ``"mirrored"``'s strategy.
        devices: ``"mirrored"`` and ``"data_parallel"`` only: the devices to use, such as ``["/gpu:0", "/gpu:1"]``
            (TensorFlow) or ``["gpu:0", "gpu:1"]`` (JAX, as ``keras.distribution.list_devices()`` names them).

    Returns:
        A ``tf.distribute.Strategy`` or a ``keras.distribution.Distribution``: build, compile and fit the
        model inside its ``scope()``. The batch size given to ``fit`` is the global batch either way.

    Raises:
        DistributeError: an unknown name, a strategy the Keras backend has not (tf.distribute's under JAX), or
            (for ``"multi-worker"``) a missing or malformed ``TF_CONFIG``.
    """
    name = "default" if name is None else name
    if name not in STRATEGIES:
        names = ", ".join(map(repr, STRATEGIES))
        raise DistributeError(f"`strategy` must be one of {names}. Received: strategy={name!r}")
    if devices is not None and name not in ("mirrored", "data_parallel"):
        raise DistributeError(
            f"`devices` applies to the 'mirrored' and 'data_parallel' strategies only. Received: strategy={name!r}"
        )
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        if name != "data_parallel":
            raise DistributeError(
                f"the {name!r} strategy is TensorFlow's (tf.distribute); under KERAS_BACKEND=jax use 'data_parallel', "
                "which splits each batch over the local devices with keras.distribution.DataParallel"
            )
        return keras.distribution.DataParallel(devices=list(devices) if devices is not None else None)
    if backend != "tensorflow":
        raise DistributeError(
            "tf.distribute strategies need KERAS_BACKEND=tensorflow, and 'data_parallel' tensorflow or jax; the "
            f"Keras backend is {backend!r}"
        )
    import tensorflow as tf

    if name in ("mirrored", "data_parallel"):
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise DistributeError(
                "the 'multi-worker' strategy reads the cluster from the TF_CONFIG environment variable, which is "
                "not set; set it on every machine (docs/scaling.md shows how), or use 'mirrored' on one machine"
            )
        cluster_config()
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:
            if "program startup" not in str(error):
                raise
            raise DistributeError(
                "make the 'multi-worker' strategy first, before any other TensorFlow work (building a model or "
                "a tfae component, loading a config): TensorFlow sets up its cross-worker communication only "
                "before it starts"
            ) from None
    return tf.distribute.get_strategy()


@dataclasses.dataclass(frozen=True)
class ClusterConfig:
    """The cluster and this process's task, as ``TF_CONFIG`` gives them.

    Args:
        cluster: ``{task_type: [address, ...]}``, such as ``{"worker": ["host1:12345", "host2:12345"]}``.
        task_type: this process's task type, ``"chief"`` or ``"worker"``.
        task_index: this process's index among the tasks of its type.
    """

    cluster: dict[str, list[str]]
    task_type: str
    task_index: int

    @property
    def is_chief(self) -> bool:
        """Whether this task is the chief: the ``"chief"`` task, or worker 0 when the cluster has no chief."""
        if self.task_type == "chief":
            return True
        return self.task_type == "worker" and self.task_index == 0 and "chief" not in self.cluster

    @property
    def num_workers(self) -> int:
        """How many processes train: the chief, if any, and the workers."""
        return sum(len(self.cluster.get(task_type, [])) for task_type in TRAINING_TASKS)


def cluster_config(environ: Mapping[str, str] | None = None) -> ClusterConfig | None:
    """Reads and checks the ``TF_CONFIG`` environment variable.

    Args:
        environ: the environment to read (default ``os.environ``).

    Returns:
        A ``ClusterConfig``, or ``None`` when ``TF_CONFIG`` is not set (one process, which is the chief).

    Raises:
        DistributeError: ``TF_CONFIG`` is not JSON, or its cluster or task are missing or inconsistent.
    """
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG")
    if text is None or not text.strip():
        return None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise DistributeError(f"TF_CONFIG is not valid JSON ({error}): {text!r}") from None

    def bad(problem: str) -> DistributeError:
        example = '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
        return DistributeError(f"TF_CONFIG {problem}; it should look like {example}. Received: {text}")

    if not isinstance(document, dict):
        raise bad("is not a JSON object")
    cluster, task = document.get("cluster"), document.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise bad('has no "cluster": the address of every task, by task type')
    for task_type, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(isinstance(address, str) for address in addresses):
            raise bad(f'lists the {task_type!r} tasks as {addresses!r}, not as a list of "host:port" strings')
    if "worker" not in cluster:
        raise bad('has no "worker" tasks in its "cluster"')
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise bad('has no "task" with a "type" and an "index": which task this process is')
    task_type, task_index = task["type"], task["index"]
    if task_type not in TRAINING_TASKS:
        names = ", ".join(map(repr, TRAINING_TASKS))
        raise bad(f"names the task type {task_type!r}; a training process is one of {names}")
    if task_type not in cluster:
        raise bad(f"names the task type {task_type!r}, which its cluster does not list")
    count = len(cluster[task_type])
    if isinstance(task_index, bool) or not isinstance(task_index, int) or not 0 <= task_index < count:
        raise bad(f"names task index {task_index!r}, but the cluster lists {count} {task_type!r} task(s)")
    return ClusterConfig(cluster, task_type, task_index)


def is_chief(strategy: Any = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process is the one that writes files: the chief of a multi-worker job, or a lone process.

    Args:
        strategy: the strategy the process trains under: ``False`` only on the workers of a multi-worker
            strategy other than the chief (``strategy.extended.should_checkpoint``). Without one, the answer
            comes from ``TF_CONFIG`` (``environ``, default ``os.environ``), and is ``True`` when it is not set.
    """
    if strategy is not None:
        extended = getattr(strategy, "extended", None)
        # A Keras distribution (JAX's data parallelism) trains in this one process.
        return True if extended is None else bool(extended.should_checkpoint)
    config = cluster_config(environ)
    return config is None or config.is_chief
