"""Code as a tfae user writes it, for a type checker: tests/test_typing.py and .ci/run run mypy on this file.

mypy finds tfae as a user's checker does, as an installed package with its ``py.typed``. Each annotated
assignment states the type that tfae's annotations must give: a public name that disappears, or an
annotation that changes, fails the check. ``main()`` runs the models part for real (a tiny fit, a save and
a load), so that what is checked here is also code that works; pytest does not collect this file.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import keras
import numpy as np

import tfae
import tfae.random
from tfae import plugins
from tfae.bottlenecks import (
    BaseBottleneck,
    BernoulliBottleneck,
    GaussianBottleneck,
    VanillaBottleneck,
    VariationalBottleneck,
)
from tfae.datasets import load_digits
from tfae.errors import TfaeError, UnknownNameError
from tfae.likelihoods import BaseLikelihood, BernoulliLikelihood, GaussianLikelihood
from tfae.losses import BernoulliLikelihood as FormerBernoulliLikelihood
from tfae.models import Autoencoder, DeepAutoencoder, LayoutAutoencoder, load_model
from tfae.registry import Entry
from tfae.regularizers import (
    BaseRegularizer,
    BernoulliKLDRegularizer,
    GaussianKLDRegularizer,
    GaussianReversedKLDRegularizer,
    L2Regularizer,
)
from tfae.schedulers import BaseScheduler, DASRScheduler
from tfae.schedulers.plot import plot_schedule
from tfae.testing import check_bottleneck, check_likelihood, check_regularizer, check_scheduler


def components() -> list[BaseBottleneck]:
    """Each built-in, built as the documentation shows."""
    scheduler: DASRScheduler = DASRScheduler(0.0, 1.0, delay=5, attack=10, cycles=2, shape="cosine", unit="step")
    duration: int = scheduler.duration
    period: int = scheduler.period
    first: float = scheduler.value_at(0)
    start: float = scheduler.initial_value
    variables: list[Any] = scheduler.variables

    kld: BaseRegularizer = GaussianKLDRegularizer(beta=scheduler.value)
    reversed_kld = GaussianReversedKLDRegularizer(beta=0.5)
    binary_kld = BernoulliKLDRegularizer(beta={"name": "dasr", "attack": 10})
    l2 = L2Regularizer(beta="dasr")
    schedule: BaseScheduler | None = kld.scheduler

    gaussian: GaussianBottleneck = GaussianBottleneck(latent_dim=2, regularizer=kld, seed=0)
    bernoulli: VariationalBottleneck = BernoulliBottleneck(
        latent_dim=8, temperature=0.5, straight_through=True, regularizer=binary_kld
    )
    vanilla = VanillaBottleneck(latent_dim=2, activation="tanh", regularizer=l2)
    named = GaussianBottleneck(latent_dim=2, regularizer={"name": "reversed_kld", "beta": 0.5})
    latent_dim: int = gaussian.latent_dim
    regularizer: BaseRegularizer | None = gaussian.regularizer
    shape: tuple[int, int] = gaussian.prior_shape(4)
    del duration, period, first, start, variables, reversed_kld, schedule, latent_dim, regularizer, shape
    return [gaussian, bernoulli, vanilla, named]


def likelihoods() -> list[BaseLikelihood]:
    return [BernoulliLikelihood(), GaussianLikelihood(variance="learned"), FormerBernoulliLikelihood()]


def add_hidden(x: Any, layer_num: int, input_shape: tuple[Any, ...], latent_dim: int) -> tuple[Any, bool]:
    units = int(input_shape[-1] * (latent_dim / input_shape[-1]) ** (layer_num / 3))
    return keras.layers.Dense(units, activation="relu")(x), layer_num == 2


def models(bottleneck: BaseBottleneck) -> list[Autoencoder]:
    vae = Autoencoder(bottleneck=bottleneck)
    deep: Autoencoder = DeepAutoencoder(bottleneck=GaussianBottleneck(latent_dim=4), add_hidden=add_hidden)
    by_name = LayoutAutoencoder({"name": "gaussian", "latent_dim": 2, "regularizer": "kld"}, hidden=[32, 16])
    conv = LayoutAutoencoder(
        {"name": "vanilla", "latent_dim": 2}, layout="conv", hidden=(8,), kernel_size=3, likelihood="gaussian"
    )
    return [vae, deep, by_name, conv]


def registry() -> None:
    gaussian_class = plugins.get_component("bottleneck", "gaussian")
    resolved = plugins.resolve("regularizer", {"name": "kld", "beta": 0.5})
    entries: list[Entry] = plugins.list_components("bottleneck")
    names: list[str] = [entry.name for entry in entries]
    loaded: list[plugins.PluginInfo] = plugins.list_plugins()
    try:
        plugins.get_component("bottleneck", "gausian")
    except UnknownNameError as error:
        problem: TfaeError = error
        del problem
    del gaussian_class, resolved, names, loaded


def contract_checks() -> None:
    """A plugin author's tests (not run here: each trains small models)."""
    check_bottleneck(lambda: GaussianBottleneck(latent_dim=3), input_shape=(8, 4, 4, 1))
    check_regularizer(GaussianKLDRegularizer, parameter_shapes=[(8, 3), (8, 3)], bottleneck="gaussian")
    check_scheduler(lambda: DASRScheduler(attack=3))
    check_likelihood(BernoulliLikelihood)


def main() -> None:
    images, labels = load_digits()
    x: np.ndarray = images[:32].reshape(32, 64)
    scheduler = DASRScheduler(0.0, 1.0, attack=2)
    bottleneck = GaussianBottleneck(latent_dim=2, regularizer=GaussianKLDRegularizer(beta=scheduler.value))
    model = Autoencoder(bottleneck=bottleneck)
    model.compile(optimizer="adam", loss="bernoulli")
    history: keras.callbacks.History = model.fit(x, epochs=1, batch_size=16, verbose=0, callbacks=[scheduler])
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "vae.keras")
        model.save(path)
        loaded: Autoencoder = tfae.load_model(path)
        again: Autoencoder = load_model(path, compile=False)
        picture: str | os.PathLike[str] = plot_schedule(scheduler, path=os.path.join(folder, "beta.png"))
    samples = loaded.sample(3, seed=0)
    noise = tfae.random.normal((2, 3), keras.random.SeedGenerator(0))
    assert samples.shape == (3, 64) and tuple(noise.shape) == (2, 3)
    assert len(components()) == 4 and len(likelihoods()) == 3 and len(models(VanillaBottleneck(latent_dim=2))) == 4
    del labels, history, again, picture


if __name__ == "__main__":
    main()
