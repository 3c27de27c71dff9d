"""tfae.testing.check_objective: a sound plugin objective passes, and broken ones are caught with what to do."""

import math

import pytest
from keras import ops

import tfae
from tfae import plugins, testing
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


class Objectives:
    @tfae.hookimpl
    def register_objectives(register):
        for objective in (
            ScaledElbo, RenyiBound, ForgetfulRenyiBound, BatchMeanObjective, UnlistedLogObjective, PriorOnlyBound,
            UncheckedBound,
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
        "constructor_argument_missing_from_config", "loss_of_the_batch", "unlisted_log", "not_the_elbo_at_k_1",
        "unchecked_model",
    ],
)
def test_the_checks_catch_a_broken_objective(factory, message):
    with pytest.raises(AssertionError, match=message):
        testing.check_objective(factory)
