"""Training from a config file: the engine behind ``tfae train``.

``config`` reads and checks the TOML file, ``data`` loads the data it names, ``run`` assembles the model
(``tfae.models.LayoutAutoencoder``) and trains it into a run folder, ``checkpoints`` writes what a crash must
not damage, and ``pictures`` draws what a person looks at afterwards. Nothing in the core imports this package.
"""
