"""tfae.callbacks.BackupAndRestore survives a crash while it writes: the previous backup stays whole.

The crash is injected into the model's ``save_weights``: on its second call it leaves half an HDF5 file
where it was told to write and raises, as a full disk or a killed process would. Keras' own callback is
put through the same crash as a control, so the test cannot pass because the injected crash did nothing.
"""

import json

import keras
import numpy as np
import pytest

from tfae.callbacks import BackupAndRestore
from tfae.models import Autoencoder

HALF_AN_HDF5_FILE = b"\x89HDF\r\n\x1a\n" + b"\x00" * 64


class CrashesOnSecondSave(Autoencoder):
    """An Autoencoder whose second ``save_weights`` writes half a file and fails."""

    def save_weights(self, filepath, *args, **kwargs):
        self.saves = getattr(self, "saves", 0) + 1
        if self.saves == 2:
            with open(filepath, "wb") as file:
                file.write(HALF_AN_HDF5_FILE)
            raise OSError("No space left on device (injected by the test)")
        return super().save_weights(filepath, *args, **kwargs)


class WeightsAfterEachEpoch(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([np.array(value) for value in self.model.get_weights()])


def make_model(cls=Autoencoder):
    keras.utils.set_random_seed(0)
    model = cls(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld"})
    model.compile(optimizer="adam", loss="bernoulli")
    model.build((None, 8))
    model.optimizer.build(model.trainable_variables)  # so that loading a backup restores Adam's state too
    return model


DATA = np.random.default_rng(0).random((64, 8)).astype("float32")


def crash_in_second_epoch(backup):
    """Trains until the backup after epoch 2 fails; returns the weights after epoch 1."""
    model = make_model(CrashesOnSecondSave)
    recorder = WeightsAfterEachEpoch()
    with pytest.raises(OSError, match="injected"):
        model.fit(DATA, batch_size=16, epochs=3, verbose=0, callbacks=[recorder, backup])
    return recorder.weights[0]


def test_a_crash_while_writing_leaves_the_previous_backup(tmp_path):
    folder = tmp_path / "backup"
    after_epoch_1 = crash_in_second_epoch(BackupAndRestore(str(folder)))

    assert sorted(path.name for path in folder.iterdir()) == ["latest.weights.h5", "training_metadata.json"]
    assert json.loads((folder / "training_metadata.json").read_text())["epoch"] == 1
    restored = make_model()
    restored.load_weights(folder / "latest.weights.h5")
    for restored_value, saved_value in zip(restored.get_weights(), after_epoch_1):
        np.testing.assert_array_equal(restored_value, saved_value)

    # Training again resumes after epoch 1 and runs the two epochs left.
    resumed = make_model().fit(DATA, batch_size=16, epochs=3, verbose=0, callbacks=[BackupAndRestore(str(folder))])
    assert resumed.epoch == [1, 2]


def test_keras_callback_is_damaged_by_the_same_crash(tmp_path):
    folder = tmp_path / "backup"
    crash_in_second_epoch(keras.callbacks.BackupAndRestore(str(folder)))
    # Any error will do: what Keras raises for a damaged weights file is no part of its API.
    with pytest.raises(Exception):  # noqa: B017
        make_model().load_weights(folder / "latest.weights.h5")


def test_double_checkpoint_keeps_the_one_before_too(tmp_path):
    folder = tmp_path / "backup"
    backup = BackupAndRestore(str(folder), double_checkpoint=True, delete_checkpoint=False)
    make_model().fit(DATA, batch_size=16, epochs=2, verbose=0, callbacks=[backup])
    assert sorted(path.name for path in folder.iterdir()) == [
        "latest.weights.h5",
        "latest.weights.h5.bkp",
        "training_metadata.json",
        "training_metadata.json.bkp",
    ]
    assert json.loads((folder / "training_metadata.json.bkp").read_text())["epoch"] == 1
    assert json.loads((folder / "training_metadata.json").read_text())["epoch"] == 2


def test_tfae_callbacks_holds_it_and_fit_resumes_from_its_backup(tmp_path):
    from tfae.training import checkpoints

    # The old import path names the same class.
    assert checkpoints.BackupAndRestore is BackupAndRestore
    assert issubclass(BackupAndRestore, keras.callbacks.BackupAndRestore)

    class StopAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("stopped by the test")

    folder = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="stopped by the test"):
        make_model().fit(
            DATA, batch_size=16, epochs=4, verbose=0, callbacks=[BackupAndRestore(str(folder)), StopAfterSecondEpoch()]
        )
    assert json.loads((folder / "training_metadata.json").read_text())["epoch"] == 2
    assert not any(".partial" in path.name for path in folder.iterdir())

    resumed = make_model().fit(DATA, batch_size=16, epochs=4, verbose=0, callbacks=[BackupAndRestore(str(folder))])
    assert resumed.epoch == [2, 3]
    assert not folder.exists(), "a finished fit deletes the backup"
