"""The memory a training config needs, checked before the model is built.

A model too large for the memory at hand fails with one line that says how large it is and what to make
smaller, instead of an out-of-memory error (``ResourceExhaustedError``, a ``MemoryError``, ``std::bad_alloc``
and SIGABRT, or the process killed) after its weights have been half allocated.

The weights are counted on the model itself, built abstractly first (``abstract_model``: every variable gets
its shape and no memory), so that every component's own weights count (a regularizer's discriminator, a
prior's pseudo-inputs, a plugin's bottleneck), and before any of them is allocated: the bottleneck builds its
regularizers as it is made. Where that build fails (a component that makes a variable from a value), the
built-in layouts are counted from the config (``layout_weight_count``), with the regularizers' own layers,
which the bottleneck has built by then, but not a prior's weights.

Training holds far more than the weights: measured with TensorFlow 2.21 and Keras 3.15 on a CPU (XLA on, a
dense model of 13 and 26 million weights), the peak grows by 13 float32 numbers per weight with SGD and 16 with
Adam (the weights, their gradients, the step's new values, the initial values, the checkpoint's copy), so
``NUMBERS_PER_WEIGHT`` plus two per optimizer slot is counted; and per sample of a batch, each layer's output
``ACTIVATION_COPIES`` times; and the copies of the data that training makes (``DATA_COPIES``), each constant
a little above what was measured.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tfae.byte_sizes import readable_bytes
from tfae.errors import ConfigError

BYTES_PER_NUMBER = 4
# The float32 numbers an optimizer keeps per weight, besides the weight and its gradient (Keras' defaults).
OPTIMIZER_SLOTS = {"sgd": 0, "rmsprop": 1, "adagrad": 1, "lion": 1, "adafactor": 1}
DEFAULT_OPTIMIZER_SLOTS = 2  # Adam, AdamW, Adamax, Nadam, Adadelta, Ftrl, Lamb
# The float32 numbers training holds per weight besides the optimizer's slots, each of which it holds twice
# (the slot and its new value): measured, 13 with SGD (52 bytes) and 16 with Adam (63 bytes).
NUMBERS_PER_WEIGHT = 13
# Each layer's output per sample of a batch: the value, its gradient, and the step's temporaries (measured,
# 2.2 for a Dense layer of 8192 units between batches of 64 and 4096).
ACTIVATION_COPIES = 3
# The copies of the samples that `tfae train` makes besides the loaded ones: the training and validation split,
# the pipelines' (measured, 3.9 times 51 MB of samples).
DATA_COPIES = 4


def layout_weight_count(
    sample_shape: Sequence[int],
    layout: str,
    hidden: Sequence[int],
    kernel_size: int,
    latent_dim: int,
    code_width: int,
) -> int | None:
    """Returns the number of weights of a layout autoencoder, before building it.

    The layout is built abstractly (``abstract_model``) around a ``VanillaBottleneck``, which always can
    be, so that the count is that of the layers ``tfae.models.LayoutAutoencoder`` makes; the bottleneck's
    Dense layer is then counted at ``code_width`` outputs.

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
    from tfae.bottlenecks.vanilla import VanillaBottleneck
    from tfae.models.layouts import LayoutAutoencoder

    def build() -> Any:
        model = LayoutAutoencoder(VanillaBottleneck(latent_dim), layout=layout, hidden=hidden, kernel_size=kernel_size)
        model.build((None, *sample_shape))
        return model

    model = abstract_model(build)
    if model is None:
        return None
    # The vanilla bottleneck's Dense layer emits latent_dim numbers; the real one code_width, from the same inputs.
    code_inputs = int(model.bottleneck.dense.kernel.shape[0])
    return weight_count(model) + (code_width - latent_dim) * (code_inputs + 1)


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


def abstract_model(build: Callable[[], Any]) -> Any:
    """What ``build()`` returns, made with variables that have a shape and no memory, for counting only.

    Returns:
        The model, or ``None`` when it cannot be built so: a component that makes a variable from a value
        rather than an initializer, or reads one, as it is made (Keras refuses both without memory), or a
        mistake in the config, which the real build then reports.
    """
    from tfae.keras_private import abstract_variables

    try:
        with abstract_variables():
            return build()
    except Exception:  # noqa: BLE001 - the real build reports whatever is wrong, if anything is
        return None


def weight_count(model: Any) -> int:
    """The number of weights of ``model`` (built, abstractly or not): its layers', and its bottleneck's
    regularizers' and prior's."""
    return sum(math.prod(weight.shape) for weight in model.weights)


def regularizer_weight_count(bottleneck: Any) -> int:
    """The weights of a bottleneck's regularizers' own layers (a discriminator), which it builds as it is made."""
    return sum(weight_count(layer) for layer in getattr(bottleneck, "regularizer_layers", ()))


def activation_count(model: Any) -> int:
    """The values every layer of a built autoencoder's encoder and decoder outputs, per sample."""
    count = 0
    for network in (model.encoder, model.decoder_network):
        for layer in network.layers:
            try:
                output = layer.output
            except (AttributeError, ValueError):  # a layer called more than once has no single output
                continue
            outputs = output if isinstance(output, (list, tuple)) else [output]
            count += sum(math.prod(part.shape[1:]) for part in outputs)
    return count


