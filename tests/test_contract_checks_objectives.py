"""tfae.testing.check_objective: a sound plugin objective passes, and broken ones are caught with what to do."""

import math

import numpy as np
import pytest
from keras import ops

import tfae
from tfae import plugins, testing
from tfae.models import Autoencoder
from tfae.objectives import BaseObjective

pytestmark = pytest.mark.backend_neutral


class ScaledElbo(BaseObjective):
    """The ELBO with its reconstruction weighed by ``weight``: docs' example of an objective."""

    logged = ("weighted_reconstruction",)

    def __init__(self, weight=1.0):
        super().__init__()
        self.weight = float(weight)

    def __call__(self, terms):
        reconstruction = self.weight * ops.mean(terms.reconstruction_loss, axis=0)
        return {"loss": reconstruction + terms.regularization, "weighted_reconstruction": reconstruction}

    def get_config(self):
        return {"weight": self.weight}


class RenyiBound(BaseObjective):
    """The Renyi bound (Li & Turner 2016) of ``samples`` codes per sample, named unlike IWAE's ``k``; the ELBO at 1."""

    needs_likelihood = True
    needs_densities = True
    holds_divergence = True

    def __init__(self, alpha=0.5, samples=4):
        super().__init__(importance_samples=samples)
        self.alpha = float(alpha)
        self.samples = int(samples)

    def __call__(self, terms):
        log_weights = (1.0 - self.alpha) * (terms.log_likelihood + terms.log_prior - terms.log_posterior)
        bound = (ops.logsumexp(log_weights, axis=0) - math.log(self.importance_samples)) / (1.0 - self.alpha)
        return {"loss": -bound + terms.regularization}

    def get_config(self):
        return {"alpha": self.alpha, "samples": self.samples}


class ForgetfulRenyiBound(RenyiBound):
    """Leaves ``alpha`` out of its config: saved and loaded, ``alpha=0.9`` comes back as the default 0.5."""

    def get_config(self):
        return {"samples": self.samples}


class BatchMeanObjective(ScaledElbo):
    """Returns the batch's mean loss, where the model needs one per sample."""

    def __call__(self, terms):
        return {**super().__call__(terms), "loss": ops.mean(super().__call__(terms)["loss"])}


class UnlistedLogObjective(ScaledElbo):
    """Returns a value that ``logged`` does not list, so the history would never show it."""

    logged = ()

    def __call__(self, terms):
        return {"loss": super().__call__(terms)["loss"], "reconstruction": ops.mean(terms.reconstruction_loss, axis=0)}


class PriorOnlyBound(RenyiBound):
    """Holds the divergence but forgets log q(z|x): with one code, not the ELBO."""

    def __call__(self, terms):
        log_weights = terms.log_likelihood + terms.log_prior
        bound = ops.logsumexp(log_weights, axis=0) - math.log(self.importance_samples)
        return {"loss": -bound + terms.regularization}


class UncheckedBound(RenyiBound):
    """Accepts any model in compile, though it needs densities."""

    def check_model(self, bottleneck, likelihood):
        pass


class MeanAbsoluteImageError(BaseObjective):
    """Scores images only: the mean absolute error of each image's pixels, the reconstruction term it minimises."""

    def __init__(self):
        super().__init__()

    def __call__(self, terms):
        if len(terms.targets.shape) != 3:
            raise ValueError(f"MeanAbsoluteImageError compares images. Received shape {tuple(terms.targets.shape)}")
        error = ops.mean(ops.abs(terms.targets - terms.likelihood(terms.outputs[0])), axis=(1, 2))
        return {"loss": error + terms.regularization, "reconstruction_loss": error}

    def get_config(self):
        return {}


class BatchReconstructionObjective(MeanAbsoluteImageError):
    """Returns one reconstruction term for the batch, where the model logs one per sample."""

    def __call__(self, terms):
        results = super().__call__(terms)
        return {**results, "reconstruction_loss": ops.mean(results["reconstruction_loss"])}


