"""What ``tfae train`` prints while it trains: a progress bar on a terminal, one plain line per epoch elsewhere.

Keras' own progress bar counts each group of ``steps_per_execution`` steps as whole, so the last group of an
epoch shows more steps than the epoch has ("32/26") and a negative time left; and it writes its terminal
controls (colours, backspaces) into a log file as well. ``EpochProgress`` counts the steps that exist, and
writes to a file, a pipe or a CI log one line of plain text per epoch.
"""

import math
import sys
import time

import keras


class EpochProgress(keras.callbacks.Callback):
    """Shows how ``fit`` goes: Keras' progress bar on a terminal, else one plain line per epoch.

    Give it to ``fit`` with ``verbose=0``, in place of Keras' progress bar. It writes to ``sys.stdout``, and
    draws the bar when ``sys.stdout`` is a terminal when training begins.

    Example:

    ```python
    model.fit(x, epochs=10, verbose=0, callbacks=[EpochProgress()])
    ```

    In a log file, each epoch is one line:

    ```text
    epoch 3/10: 26 steps in 0.4 s - loss: 40.1234 - reconstruction_loss: 36.5012 - val_loss: 41.0034
    ```
    """

    def __init__(self) -> None:
        super().__init__()
        self.terminal = False
        self._bar: keras.utils.Progbar | None = None
        self._seen = 0
        self._started = 0.0

    def on_train_begin(self, logs=None):
        self.terminal = sys.stdout.isatty()

    def on_epoch_begin(self, epoch, logs=None):
        self._seen = 0
        self._started = time.monotonic()
        if self.terminal:
            print(f"Epoch {epoch + 1}/{self.params.get('epochs')}", flush=True)
            self._bar = keras.utils.Progbar(self.params.get("steps"), unit_name="step", stateless_metrics=set())

    def on_train_batch_end(self, batch, logs=None):
        steps = self.params.get("steps")
        # Keras numbers a group of steps_per_execution steps by its last, which may lie past the epoch's end.
        self._seen = min(batch + 1, steps) if steps else batch + 1
        if self._bar is not None:
            self._bar.update(self._seen, list((logs or {}).items()), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        steps = self.params.get("steps") or self._seen
        if self._bar is not None:
            self._bar.update(steps, list(logs.items()), finalize=True)
            return
        # The total first, then its terms, then the same for validation.
        names = sorted(logs, key=lambda name: (name.startswith("val_"), name.removeprefix("val_") != "loss"))
        values = "".join(f" - {name}: {_number(logs[name])}" for name in names)
        seconds = time.monotonic() - self._started
        print(f"epoch {epoch + 1}/{self.params.get('epochs')}: {steps} steps in {seconds:.1f} s{values}", flush=True)


def _number(value):
    """A logged value as Keras' progress bar shows it: four decimals, or four significant digits when small."""
    value = float(value)
    if not math.isfinite(value) or abs(value) > 1e-3 or value == 0:
        return f"{value:.4f}"
    return f"{value:.4e}"
