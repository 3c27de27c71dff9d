"""The contract of a dataset registered by name: a ``BaseDataset`` whose ``load()`` returns a ``Dataset``.

A config's ``[data] source`` (and the ``DATA`` of ``tfae encode``, ``similar`` and ``evaluate``) names a
registered dataset, ``"digits"`` or ``"dsprites"``, or a table ``{name = "dsprites", n = 20000}`` whose keys
are the dataset's parameters; a source that is an existing path is a file or a folder instead. A plugin adds
one with the ``register_datasets`` hook::

    @tfae.hookimpl
    def register_datasets(register):
        register(Waves, name="waves")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfae.configurable import Configurable


@dataclasses.dataclass
class Dataset:
    """Samples and what else the source knows about them.

    Args:
        x: the samples, one per row, shape ``(n, ...)``: numbers, float32 once loaded (``tfae.training.data``
            divides unsigned 8-bit data by 255).
        labels: int array of shape ``(n,)``, or ``None``; ``tfae train`` colours ``latent.png`` by them.
        source: what the data came from, for messages and titles.
        class_names: the name of each label, or ``None``.
        factors: int array of shape ``(n, num_factors)``, the ground-truth factors that generated each sample
            (class indices), or ``None``; ``tfae evaluate`` computes MIG, SAP and DCI from them.
        ground_truth: an object that renders samples of chosen factors (``factor_sizes``,
            ``sample_factors(n, rng)``, ``render(factors)``, as ``DSprites``), or ``None``; ``tfae evaluate``
            computes the FactorVAE and beta-VAE scores with it.
    """

    x: np.ndarray
    labels: np.ndarray | None = None
    source: str = ""
    class_names: Sequence[str] | None = None
    factors: np.ndarray | None = None
    ground_truth: Any = None


class BaseDataset(Configurable):
    """A dataset that a config names: its parameters are its constructor's, ``load()`` reads it.

    A subclass takes its parameters as keyword arguments of ``__init__`` (they are checked, with suggestions,
    like any component's, from a config's ``[data.source]`` table too), returns them from ``get_config()`` so
    that a run's ``config.toml`` records them, and implements ``load()``. Loading is deferred to ``load()``:
    a config is checked, and its dataset built, before anything is read or downloaded. Data too large for
    memory is beyond this contract, which returns arrays.

    Example:

    ```python
    import numpy as np

    from tfae.datasets import BaseDataset, Dataset

    class Waves(BaseDataset):
        # Sine waves of random phase, 32 values each.
        def __init__(self, n: int = 1000, seed: int = 0):
            self.n, self.seed = n, seed

        def load(self) -> Dataset:
            phase = np.random.default_rng(self.seed).uniform(0, 2 * np.pi, (self.n, 1))
            x = 0.5 + 0.5 * np.sin(np.linspace(0, 2 * np.pi, 32) + phase)
            return Dataset(x.astype("float32"), source="waves")

        def get_config(self):
            return {"n": self.n, "seed": self.seed}
    ```
    """

    def load(self) -> Dataset:
        """Reads (or downloads, or renders) the data and returns it as a ``Dataset``."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The parameters that rebuild this dataset; ``{}`` for one that takes none."""
        return {}