class Objectives:
    @tfae.hookimpl
    def register_objectives(register):
        for objective in (
            ScaledElbo,
            RenyiBound,
            ForgetfulRenyiBound,
            BatchMeanObjective,
            UnlistedLogObjective,
            PriorOnlyBound,
            UncheckedBound,
            MeanAbsoluteImageError,
            BatchReconstructionObjective,
        ):
            register(objective, name=objective.__name__.lower())


@pytest.fixture(autouse=True)
def objectives():
    name = plugins.register_plugin(Objectives, name="objectives")
    yield
    plugins.unregister_plugin(name)


@pytest.mark.parametrize(
    "factory", [lambda: ScaledElbo(0.5), lambda: RenyiBound(alpha=0.5, samples=3)], ids=["elbo_like", "renyi_bound"]
)
def test_a_plugin_objective_passes_the_checks(factory):
    testing.check_objective(factory)


@pytest.mark.parametrize(
    "factory, message",
    [
        (
            lambda: ForgetfulRenyiBound(alpha=0.9),
            r"ForgetfulRenyiBound breaks the tfae contract: its constructor takes `alpha`, which get_config\(\) leaves "
            r"out, so from_config, and a model saved and loaded, would build it with alpha=0.5, its default, not the "
            r"0.9 it was given. Return every constructor argument from get_config",
        ),
        (
            BatchMeanObjective,
            r"BatchMeanObjective breaks the tfae contract: its 'loss' has shape \(\), expected \(8,\), the loss of "
            r"each sample \(the model averages it\)",
        ),
        (
            UnlistedLogObjective,
            r"UnlistedLogObjective breaks the tfae contract: calling it returns \['reconstruction'\], which `logged` "
            r"\(\) does not list: the history would not show them",
        ),
        (
            PriorOnlyBound,
            r"PriorOnlyBound breaks the tfae contract: with one code per sample it gives the losses \[.+\], where the "
            r"ELBO's estimate, reconstruction_loss - log p\(z\) \+ log q\(z\|x\) \+ the penalties, is \[.+\]",
        ),
        (
            UncheckedBound,
            r"UncheckedBound breaks the tfae contract: it needs densities, but compile accepts it on a model whose "
            r"bottleneck \(vanilla\) has none: check_model must refuse it with a ValueError naming both",
        ),
    ],
    ids=[
        "constructor_argument_missing_from_config",
        "loss_of_the_batch",
        "unlisted_log",
        "not_the_elbo_at_k_1",
        "unchecked_model",
    ],
)
def test_the_checks_catch_a_broken_objective(factory, message):
    with pytest.raises(AssertionError, match=message):
        testing.check_objective(factory)


def test_an_image_objective_is_checked_on_images_of_the_shape_given():
    testing.check_objective(MeanAbsoluteImageError, input_shape=(4, 5, 3))


def test_a_reconstruction_term_of_the_batch_is_caught():
    message = (
        r"BatchReconstructionObjective breaks the tfae contract: its 'reconstruction_loss' has shape \(\), expected "
        r"\(4,\), the reconstruction term of each sample"
    )
    with pytest.raises(AssertionError, match=message):
        testing.check_objective(BatchReconstructionObjective, input_shape=(4, 5, 3))


def test_the_history_logs_the_reconstruction_term_the_objective_minimises():
    x = np.random.default_rng(0).random((8, 5, 3)).astype("float32")
    model = Autoencoder({"name": "gaussian", "latent_dim": 2, "seed": 0, "regularizer": "kld"})
    model.compile(optimizer="adam", loss="bernoulli", objective=MeanAbsoluteImageError())
    logs = model.evaluate(x, batch_size=8, verbose=0, return_dict=True)
    probabilities = model.predict(x, verbose=0)
    # evaluate samples codes; the term of the mean codes is close, and the likelihood's nats (about 5 x 3 x 0.7)
    # would be far from both.
    assert 0.0 < logs["reconstruction_loss"] < 1.0
    assert abs(logs["reconstruction_loss"] - np.mean(np.abs(x - probabilities))) < 0.1
    assert logs["loss"] == pytest.approx(logs["reconstruction_loss"] + logs["regularization_loss"], rel=1e-5)
