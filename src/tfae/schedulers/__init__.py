"""Schedulers: Keras callbacks that vary a value, such as a regularizer's beta, over training.

``BaseScheduler`` is the contract (``base.py``); ``DASRScheduler`` ("dasr") lives beside it in ``dasr.py`` and
is registered, as a plugin's scheduler is, through tfae's ``tfae`` entry points. A plugin's scheduler is
imported from the plugin's own package, or found by name with ``tfae.plugins.get_component("scheduler", name)``.
``tfae.schedulers.plot.plot_schedule`` draws a scheduler's values to a PNG before training.
"""

from tfae.schedulers.base import BaseScheduler
from tfae.schedulers.dasr import DASRScheduler

__all__ = ["BaseScheduler", "DASRScheduler"]
