"""tfae's XLA default on TensorFlow: when ``jit_compile="auto"`` turns XLA on, and the fallback when XLA fails."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import keras

from tfae.errors import ConfigError
from tfae.keras_private import all_layers, op_determinism_enabled

#: The values of the environment variable ``TFAE_XLA`` that turn tfae's XLA default off, and those that keep it.
XLA_OFF_VALUES = ("0", "false", "no", "off")
XLA_ON_VALUES = ("", "1", "true", "yes", "on")

#: How many models tfae's default compiles with XLA in one process; the models after them train without it.
#: TensorFlow keeps every program XLA compiles until the process ends (its cache of them has no eviction:
#: tensorflow/compiler/jit/device_compilation_cache.h, tensorflow/tensorflow#64170), 20 to 30 MB for a small
#: VAE, so a process that trains model after model (a sweep, a notebook, a test suite) would grow without
#: bound. An explicit ``jit_compile=True`` is always obeyed, and counts toward none of this.
MAX_XLA_MODELS_PER_PROCESS = 10

# The models that tfae's default has compiled with XLA in this process, and whether it has said it stopped.
_xla_models = 0
_said_xla_stopped = False

_CONVOLUTIONS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
)


def xla_by_default(model: keras.Model, distributed: bool, run_eagerly: bool) -> bool:
    """tfae's ``jit_compile="auto"`` on TensorFlow: XLA on, unless something here rules it out."""
    if xla_turned_off_by_environment() or distributed or run_eagerly:
        return False
    if any(not getattr(layer, "supports_jit", True) for layer in all_layers(model)):
        return False
    return not op_determinism_enabled()


def xla_turned_off_by_environment() -> bool:
    """Whether ``TFAE_XLA`` turns tfae's XLA default off; a value that means neither is refused.

    Raises:
        ConfigError: ``TFAE_XLA`` is set to a value that is neither on nor off (``disable``, say), which would
            otherwise leave XLA on without a word.
    """
    value = os.environ.get("TFAE_XLA", "")
    if value.strip().lower() in XLA_OFF_VALUES:
        return True
    if value.strip().lower() in XLA_ON_VALUES:
        return False
    shown = ascii(value[:40] + ("..." if len(value) > 40 else ""))
    raise ConfigError(
        f"TFAE_XLA={shown} is not a value tfae knows: {', '.join(XLA_OFF_VALUES)} turn tfae's XLA default off; "
        f"{', '.join(XLA_ON_VALUES[1:])} or leaving it unset keep it."
    )


def settle_default_xla(model: keras.Model) -> None:
    """Once the layers exist, before the model's first step: tfae's default leaves XLA off for convolutions
    on a CPU, where it is slower, and for every model after ``MAX_XLA_MODELS_PER_PROCESS`` compiled with it.

    XLA's CPU convolutions trained the convolutional VAE slower than TensorFlow's own kernels (docs/benchmarks.md,
    "CPU, TensorFlow: XLA by default", where the figures are dated); with a GPU, or without convolutions, XLA
    stays on. The first model that the
    limit leaves without XLA warns, once a process, saying why and how to keep XLA.
    """
    global _xla_models, _said_xla_stopped
    if not getattr(model, "xla_chosen_by_tfae", False) or not getattr(model, "jit_compile", False):
        return
    if any(isinstance(layer, _CONVOLUTIONS) for layer in all_layers(model)) and not _has_gpu():
        _without_xla(model)
        return
    if getattr(model, "counted_as_xla_model", False):
        return
    if _xla_models >= MAX_XLA_MODELS_PER_PROCESS:
        if not _said_xla_stopped:
            _said_xla_stopped = True
            warnings.warn(
                f"tfae has compiled {_xla_models} models with XLA in this process, and TensorFlow keeps every "
                "compiled program until the process ends (20 to 30 MB for a small model), so this model and the "
                "ones after it train without XLA (tfae.models.xla.MAX_XLA_MODELS_PER_PROCESS). To keep XLA for "
                "a model, compile it with jit_compile=True; to train every model without it, and save the "
                "compile time, set TFAE_XLA=0; or train each model in a process of its own.",
                stacklevel=4,
            )
        _without_xla(model)
        return
    _xla_models += 1
    # A plain bool, like xla_chosen_by_tfae: the model is counted once, however often it is fitted.
    model.counted_as_xla_model = True


def _without_xla(model: keras.Model) -> None:
    model.jit_compile = False
    model.train_function = model.test_function = model.predict_function = None


def without_xla_if_it_fails(model: keras.Model, method: str, run: Callable[[], Any]) -> Any:
    """Runs ``run()``; if XLA cannot compile the model before any step is taken, warns and runs it without XLA."""
    settle_default_xla(model)
    try:
        return run()
    except Exception as error:
        compiled_with_xla = bool(getattr(model, "jit_compile", False))
        if not compiled_with_xla or not _is_xla_compilation_error(error) or int(model.optimizer.iterations) > 0:
            raise
        reason = " ".join(str(error).split())[:300]
        warnings.warn(
            f"XLA could not compile this model, so {method} goes on without it (compile with "
            f"jit_compile=False to skip the attempt): {reason}",
            stacklevel=4,
        )
        _without_xla(model)
        return run()


def _has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _is_xla_compilation_error(error: Exception) -> bool:
    """Whether ``error`` is XLA refusing to compile a graph (an operation it has no kernel for), not a bug."""
    text = str(error)
    return any(
        sign in text
        for sign in (
            "XLA_CPU_JIT",
            "XLA_GPU_JIT",
            "Detected unsupported operations when trying to compile",
            "XLA compilation",
        )
    )
