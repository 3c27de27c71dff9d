"""Random numbers for layers: ``keras.random.normal`` and ``uniform``, fast under XLA on TensorFlow too.

On TensorFlow, ``keras.random`` calls ``tf.random.stateless_normal`` and ``stateless_uniform`` with the
algorithm ``"auto_select"``. TensorFlow's own kernels take that to mean Philox, but XLA on a CPU compiles it
to an algorithm many times slower, so that a Gaussian VAE compiled with ``jit_compile=True`` spent much of
its step drawing its random numbers (docs/benchmarks.md, "Where the time of a step goes"). These
functions ask for Philox by name: outside XLA they return exactly the numbers
``keras.random`` returns for the same seed generator, and inside XLA they are fast. Under the other Keras
backends they are ``keras.random``'s functions.

``check_seed`` is the one check of a seed that a user gives (``--seed``, ``[training] seed``, a component's
``seed``, ``tfae.evaluation.evaluate(seed=)``): a whole number from 0 to ``MAX_SEED``, 2**32 - 1. It imports no
framework, so that a config file is checked before Keras loads.

Example:

```python
import keras
import tfae.random

seed_generator = keras.random.SeedGenerator(0)
noise = tfae.random.normal((4, 2), seed_generator)
```
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

# The seeds that every Keras backend and NumPy take: keras.utils.set_random_seed seeds NumPy's global
# generator (0 to 2**32 - 1), and JAX's seed generators hold uint32 states.
MAX_SEED = 2**32 - 1
SEED_RANGE = f"a whole number from 0 to 2**32 - 1 ({MAX_SEED}), the seeds Keras takes"


def is_seed(seed: Any) -> bool:
    """Whether ``seed`` is a whole number that Keras' seeds take: 0 to ``MAX_SEED``."""
    return isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and 0 <= int(seed) <= MAX_SEED


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` as an int, after checking that Keras' seeds take it.

    Args:
        seed: the seed given.
        name: the argument's name, for the message.

    Returns:
        The seed, an int from 0 to ``MAX_SEED``.

    Raises:
        ValueError: ``seed`` is no whole number, or lies outside 0 to 2**32 - 1, naming the range.
    """
    if not is_seed(seed):
        raise ValueError(f"`{name}` must be {SEED_RANGE}. Received: {name}={shown_number(seed)}")
    return int(seed)


def shown_number(value: Any) -> str:
    """``repr(value)``, but an integer of more than 128 bits as about how many digits it has, as
    ``DASRScheduler`` shows a count: Python refuses to print one of more than 4300 digits."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)).bit_length() > 128:
        sign = "a negative" if value < 0 else "an"
        return f"{sign} integer of about {int(abs(int(value)).bit_length() * 0.30103) + 1} digits"
    return repr(value)


def normal(shape: Sequence[Any], seed_generator: keras.random.SeedGenerator, dtype: str | None = None) -> Any:
    """Standard normal numbers, as ``keras.random.normal(shape, seed=seed_generator, dtype=dtype)``.

    Args:
        shape: the shape of the result.
        seed_generator: a ``keras.random.SeedGenerator``, advanced by one draw.
        dtype: the float dtype of the result (default ``keras.config.floatx()``).
    """
    import keras

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
    import keras

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
