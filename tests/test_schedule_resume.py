"""A run killed with SIGKILL and restarted with BackupAndRestore continues its beta schedule where it stopped."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from timeouts import HANG_TIMEOUT_S

STEPS_PER_EPOCH = 5
EPOCHS = 6
KILLED_IN_EPOCH = 3

# Trains a tiny VAE with two bottlenecks in a row, one whose beta is counted by epoch and one by step, so that one
# killed process interrupts both schedules. Each epoch it appends both betas and the step counter to a log; at the
# end it writes the betas that each train step used, as observed inside the step. With "kill", the first run
# SIGKILLs itself in the middle of an epoch; running the script again resumes from the last backup.
SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    sys.path.insert(0, {tests_dir!r})
    import keras
    import numpy as np
    from keras import ops
    from test_schedules_in_training import BetaObserver, ObservedKLD
    from tfae.bottlenecks import GaussianBottleneck
    from tfae.models import Autoencoder
    from tfae.schedulers import DASRScheduler

    work_dir, kill = sys.argv[1], sys.argv[2] == "kill"
    STEPS_PER_EPOCH, EPOCHS, KILLED_IN_EPOCH = {steps_per_epoch}, {epochs}, {killed_in_epoch}
    killed_marker = os.path.join(work_dir, "killed")

    schedulers = {{
        "epoch": DASRScheduler(0.0, 1.0, delay=1, attack=3, release=1, unit="epoch"),
        "step": DASRScheduler(0.0, 1.0, delay=4, attack=8, sustain=6, release=7, unit="step"),
    }}
    observers = {{unit: BetaObserver(scheduler, STEPS_PER_EPOCH * EPOCHS) for unit, scheduler in schedulers.items()}}
    epoch_bottleneck = GaussianBottleneck(4, regularizer=ObservedKLD(observers["epoch"], schedulers["epoch"].value))


    class TwoScheduleAutoencoder(Autoencoder):
        def make_encoder(self, encoder_input):
            return self.bottleneck(epoch_bottleneck(encoder_input))


    class Recorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if kill and self.epoch == KILLED_IN_EPOCH and batch >= 1 and not os.path.exists(killed_marker):
                open(killed_marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)

        def on_epoch_end(self, epoch, logs=None):
            record = {{unit: float(ops.convert_to_numpy(scheduler.value)) for unit, scheduler in schedulers.items()}}
            record.update(epoch=epoch, step=int(ops.convert_to_numpy(schedulers["step"].step)))
            with open(os.path.join(work_dir, "epochs.jsonl"), "a") as log:
                log.write(json.dumps(record) + "\\n")


    keras.utils.set_random_seed(0)
    step_bottleneck = GaussianBottleneck(2, regularizer=ObservedKLD(observers["step"], schedulers["step"]))
    model = TwoScheduleAutoencoder(bottleneck=step_bottleneck)
    # Two steps per call, so that batch callbacks (and the kill) come in the middle of an epoch.
    model.compile(optimizer="adam", loss="bernoulli", steps_per_execution=2)
    model.build((None, 8))
    x = np.random.default_rng(0).random((4 * STEPS_PER_EPOCH, 8)).astype("float32")
    backup = keras.callbacks.BackupAndRestore(os.path.join(work_dir, "backup"))
    model.fit(x, epochs=EPOCHS, batch_size=4, callbacks=[schedulers["epoch"], backup, Recorder()], verbose=0)
    result = {{}}
    for unit, observer in observers.items():
        observed, count = observer.result()
        counter = (lambda n: n) if unit == "step" else (lambda n: n // STEPS_PER_EPOCH)
        expected = [schedulers[unit].value_at(counter(n)) for n in range(count)]
        result[unit] = {{"observed": observed, "expected": expected}}
    with open(os.path.join(work_dir, "steps.json"), "w") as file:
        json.dump(result, file)
    """
)


