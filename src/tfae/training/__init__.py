"""Training from a config: the library behind ``tfae train``.

``train(config)`` trains the model a ``TrainConfig`` (or a TOML file, read by ``load_config``) describes into a
run folder and returns its ``Run``. Inside: ``config`` reads and checks the config, ``data`` loads the data it
names, ``run`` assembles the model (``tfae.models.LayoutAutoencoder``) and trains it into a run folder,
``checkpoints`` keeps the training state that a crash must not damage (written through ``tfae.safe_files``),
and ``pictures`` draws what a person looks at afterwards.
Nothing in the core imports this package, and importing it loads no deep-learning framework: ``train`` and
``Run`` load Keras when first used.
"""

import importlib

from tfae.training.config import DataConfig, ModelConfig, OutputConfig, TrainConfig, TrainingConfig, load_config

__all__ = [
    "DataConfig",
    "ModelConfig",
    "OutputConfig",
    "Run",
    "TrainConfig",
    "TrainingConfig",
    "load_config",
    "train",
]


def __getattr__(name):
    # Run and train live in tfae.training.run, which imports Keras and this package's other modules: imported
    # when first asked for, so that a config is read and checked without Keras, and nothing imports in a cycle.
    if name in ("Run", "train"):
        return getattr(importlib.import_module("tfae.training.run"), name)
    raise AttributeError(f"module 'tfae.training' has no attribute {name!r}")
