"""The Riemannian Hamiltonian VAE's bound (Chadebec, Mantoux & Allassonnière 2020): the posterior's code moved by
tempered generalised leapfrog steps under a learned Riemannian metric."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from tfae.hookspecs import hookimpl
from tfae.objectives import ObjectiveTerms
from tfae.serialization import describe_component
from tfae_hamiltonian.hvae import HamiltonianELBO, positive_integer, tempering
from tfae_hamiltonian.metric import RiemannianMetricBottleneck


def log_determinant(matrices: Any) -> Any:
    """``log det A`` of symmetric positive definite matrices ``(..., d, d)``, from their Cholesky factors."""
    return 2.0 * ops.sum(ops.log(ops.diagonal(ops.cholesky(matrices), axis1=-2, axis2=-1)), axis=-1)


def quadratic_form(vectors: Any, matrices: Any) -> Any:
    """``v^T A v`` of each vector ``(n, d)`` and matrix ``(n, d, d)``, shape ``(n,)``."""
    return ops.einsum("ni,nij,nj->n", vectors, matrices, vectors)


class RiemannianHamiltonianELBO(HamiltonianELBO):
    """The negative RHVAE bound of each sample: the code moved by ``K`` tempered generalised leapfrog steps.

    Chadebec, Mantoux & Allassonnière (2020), "Geometry-Aware Hamiltonian Variational Auto-Encoder", its
    Riemannian Hamiltonian VAE (pythae's RHVAE). The latent space carries the metric ``G(z)`` of the ``"rhvae"``
    bottleneck (``RiemannianMetricBottleneck``), whose inverse ``G^{-1}(z) = sum_i L_i L_i^T exp(-|z - c_i|^2 / T^2) +
    lambda I`` uses the batch's posterior means as centroids and its metric factors. The momentum's law
    depends on the position, ``rho ~ N(0, G(z))``, so the Hamiltonian is

        ``H(z, rho) = U(z) + 1/2 log((2 pi)^d det G(z)) + 1/2 rho^T G^{-1}(z) rho``,  ``U(z) = -log p(x, z)``,

    and each step is the generalised leapfrog integrator, whose first two equations are implicit and solved,
    as in pythae, by a fixed number of fixed-point iterations from the current point:

        ``rho' = rho - eps/2 * grad_z H(z, rho')``,
        ``z_k = z + eps/2 * (G^{-1}(z) + G^{-1}(z_k)) rho'``,
        ``rho'' = rho' - eps/2 * grad_z H(z_k, rho')``,

    then the HVAE's tempering, ``rho_k = sqrt(beta_{k-1} / beta_k) * rho''``. The momentum starts at
    ``rho_0 = C^{-T} gamma / sqrt(beta_0)`` with ``gamma ~ N(0, I)`` and ``C C^T = G^{-1}(z_0)`` (so that
    ``rho_0 ~ N(0, G(z_0) / beta_0)``), and the bound is

        ``log p(x, z_K) + log N(rho_K; 0, G(z_K)) - log q(z_0 | x) - log N(rho_0; 0, G(z_0) / beta_0)
        + (d/2) log beta_0``
        ``= -U(z_K) + 1/2 log det G^{-1}(z_K) - 1/2 rho_K^T G^{-1}(z_K) rho_K + |gamma|^2 / 2
        - 1/2 log det G^{-1}(z_0) - log q(z_0 | x)``:

    the generalised leapfrog keeps volume (exactly when its implicit steps are solved; to the fixed-point
    iterations' accuracy here) and the tempering's Jacobian cancels the density of ``rho_0``'s scale, as in the
    HVAE. With ``G = I`` it is the HVAE's bound. The gradient of ``U`` comes from ``tfae.autodiff.gradient``,
    those of the metric's terms in closed form (``hamiltonian_gradient``), and the train step differentiates
    through both.

    Where this differs from pythae's RHVAE: ``rho_0`` is drawn from ``N(0, G(z_0) / beta_0)``, the law the
    bound assumes (pythae draws it with the sample's own factor ``L(x)`` while training), the loss keeps
    ``log N(rho_0)`` (pythae's training loss leaves it out, though it depends on the metric), pythae's
    ``beta_zero`` is used as ``sqrt(beta_0)`` there and as ``beta_0`` here, the second equation is iterated at
    the new point (pythae evaluates ``G^{-1}`` at the old one, which makes its iterations explicit), and the
    metric is the batch's own in evaluation too (pythae then uses the centroids of the last training epoch).

    Args:
        steps: positive int, ``K``, the leapfrog steps (pythae's ``n_lf``).
        step_size: positive float, ``eps`` (pythae's ``eps_lf``).
        beta_0: the initial inverse temperature, in (0, 1]; 1 turns the tempering off.
        fixed_point_iterations: positive int, the iterations that solve each implicit equation (pythae's 3).

    Call arguments:
        terms: the model's ``ObjectiveTerms`` of a batch, one code per sample, from a model whose bottleneck is
            ``"rhvae"``.

    Returns:
        ``{"loss": (batch,), "rhvae_bound": (batch,)}``, float32.

    Example:

    >>> model = Autoencoder(bottleneck={"name": "rhvae", "latent_dim": 2})
    >>> model.compile(optimizer="adam", loss="bernoulli", objective={"name": "rhvae", "step_size": 0.05})
    """

    logged = ("rhvae_bound",)

    def __init__(
        self, steps: int = 3, step_size: float = 0.001, beta_0: float = 0.3, fixed_point_iterations: int = 3
    ) -> None:
        super().__init__(steps=steps, step_size=step_size, beta_0=beta_0)
        self.fixed_point_iterations = positive_integer(
            fixed_point_iterations, "fixed_point_iterations", "the iterations solving each implicit leapfrog equation"
        )

    def inverse_metric(self, terms: ObjectiveTerms, code: Any) -> Any:
        """``G^{-1}`` at each sample's ``code`` ``(batch, d)``, by the batch's metric: ``(batch, d, d)``."""
        mean, _, factor = terms.posterior.parameters
        return terms.posterior.bottleneck.inverse_metric(code, mean, factor)

    def position_terms(self, terms: ObjectiveTerms, code: Any) -> tuple[Any, Any, Any, Any]:
        """What ``grad_z H(z, rho)`` and ``grad_rho H`` need at ``code`` whatever the momentum: once a position.

        With ``w_i = exp(-|z - c_i|^2 / T^2)`` and ``M_i = L_i L_i^T``, ``G^{-1}(z) = sum_i w_i M_i + lambda I``, so
        ``grad_z [1/2 rho^T G^{-1} rho + 1/2 log det G] = sum_i grad w_i * (rho^T M_i rho - tr(G M_i)) / 2`` with
        ``grad w_i = -2 (z - c_i) / T^2 * w_i``: the metric's terms in closed form, no gradient inside the gradient.

        Returns:
            ``(grad U(z), G^{-1}(z), grad w_i(z), tr(G(z) M_i))`` of shapes ``(n, d)``, ``(n, d, d)``, ``(n, m, d)``
            and ``(n, m)`` for ``n`` codes and the ``m`` samples of the batch.
        """
        posterior = terms.posterior
        mean, _, factor = posterior.parameters
        temperature = posterior.bottleneck.temperature
        inverse = posterior.bottleneck.inverse_metric(code, mean, factor)
        offsets = ops.expand_dims(code, 1) - ops.expand_dims(mean, 0)
        weights = ops.exp(-ops.sum(ops.square(offsets), axis=-1) / temperature**2)
        slopes = (-2.0 / temperature**2) * offsets * ops.expand_dims(weights, -1)
        traces = ops.einsum("nij,mik,mjk->nm", ops.inv(inverse), factor, factor)
        return self.potential_gradient(terms, code), inverse, slopes, traces

    def hamiltonian_gradient(self, terms: ObjectiveTerms, position: tuple[Any, Any, Any, Any], rho: Any) -> Any:
        """``grad_z H(z, rho)`` at the ``position_terms`` of ``z``."""
        potential_slope, _, slopes, traces = position
        factor = terms.posterior.parameters[2]
        kinetic = ops.sum(ops.square(ops.einsum("nj,mjk->nmk", rho, factor)), axis=-1)
        return potential_slope + ops.einsum("nmd,nm->nd", slopes, 0.5 * (kinetic - traces))

    def flow(self, terms: ObjectiveTerms, momentum: Any) -> tuple[Any, Any]:
        half = 0.5 * self.step_size
        code = terms.posterior.code
        momentum = ops.cast(momentum, "float32")
        position = self.position_terms(terms, code)
        # rho_0 = C^{-T} gamma / sqrt(beta_0) has covariance (C C^T)^{-1} / beta_0 = G(z_0) / beta_0.
        factor = ops.cholesky(position[1])
        rho = ops.solve_triangular(ops.transpose(factor, (0, 2, 1)), ops.expand_dims(momentum, -1), lower=False)
        rho = rho[..., 0] / math.sqrt(self.beta_0)
        previous = math.sqrt(self.beta_0)
        for step in range(1, self.steps + 1):
            start = rho
            for _ in range(self.fixed_point_iterations):
                rho = start - half * self.hamiltonian_gradient(terms, position, rho)
            # grad_rho H(z, rho) = G^{-1}(z) rho.
            start_velocity = ops.einsum("nij,nj->ni", position[1], rho)
            moved = code
            for _ in range(self.fixed_point_iterations):
                end_velocity = ops.einsum("nij,nj->ni", self.inverse_metric(terms, moved), rho)
                moved = code + half * (start_velocity + end_velocity)
            code = moved
            position = self.position_terms(terms, code)
            rho = rho - half * self.hamiltonian_gradient(terms, position, rho)
            current = tempering(step, self.steps, self.beta_0)
            rho = (previous / current) * rho
            previous = current
        return code, rho

    def bound(self, terms: ObjectiveTerms, momentum: Any) -> Any:
        momentum = ops.cast(momentum, "float32")
        code, rho = self.flow(terms, momentum)
        inverse = self.inverse_metric(terms, code)
        initial = self.inverse_metric(terms, terms.posterior.code)
        kinetic = 0.5 * quadratic_form(rho, inverse) - 0.5 * ops.sum(ops.square(momentum), axis=-1)
        log_volumes = 0.5 * log_determinant(inverse) - 0.5 * log_determinant(initial)
        return -self.potential(terms, code) - kinetic + log_volumes - terms.posterior.log_density()

    def check_model(self, bottleneck: keras.layers.Layer, likelihood: Any) -> None:
        super().check_model(bottleneck, likelihood)
        if not isinstance(bottleneck, RiemannianMetricBottleneck):
            raise ValueError(
                f"The objective {describe_component('objective', self)} moves codes under the Riemannian metric "
                f"that the bottleneck 'rhvae' (RiemannianMetricBottleneck) learns, which the bottleneck "
                f"{describe_component('bottleneck', bottleneck)} does not have: build the model with "
                "bottleneck={'name': 'rhvae', 'latent_dim': ...}."
            )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fixed_point_iterations": self.fixed_point_iterations}


@hookimpl
def register_objectives(register: Callable[..., Any]) -> None:
    register(RiemannianHamiltonianELBO, name="rhvae")
