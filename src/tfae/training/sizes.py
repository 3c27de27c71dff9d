"""The size of the model a training config describes, checked before the model is built.

A model too large for the memory at hand fails with one line that says how large it is and what to make
smaller, instead of an out-of-memory error (``ResourceExhaustedError``, a ``MemoryError``, or the process
killed) after its weights have been half allocated.

The weights are counted exactly for the built-in layouts (``layout = "dense"`` or ``"conv"``, see
``tfae.models.layouts``) and a bottleneck whose Dense layer emits ``latent_dim`` numbers per sample
(``parameters * latent_dim`` for a variational one); a likelihood's or a regularizer's own weights are few and
not counted. Training holds, per weight, the weight, its gradient and the optimizer's slots (two for Adam),
each a float32.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tfae.errors import ConfigError

BYTES_PER_NUMBER = 4
# The float32 numbers an optimizer keeps per weight, besides the weight and its gradient (Keras' defaults).
OPTIMIZER_SLOTS = {"sgd": 0, "rmsprop": 1, "adagrad": 1, "lion": 1, "adafactor": 1}
DEFAULT_OPTIMIZER_SLOTS = 2  # Adam, AdamW, Adamax, Nadam, Adadelta, Ftrl, Lamb


def _dense(inputs: int, units: int) -> int:
    return inputs * units + units


def _convolution(kernel_size: int, inputs: int, filters: int) -> int:
    return kernel_size * kernel_size * inputs * filters + filters


def layout_weight_count(
    sample_shape: Sequence[int],
    layout: str,
    hidden: Sequence[int],
    kernel_size: int,
    latent_dim: int,
    code_width: int,
) -> int | None:
    """Returns the number of weights of a layout autoencoder, before building it.

    Args:
        sample_shape: the shape of one sample, such as ``(28, 28)`` or ``(64,)``.
        layout: ``"dense"`` or ``"conv"``.
        hidden: the hidden sizes from the input inwards: Dense units, or Conv2D filters.
        kernel_size: the convolutions' kernel size (``layout="conv"`` only).
        latent_dim: the size of the code the decoder receives.
        code_width: how many numbers the bottleneck's Dense layer emits per sample.

    Returns:
        The number of weights, or ``None`` for a layout that these samples cannot have (the model itself says
        why when it is built).
    """
    features = math.prod(sample_shape)
    if layout == "dense":
        widths = [features, *hidden]
        encoder = sum(_dense(a, b) for a, b in zip(widths, widths[1:])) + _dense(widths[-1], code_width)
        decoder_widths = [latent_dim, *reversed(hidden), features]
        return encoder + sum(_dense(a, b) for a, b in zip(decoder_widths, decoder_widths[1:]))
    if layout != "conv" or len(sample_shape) not in (2, 3) or not hidden:
        return None
    height, width = sample_shape[0], sample_shape[1]
    channels = sample_shape[2] if len(sample_shape) == 3 else 1
    from tfae.models.layouts import spatial_sizes  # imports Keras: only when a conv layout is counted

    height, width = spatial_sizes(height, width, len(hidden))[-1]
    filters = [channels, *hidden]
    encoder = sum(_convolution(kernel_size, a, b) for a, b in zip(filters, filters[1:]))
    innermost = height * width * hidden[-1]
    encoder += _dense(innermost, code_width)
    decoder = _dense(latent_dim, innermost)
    mirrored = [hidden[-1], *reversed(hidden)]
    decoder += sum(_convolution(kernel_size, a, b) for a, b in zip(mirrored, mirrored[1:]))
    decoder += _convolution(kernel_size, hidden[0], channels)
    return encoder + decoder


def _read_number(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _process_status(key: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def available_memory() -> int | None:
    """Returns the bytes this process can still allocate, as far as the system says, or ``None`` if it does not.

    The least of: the memory the kernel reports available (``MemAvailable``), what the process's cgroup allows
    beyond what it uses, and what ``ulimit -v`` (``RLIMIT_AS``) and ``ulimit -d`` (``RLIMIT_DATA``) leave.
    """
    bounds = []
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    bounds.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        if hasattr(os, "sysconf") and "SC_AVPHYS_PAGES" in os.sysconf_names:
            bounds.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    cgroup = Path("/sys/fs/cgroup")
    for limit_file, usage_file in (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    ):
        limit, usage = _read_number(cgroup / limit_file), _read_number(cgroup / usage_file)
        if limit is not None and usage is not None and limit < 2**60:
            bounds.append(max(limit - usage, 0))
    try:
        import resource
    except ImportError:  # Windows
        return min(bounds) if bounds else None
    for limit_name, used_key in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        soft, _ = resource.getrlimit(getattr(resource, limit_name))
        used = _process_status(used_key)
        if soft != resource.RLIM_INFINITY and used is not None:
            bounds.append(max(soft - used, 0))
    return min(bounds) if bounds else None


def _readable(size: float) -> str:
    if size < 1000:
        return f"{size:.0f} bytes"
    exponent = min(int(math.log10(size) // 3), 5)
    return f"{size / 1000**exponent:.1f} {' KMGTP'[exponent]}B"


def check_model_size(
    sample_shape: Sequence[int],
    layout: str,
    hidden: Sequence[int],
    kernel_size: int,
    bottleneck: Any,
    optimizer: str = "adam",
    available: int | None = None,
) -> int | None:
    """Raises ``ConfigError`` if training the layout autoencoder would need more memory than is available.

    Args:
        sample_shape: the shape of one sample of the data.
        layout: ``"dense"`` or ``"conv"``.
        hidden: the hidden sizes from the input inwards.
        kernel_size: the convolutions' kernel size.
        bottleneck: the ``BaseBottleneck`` (built or not): its ``latent_dim``, and ``parameters`` for a
            ``VariationalBottleneck``.
        optimizer: the Keras optimizer's name, for the number of slots it keeps per weight.
        available: the bytes available; by default ``available_memory()``.

    Returns:
        The number of weights, or ``None`` when the layout does not fit the samples.

    Raises:
        ConfigError: the weights, their gradients and the optimizer's slots need more than ``available``
            bytes; the message gives both sizes and what to make smaller.
    """
    from tfae.bottlenecks.variational import VariationalBottleneck

    latent_dim = int(bottleneck.latent_dim)
    code_width = latent_dim * (int(bottleneck.parameters) if isinstance(bottleneck, VariationalBottleneck) else 1)
    weights = layout_weight_count(sample_shape, layout, hidden, kernel_size, latent_dim, code_width)
    if weights is None:
        return None
    slots = OPTIMIZER_SLOTS.get(optimizer.lower(), DEFAULT_OPTIMIZER_SLOTS)
    needed = weights * BYTES_PER_NUMBER * (2 + slots)
    if available is None:
        available = available_memory()
    if available is not None and needed > available:
        sample = "x".join(map(str, sample_shape))
        raise ConfigError(
            f"the model is too large for this machine's memory: a {layout} layout for samples of shape {sample} "
            f"({math.prod(sample_shape):,} values) with hidden = {list(hidden)} and latent_dim = {latent_dim:,} has "
            f"{weights:,} weights, and training them with {optimizer} needs about {_readable(needed)} (weights, "
            f"gradients and {slots} optimizer slot(s), float32), but only {_readable(available)} is available; "
            "use a smaller latent_dim or smaller hidden sizes, or fewer features per sample"
        )
    return weights
