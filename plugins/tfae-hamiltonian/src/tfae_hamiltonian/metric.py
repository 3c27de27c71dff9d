"""The Gaussian bottleneck of a Riemannian Hamiltonian VAE (Chadebec, Mantoux & Allassonnière 2020): it also
gives each sample a factor of the learned Riemannian metric of the latent space."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from tfae.bottlenecks import GaussianBottleneck
from tfae.hookspecs import hookimpl
from tfae_hamiltonian.hvae import positive_number


class RiemannianMetricBottleneck(GaussianBottleneck):
    """A Gaussian posterior ``N(mean, exp(log_variance))`` that also gives each sample ``L_i``, a factor of the metric.

    The RHVAE's metric (Chadebec et al. 2020, the parametrised metric; pythae's RHVAE) is a smooth interpolation of
    local metrics centred on the codes of the training samples:

        ``G^{-1}(z) = sum_i L_i L_i^T exp(-|z - c_i|^2 / T^2) + lambda I``,

    with ``c_i`` the posterior mean of sample ``i`` and ``L_i`` lower triangular with a positive diagonal
    (``exp`` of the layer's output there), computed from the encoder's features by this bottleneck's own
    ``metric`` layer, which trains with the model. The posterior's parameters are ``(mean, log_variance,
    factor)``, ``factor`` of shape ``(batch, latent_dim, latent_dim)``; ``inverse_metric`` evaluates
    ``G^{-1}`` at any codes for given centroids and factors. The ``"rhvae"`` objective reads it from the
    posterior and uses the batch's own samples as the centroids, in training and in evaluation alike.

    The code, its density and its prior are the Gaussian bottleneck's: with the ``"elbo"`` objective this is a
    VAE whose metric layer does not train. Under tf.distribute each replica's metric is that of its part of
    the batch.

    Args:
        latent_dim: positive int, the size of the code.
        temperature: positive float, ``T``, how far each local metric reaches (pythae's default 1.5).
        regularization: positive float, ``lambda``, which keeps ``G^{-1}`` invertible far from every centroid
            (pythae's default 0.01).
        regularizer: an optional regularizer; none under the ``"rhvae"`` objective, which holds the divergence.
        seed: optional int, makes the noise (the code's and the objective's momentum) reproducible.
        prior: the prior ``p(z)``, ``"standard_normal"`` by default.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: the encoder's features, shape ``(batch, ...)``.
        training: draw a code when ``True``, give the mean otherwise.

    Input shape:
        ``(batch_size, ...)``, flattened to ``(batch_size, features)``.

    Output shape:
        ``(batch_size, latent_dim)``.

    Example:

    >>> model = Autoencoder(bottleneck={"name": "rhvae", "latent_dim": 2, "temperature": 1.5})
    >>> model.compile(optimizer="adam", loss="bernoulli", objective={"name": "rhvae", "step_size": 0.05})
    """

    parameters = 2  # the base class's Dense layer gives the mean and the log-variance

    def __init__(
        self,
        latent_dim: int,
        temperature: float = 1.5,
        regularization: float = 0.01,
        regularizer: Any = None,
        seed: int | None = None,
        prior: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(latent_dim, regularizer=regularizer, seed=seed, prior=prior, **kwargs)
        self.temperature = positive_number(temperature, "temperature", "the reach T of each local metric")
        self.regularization = positive_number(
            regularization, "regularization", "lambda, the multiple of the identity added to the inverse metric"
        )
        d = self.latent_dim
        self.metric_dense = keras.layers.Dense(
            d + d * (d - 1) // 2, dtype=self.dtype_policy.variable_dtype, name="metric"
        )
        # Where each entry of L comes from in [0, diagonal..., below the diagonal row by row...]: 0 above it.
        positions = np.zeros((d, d), dtype="int32")
        positions[np.tril_indices(d, -1)] = np.arange(d * (d - 1) // 2) + 1
        self._positions = tuple(positions.reshape(-1).tolist())

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        if not self.metric_dense.built:
            self.metric_dense.build(self.flat_shape(input_shape))

    def distribution_parameters(self, inputs: Any) -> tuple[Any, Any, Any]:
        features = self.flatten(inputs)
        mean, log_variance = self.split(ops.cast(self.dense(features), "float32"))
        return mean, log_variance, self.metric_factor(ops.cast(self.metric_dense(features), "float32"))

    def metric_factor(self, raw: Any) -> Any:
        """``L`` of each sample, shape ``(batch, d, d)``, from the metric layer's ``(batch, d + d(d-1)/2)`` outputs:
        ``exp`` of the first ``d`` on the diagonal, the rest below it, row by row (pythae's ``Metric_MLP``)."""
        d = self.latent_dim
        below = ops.concatenate([ops.zeros_like(raw[:, :1]), raw[:, d:]], axis=-1)
        lower = ops.reshape(ops.take(below, list(self._positions), axis=-1), (-1, d, d))
        return lower + ops.expand_dims(ops.exp(raw[:, :d]), -1) * ops.eye(d, dtype="float32")

    def sample(self, mean: Any, log_variance: Any, factor: Any = None) -> Any:
        return super().sample(mean, log_variance)

    def mean(self, mean: Any, log_variance: Any, factor: Any = None) -> Any:
        return mean

    def log_density(self, code: Any, mean: Any, log_variance: Any, factor: Any = None) -> Any:
        return super().log_density(code, mean, log_variance)

    def inverse_metric(self, code: Any, centroids: Any, factors: Any) -> Any:
        """``G^{-1}(z)`` at each code: ``sum_i L_i L_i^T exp(-|z - c_i|^2 / T^2) + lambda I``.

        Args:
            code: codes, shape ``(n, latent_dim)``.
            centroids: the ``c_i``, shape ``(m, latent_dim)``.
            factors: the ``L_i``, shape ``(m, latent_dim, latent_dim)``.

        Returns:
            float32 symmetric positive definite matrices, shape ``(n, latent_dim, latent_dim)``.
        """
        code = ops.cast(code, "float32")
        distances = ops.sum(ops.square(ops.expand_dims(code, 1) - ops.expand_dims(centroids, 0)), axis=-1)
        weights = ops.exp(-distances / self.temperature**2)
        local = ops.matmul(factors, ops.transpose(factors, (0, 2, 1)))
        identity = ops.eye(self.latent_dim, dtype="float32")
        return ops.einsum("nm,mij->nij", weights, local) + self.regularization * identity

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "temperature": self.temperature, "regularization": self.regularization}


@hookimpl
def register_bottlenecks(register: Callable[..., Any]) -> None:
    register(RiemannianMetricBottleneck, name="rhvae")
