"""The layouts of ``tfae.models.LayoutAutoencoder`` by name, and each one's default hidden sizes.

Kept apart from the model, which imports Keras, so that a config's layout is checked before Keras loads.
"""

LAYOUTS = ("dense", "conv")
# The hidden sizes a config that names none gets: Dense units, or Conv2D filters.
DEFAULT_HIDDEN = {"dense": [64, 32], "conv": [32, 64]}
