"""A picture of a schedule, to check it before training."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
from keras import ops

from tfae.counts import checked_count

if TYPE_CHECKING:
    from tfae.schedulers.base import BaseScheduler


# A long schedule is drawn from this many counts, spread evenly: a plot has no more pixels than that.
MAX_POINTS = 10_000


def default_length(duration: int) -> int:
    """The counts to plot when none are given: the whole schedule and a tenth more (at least 5), at least 10."""
    return max(duration + max(duration // 10, 5), 10)


def plot_schedule(
    scheduler: BaseScheduler | str | dict[str, Any],
    length: int | None = None,
    path: str | os.PathLike[str] | None = None,
) -> str | os.PathLike[str]:
    """Plots a schedule's value for each epoch (or step) to a PNG file.

    The x axis counts what the schedule counts (``scheduler.unit``: epochs or optimizer steps); a dashed
    line marks where the schedule's ``duration`` ends and the value stays final. Drawn with matplotlib's
    Agg renderer, so it needs no display and leaves pyplot's state alone.

    Args:
        scheduler: a ``BaseScheduler``, a registered name, or a dict such as ``{"name": "dasr", "attack": 10}``.
        length: positive int, how many epochs (or steps) to plot; by default the whole schedule and a bit
            after it: ``max(duration + max(duration // 10, 5), 10)``. Beyond 10,000 counts the plot shows
            10,000 of them, evenly spread.
        path: where to write the PNG; by default ``schedule.png`` in the working directory.

    Returns:
        The path written, as given (or ``"schedule.png"``).

    Example:

    ```python
    scheduler = DASRScheduler(0.0, 1.0, attack=10, sustain=10, cycles=4)
    plot_schedule(scheduler, path="beta.png")  # 0.1 .. 1.0, ten 1.0s, four times, over 88 epochs
    ```
    """
    from matplotlib.figure import Figure

    from tfae.plugins import resolve
    from tfae.schedulers.base import BaseScheduler

    resolved = resolve("scheduler", scheduler)
    if not isinstance(resolved, BaseScheduler):
        raise ValueError(
            "`scheduler` must be a tfae scheduler (a BaseScheduler, its registered name such as 'dasr', or a dict). "
            f"Received: scheduler={scheduler!r}"
        )
    scheduler = resolved
    duration = scheduler.duration
    if length is None:
        length = default_length(duration)
    checked_count(length, "length")
    if path is None:
        path = "schedule.png"

    dtype = "int32" if length <= np.iinfo("int32").max else "int64"
    if length <= MAX_POINTS:
        counts = np.arange(int(length), dtype=dtype)
    else:
        counts = np.unique(np.linspace(0, int(length) - 1, MAX_POINTS).round().astype(dtype))
    values = ops.convert_to_numpy(scheduler.calc(ops.convert_to_tensor(counts)))
    figure = Figure(figsize=(7, 3.5), dpi=100, layout="constrained")
    axes = figure.subplots()
    # Each value holds for a whole epoch (or step), so it is drawn as a step from n to n + 1.
    axes.step(np.append(counts, length), np.append(values, values[-1]), where="post", color="tab:blue")
    if 0 < duration < length:
        axes.axvline(duration, color="grey", linestyle="--", linewidth=1, label=f"duration = {duration}")
        axes.legend(loc="best")
    axes.set_xlim(0, int(length))
    axes.set_xlabel(f"{scheduler.unit} (n)")
    axes.set_ylabel("value (beta)")
    axes.set_title(repr(scheduler), fontsize=8, wrap=True)
    axes.grid(alpha=0.3)
    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    figure.savefig(path, format="png")
    return path
