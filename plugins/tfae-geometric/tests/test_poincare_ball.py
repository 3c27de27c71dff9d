"""The Poincare ball's maths and its wrapped normal against float64 transcriptions of Mathieu et al. (2019): Mobius
addition, the exponential and logarithmic maps, the distance, the wrapped normal's density on both measures, and
a density that integrates to 1 over the ball."""

import sys
from pathlib import Path

import numpy as np
import pytest
from keras import ops

from tfae_geometric.poincare_ball import (
    BALL_EPS,
    conformal_factor,
    distance,
    exp_map,
    exp_map_zero,
    log_map,
    mobius_add,
    project,
    wrapped_normal_from_tangent,
    wrapped_normal_log_density,
    wrapped_normal_tangent,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402

CURVATURES = [0.1, 1.0, 3.0]


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def in_ball(rng, shape, c, reach=0.9):
    """Points spread over the ball of curvature -c, out to ``reach`` of its radius."""
    direction = rng.normal(size=shape)
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    return direction * reach * rng.random(shape[:-1] + (1,)) ** (1 / shape[-1]) / np.sqrt(c)


def interior(points, c):
    """The points within 99% of the radius. Nearer the boundary float32 loses digits (the log-density's error
    grows to 1e-3 nats at the bottleneck's limit, 99.6%), so the comparisons below leave them out."""
    return np.sqrt(c) * np.linalg.norm(points, axis=-1) <= 0.99


@pytest.mark.parametrize("c", CURVATURES)
def test_the_maps_and_the_distance_are_the_papers(c, rng):
    x, y = in_ball(rng, (50, 3), c), in_ball(rng, (50, 3), c)
    v = rng.normal(size=(50, 3))
    f32 = lambda a: a.astype("float32")  # noqa: E731
    np.testing.assert_allclose(numpy(mobius_add(f32(x), f32(y), c)), ref.mobius_add(x, y, c), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(numpy(conformal_factor(f32(x), c)), ref.conformal_factor(x, c), rtol=1e-5)
    np.testing.assert_allclose(numpy(exp_map(f32(x), f32(v), c)), ref.exp_map(x, v, c), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(numpy(log_map(f32(x), f32(y), c)), ref.log_map(x, y, c), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(numpy(distance(f32(x), f32(y), c)), ref.distance(x, y, c), rtol=1e-4, atol=1e-5)
    zero = np.zeros_like(v)
    np.testing.assert_allclose(numpy(exp_map_zero(f32(v), c)), ref.exp_map(zero, v, c), rtol=1e-5, atol=1e-6)
    # log is exp's inverse, and the tangent vector's length is the distance (away from the boundary: see below).
    kept = interior(ref.exp_map(x, v * 0.3, c), c)
    roundtrip = numpy(log_map(f32(x), exp_map(f32(x), f32(v) * 0.3, c), c))
    np.testing.assert_allclose(roundtrip[kept], v[kept] * 0.3, rtol=1e-3, atol=1e-4)
    tangent = numpy(wrapped_normal_tangent(f32(y), f32(x), c))
    np.testing.assert_allclose(np.linalg.norm(tangent, axis=-1), ref.distance(x, y, c), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("c", CURVATURES)
def test_the_wrapped_normals_draw_and_density_are_the_papers(c, rng):
    mean = in_ball(rng, (40, 2), c, reach=0.8)
    log_variance = rng.normal(scale=0.7, size=(40, 2))
    normals = rng.normal(size=(40, 2))
    z = ref.wrapped_normal_sample(mean, log_variance, normals, c)
    kept = interior(z, c)
    tangent = np.exp(0.5 * log_variance) * normals
    drawn = numpy(wrapped_normal_from_tangent(tangent.astype("float32"), mean.astype("float32"), c))
    np.testing.assert_allclose(drawn, z, rtol=1e-4, atol=1e-5)
    found = numpy(wrapped_normal_tangent(z.astype("float32"), mean.astype("float32"), c))
    np.testing.assert_allclose(found[kept], tangent[kept], rtol=1e-3, atol=1e-4)
    for measure in ("riemannian", "lebesgue"):
        arguments = (a.astype("float32") for a in (z, mean, log_variance))
        value = numpy(wrapped_normal_log_density(*arguments, c, measure=measure))
        expected = ref.wrapped_normal_log_density(z, mean, log_variance, c, measure)
        np.testing.assert_allclose(value[kept], expected[kept], rtol=1e-4, atol=5e-4)


@pytest.mark.parametrize("c", [0.5, 1.0])
def test_the_density_on_the_lebesgue_measure_integrates_to_one_over_the_ball(c, rng):
    mean = np.array([[0.3, -0.2]]) / np.sqrt(c)
    log_variance = np.log([[0.4, 0.1]])
    radius = 1 / np.sqrt(c)
    axis = np.linspace(-radius, radius, 801)
    x, y = np.meshgrid(axis, axis, indexing="ij")
    points = np.stack([x.ravel(), y.ravel()], axis=-1).astype("float32")
    log_density = wrapped_normal_log_density(points, mean.astype("float32"), log_variance.astype("float32"), c)
    density = np.exp(numpy(log_density))
    assert abs(density.sum() * (axis[1] - axis[0]) ** 2 - 1.0) < 2e-3


def test_the_density_is_zero_outside_the_ball_with_finite_gradients_inside():
    import keras

    code = np.array([[0.0, 0.0], [0.3, 0.1], [0.999, 0.0], [1.2, 0.0]], "float32")
    mean = np.array([[0.0, 0.0], [0.3, 0.1], [0.0, 0.5], [0.1, 0.0]], "float32")  # a code at its own mean, too
    log_variance = np.zeros((4, 2), "float32")
    values = numpy(wrapped_normal_log_density(code, mean, log_variance, 1.0))
    assert np.all(np.isfinite(values[:3])) and values[3] == -np.inf
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    tensors = [tf.constant(a) for a in (code, mean, log_variance)]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        total = tf.reduce_sum(wrapped_normal_log_density(*(t[:3] for t in tensors), 1.0))
    for gradient in tape.gradient(total, tensors):
        assert np.all(np.isfinite(gradient.numpy()))


def test_projection_keeps_points_a_margin_inside_the_ball():
    c = 2.0
    points = np.array([[10.0, 0.0], [0.0, 0.1], [0.3, 0.3]], "float32")
    projected = numpy(project(points, c))
    limit = (1 - BALL_EPS) / np.sqrt(c)
    np.testing.assert_allclose(np.linalg.norm(projected, axis=-1), [limit, 0.1, np.sqrt(0.18)], rtol=1e-6)
    np.testing.assert_allclose(projected[1:], points[1:], rtol=1e-6)


def test_an_unknown_measure_is_refused():
    with pytest.raises(ValueError, match=r"`measure` must be 'lebesgue' or 'riemannian'\. Received: measure='volume'"):
        zeros = np.zeros((1, 2), "float32")
        wrapped_normal_log_density(zeros, zeros, zeros, 1.0, measure="volume")
