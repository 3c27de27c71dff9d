"""Every error tfae raises can be caught as tfae.errors.TfaeError and imported from tfae.errors."""

import pytest

from tfae import errors
from tfae.cli import UsageError
from tfae.distribute import DistributeError
from tfae.errors import CheckpointError
from tfae.models.saving import ModelFileError
from tfae.training.config import ConfigError
from tfae.training.data import DataError
from tfae.training.run import DivergenceError, RunError

RAISED_BY_MODULES = [UsageError, DistributeError, ModelFileError, CheckpointError, ConfigError, DataError, RunError]


@pytest.mark.backend_neutral
@pytest.mark.parametrize("error", [*RAISED_BY_MODULES, DivergenceError], ids=lambda error: error.__name__)
def test_each_error_is_the_one_in_tfae_errors(error):
    assert getattr(errors, error.__name__) is error
    assert issubclass(error, errors.TfaeError)


@pytest.mark.backend_neutral
def test_the_errors_keep_their_builtin_bases():
    # Callers that caught the built-in exceptions before tfae.errors held these keep working.
    assert issubclass(errors.CheckpointError, OSError)
    assert issubclass(errors.DiskFullError, OSError)
    assert issubclass(errors.DivergenceError, errors.RunError)
    for error in (UsageError, DistributeError, ModelFileError, ConfigError, DataError, RunError):
        assert issubclass(error, ValueError)