def training_bytes(weights: int, optimizer: str = "adam") -> int:
    """The bytes training ``weights`` with ``optimizer`` (a Keras optimizer's name) takes at its peak."""
    slots = OPTIMIZER_SLOTS.get(optimizer.lower(), DEFAULT_OPTIMIZER_SLOTS)
    return weights * BYTES_PER_NUMBER * (NUMBERS_PER_WEIGHT + 2 * slots)


def check_model_size(
    sample_shape: Sequence[int],
    layout: str,
    hidden: Sequence[int],
    kernel_size: int,
    bottleneck: Any,
    optimizer: str = "adam",
    available: int | None = None,
    model: Any = None,
    batch_size: int = 0,
    data_bytes: int = 0,
) -> int | None:
    """Raises ``ConfigError`` if training the layout autoencoder would need more memory than is available.

    Args:
        sample_shape: the shape of one sample of the data.
        layout: ``"dense"`` or ``"conv"``.
        hidden: the hidden sizes from the input inwards.
        kernel_size: the convolutions' kernel size.
        bottleneck: the ``BaseBottleneck`` (built or not, abstractly or not): its ``latent_dim``, and
            ``parameters`` for a ``VariationalBottleneck``.
        optimizer: the Keras optimizer's name, for the number of slots it keeps per weight.
        available: the bytes available; by default ``available_memory()``.
        model: the model, built abstractly (``abstract_model``): its weights are counted, every component's
            included, and its layers' outputs; without it, the layout's weights and the regularizers' own.
        batch_size: the samples per batch, whose layers' outputs training holds.
        data_bytes: the size of the samples, which training copies ``DATA_COPIES`` times.

    Returns:
        The number of weights, or ``None`` when the layout does not fit the samples (and no model was given).

    Raises:
        ConfigError: the weights, their gradients, the optimizer's slots, a batch's outputs and the data's
            copies need more than ``available`` bytes; the message gives the sizes and what to make smaller.
    """
    from tfae.bottlenecks.variational import VariationalBottleneck

    latent_dim = int(bottleneck.latent_dim)
    code_width = latent_dim * (int(bottleneck.parameters) if isinstance(bottleneck, VariationalBottleneck) else 1)

    def count_layout() -> int | None:
        # Builds the layout abstractly: only where no model was given, or for a message.
        return layout_weight_count(sample_shape, layout, hidden, kernel_size, latent_dim, code_width)

    layout_weights = None
    if model is not None:
        weights = weight_count(model)
    else:
        layout_weights = count_layout()
        if layout_weights is None:
            return None
        weights = layout_weights + regularizer_weight_count(bottleneck)
    slots = OPTIMIZER_SLOTS.get(optimizer.lower(), DEFAULT_OPTIMIZER_SLOTS)
    for_weights = training_bytes(weights, optimizer)
    for_batch = 0
    if model is not None:
        for_batch = batch_size * activation_count(model) * BYTES_PER_NUMBER * ACTIVATION_COPIES
    for_data = data_bytes * DATA_COPIES
    needed = for_weights + for_batch + for_data
    if available is None:
        available = available_memory()
    if available is None or needed <= available:
        return weights
    sample = "x".join(map(str, sample_shape))
    if layout_weights is None:
        layout_weights = count_layout()
    own = weights - layout_weights if layout_weights is not None else 0
    # A component's own weights are named where they are a share worth making smaller (not a seed generator's state).
    owned = f" ({own:,} of them the bottleneck's regularizers' and prior's own)" if own * 100 > weights else ""
    parts = (
        (for_batch, f"the layers' outputs for a batch of {batch_size}"),
        (for_data, f"{DATA_COPIES} copies of the data"),
    )
    besides = "".join(f"; {readable_bytes(size)} for {what}" for size, what in parts if size * 100 > needed)
    remedies = ["a smaller latent_dim or smaller hidden sizes", "fewer features per sample"]
    if owned:
        remedies.insert(
            1, "fewer weights in the regularizers and the prior (a discriminator's hidden sizes, a prior's components)"
        )
    if for_batch > for_weights:
        remedies.insert(0, "a smaller batch_size")
    raise ConfigError(
        f"the model is too large for this machine's memory: a {layout} layout for samples of shape {sample} "
        f"({math.prod(sample_shape):,} values) with hidden = {list(hidden)} and latent_dim = {latent_dim:,} has "
        f"{weights:,} weights{owned}, and training them with {optimizer} needs about {readable_bytes(needed)} "
        f"({NUMBERS_PER_WEIGHT + 2 * slots} float32 numbers per weight, tfae.training.sizes.NUMBERS_PER_WEIGHT plus "
        f"two per optimizer slot: the weights, their gradients, {slots} optimizer slot(s) and what training keeps "
        f"besides{besides}), but only {readable_bytes(available)} is available; use {', or '.join(remedies)}"
    )
