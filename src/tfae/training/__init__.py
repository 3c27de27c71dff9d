"""Training from a config file: the engine behind ``tfae train``.

``config`` reads and checks the TOML file, ``data`` loads the data it names, ``layouts`` assembles the
model, ``run`` trains it into a run folder, and ``pictures`` draws what a person looks at afterwards.
"""
