"""Stopping training when a loss becomes NaN or inf, keeping the last weights whose losses were finite."""

from __future__ import annotations

import math
from typing import Any

import keras

# Keras logs every loss under a name ending in "loss": loss, reconstruction_loss, val_loss, kld_loss, ...
LOSS_SUFFIX = "loss"


def non_finite_losses(logs: dict[str, Any] | None) -> dict[str, float]:
    """The logged losses (``loss``, ``val_loss``, ``reconstruction_loss``, ...) that are NaN or inf."""
    return {
        key: float(value)
        for key, value in (logs or {}).items()
        if key.endswith(LOSS_SUFFIX)
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not math.isfinite(value)
    }


class DivergenceMonitor(keras.callbacks.Callback):
    """Stops training at the first step whose logged loss is NaN or inf, and keeps the last finite weights.

    Keras' ``TerminateOnNaN`` stops too, but says only "Batch 5: Invalid loss" on stdout and leaves the
    broken weights. This callback remembers the epoch, the step and the logged values, for a message that
    says what to change, and a copy of the weights after the last epoch whose losses were all finite (or the
    weights training started from), which ``restore`` puts back. ``Autoencoder.fit`` adds one by default.

    Args:
        keep_weights: whether to copy the weights after each finite epoch, for ``restore``.

    Example:

    ```python
    monitor = DivergenceMonitor()
    model.fit(x, epochs=10, callbacks=[monitor])  # fit adds none of its own when given one
    if monitor.found is not None:
        monitor.restore(model)
        print(monitor.describe())
    ```
    """

    def __init__(self, keep_weights: bool = True) -> None:
        super().__init__()
        self.keep_weights = keep_weights
        self.epoch = 0
        self.epochs: int | None = None
        self.steps: int | None = None
        self.first_step = 1
        self.found: dict[str, Any] | None = None
        self.finite_epochs = 0
        self._finite_weights: list | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.steps = self.params.get("steps")
        self.epochs = self.params.get("epochs")
        self.found = None
        # A model that fit builds on its first batch has no weights yet: then only finite epochs are kept.
        if self.keep_weights and self.model.built:
            self._finite_weights = self.model.get_weights()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.first_step = batch + 1

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._check((min(self.first_step, batch + 1), batch + 1), logs, "training")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._check(None, logs, "validation")
        if self.found is None:
            self.finite_epochs = epoch + 1
            if self.keep_weights:
                self._finite_weights = self.model.get_weights()

    def _check(self, steps: tuple[int, int] | None, logs: dict | None, where: str) -> None:
        bad = non_finite_losses(logs)
        if self.found is None and bad:
            self.found = {"epoch": self.epoch, "steps": steps, "where": where, "bad": bad, "logs": dict(logs or {})}
            self.model.stop_training = True

    def restore(self, model: keras.Model) -> bool:
        """Puts back the weights after the last epoch with finite losses (those training began with if none).

        Returns:
            Whether there were weights to put back: none are kept with ``keep_weights=False``, nor when the
            model was built by its first training step and no epoch finished with finite losses.
        """
        if self._finite_weights is None:
            return False
        model.set_weights(self._finite_weights)
        return True

    def where(self) -> str:
        """Where the loss stopped being finite: ``"epoch 3 of 4, step 5 of 26"``, ``"... in validation"``."""
        if self.found is None:
            return ""
        of_epochs = f" of {self.epochs}" if self.epochs else ""
        text = f"epoch {self.found['epoch'] + 1}{of_epochs}"
        if self.found["steps"] is None:
            return text + ", in validation"
        first, last = self.found["steps"]
        if self.steps:
            # A group of steps_per_execution steps may run past the epoch's end in Keras' count.
            first, last = min(first, self.steps), min(last, self.steps)
        of_steps = f" of {self.steps}" if self.steps else ""
        # With steps_per_execution > 1 the losses are seen once per group of steps.
        return text + (f", step {last}{of_steps}" if first == last else f", between steps {first} and {last}{of_steps}")

    def describe(self) -> str:
        """What became NaN or inf, and where: ``"the loss and val_loss became NaN in epoch 3 of 4, step 5 of 26"``."""
        if self.found is None:
            return ""
        names = " and ".join(sorted(self.found["bad"]))
        values = sorted({"NaN" if math.isnan(value) else "inf" for value in self.found["bad"].values()})
        return f"the {names} became {' and '.join(values)} in {self.where()}"

    def large_beta(self) -> float | None:
        """The logged beta when it is so large that it is the likeliest cause, else ``None``."""
        beta = None if self.found is None else self.found["logs"].get("beta")
        if beta is not None and not (isinstance(beta, (int, float)) and abs(beta) <= 100):
            return float(beta)
        return None
