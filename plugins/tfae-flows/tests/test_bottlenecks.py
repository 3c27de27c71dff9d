"""The flow bottlenecks "planar", "radial" and "iaf": their draws and densities against the float64 NumPy
transcription of the papers, their constraints, normalisation on a grid, the tfae contract, and training."""

import math

import keras
import numpy as np
import pytest
from keras import ops

import numpy_reference as ref
from tfae import plugins, testing
from tfae.datasets import load_digits
from tfae.models import Autoencoder
from tfae_flows import IAFBottleneck, PlanarBottleneck, RadialBottleneck
from tfae_flows.planar import planar_parameters
from tfae_flows.radial import radial_parameters

KINDS = {
    "planar": {"name": "planar", "flows": 3},
    "radial": {"name": "radial", "flows": 3},
    "iaf": {"name": "iaf", "flows": 3, "hidden_units": [6, 6], "context_dim": 4},
}
CLASSES = {"planar": PlanarBottleneck, "radial": RadialBottleneck, "iaf": IAFBottleneck}


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def make(kind, latent_dim=3, **changes):
    return plugins.resolve("bottleneck", {**KINDS[kind], "latent_dim": latent_dim, **changes})


def network_weights(network):
    d = network.latent_dim
    return {
        "kernels": [to_numpy(kernel) for kernel in network.kernels],
        "biases": [to_numpy(bias) for bias in network.biases],
        "context_kernel": to_numpy(network.context_kernel),
        "m_kernel": to_numpy(network.output_kernel)[:, :d],
        "m_bias": to_numpy(network.output_bias)[:d],
        "s_kernel": to_numpy(network.output_kernel)[:, d:],
        "s_bias": to_numpy(network.output_bias)[d:],
    }


def reference_layers(bottleneck, parameters, sample):
    """Sample ``sample``'s layers as NumPy ``(forward, inverse)`` pairs, from its parameters and the weights."""
    flow = [to_numpy(parameter)[sample] for parameter in parameters[2:]]
    layers = []
    for t in range(bottleneck.flows):
        if isinstance(bottleneck, PlanarBottleneck):
            u, w, b = (part[t] for part in flow)
            layers.append(
                (
                    lambda z, u=u, w=w, b=b: ref.planar_forward(z, u, w, b),
                    lambda y, u=u, w=w, b=b: ref.planar_inverse(y, u, w, b),
                )
            )
        elif isinstance(bottleneck, RadialBottleneck):
            c, a, b = (part[t] for part in flow)
            layers.append(
                (
                    lambda z, c=c, a=a, b=b: ref.radial_forward(z, c, a, b),
                    lambda y, c=c, a=a, b=b: ref.radial_inverse(y, c, a, b),
                )
            )
        else:
            (context,) = flow
            weights = network_weights(bottleneck.networks[t])
            reverse = t % 2 == 1
            masks = ref.made_masks(bottleneck.latent_dim, bottleneck.hidden_units, reverse)
            layers.append(
                (
                    lambda z, h=context, w=weights, m=masks: ref.iaf_step(z, h, w, m),
                    lambda y, h=context, w=weights, m=masks, r=reverse: ref.iaf_inverse_step(y, h, w, m, r),
                )
            )
    return layers


def forward(layers, z):
    """The composed flow in NumPy, and the sum of the layers' closed-form log-determinants."""
    log_det = 0.0
    for layer, _ in layers:
        z, layer_log_det = layer(z)
        log_det += layer_log_det
    return z, log_det


def inverse(layers, y):
    for _, layer in reversed(layers):
        y = layer(y)
    return y


def reference_log_density(layers, code, mean, log_variance):
    """log q(code | x) in NumPy: the code inverted to z_0, then log N(z_0) - the closed-form log-dets (eq. 13)."""
    z0 = inverse(layers, code)
    moved, log_det = forward(layers, z0)
    np.testing.assert_allclose(moved, code, atol=1e-8)
    return float(ref.gaussian_log_density(z0, mean, log_variance)) - log_det


@pytest.fixture
def features(rng):
    return rng.normal(size=(4, 5)).astype("float32")


