"""What a model computes without randomness, for comparing a model with its saved and reloaded copy."""

import numpy as np
from keras import ops


def deterministic_outputs(model, images):
    """Reconstructions, the posterior's mean code and its log-density (given with it, and by inverting the flow), and
    the prior's log-density of it, as lists of floats."""
    posterior = model.bottleneck.posterior(model.feature_network(images), sampling="mean")
    values = {
        "reconstructions": model(images),
        "code": posterior.code,
        "log_density": posterior.log_density(),
        "inverted": posterior.log_density(posterior.code),
        "log_prior": posterior.log_prior(),
    }
    return {key: np.asarray(ops.convert_to_numpy(value), dtype="float64").tolist() for key, value in values.items()}
