"""beta-TCVAE (Chen et al. 2018): the KL term split into index-code mutual information, total correlation and
dimension-wise KL, each with its own weight; registered as ``"beta_tcvae"``."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, Literal

import keras
from keras import ops

import tfae
from tfae.bottlenecks import Posterior
from tfae.regularizers import BaseRegularizer
from tfae.schedulers import BaseScheduler
from tfae.schedulers.base import check_finite

ESTIMATORS = ("mws", "mss")


class BetaTCVAERegularizer(BaseRegularizer):
    """``alpha * MI + beta * TC + gamma * dimension-wise KL`` of each sample's code (Chen et al. 2018, eq. 4).

    With ``z_i`` the code of sample ``i`` (drawn from its posterior while training), ``q(z)`` the aggregate
    posterior and ``q(z_d)`` its marginals:

    - index-code mutual information ``MI = log q(z_i | x_i) - log q(z_i)``;
    - total correlation ``TC = log q(z_i) - sum_d log q(z_id)``;
    - dimension-wise KL ``sum_d log q(z_id) - log p(z_i)``.

    The three telescope: with ``alpha = beta = gamma = 1`` their sum is ``log q(z_i | x_i) - log p(z_i)``, the
    one-sample Monte Carlo estimate of the VAE's KL, so this regularizer replaces ``"kld"`` rather than adding
    to it. ``beta > 1`` presses on the total correlation alone, the term the paper finds disentangles.

    ``log q(z_i)`` and ``log q(z_id)`` are estimated from the batch, ``log q(z_i) ~= logsumexp_j (log W[i, j] +
    log q(z_i | x_j))`` (and likewise per dimension), from ``Posterior.pairwise``:

    - ``"mws"``, minibatch-weighted sampling (appendix C.1), the default, as in the authors' code: every
      ``W[i, j] = 1 / (N * B)``, with ``N`` the data set's size and ``B`` the batch's. This is the density under
      the batch's own aggregate posterior, ``(1 / B) sum_j q(z | x_j)``, divided by ``N``: so its terms are
      those of the batch's aggregate posterior plus constants that carry no gradient, ``log N`` in the mutual
      information, ``(D - 1) log N`` in the total correlation and ``-D log N`` in the dimension-wise KL, for a
      ``D``-dimensional code. Its penalty, and so the logged ``beta_tcvae_loss`` and ``loss``, hold
      ``(alpha + beta (D - 1) - gamma D) log N`` nats that are no one's information: 487 nats for ``beta = 6``,
      ``D = 10`` and 50,000 samples. With ``alpha = beta = gamma = 1`` they cancel.
    - ``"mss"``, minibatch-stratified sampling (appendix C.2): ``W[i, i] = 1 / N``,
      ``W[i, (i + 1) mod B] = (N - B + 1) / (N * (B - 1))`` and ``1 / (B - 1)`` elsewhere, an unbiased
      estimate of ``q(z_i)``. Its logarithm is biased low (Jensen's inequality), the more so the narrower the
      posteriors are beside the distances between the batch's codes, and the total correlation with it: a
      penalty with ``beta > alpha`` rewards that bias, which can leave a worse ELBO (the disentangling guide
      has the measurements). This is the paper's matrix. The authors' released code fills the first two
      columns instead of the diagonal and the one after it (rtqichen/beta-tcvae,
      ``_log_importance_weight_matrix``), so that its rows do not all sum to one; that is not followed here.

    Whatever the estimator, the model logs the three terms by MSS beside the penalty, averaged over the batch,
    unweighted: ``beta_tcvae_mss_mutual_information``, ``beta_tcvae_mss_total_correlation`` and
    ``beta_tcvae_mss_dimension_wise_kl`` (``logged``). Their sum is the Monte Carlo KL of the VAE.

    Training batches need at least ``min_batch_size`` (2) samples and at most ``dataset_size``: ``fit`` (given
    an array) and ``tfae train`` refuse other batch sizes before training (``check_batch_size``), and a train
    step refuses a batch larger than ``dataset_size`` where its size is static. The last batch of an epoch may
    be smaller: a batch of one sample has no other member to estimate from, and both estimators then give
    ``log q(z) ~= log q(z | x) - log N``, a total correlation of 0. Outside training (``evaluate``, the encoder
    called on many samples) a batch may be larger than ``dataset_size``: its estimate then takes the batch for
    the whole data set, ``N = B``.

    The penalty is one value for the batch, the mean of each sample's terms (``terms`` gives them per sample):
    each sample's estimate depends on the whole batch, so it is a batch-level penalty. Under ``tf.distribute``
    each replica's batch is the estimator's minibatch: ``B`` is ``batch_size / replicas``, drawn from the same
    ``N`` samples, and the model averages the replicas' penalties. So the estimate is that of a smaller batch,
    noisier, and for ``"mws"`` more biased.

    ``beta`` is the base class's weight: a float or a scheduler, logged as ``beta`` when scheduled; it weighs
    the total correlation only (``weighs_by_beta`` is ``False``). ``alpha`` and ``gamma`` are floats.

    Needs a bottleneck that gives log-densities under its posterior and its prior (``"gaussian"``); refuses
    any other when the bottleneck is made.

    Args:
        alpha: float >= 0, the weight of the index-code mutual information.
        beta: the weight of the total correlation: a float >= 0, a scheduler (an instance, its name or a dict),
            or ``scheduler.value``.
        gamma: float >= 0, the weight of the dimension-wise KL.
        dataset_size: int >= 1, required: ``N``, the number of training samples the batches are drawn from, so
            at least the training batch size.
        estimator: ``"mws"`` (minibatch-weighted, the default) or ``"mss"`` (minibatch-stratified).

    Call arguments:
        posterior: a ``Posterior`` with the code and the bottleneck that scores it.
        training: a step-counted ``beta`` moves on by one step when ``True``.

    Example:

    ```python
    model = Autoencoder(bottleneck={
        "name": "gaussian", "latent_dim": 8,
        "regularizer": {"name": "beta_tcvae", "beta": 6, "dataset_size": len(x_train)},
    })
    ```
    """

    weighs_by_beta = False
    min_batch_size = 2
    logged = ("mss_mutual_information", "mss_total_correlation", "mss_dimension_wise_kl")

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float | BaseScheduler | str | dict[str, Any] | keras.Variable = 1.0,
        gamma: float = 1.0,
        *,
        dataset_size: int,
        estimator: Literal["mws", "mss"] = "mws",
    ) -> None:
        super().__init__(beta=beta)
        self.alpha = _weight("alpha", alpha)
        self.gamma = _weight("gamma", gamma)
        if isinstance(dataset_size, bool) or not isinstance(dataset_size, numbers.Integral) or dataset_size < 1:
            raise ValueError(
                "`dataset_size` must be the number of training samples, an integer >= 1. "
                f"Received: dataset_size={dataset_size!r}"
            )
        self.dataset_size: int = int(dataset_size)
        if estimator not in ESTIMATORS:
            raise ValueError(
                f"`estimator` must be one of {ESTIMATORS}: minibatch-weighted or minibatch-stratified sampling. "
                f"Received: estimator={estimator!r}"
            )
        self.estimator: str = estimator

    def check_bottleneck(self, bottleneck: keras.layers.Layer) -> None:
        self.require_densities(bottleneck, "to estimate the aggregate posterior q(z) from the batch")

    def log_weights(self, batch_size: Any, estimator: str | None = None) -> Any:
        """``log W[i, j]``, shape ``(batch_size, batch_size)``: how the batch's posteriors weigh in ``log q(z_i)``,
        by ``estimator`` (the regularizer's own by default)."""
        size = ops.cast(batch_size, "float32")
        # A batch larger than the data set (outside training) is taken for the whole of it.
        dataset_size = ops.maximum(float(self.dataset_size), size)
        if (estimator or self.estimator) == "mws":
            return ops.zeros((batch_size, batch_size)) - ops.log(dataset_size * size)
        # The batch less sample i itself: B - 1, but 1 for a batch of one, whose diagonal then takes it all.
        others = ops.maximum(size - 1.0, 1.0)
        index = ops.arange(batch_size)
        itself = ops.expand_dims(index, 1) == ops.expand_dims(index, 0)
        stratum = ops.expand_dims(index, 0) == ops.expand_dims((index + 1) % batch_size, 1)
        # log((N - M) / (N M)) = log(1 - M / N) - log(M), without the cancellation of log(N - M) - log(N M).
        log_weights = ops.where(stratum, ops.log1p(-others / dataset_size) - ops.log(others), -ops.log(others))
        return ops.where(itself, -ops.log(dataset_size), log_weights)

    def terms(self, posterior: Posterior, estimator: str | None = None) -> dict[str, Any]:
        """The three terms of each sample, unweighted, by ``estimator`` (the regularizer's own by default):
        ``mutual_information``, ``total_correlation`` and ``dimension_wise_kl``, float32 tensors of shape
        ``(batch,)``."""
        # log q(z_id | x_j) for every code i, posterior j and dimension d: (batch, batch, latent_dim).
        pairwise = posterior.pairwise(per_dimension=True)
        log_weights = self.log_weights(posterior.batch_size, estimator)
        log_q_z = ops.logsumexp(log_weights + ops.sum(pairwise, axis=-1), axis=1)
        log_product_of_marginals = ops.sum(ops.logsumexp(ops.expand_dims(log_weights, -1) + pairwise, axis=1), axis=-1)
        return {
            "mutual_information": posterior.log_density() - log_q_z,
            "total_correlation": log_q_z - log_product_of_marginals,
            "dimension_wise_kl": log_product_of_marginals - posterior.log_prior(),
        }

    def penalty(self, posterior: Posterior, training: bool = False) -> Any:
        """The batch mean of ``alpha * MI + beta * TC + gamma * dimension-wise KL``: a scalar."""
        if training:
            self._check_static_batch_size(posterior)
        terms = self.terms(posterior)
        return ops.mean(
            self.alpha * terms["mutual_information"]
            + self.current_beta(training) * terms["total_correlation"]
            + self.gamma * terms["dimension_wise_kl"]
        )

    def logged_values(self, posterior: Posterior) -> dict[str, Any]:
        """The batch means of the three terms by minibatch-stratified sampling, unweighted, named as in ``logged``."""
        terms = self.terms(posterior, "mss")
        return {f"mss_{name}": ops.mean(value) for name, value in terms.items()}

    def check_batch_size(self, batch_size: int) -> None:
        """Refuses training batches of fewer than 2 samples, or of more than ``dataset_size``."""
        super().check_batch_size(batch_size)
        if batch_size > self.dataset_size:
            raise ValueError(self._too_large(batch_size))

    def _check_static_batch_size(self, posterior: Posterior) -> None:
        batch_size = posterior.parameters[0].shape[0]
        if batch_size is not None and batch_size > self.dataset_size:
            raise ValueError(self._too_large(batch_size))

    def _too_large(self, batch_size: int) -> str:
        return (
            f"A batch of {batch_size} samples cannot be drawn from a data set of dataset_size={self.dataset_size}: "
            "`dataset_size` must be the number of training samples, at least the batch size. "
            f"Received: dataset_size={self.dataset_size}, a batch of {batch_size}"
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "gamma": self.gamma,
            "dataset_size": self.dataset_size,
            "estimator": self.estimator,
        }


def _weight(name: str, value: float) -> float:
    weight = check_finite(name, value)
    if weight < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0. Received: {name}={value!r}")
    return weight


@tfae.hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(BetaTCVAERegularizer, name="beta_tcvae")
