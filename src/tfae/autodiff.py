"""The gradient of a function inside a loss, on the TensorFlow or the JAX backend (``keras.ops`` has none).

A loss that holds a gradient (a gradient penalty on the decoder, the leapfrog steps of a Hamiltonian VAE)
differentiates twice: once here, and once when the train step takes the loss's gradient. Both backends do
that: TensorFlow with a tape inside the step's tape, JAX with ``jax.grad`` inside the step's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras


def gradient(function: Callable[[Any], Any], x: Any) -> Any:
    """The gradient of the scalar ``function(x)`` with respect to the tensor ``x``, of ``x``'s shape.

    The result is itself differentiable (with respect to ``x`` and to the weights ``function`` uses), so a
    loss may hold it. Works inside a compiled (XLA) train step.

    Args:
        function: takes a tensor of ``x``'s shape and returns a scalar.
        x: a float tensor.

    Example:

    >>> x = keras.ops.convert_to_tensor([1.0, 2.0])
    >>> keras.ops.convert_to_numpy(gradient(lambda v: keras.ops.sum(v**2), x)).tolist()
    [2.0, 4.0]
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            value = function(x)
        result = tape.gradient(value, x)
        # A function that does not depend on x has a zero gradient, which TensorFlow gives as None.
        return tf.zeros_like(x) if result is None else result
    if backend == "jax":
        import jax

        return jax.grad(function)(x)
    raise NotImplementedError(
        f"tfae.autodiff.gradient computes gradients with the tensorflow or jax backend, not {backend!r}."
    )
