"""The examples in the components' docstrings run."""

import doctest

import pytest
from tfae.models import Autoencoder

from tfae_flows import iaf, maf, monte_carlo_kl, planar, radial


@pytest.mark.parametrize("module", [planar, radial, iaf, monte_carlo_kl, maf], ids=lambda module: module.__name__)
def test_the_docstring_examples_run(module):
    tests = doctest.DocTestFinder().find(module, globs={"Autoencoder": Autoencoder})
    examples = [test for test in tests if test.examples]
    assert examples, f"{module.__name__} has no docstring example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in examples:
        runner.run(test)
    assert runner.failures == 0, runner.summarize()