@pytest.mark.parametrize("kind", KINDS)
def test_draws_and_their_log_densities_match_numpy(kind, features):
    bottleneck = make(kind)
    posterior = bottleneck.posterior(features, sampling="reparameterized")
    mean, log_variance = (to_numpy(parameter) for parameter in posterior.parameters[:2])
    code, log_density = to_numpy(posterior.code), to_numpy(posterior.log_density())
    for sample in range(len(features)):
        layers = reference_layers(bottleneck, posterior.parameters, sample)
        z0 = inverse(layers, code[sample])
        moved, log_det = forward(layers, z0)
        np.testing.assert_allclose(moved, code[sample], atol=1e-8)
        # The paper's closed-form log-determinants are those of the flow's Jacobian, by finite differences.
        numeric = ref.numerical_log_abs_det(lambda z: forward(layers, z)[0], z0)
        assert log_det == pytest.approx(numeric, abs=1e-5)
        expected = float(ref.gaussian_log_density(z0, mean[sample], log_variance[sample])) - log_det
        assert log_density[sample] == pytest.approx(expected, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_the_mean_is_the_flow_of_the_gaussians_mean_with_its_log_density(kind, features):
    bottleneck = make(kind)
    posterior = bottleneck.posterior(features, sampling="mean")
    mean, log_variance = (to_numpy(parameter) for parameter in posterior.parameters[:2])
    code, log_density = to_numpy(posterior.code), to_numpy(posterior.log_density())
    np.testing.assert_allclose(to_numpy(bottleneck(features)), code, rtol=1e-6, atol=1e-6)
    for sample in range(len(features)):
        layers = reference_layers(bottleneck, posterior.parameters, sample)
        moved, log_det = forward(layers, mean[sample])
        np.testing.assert_allclose(code[sample], moved, rtol=1e-5, atol=1e-5)
        expected = float(ref.gaussian_log_density(mean[sample], mean[sample], log_variance[sample])) - log_det
        assert log_density[sample] == pytest.approx(expected, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_any_code_is_scored_by_inverting_the_flow(kind, features):
    """``Posterior.pairwise``: every sample's code under every sample's posterior, against NumPy's inverse."""
    bottleneck = make(kind)
    posterior = bottleneck.posterior(features, sampling="exact")
    mean, log_variance = (to_numpy(parameter) for parameter in posterior.parameters[:2])
    code = to_numpy(posterior.code)
    pairwise = to_numpy(posterior.pairwise())
    np.testing.assert_allclose(np.diag(pairwise), to_numpy(posterior.log_density()), rtol=1e-4, atol=1e-4)
    for j in range(len(features)):
        layers = reference_layers(bottleneck, posterior.parameters, j)
        for i in range(len(features)):
            expected = reference_log_density(layers, code[i], mean[j], log_variance[j])
            assert pairwise[i, j] == pytest.approx(expected, rel=1e-4, abs=1e-3), (i, j)


@pytest.mark.parametrize("kind", KINDS)
def test_the_density_of_a_sample_integrates_to_one_on_a_grid(kind, rng):
    bottleneck = make(kind, latent_dim=2)
    features = rng.normal(size=(1, 5)).astype("float32")
    posterior = bottleneck.posterior(features, sampling="exact", importance_samples=2000)
    draws = to_numpy(posterior.code)[:, 0, :]
    low, high = draws.min(axis=0) - 3.0, draws.max(axis=0) + 3.0
    axes = [np.linspace(low[d], high[d], 301) for d in range(2)]
    points = np.stack([mesh.ravel() for mesh in np.meshgrid(*axes, indexing="ij")], axis=-1)
    area = (axes[0][1] - axes[0][0]) * (axes[1][1] - axes[1][0])
    parameters = [parameter for parameter in posterior.parameters]
    log_density = to_numpy(bottleneck.joint_log_density(points.astype("float32"), *parameters))
    assert float(np.sum(np.exp(log_density)) * area) == pytest.approx(1.0, abs=0.01)
    # The same density in NumPy at some of the points.
    mean, log_variance = (to_numpy(parameter)[0] for parameter in parameters[:2])
    layers = reference_layers(bottleneck, parameters, 0)
    for index in rng.choice(len(points), size=10, replace=False):
        expected = reference_log_density(layers, points[index].astype("float32"), mean, log_variance)
        assert log_density[index] == pytest.approx(expected, rel=1e-4, abs=1e-3)


def test_planar_u_hat_keeps_w_dot_u_above_minus_one(rng):
    raw = rng.normal(size=(6, 2, 7)).astype("float32") * 3.0
    raw[0, 0, :3], raw[0, 0, 3:6] = [5.0, -5.0, 5.0], [-5.0, 5.0, -5.0]  # w . u = -75
    u_hat, w, b = (to_numpy(part) for part in planar_parameters(ops.convert_to_tensor(raw), 3))
    for n in range(6):
        for t in range(2):
            expected = ref.planar_u_hat(raw[n, t, :3], raw[n, t, 3:6])
            np.testing.assert_allclose(u_hat[n, t], expected, rtol=1e-5, atol=1e-5)
            assert w[n, t] @ u_hat[n, t] > -1.0
    np.testing.assert_allclose(b, raw[..., 6])


def test_radial_beta_is_at_least_minus_alpha(rng):
    raw = rng.normal(size=(6, 2, 5)).astype("float32") * 4.0
    center, alpha, beta = (to_numpy(part) for part in radial_parameters(ops.convert_to_tensor(raw), 3))
    np.testing.assert_allclose(center, raw[..., :3])
    for n in range(6):
        for t in range(2):
            expected = ref.radial_alpha_beta(raw[n, t, 3], raw[n, t, 4])
            np.testing.assert_allclose([alpha[n, t], beta[n, t]], expected, rtol=1e-5, atol=1e-6)
    assert np.all(alpha > 0) and np.all(beta > -alpha)


@pytest.mark.parametrize("reverse", [False, True])
def test_the_iaf_networks_are_autoregressive_in_alternating_orders(reverse, rng):
    bottleneck = make("iaf", latent_dim=4, flows=2, hidden_units=[8])
    bottleneck.build((None, 5))
    network = bottleneck.networks[int(reverse)]
    context = rng.normal(size=(1, 4)).astype("float32")
    code = rng.normal(size=4)
    weights = network_weights(network)
    masks = ref.made_masks(4, [8], reverse)
    m, s = (to_numpy(out)[0] for out in network(code[None].astype("float32"), context))
    expected_m, expected_s = ref.made(code, weights, masks, context[0])
    np.testing.assert_allclose(m, expected_m, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s, expected_s, rtol=1e-4, atol=1e-5)
    order = [3, 2, 1, 0] if reverse else [0, 1, 2, 3]
    jacobian = ref.numerical_jacobian(
        lambda z: to_numpy(network(z[None].astype("float32"), context)[1])[0], code, step=1e-2
    )
    for place, i in enumerate(order):
        later = order[place:]
        assert np.all(jacobian[i, later] == 0), (i, jacobian)


@pytest.mark.parametrize("kind", KINDS)
def test_without_flows_it_is_the_diagonal_gaussian(kind, features):
    bottleneck = make(kind, flows=0)
    posterior = bottleneck.posterior(features, sampling="reparameterized")
    assert len(posterior.parameters) == 2
    code, (mean, log_variance) = to_numpy(posterior.code), (to_numpy(p) for p in posterior.parameters)
    np.testing.assert_allclose(
        to_numpy(posterior.log_density()), ref.gaussian_log_density(code, mean, log_variance), rtol=1e-5
    )


@pytest.mark.parametrize(
    "kind, input_shape",
    [("planar", (8, 6)), ("radial", (8, 3, 3, 1)), ("iaf", (8, 6))],
)
def test_it_fulfils_the_tfae_bottleneck_contract(kind, input_shape):
    extra = {"hidden_units": [4], "context_dim": 3} if kind == "iaf" else {}
    factory = CLASSES[kind]
    testing.check_bottleneck(lambda: factory(latent_dim=2, flows=2, seed=1, **extra), input_shape=input_shape)


@pytest.mark.parametrize("kind", KINDS)
def test_by_name_with_a_likelihood_it_trains_the_negative_elbo_and_lowers_it(kind):
    x = load_digits()[0][:320].reshape(-1, 64)
    spec = {**KINDS[kind], "latent_dim": 2, "seed": 0}
    model = Autoencoder(bottleneck=spec)
    assert [type(regularizer).__name__ for regularizer in model.bottleneck.regularizers] == ["MonteCarloKLRegularizer"]
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="bernoulli")
    history = model.fit(x, epochs=4, batch_size=64, verbose=0).history
    # The loss is the negative ELBO: reconstruction plus log q(z | x) - log p(z) of the drawn code.
    parts = np.add(history["reconstruction_loss"], history["monte_carlo_kl_loss"])
    np.testing.assert_allclose(history["loss"], parts, rtol=1e-5)
    assert history["loss"][-1] < history["loss"][0] - 2.0, history["loss"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"flows": -1}, r"`flows` must be an integer >= 0. Received: flows=-1"),
        ({"flows": 2.5}, r"Received: flows=2.5"),
        ({"flows": True}, r"Received: flows=True"),
        (
            {"regularizer": "kld"},
            r"'kld' .* is computed from a gaussian posterior's parameters, but the bottleneck "
            r"'planar' \(PlanarBottleneck\) has a planar flow posterior",
        ),
        ({"regularizer": "bernoulli_kld"}, r"has a planar flow posterior"),
        ({"prior": "bernoulli"}, r"gives density to binary codes, but PlanarBottleneck draws real ones"),
    ],
)
def test_planar_refuses_bad_arguments_in_one_line(arguments, message):
    with pytest.raises(ValueError, match=message) as refusal:
        PlanarBottleneck(2, **arguments)
    assert "\n" not in str(refusal.value)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"flows": -2}, r"Received: flows=-2"),
        ({"hidden_units": []}, r"`hidden_units` must be a non-empty list of positive integers.*hidden_units=\[\]"),
        ({"hidden_units": [16, 0]}, r"at least latent_dim \(3\) units.*Received: hidden_units=\[16, 0\]"),
        ({"hidden_units": [2]}, r"Each hidden layer needs at least latent_dim \(3\) units.*hidden_units=\[2\]"),
        ({"hidden_units": 64}, r"Received: hidden_units=64"),
        ({"hidden_units": [8.0]}, r"Received: hidden_units=\[8.0\]"),
        ({"context_dim": 0}, r"`context_dim` must be a positive integer. Received: context_dim=0"),
        ({"regularizer": "kld"}, r"has a normalizing flow \(IAF\) posterior"),
    ],
)
def test_iaf_refuses_bad_arguments_in_one_line(arguments, message):
    with pytest.raises(ValueError, match=message) as refusal:
        IAFBottleneck(3, **arguments)
    assert "\n" not in str(refusal.value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_non_gaussian_base_is_refused_by_name_in_one_line(kind):
    """The base is the encoder's diagonal Gaussian; binary codes (a Bernoulli bottleneck's) admit no flow."""
    for extra, message in (
        ({"base": "bernoulli"}, rf"The bottleneck '{kind}' .* has no parameter 'base'. It takes: latent_dim, flows"),
        (
            {"prior": "bernoulli"},
            r"The prior BernoulliPrior gives density to binary codes, but \w+Bottleneck draws real",
        ),
    ):
        with pytest.raises(ValueError, match=message) as refusal:
            make(kind, **extra)
        assert "\n" not in str(refusal.value)


def test_radial_refuses_negative_flows():
    with pytest.raises(ValueError, match=r"`flows` must be an integer >= 0. Received: flows=-1"):
        RadialBottleneck(2, flows=-1)


def test_they_are_registered_by_tfae_flows():
    for name, component in CLASSES.items():
        (entry,) = [entry for entry in plugins.list_components("bottleneck") if entry.name == name]
        assert entry.component is component and entry.distribution == "tfae-flows"
    layer = plugins.resolve("bottleneck", {"name": "iaf", "latent_dim": 3})
    assert (layer.flows, layer.hidden_units, layer.context_dim) == (2, [32, 32], 16)
    assert [type(r).__name__ for r in layer.regularizers] == ["MonteCarloKLRegularizer"]
    assert math.isclose(layer.regularizers[0].beta, 1.0)
