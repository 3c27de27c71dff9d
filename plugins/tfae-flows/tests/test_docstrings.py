"""The examples in the components' docstrings run."""

import doctest

import keras
import pytest
from keras import ops

from tfae.models import Autoencoder
from tfae_flows import flow, iaf, maf, monte_carlo_kl, planar, radial

MODULES = [flow, planar, radial, iaf, monte_carlo_kl, maf]


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_the_docstring_examples_run(module):
    names = {"Autoencoder": Autoencoder, "keras": keras, "ops": ops, "FlowBottleneck": flow.FlowBottleneck}
    tests = doctest.DocTestFinder().find(module, globs=names)
    examples = [test for test in tests if test.examples]
    assert examples, f"{module.__name__} has no docstring example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in examples:
        runner.run(test)
    assert runner.failures == 0, runner.summarize()
