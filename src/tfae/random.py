"""Random numbers for layers: ``keras.random.normal`` and ``uniform``, fast under XLA on TensorFlow too.

On TensorFlow, ``keras.random`` calls ``tf.random.stateless_normal`` and ``stateless_uniform`` with the
algorithm ``"auto_select"``. TensorFlow's own kernels take that to mean Philox, but XLA on a CPU compiles it
to an algorithm about 25 times slower: 6.9 ms against 0.25 ms for 1024 x 32 normal numbers, so that a
Gaussian VAE compiled with ``jit_compile=True`` spent a quarter of its step drawing its noise
(docs/benchmarks.md). These functions ask for Philox by name: outside XLA they return exactly the numbers
``keras.random`` returns for the same seed generator, and inside XLA they are fast. Under the other Keras
backends they are ``keras.random``'s functions.

Example:

```python
import keras
import tfae.random

seed_generator = keras.random.SeedGenerator(0)
noise = tfae.random.normal((4, 2), seed_generator)
```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras


def normal(shape: Sequence[Any], seed_generator: keras.random.SeedGenerator, dtype: str | None = None) -> Any:
    """Standard normal numbers, as ``keras.random.normal(shape, seed=seed_generator, dtype=dtype)``.

    Args:
        shape: the shape of the result.
        seed_generator: a ``keras.random.SeedGenerator``, advanced by one draw.
        dtype: the float dtype of the result (default ``keras.config.floatx()``).
    """
    dtype = dtype or keras.config.floatx()
    if keras.backend.backend() != "tensorflow":
        return keras.random.normal(shape, seed=seed_generator, dtype=dtype)
    import tensorflow as tf

    return tf.random.stateless_normal(shape, seed=_int32_seed(seed_generator), dtype=dtype, alg="philox")


def uniform(
    shape: Sequence[Any],
    seed_generator: keras.random.SeedGenerator,
    minval: float = 0.0,
    maxval: float = 1.0,
    dtype: str | None = None,
) -> Any:
    """Uniform numbers in ``[minval, maxval)``, as ``keras.random.uniform`` with ``seed=seed_generator``.

    Args:
        shape: the shape of the result.
        seed_generator: a ``keras.random.SeedGenerator``, advanced by one draw.
        minval: the lower bound.
        maxval: the upper bound (excluded).
        dtype: the float dtype of the result (default ``keras.config.floatx()``).
    """
    dtype = dtype or keras.config.floatx()
    if keras.backend.backend() != "tensorflow":
        return keras.random.uniform(shape, minval=minval, maxval=maxval, seed=seed_generator, dtype=dtype)
    import tensorflow as tf

    seed = _int32_seed(seed_generator)
    return tf.random.stateless_uniform(shape, seed=seed, minval=minval, maxval=maxval, dtype=dtype, alg="philox")


def _int32_seed(seed_generator: keras.random.SeedGenerator) -> Any:
    import tensorflow as tf

    seed = tf.convert_to_tensor(seed_generator.next())
    if seed.dtype == tf.int32:
        return seed
    # As keras.random does: the generator's state may be int64, and XLA's stateless ops take int32 seeds.
    return tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)


def per_replica(draw: Callable[[tuple[Any, ...]], Any], shape: Sequence[Any]) -> Any:
    """Returns ``draw(shape)``, random numbers for a batch of ``shape``, different on each replica.

    Under ``tf.distribute`` every replica's seed generator holds the same state, so each replica draws the
    numbers of the global batch, ``(shape[0] * replicas, ...)``, and keeps its own rows: replicas get
    different numbers, those the global batch gets on one device. Elsewhere this is ``draw(shape)``.

    Args:
        draw: a function of a shape, such as ``lambda shape: tfae.random.normal(shape, seed_generator)``.
        shape: the shape of this replica's numbers, batch first.
    """
    from keras import ops

    from tfae.replicas import replica_position

    shape = tuple(shape)
    replica, replicas = replica_position()
    if replicas == 1:
        return draw(shape)
    rows = shape[0]
    everything = draw((rows * replicas, *shape[1:]))
    return ops.slice(everything, (replica * rows, *[0] * (len(shape) - 1)), shape)
