"""The Hamiltonian VAE's bound (Caterini, Doucet & Sejdinovic 2018): the posterior's code moved by tempered leapfrog
steps."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

import tfae.random
from tfae.autodiff import gradient
from tfae.bottlenecks import VariationalBottleneck
from tfae.hookspecs import hookimpl
from tfae.objectives import BaseObjective, ObjectiveTerms
from tfae.serialization import describe_component


def positive_integer(value: Any, name: str, meaning: str) -> int:
    """``value`` as an int after checking that it is a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}`, {meaning}, must be a positive integer. Received: {name}={value!r}")
    return int(value)


def positive_number(value: Any, name: str, meaning: str) -> float:
    """``value`` as a float after checking that it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"`{name}`, {meaning}, must be a positive number. Received: {name}={value!r}")
    return float(value)


def tempering(step: int, steps: int, beta_0: float) -> float:
    """``sqrt(beta_k)`` of the paper's quadratic tempering scheme (Caterini et al. 2018, Algorithm 1).

    ``1 / sqrt(beta_k) = (1 - 1 / sqrt(beta_0)) * (k / K)^2 + 1 / sqrt(beta_0)``: ``beta_0`` at step 0, 1 at
    step ``K``, so that the momentum cools from the inverse temperature ``beta_0`` to the target's.
    """
    inverse = 1.0 / math.sqrt(beta_0)
    return 1.0 / ((1.0 - inverse) * (step / steps) ** 2 + inverse)


class HamiltonianELBO(BaseObjective):
    """The negative Hamiltonian ELBO of each sample: the posterior's code moved by ``K`` tempered leapfrog steps.

    Caterini, Doucet & Sejdinovic (2018), "Hamiltonian Variational Auto-Encoder" (NeurIPS), Algorithm 1
    (fixed tempering). With ``z_0 ~ q(z | x)`` (the bottleneck's reparameterised code) and ``gamma ~ N(0, I)``,
    the momentum starts at ``rho_0 = gamma / sqrt(beta_0)``; each of the ``K`` steps is a leapfrog step of size
    ``eps`` on the potential ``U(z) = -log p(x, z) = -log p(x | z) - log p(z)``,

        ``rho' = rho_{k-1} - eps/2 * grad U(z_{k-1})``, ``z_k = z_{k-1} + eps * rho'``,
        ``rho'' = rho' - eps/2 * grad U(z_k)``,

    followed by the tempering ``rho_k = sqrt(beta_{k-1} / beta_k) * rho''`` with the quadratic schedule
    ``1 / sqrt(beta_k) = (1 - 1/sqrt(beta_0)) (k/K)^2 + 1/sqrt(beta_0)`` (``beta_K = 1``). The bound is

        ``log p(x, z_K) + log N(rho_K; 0, I) - log q(z_0 | x) - log N(rho_0; 0, I / beta_0) + (d/2) log beta_0``
        ``= log p(x, z_K) - |rho_K|^2 / 2 - log q(z_0 | x) + |gamma|^2 / 2``:

    the leapfrog steps keep volume (Jacobian 1) and the tempering scales the momentum by ``sqrt(beta_0)`` in
    all, a log-Jacobian of ``(d/2) log beta_0``, which cancels the density of ``rho_0``'s scale. ``exp`` of it is
    an unbiased estimate of ``p(x)`` (Hamiltonian importance sampling), so the bound holds the divergence from
    the prior: the bottleneck takes no ``"kld"``. The gradients of ``U`` come from ``tfae.autodiff.gradient``
    inside the loss, and the train step differentiates through them (second derivatives of the decoder).

    ``eps`` and ``beta_0`` are fixed numbers here, as in pythae's HVAE by default (``learn_eps_lf=False``,
    ``learn_beta_zero=False``); the paper also learns them, which would need weights, and an objective holds
    none. ``gamma`` is drawn with the bottleneck's own seed generator (``VariationalBottleneck.random``), which the
    model tracks and saves: seeded by the bottleneck's ``seed``, moving on every step on TensorFlow and JAX, a
    different row on each tf.distribute replica. With sample weights, ``log p(x | z)`` in the dynamics is
    weighted as ``reconstruction_loss`` is (the tempered posterior ``p(x | z)^w p(z)``).

    The history logs ``hvae_bound``, the bound in nats (a lower bound on ``log p(x)``); the loss is its negative
    plus the regularizers' weighted penalties.

    Args:
        steps: positive int, ``K``, the leapfrog steps (pythae's ``n_lf``).
        step_size: positive float, ``eps``, each step's size (pythae's ``eps_lf``).
        beta_0: the initial inverse temperature, in (0, 1]; 1 turns the tempering off.

    Call arguments:
        terms: the model's ``ObjectiveTerms`` of a batch, one code per sample, with the model's decoder and
            likelihood (the model gives them).

    Returns:
        ``{"loss": (batch,), "hvae_bound": (batch,)}``, float32.

    Example:

    >>> model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2})
    >>> model.compile(optimizer="adam", loss="bernoulli", objective={"name": "hvae", "steps": 3, "step_size": 0.05})
    """

    needs_likelihood = True
    needs_densities = True
    holds_divergence = True
    logged = ("hvae_bound",)

    def __init__(self, steps: int = 3, step_size: float = 0.001, beta_0: float = 0.3) -> None:
        super().__init__()
        self.steps = positive_integer(steps, "steps", "the leapfrog steps K")
        self.step_size = positive_number(step_size, "step_size", "the leapfrog step size eps")
        if isinstance(beta_0, bool) or not isinstance(beta_0, numbers.Real) or not 0 < beta_0 <= 1:
            raise ValueError(
                "`beta_0`, the initial inverse temperature of the momentum, must be a number in (0, 1] (1: no "
                f"tempering). Received: beta_0={beta_0!r}"
            )
        self.beta_0 = float(beta_0)

    def __call__(self, terms: ObjectiveTerms) -> dict[str, Any]:
        bound = self.bound(terms, self.draw_momentum(terms))
        return {"loss": -bound + terms.regularization, self.logged[0]: bound}

    def draw_momentum(self, terms: ObjectiveTerms) -> Any:
        """``gamma ~ N(0, I)`` of the posterior's code's shape, drawn with the bottleneck's seed generator."""
        bottleneck = terms.posterior.bottleneck
        seed_generator = bottleneck.seed_generator
        return bottleneck.random(
            lambda shape: tfae.random.normal(shape, seed_generator, dtype="float32"), ops.shape(terms.posterior.code)
        )

    def potential(self, terms: ObjectiveTerms, code: Any) -> Any:
        """``U(z) = -log p(x | z) - log p(z)`` of each sample, shape ``(batch,)``."""
        return terms.negative_log_likelihood(code) - terms.posterior.log_prior(code)

    def potential_gradient(self, terms: ObjectiveTerms, code: Any) -> Any:
        """``grad U(z)``, shape ``(batch, latent_dim)``: each sample's potential depends on its own code only."""
        return gradient(lambda z: ops.sum(self.potential(terms, z)), code)

    def flow(self, terms: ObjectiveTerms, momentum: Any) -> tuple[Any, Any]:
        """``(z_K, rho_K)``: the posterior's code and ``rho_0 = momentum / sqrt(beta_0)`` after the K tempered steps."""
        half = 0.5 * self.step_size
        code = terms.posterior.code
        momentum = ops.cast(momentum, "float32")
        rho = momentum / math.sqrt(self.beta_0)
        slope = self.potential_gradient(terms, code)
        previous = math.sqrt(self.beta_0)
        for step in range(1, self.steps + 1):
            rho = rho - half * slope
            code = code + self.step_size * rho
            slope = self.potential_gradient(terms, code)
            rho = rho - half * slope
            current = tempering(step, self.steps, self.beta_0)
            rho = (previous / current) * rho
            previous = current
        return code, rho

    def bound(self, terms: ObjectiveTerms, momentum: Any) -> Any:
        """The Hamiltonian ELBO of each sample, shape ``(batch,)``, for the posterior's code and ``gamma``."""
        momentum = ops.cast(momentum, "float32")
        code, rho = self.flow(terms, momentum)
        kinetic = 0.5 * ops.sum(ops.square(rho), axis=-1) - 0.5 * ops.sum(ops.square(momentum), axis=-1)
        return -self.potential(terms, code) - kinetic - terms.posterior.log_density()

    def check_model(self, bottleneck: keras.layers.Layer, likelihood: Any) -> None:
        objective = describe_component("objective", self)
        if likelihood is None:
            raise ValueError(
                f"The objective {objective} moves each code along the gradient of log p(x | z), which a Keras loss "
                "does not give: compile with a likelihood ('bernoulli' for data in [0, 1], 'gaussian' for real values)."
            )
        super().check_model(bottleneck, likelihood)
        described = describe_component("bottleneck", bottleneck)
        if not isinstance(bottleneck, VariationalBottleneck):
            raise ValueError(
                f"The objective {objective} draws its momentum with the bottleneck's seed generator, which the "
                f"bottleneck {described} does not have: use a variational bottleneck such as 'gaussian'."
            )
        support = getattr(bottleneck.prior, "support", "real")
        if support != "real":
            raise ValueError(
                f"The objective {objective} moves codes continuously along a gradient, but the bottleneck {described} "
                f"draws {support} codes: use a bottleneck of real codes such as 'gaussian'."
            )

    def get_config(self) -> dict[str, Any]:
        return {"steps": self.steps, "step_size": self.step_size, "beta_0": self.beta_0}


@hookimpl
def register_objectives(register: Callable[..., Any]) -> None:
    register(HamiltonianELBO, name="hvae")
