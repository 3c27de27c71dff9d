"""The importance-weighted pass: codes drawn from each sample's posterior and scored, for IWAE and the ELBO."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Codes decoded at once: bounds the memory of a pass whatever k is (k = 5000 on 28x28 images fits easily).
CODES_PER_CALL = 8192


def importance_weighted_pass(
    model: Any, x: np.ndarray, samples: int = 1000, seed: int = 0, batch_size: int = 64, progress: bool = False
) -> dict[str, np.ndarray]:
    """Draws ``samples`` codes from each sample's posterior and scores them: the numbers of the IWAE estimate.

    For each sample ``x`` and codes ``z_1..z_k ~ q(z | x)`` (drawn exactly, ``sample_exact``; the model's
    prior scores them), the log-weights
    ``log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x)`` give ``log p(x) ≈ logsumexp(log w) - log k``
    (a lower bound in expectation that tightens as ``k`` grows) and the ELBO, their mean. Codes are decoded
    in chunks, and each chunk's weights are summed into running totals (the logsumexp with ``logaddexp``),
    so memory does not grow with ``k``. The draws come from the bottleneck's own sampler, with its seed
    generator set from ``seed`` for the pass and restored after, so the model's state is unchanged.

    Args:
        model: a built ``Autoencoder`` with a variational bottleneck and a tfae likelihood.
        x: the samples, shape ``(n, ...)``.
        samples: ``k``, the codes drawn per sample.
        seed: the seed of the draws.
        batch_size: data samples per chunk (each chunk decodes up to ``CODES_PER_CALL`` codes at once).
        progress: show a Keras progress bar.

    Returns:
        A dict of float64 arrays of shape ``(n,)``: ``log_likelihood`` (the IWAE-k estimate of ``log p(x)``, in
        nats), ``elbo``, ``reconstruction`` (the mean ``-log p(x | z)``), and ``kl_per_dimension`` of shape
        ``(n, latent_dim)`` (the Monte Carlo KL of each dimension), left out when the posterior or the prior
        does not factorise over dimensions (a flow, a mixture prior), where no KL per dimension exists.
    """
    import keras
    from keras import ops

    bottleneck, likelihood = model.bottleneck, model.likelihood
    features = model.feature_network
    per_dimension = factorizes(bottleneck)
    k = int(samples)
    rows = max(1, min(int(batch_size), CODES_PER_CALL // k or 1))
    per_call = max(1, min(k, CODES_PER_CALL // rows))
    results: dict[str, list[np.ndarray]] = {"log_likelihood": [], "elbo": [], "reconstruction": [], "kl": []}
    bar = keras.utils.Progbar(len(x), unit_name="sample") if progress else None
    state = ops.convert_to_numpy(bottleneck.seed_generator.state)
    bottleneck.seed_generator.state.assign(np.asarray([seed, 0], dtype=state.dtype))
    try:
        for start in range(0, len(x), rows):
            batch = x[start : start + rows]
            parameters = bottleneck.distribution_parameters(features(batch, training=False))
            # Running sums over the draws, so that memory stays that of one chunk whatever k is.
            log_sum = np.full(len(batch), -np.inf)
            weight_sum = np.zeros(len(batch))
            reconstruction_sum = np.zeros(len(batch))
            kl_sum: np.ndarray | float = 0.0
            for first in range(0, k, per_call):
                draws = min(per_call, k - first)
                # Each sample's parameters repeated `draws` times, sample by sample: rows of shape (n * draws, ...).
                repeated = tuple(ops.repeat(parameter, draws, axis=0) for parameter in parameters)
                codes, log_q = _drawn(bottleneck.sample_exact(*repeated))
                if log_q is None:
                    log_q = bottleneck.joint_log_density(codes, *repeated)
                log_q = ops.convert_to_numpy(log_q).astype("float64")
                log_p = ops.convert_to_numpy(bottleneck.joint_log_prior(codes)).astype("float64")
                outputs = model.decoder_network(ops.cast(codes, model.compute_dtype), training=False)
                targets = ops.repeat(ops.convert_to_tensor(batch), draws, axis=0)
                nll = ops.convert_to_numpy(likelihood.negative_log_likelihood(targets, outputs)).astype("float64")
                shape = (len(batch), draws)
                log_weights = (-nll + log_p - log_q).reshape(shape)
                log_sum = np.logaddexp(log_sum, _logsumexp(log_weights))
                weight_sum += log_weights.sum(axis=1)
                reconstruction_sum += nll.reshape(shape).sum(axis=1)
                if per_dimension:
                    kl_terms = bottleneck.log_density(codes, *repeated) - bottleneck.log_prior(codes)
                    kl_terms = ops.convert_to_numpy(kl_terms).astype("float64").reshape((*shape, -1))
                    kl_sum = kl_sum + kl_terms.sum(axis=1)
            results["log_likelihood"].append(log_sum - math.log(k))
            results["elbo"].append(weight_sum / k)
            results["reconstruction"].append(reconstruction_sum / k)
            if per_dimension:
                results["kl"].append(np.asarray(kl_sum) / k)
            if bar is not None:
                bar.add(len(batch))
    finally:
        bottleneck.seed_generator.state.assign(state)
    found = {
        "log_likelihood": np.concatenate(results["log_likelihood"]),
        "elbo": np.concatenate(results["elbo"]),
        "reconstruction": np.concatenate(results["reconstruction"]),
    }
    if per_dimension:
        found["kl_per_dimension"] = np.concatenate(results["kl"])
    return found


def factorizes(bottleneck: Any) -> bool:
    """Whether the posterior and the prior of ``bottleneck`` both factorise over dimensions, so that the KL does."""
    prior = getattr(bottleneck, "prior", None)
    return bool(getattr(bottleneck, "factorizes", False)) and (prior is None or prior.factorizes)


def _drawn(drawn: Any) -> tuple[Any, Any]:
    """A bottleneck's draw as ``(codes, log-density or None)``: a flow gives the log-density with its codes."""
    return drawn if isinstance(drawn, tuple) else (drawn, None)


def _logsumexp(values: np.ndarray) -> np.ndarray:
    top = values.max(axis=1)
    return top + np.log(np.exp(values - top[:, None]).sum(axis=1))
