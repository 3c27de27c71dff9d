"""The "maf" prior: its log-density against NumPy, its sampler as the flow's inverse, and the tfae contract (which
trains it with a model; iaf_maf_iwae.toml, in test_examples.py, trains it under a flow posterior)."""

import keras
import numpy as np
import pytest
from keras import ops

import numpy_reference as ref
from tfae import plugins, testing
from tfae_flows import MAFPrior


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def reference_layers(prior):
    """Each layer's weights (as numpy_reference.made takes them) and masks."""
    layers = []
    for t, network in enumerate(prior.networks):
        d = network.latent_dim
        output_kernel, output_bias = to_numpy(network.output_kernel), to_numpy(network.output_bias)
        weights = {
            "kernels": [to_numpy(kernel) for kernel in network.kernels],
            "biases": [to_numpy(bias) for bias in network.biases],
            "m_kernel": output_kernel[:, :d],
            "m_bias": output_bias[:d],
            "s_kernel": output_kernel[:, d:],
            "s_bias": output_bias[d:],
        }
        layers.append((weights, ref.made_masks(d, network.hidden_units, reverse=t % 2 == 1)))
    return layers


def randomised(rng, latent_dim=3):
    """A built prior whose output kernels (zero at first: N(0, I)) are random, so that the flow does something."""
    prior = MAFPrior(flows=2, hidden_units=[8])
    prior.build(latent_dim)
    for network in prior.networks:
        network.output_kernel.assign(rng.normal(size=network.output_kernel.shape).astype("float32") * 0.3)
        network.output_bias.assign(rng.normal(size=network.output_bias.shape).astype("float32") * 0.3)
    return prior


def test_it_starts_as_the_standard_normal(rng):
    prior = MAFPrior(flows=2)
    prior.build(3)
    codes = rng.normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(prior.log_prob(codes)), ref.standard_normal_log_density(codes), rtol=1e-6)


def test_log_prob_matches_numpy(rng):
    prior = randomised(rng)
    codes = rng.normal(size=(6, 3)) * 1.5
    expected = [ref.maf_log_prob(code, reference_layers(prior)) for code in codes]
    np.testing.assert_allclose(to_numpy(prior.log_prob(codes.astype("float32"))), expected, rtol=1e-5, atol=1e-5)


def test_sample_inverts_the_flow_of_the_standard_normal_draws(rng):
    prior = randomised(rng)
    codes = to_numpy(prior.sample(5, seed=3))
    noise = to_numpy(keras.random.normal((5, 3), seed=3))
    for code, expected in zip(codes, noise):
        u = code
        for weights, masks in reference_layers(prior):
            u, _ = ref.maf_inverse_step(u, weights, masks)
        np.testing.assert_allclose(u, expected, rtol=1e-4, atol=1e-4)


def test_it_fulfils_the_tfae_prior_contract():
    testing.check_prior(lambda: MAFPrior(flows=2, hidden_units=[8]))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"flows": -1}, r"`flows` must be an integer >= 0. Received: flows=-1"),
        ({"hidden_units": [0]}, r"Received: hidden_units=\[0\]"),
        ({"hidden_units": "wide"}, r"`hidden_units` must be a non-empty list of positive integers"),
        ({"hidden_units": [2], "latent_dim": 3}, r"Each hidden layer needs at least latent_dim \(3\) units"),
    ],
)
def test_it_refuses_bad_arguments_in_one_line(arguments, message):
    with pytest.raises(ValueError, match=message) as refusal:
        MAFPrior(**arguments)
    assert "\n" not in str(refusal.value)


def test_hidden_layers_narrower_than_the_bottlenecks_code_are_refused_when_it_is_made():
    with pytest.raises(ValueError, match=r"Each hidden layer needs at least latent_dim \(4\) units.*\[3\]"):
        prior = {"name": "maf", "hidden_units": [3]}
        plugins.resolve("bottleneck", {"name": "gaussian", "latent_dim": 4, "prior": prior})


def test_it_is_registered_by_tfae_flows():
    (entry,) = [entry for entry in plugins.list_components("prior") if entry.name == "maf"]
    assert entry.component is MAFPrior and entry.distribution == "tfae-flows"
