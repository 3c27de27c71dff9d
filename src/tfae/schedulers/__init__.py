"""Schedules that vary a value, such as a regularizer's beta, over training.

``BaseScheduler`` is the contract; ``DASRScheduler`` and any schedule a plugin registers are found
by name through the registry. ``tfae.schedulers.plot.plot_schedule`` draws a schedule to a PNG before training.
"""

from tfae.schedulers.base import BaseScheduler


def __getattr__(name):
    from tfae._exports import component_attribute

    return component_attribute(__name__, "scheduler", name)


__all__ = ["BaseScheduler", "DASRScheduler"]
