"""DIP-VAE (Kumar et al. 2018): penalties that push the covariance of the batch's codes to the identity.

"Variational Inference of Disentangled Latent Concepts from Unlabeled Observations", eqs. 6 and 7. The
penalty of a covariance matrix ``C`` is

    lambda_od * sum_{i != j} C_ij**2 + lambda_d * sum_i (C_ii - 1)**2

and the two models differ in ``C``:

- DIP-VAE-I (``"dip_vae_i"``): ``Cov[mean]``, the covariance over the batch of the posterior means;
- DIP-VAE-II (``"dip_vae_ii"``): ``Cov[z] = E[diag(exp(log_variance))] + Cov[mean]``, the covariance of
  the aggregate posterior, which adds the batch mean of each encoder's diagonal covariance.

As in disentanglement_lib (``methods/unsupervised/vae.py: compute_covariance_z_mean``), the covariance of
the means is the biased estimate, divided by the batch size. disentanglement_lib sets
``lambda_d = lambda_d_factor * lambda_od``; here ``lambda_d`` is given directly, and the defaults are that
library's study values (Locatello et al. 2019): ``lambda_d = 10 * lambda_od`` for
DIP-VAE-I and ``lambda_d = lambda_od`` for DIP-VAE-II, with ``lambda_od = 10`` from the middle of its sweep
(1, 2, 5, 10, 20, 50).

These are the penalties alone: a DIP-VAE is a VAE with one of them added to its KL divergence,

    regularizer = ["kld", {name = "dip_vae_ii", lambda_od = 10}]

in a ``tfae train`` config, or ``regularizer=["kld", DIPVAEIIRegularizer(lambda_od=10)]`` in Python.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

import tfae
from tfae.bottlenecks import GaussianBottleneck, Posterior
from tfae.regularizers import BaseRegularizer
from tfae.schedulers import BaseScheduler


def covariance_of_means(mean: Any) -> Any:
    """The biased covariance over the batch of ``mean`` ``(batch, latent_dim)``: ``(latent_dim, latent_dim)``."""
    batch_size = ops.cast(ops.shape(mean)[0], mean.dtype)
    centred = mean - ops.mean(mean, axis=0, keepdims=True)
    return ops.matmul(ops.transpose(centred), centred) / batch_size


def dip_penalty(covariance: Any, lambda_od: float, lambda_d: float) -> Any:
    """``lambda_od * sum_{i != j} C_ij**2 + lambda_d * sum_i (C_ii - 1)**2`` of a covariance matrix ``C``."""
    diagonal = ops.diagonal(covariance)
    off_diagonal = covariance - ops.diag(diagonal)
    return lambda_od * ops.sum(ops.square(off_diagonal)) + lambda_d * ops.sum(ops.square(diagonal - 1.0))


class DIPVAERegularizer(BaseRegularizer):
    """What the two DIP-VAE penalties share: the weights, the check of the bottleneck, the configuration.

    Subclasses give ``covariance(mean, log_variance)``, the matrix to push to the identity.

    Args:
        lambda_od: the weight of the squared off-diagonal entries, a finite number >= 0.
        lambda_d: the weight of the squared distances of the diagonal entries from 1, a finite number >= 0.
        beta: the weight of the whole penalty: a float, a scheduler, or ``scheduler.value``.
    """

    def __init__(
        self,
        lambda_od: float,
        lambda_d: float,
        beta: float | BaseScheduler | str | dict[str, Any] | keras.Variable = 1.0,
    ) -> None:
        super().__init__(beta=beta)
        self.lambda_od = _weight("lambda_od", lambda_od)
        self.lambda_d = _weight("lambda_d", lambda_d)

    def check_bottleneck(self, bottleneck: keras.layers.Layer) -> None:
        if isinstance(bottleneck, GaussianBottleneck):
            return
        from tfae.serialization import describe_component

        raise ValueError(
            f"The regularizer {describe_component('regularizer', self)} needs a Gaussian posterior, its mean and "
            f"log-variance, which the bottleneck {describe_component('bottleneck', bottleneck)} does not give: "
            "use the bottleneck 'gaussian'."
        )

    def covariance(self, mean: Any, log_variance: Any) -> Any:
        """The ``(latent_dim, latent_dim)`` matrix that the penalty pushes to the identity."""
        raise NotImplementedError

    def penalty(self, posterior: Posterior, training: bool = False) -> Any:
        """The penalty of the batch, a scalar: ``dip_penalty`` of ``covariance``."""
        mean, log_variance = posterior.parameters
        return dip_penalty(self.covariance(mean, log_variance), self.lambda_od, self.lambda_d)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "lambda_od": self.lambda_od, "lambda_d": self.lambda_d}


class DIPVAEIRegularizer(DIPVAERegularizer):
    """DIP-VAE-I (Kumar et al. 2018, eq. 6): the covariance over the batch of the posterior means.

    The penalty is one value for the batch: ``lambda_od * sum_{i != j} C_ij**2 + lambda_d * sum_i (C_ii - 1)**2``
    with ``C = Cov[mean]``, the biased covariance (divided by the batch size), as disentanglement_lib computes
    it. It adds to the KL divergence: ``regularizer=["kld", "dip_vae_i"]``. It needs a Gaussian bottleneck:
    although only the means enter the penalty, they must be the means of a Gaussian posterior.

    Args:
        lambda_od: the weight of the squared off-diagonal entries (default 10), a finite number >= 0.
        lambda_d: the weight of the squared distances of the diagonal entries from 1 (default 100: the
            study of Locatello et al. 2019 sets ``lambda_d = 10 * lambda_od`` for DIP-VAE-I).
        beta: the weight of the whole penalty (default 1): a float, a scheduler, or ``scheduler.value``.

    Call arguments:
        posterior: the ``Posterior`` of a Gaussian bottleneck; or its mean and log-variance,
            ``regularizer(mean, log_variance)``, each of shape ``(batch, latent_dim)``.

    Example:

    >>> regularizer = DIPVAEIRegularizer(lambda_od=1.0, lambda_d=10.0)
    >>> mean = keras.ops.convert_to_tensor([[1.0, -1.0], [-1.0, 1.0]])
    >>> float(regularizer(mean, keras.ops.zeros((2, 2))))  # Cov[mean] = [[1, -1], [-1, 1]]
    2.0
    """

    def __init__(
        self,
        lambda_od: float = 10.0,
        lambda_d: float = 100.0,
        beta: float | BaseScheduler | str | dict[str, Any] | keras.Variable = 1.0,
    ) -> None:
        super().__init__(lambda_od=lambda_od, lambda_d=lambda_d, beta=beta)

    def covariance(self, mean: Any, log_variance: Any) -> Any:
        return covariance_of_means(mean)


class DIPVAEIIRegularizer(DIPVAERegularizer):
    """DIP-VAE-II (Kumar et al. 2018, eq. 7): the covariance of the codes, ``E[diag(exp(log_variance))] + Cov[mean]``.

    The penalty is one value for the batch: ``lambda_od * sum_{i != j} C_ij**2 + lambda_d * sum_i (C_ii - 1)**2``
    with ``C`` the covariance of the aggregate posterior over the batch: the batch mean of each sample's
    diagonal covariance plus the biased covariance of the means, as disentanglement_lib computes it. It adds to
    the KL divergence: ``regularizer=["kld", {"name": "dip_vae_ii", "lambda_od": 10}]``.

    Args:
        lambda_od: the weight of the squared off-diagonal entries (default 10), a finite number >= 0.
        lambda_d: the weight of the squared distances of the diagonal entries from 1 (default 10: the study
            of Locatello et al. 2019 sets ``lambda_d = lambda_od`` for DIP-VAE-II).
        beta: the weight of the whole penalty (default 1): a float, a scheduler, or ``scheduler.value``.

    Call arguments:
        posterior: the ``Posterior`` of a Gaussian bottleneck; or its mean and log-variance,
            ``regularizer(mean, log_variance)``, each of shape ``(batch, latent_dim)``.

    Example:

    >>> regularizer = DIPVAEIIRegularizer()
    >>> mean = keras.ops.convert_to_tensor([[1.0, -1.0], [-1.0, 1.0]])
    >>> float(regularizer(mean, keras.ops.zeros((2, 2))))  # C = [[2, -1], [-1, 2]]
    40.0
    """

    def __init__(
        self,
        lambda_od: float = 10.0,
        lambda_d: float = 10.0,
        beta: float | BaseScheduler | str | dict[str, Any] | keras.Variable = 1.0,
    ) -> None:
        super().__init__(lambda_od=lambda_od, lambda_d=lambda_d, beta=beta)

    def covariance(self, mean: Any, log_variance: Any) -> Any:
        return covariance_of_means(mean) + ops.diag(ops.mean(ops.exp(log_variance), axis=0))


def _weight(name: str, value: Any) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and float(value) >= 0:
        return float(value)
    raise ValueError(f"`{name}` must be a finite number >= 0. Received: {name}={value!r}")


@tfae.hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(DIPVAEIRegularizer, name="dip_vae_i")
    register(DIPVAEIIRegularizer, name="dip_vae_ii")
