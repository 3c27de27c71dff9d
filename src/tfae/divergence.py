"""Stopping training when a loss becomes NaN or inf, keeping the last weights whose losses were finite."""

from __future__ import annotations

import math
from typing import Any

import keras

# Keras logs every loss under a name ending in "loss": loss, reconstruction_loss, val_loss, kld_loss, ...
LOSS_SUFFIX = "loss"
# The logged losses that are sums of others: the total, and the regularizers' penalties together.
TOTALS = ("loss", "regularization_loss")


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
        self._finite_state: tuple[list, list] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.steps = self.params.get("steps")
        self.epochs = self.params.get("epochs")
        self.found = None
        self.finite_epochs = 0
        self._finite_state = None
        # A model that fit builds on its first batch has no weights yet: then only finite epochs are kept.
        if self.keep_weights and self.model.built:
            self._keep_state()

    def _keep_state(self) -> None:
        """Copies the weights and the optimizer's state (its moments and step count, which a NaN step spoils too)."""
        optimizer = getattr(self.model, "optimizer", None)
        slots = [] if optimizer is None else [keras.ops.convert_to_numpy(v) for v in optimizer.variables]
        self._finite_state = (self.model.get_weights(), slots)

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
                self._keep_state()

    def _check(self, steps: tuple[int, int] | None, logs: dict | None, where: str) -> None:
        bad = non_finite_losses(logs)
        if self.found is None and bad:
            self.found = {"epoch": self.epoch, "steps": steps, "where": where, "bad": bad, "logs": dict(logs or {})}
            self.model.stop_training = True

    def restore(self, model: keras.Model) -> bool:
        """Puts back the weights and the optimizer's state after the last epoch with finite losses (those
        training began with if none), so that ``fit`` can go on from there.

        Returns:
            Whether there were weights to put back: none are kept with ``keep_weights=False``, nor when the
            model was built by its first training step and no epoch finished with finite losses.
        """
        if self._finite_state is None:
            return False
        weights, slots = self._finite_state
        model.set_weights(weights)
        optimizer = getattr(model, "optimizer", None)
        # An optimizer built after the copy (by the first step) is left as it is: its state is all new.
        if optimizer is not None and len(optimizer.variables) == len(slots):
            for variable, value in zip(optimizer.variables, slots):
                variable.assign(value)
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
        # The total first, then its parts: "the loss and kld_loss and reconstruction_loss ...".
        names = " and ".join(sorted(self.found["bad"], key=lambda name: (name not in ("loss", "val_loss"), name)))
        values = sorted({"NaN" if math.isnan(value) else "inf" for value in self.found["bad"].values()})
        return f"the {names} became {' and '.join(values)} in {self.where()}"

    def terms(self) -> tuple[list[str], list[str]]:
        """Where the divergence began: the logged terms of the loss (``reconstruction_loss``, ``kld_loss``,
        ...) that were NaN or inf when it was found, and those that were still finite, each sorted.

        Returns:
            ``(diverged, finite)``; both empty when every term diverged at once, or the loss has no terms
            logged (only ``loss`` and sums such as ``regularization_loss``).
        """
        if self.found is None:
            return [], []
        # Validation is checked at the end of an epoch whose training losses were finite: then only its own.
        validation = self.found["steps"] is None
        terms = [
            name
            for name, value in self.found["logs"].items()
            if name.endswith(LOSS_SUFFIX)
            and name.startswith("val_") == validation
            and name.removeprefix("val_") not in TOTALS
            and isinstance(value, (int, float))
        ]
        diverged = sorted(name for name in terms if name in self.found["bad"])
        if not 0 < len(diverged) < len(terms):
            return [], []
        return diverged, sorted(name for name in terms if name not in self.found["bad"])

    def large_beta(self) -> float | None:
        """The logged beta when it is so large that it is the likeliest cause, else ``None``."""
        beta = None if self.found is None else self.found["logs"].get("beta")
        if beta is not None and not (isinstance(beta, (int, float)) and abs(beta) <= 100):
            return float(beta)
        return None


def likely_causes(
    monitor: DivergenceMonitor, learning_rate: str, data: str, low: float | None, high: float | None
) -> list[str]:
    """What probably made the loss diverge, likeliest first, for the message that stops training.

    Args:
        monitor: the monitor that found the divergence (its logged beta may be the cause).
        learning_rate: how to show the learning rate, such as ``"0.003"`` or ``"[training] learning_rate = 0.003"``.
        data: what to call the data, such as ``"the data"`` or ``"digits"``.
        low: the data's smallest value, or ``None`` when it is not known (a dataset, say).
        high: the data's largest value.

    Returns:
        The causes as phrases, such as ``"a learning rate too high (0.003; try a tenth)"``.
    """
    causes = [f"a learning rate too high ({learning_rate}; try a tenth)"]
    diverged, finite = monitor.terms()
    if diverged:
        causes.insert(0, _term_cause(diverged, finite, monitor))
    if low is not None and high is not None:
        scale = f"{data} ranges from {low:.3g} to {high:.3g}"
        if not (math.isfinite(low) and math.isfinite(high)):
            causes.insert(0, "data that holds NaN or inf (check it with numpy.isfinite)")
        elif max(abs(low), abs(high)) > 100:
            causes.insert(0, f"data on a large scale ({scale}; scale it to about [0, 1] or standardize it)")
        else:
            causes.append(f"the data's scale ({scale}, which is usually fine)")
    beta = monitor.large_beta()
    if beta is not None:
        causes.insert(0, f"a beta this large ({beta:.3g}; lower the regularizer's beta or its scheduler's values)")
    return causes


def _term_cause(diverged: list[str], finite: list[str], monitor: DivergenceMonitor) -> str:
    """The terms that diverged first, as a cause: ``"the kld_loss, which became NaN while the
    reconstruction_loss stayed finite (...)"``."""
    values = monitor.found["bad"] if monitor.found is not None else {}
    value = " and ".join(sorted({"NaN" if math.isnan(values[name]) else "inf" for name in diverged}))
    likelihood = all(name.removeprefix("val_") == "reconstruction_loss" for name in diverged)
    check = "check that the data suits the likelihood" if likelihood else "check the parameters of what logs it"
    return (
        f"the {' and '.join(diverged)}, which became {value} while the {' and '.join(finite)} stayed finite ({check})"
    )


def stopped_message(
    monitor: DivergenceMonitor, learning_rate: str, data: str, low: float | None, high: float | None
) -> str:
    """The first sentences of the error that stops training: what diverged, and its likely causes.

    ``Autoencoder.fit`` and ``tfae train`` each go on to say which weights they kept. Arguments as in
    ``likely_causes``.
    """
    causes = likely_causes(monitor, learning_rate, data, low, high)
    return f"{monitor.describe()}, and training stopped. Possible causes, likeliest first: {'; '.join(causes)}."
