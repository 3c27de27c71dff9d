"""tfae.random draws keras.random's numbers, and right ones inside an XLA-compiled function too."""

import keras
import numpy as np
import pytest

import tfae.random


@pytest.mark.backend_neutral
@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda g: tfae.random.normal((64, 8), g), lambda g: keras.random.normal((64, 8), seed=g)),
        (
            lambda g: tfae.random.uniform((64, 8), g, minval=0.25, maxval=0.5),
            lambda g: keras.random.uniform((64, 8), minval=0.25, maxval=0.5, seed=g),
        ),
        (
            lambda g: tfae.random.normal((5, 3), g, dtype="float16"),
            lambda g: keras.random.normal((5, 3), seed=g, dtype="float16"),
        ),
    ],
    ids=["normal", "uniform", "float16"],
)
def test_the_same_numbers_as_keras_random(ours, theirs):
    mine, keras_own = keras.random.SeedGenerator(3), keras.random.SeedGenerator(3)
    for _ in range(3):  # each draw advances the generator as keras.random's does
        expected = keras.ops.convert_to_numpy(theirs(keras_own))
        drawn = keras.ops.convert_to_numpy(ours(mine))
        assert drawn.dtype == expected.dtype
        np.testing.assert_array_equal(drawn, expected)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="XLA through tf.function")
def test_draws_inside_xla_are_standard_normal_and_uniform():
    import tensorflow as tf

    generator = keras.random.SeedGenerator(0)

    @tf.function(jit_compile=True)
    def draw():
        return tfae.random.normal((100_000,), generator), tfae.random.uniform((100_000,), generator, 2.0, 3.0)

    normal, uniform = (value.numpy() for value in draw())
    again, _ = (value.numpy() for value in draw())
    assert normal.dtype == np.float32 and normal.shape == (100_000,)
    assert abs(normal.mean()) < 0.02 and abs(normal.std() - 1) < 0.02  # 0.02 is about 6 standard errors
    assert uniform.min() >= 2.0 and uniform.max() < 3.0 and abs(uniform.mean() - 2.5) < 0.01
    assert not np.array_equal(normal, again)  # the generator moved on