class Run:
    """The training script in its own process; its output goes to a file, so that no pipe can fill and stall it."""

    def __init__(self, script, work_dir, mode, name):
        self.output = work_dir / f"{name}.log"
        with open(self.output, "w") as output:
            self.process = subprocess.Popen(
                [sys.executable, str(script), str(work_dir), mode],
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def finish(self, timeout=HANG_TIMEOUT_S):
        """Waits for the process; returns its exit status and the end of its output."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the training script ran past {timeout} s:\n{self.tail()}")
        return self.process.returncode, self.tail()

    def tail(self):
        return self.output.read_text()[-4000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def read(work_dir):
    with open(work_dir / "epochs.jsonl") as log:
        epochs = [json.loads(line) for line in log]
    with open(work_dir / "steps.json") as file:
        return epochs, json.load(file)


def killed_resumed_and_uninterrupted(script, tmp_path, resume_mode, check_killed):
    """Runs ``script`` uninterrupted in ``tmp_path/uninterrupted`` and, beside it, in ``tmp_path/resumed``: killed
    in epoch KILLED_IN_EPOCH (``check_killed(folder)`` looks at what the kill left), then run again in
    ``resume_mode``. Both runs must end well; returns their two folders."""
    uninterrupted_dir, resumed_dir = tmp_path / "uninterrupted", tmp_path / "resumed"
    uninterrupted_dir.mkdir()
    resumed_dir.mkdir()
    # The uninterrupted reference runs beside the interrupted one: each process is mostly start-up.
    uninterrupted = Run(script, uninterrupted_dir, "no-kill", "uninterrupted")
    try:
        returncode, output = Run(script, resumed_dir, "kill", "killed").finish()
        assert returncode == -signal.SIGKILL, output
        check_killed(resumed_dir)
        returncode, output = Run(script, resumed_dir, resume_mode, "resumed").finish()
        assert returncode == 0, output
        returncode, output = uninterrupted.finish()
        assert returncode == 0, output
    finally:
        uninterrupted.stop()
    return uninterrupted_dir, resumed_dir


@pytest.mark.slow
def test_killed_and_resumed_run_continues_the_schedule(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        SCRIPT.format(
            tests_dir=str(Path(__file__).parent),
            steps_per_epoch=STEPS_PER_EPOCH,
            epochs=EPOCHS,
            killed_in_epoch=KILLED_IN_EPOCH,
        )
    )

    def killed(folder):
        assert (folder / "backup").is_dir()
        with open(folder / "epochs.jsonl") as log:
            assert [json.loads(line)["epoch"] for line in log] == list(range(KILLED_IN_EPOCH))

    uninterrupted_dir, resumed_dir = killed_resumed_and_uninterrupted(script, tmp_path, "kill", killed)
    reference_epochs, reference_steps = read(uninterrupted_dir)
    resumed_epochs, resumed_steps = read(resumed_dir)
    assert resumed_epochs == reference_epochs
    assert [record["epoch"] for record in resumed_epochs] == list(range(EPOCHS))
    assert [record["step"] for record in resumed_epochs] == [STEPS_PER_EPOCH * (epoch + 1) for epoch in range(EPOCHS)]
    for unit in ("epoch", "step"):
        assert len(resumed_steps[unit]["observed"]) == STEPS_PER_EPOCH * EPOCHS
        assert resumed_steps[unit]["observed"] == reference_steps[unit]["observed"] == reference_steps[unit]["expected"]
    assert not (resumed_dir / "backup").exists()


# The same kill in a script of one's own, with tfae's Checkpoint instead of Keras' BackupAndRestore: the
# checkpoint holds the random state too, so with the data in one order every epoch (shuffle=False) the resumed
# run is the uninterrupted one, bit for bit: its history and its final weights.
CHECKPOINT_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import keras
    import numpy as np
    from tfae.bottlenecks import GaussianBottleneck
    from tfae.models import Autoencoder
    from tfae.regularizers import GaussianKLDRegularizer
    from tfae.schedulers import DASRScheduler
    from tfae.training.checkpoints import Checkpoint

    work_dir, kill = sys.argv[1], sys.argv[2] == "kill"
    STEPS_PER_EPOCH, EPOCHS, KILLED_IN_EPOCH = {steps_per_epoch}, {epochs}, {killed_in_epoch}


    class Kill(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if kill and self.epoch == KILLED_IN_EPOCH and batch >= 1:
                os.kill(os.getpid(), signal.SIGKILL)


    keras.utils.set_random_seed(0)
    beta = DASRScheduler(0.0, 1.0, delay=4, attack=8, unit="step")
    model = Autoencoder(bottleneck=GaussianBottleneck(2, regularizer=GaussianKLDRegularizer(beta=beta)))
    model.compile(optimizer="adam", loss="bernoulli", steps_per_execution=2)
    model.build((None, 8))
    x = np.random.default_rng(0).random((4 * STEPS_PER_EPOCH, 8)).astype("float32")
    checkpoint = Checkpoint(os.path.join(work_dir, "backup"), os.path.join(work_dir, "history.csv"))
    initial_epoch = checkpoint.restore(model)
    model.fit(
        x, epochs=EPOCHS, batch_size=4, shuffle=False, initial_epoch=initial_epoch, callbacks=[checkpoint, Kill()],
        verbose=0,
    )
    np.savez(os.path.join(work_dir, "weights.npz"), *model.get_weights())
    """
)


@pytest.mark.slow
@pytest.mark.backend_neutral
def test_killed_and_resumed_run_with_tfae_checkpoint_is_the_uninterrupted_run(tmp_path):
    import numpy as np

    script = tmp_path / "train.py"
    script.write_text(
        CHECKPOINT_SCRIPT.format(steps_per_epoch=STEPS_PER_EPOCH, epochs=EPOCHS, killed_in_epoch=KILLED_IN_EPOCH)
    )

    def killed(folder):
        assert json.loads((folder / "backup" / "checkpoint.json").read_text())["epoch"] == KILLED_IN_EPOCH

    uninterrupted_dir, resumed_dir = killed_resumed_and_uninterrupted(script, tmp_path, "resume", killed)
    history = (uninterrupted_dir / "history.csv").read_text()
    assert len(history.splitlines()) == EPOCHS + 1
    assert (resumed_dir / "history.csv").read_text() == history
    expected, got = np.load(uninterrupted_dir / "weights.npz"), np.load(resumed_dir / "weights.npz")
    assert expected.files == got.files
    for name in expected.files:
        assert np.array_equal(got[name], expected[name]), name
