import numpy as np
import pytest
from keras import ops

from tfae import plugins
from tfae.bottlenecks import Posterior
from tfae.models import Autoencoder
from tfae.testing import check_bottleneck, check_regularizer, check_scheduler
from tfae_plugin_template.geometric import GeometricScheduler
from tfae_plugin_template.l1 import L1Regularizer
from tfae_plugin_template.spherical import SphericalBottleneck
from tfae_plugin_template.uniformity import UniformityRegularizer


def test_spherical_bottleneck_fulfils_the_tfae_contract():
    check_bottleneck(lambda: SphericalBottleneck(latent_dim=3, radius=2.0, regularizer="l1"))


def test_spherical_codes_have_length_radius():
    bottleneck = SphericalBottleneck(latent_dim=3, radius=2.0)
    codes = ops.convert_to_numpy(bottleneck(np.random.default_rng(0).normal(size=(5, 4))))
    np.testing.assert_allclose(np.linalg.norm(codes, axis=-1), 2.0, rtol=1e-6)


def test_l1_regularizer_fulfils_the_tfae_contract():
    check_regularizer(lambda: L1Regularizer(beta=0.5))


def test_l1_penalty_is_beta_times_the_mean_l1_norm():
    code = np.array([[1.0, -2.0], [0.0, 3.0]], dtype="float32")
    assert float(L1Regularizer(beta=0.5)(code)) == pytest.approx(0.5 * (3.0 + 3.0) / 2)


def test_uniformity_regularizer_fulfils_the_tfae_contract():
    check_regularizer(lambda: UniformityRegularizer(beta=0.5), bottleneck="spherical")


def test_uniformity_is_the_log_mean_over_pairs_of_their_gaussian_kernel():
    code = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype="float32")
    posterior = Posterior(parameters=(code,), code=code)
    squared = [2.0, 4.0, 2.0]  # the pairs (0, 1), (0, 2), (1, 2), each counted twice
    expected = np.log(np.mean(np.exp(-2.0 * np.array(squared))))
    assert float(UniformityRegularizer(beta=1.0)(posterior)) == pytest.approx(expected, rel=1e-5)


def test_a_model_takes_both_regularizers_and_logs_each():
    regularizers = ["l1", {"name": "uniformity", "beta": 0.1}]
    model = Autoencoder(bottleneck=SphericalBottleneck(latent_dim=3, regularizer=regularizers))
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(np.random.default_rng(0).random((32, 6)), epochs=1, batch_size=16, verbose=0).history
    assert {"l1_loss", "uniformity_loss", "regularization_loss"} <= set(history)
    parts = history["l1_loss"][0] + history["uniformity_loss"][0]
    assert history["regularization_loss"][0] == pytest.approx(parts, rel=1e-5)


def test_geometric_scheduler_fulfils_the_tfae_contract():
    check_scheduler(lambda: GeometricScheduler(1.0, 0.01, duration=4))


def test_geometric_values_fall_by_the_same_factor_each_epoch():
    scheduler = GeometricScheduler(1.0, 0.01, duration=2)
    assert [scheduler.value_at(n) for n in range(4)] == pytest.approx([1.0, 0.1, 0.01, 0.01], rel=1e-6)


def test_names_resolve_to_the_components():
    assert plugins.get_component("bottleneck", "spherical") is SphericalBottleneck
    assert plugins.get_component("regularizer", "l1") is L1Regularizer
    assert plugins.get_component("regularizer", "uniformity") is UniformityRegularizer
    assert plugins.get_component("scheduler", "geometric") is GeometricScheduler
