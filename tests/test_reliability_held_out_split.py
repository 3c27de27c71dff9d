"""`tfae train` records which samples it held out (split.json); `tfae evaluate RUN`, `tfae generate RUN --sampler`
and `tfae train --resume` refuse, in one line, data or a seed that no longer splits off those samples."""

import hashlib
import json
import shutil

import numpy as np
import pytest

from tfae.cli import main
from tfae.datasets import load_digits
from tfae.training.config import load_config
from tfae.training.run import Run
from tfae.training.split_record import SPLIT_FILE, fingerprint


@pytest.fixture
def run_copy(digits_run, tmp_path):
    """A copy of the digits run's folder, to edit: its config, its split record and its model."""
    folder = tmp_path / "vae"
    folder.mkdir()
    for name in ("config.toml", SPLIT_FILE, "model.keras"):
        shutil.copy(digits_run / name, folder / name)
    return folder


def edit_config(folder, old, new):
    path = folder / "config.toml"
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))


def one_line_error(capsys, *argv):
    code = main([*map(str, argv)])
    _, err = capsys.readouterr()
    assert code == 2, err
    (line,) = err.strip().splitlines()
    prefix = f"tfae {argv[0]}: error: "
    assert line.startswith(prefix)
    return line[len(prefix) :]


def test_train_records_a_fingerprint_of_each_side_of_the_split(digits_run):
    record = json.loads((digits_run / SPLIT_FILE).read_text())
    images, _ = load_digits()
    order = np.random.default_rng(0).permutation(len(images))  # the run's seed 0 and validation_split 0.1
    header = json.dumps([[8, 8], "<f4"]).encode()
    expected = {
        part: {"samples": len(indices), "sha256": hashlib.sha256(header + images[indices].tobytes()).hexdigest()}
        for part, indices in (("training", order[:-180]), ("held_out", order[-180:]))
    }
    assert record == {"format": 1, "samples": 1797, "validation_split": 0.1, "seed": 0, **expected}


def test_fingerprint_is_of_the_values_whatever_the_chunks(monkeypatch):
    x = np.random.default_rng(0).random((50, 3, 2)).astype("float32")
    indices = np.array([7, 3, 49, 0, 12])
    whole = fingerprint(x, indices)
    monkeypatch.setattr("tfae.training.split_record.HASHED_BYTES_PER_CHUNK", 2 * x[:1].nbytes)
    assert fingerprint(x, indices) == whole
    assert fingerprint(x, indices[::-1]) != whole
    assert fingerprint(x.astype("float64"), indices) != whole


def test_evaluate_refuses_an_edited_seed_or_split(run_copy, capsys):
    edit_config(run_copy, "seed = 0\n", "seed = 1\n")
    assert one_line_error(capsys, "evaluate", run_copy) == (
        f"the samples held out from the run {run_copy} cannot be found again: its config.toml says [training] seed = "
        "1, but training split the data with seed 0; to score other samples, give them: tfae evaluate "
        f"{run_copy} DATA (or put back the data and the seed that training used)"
    )
    edit_config(run_copy, "seed = 1\n", "seed = 0\n")
    edit_config(run_copy, "validation_split = 0.1\n", "validation_split = 0.2\n")
    assert (
        "its config.toml says [training] validation_split = 0.2, but training held out 0.1 of the data; "
        in one_line_error(capsys, "evaluate", run_copy)
    )


def test_evaluate_refuses_data_reordered_or_changed_since_training(run_copy, tmp_path, capsys):
    images, _ = load_digits()
    data = tmp_path / "digits.npy"
    edit_config(run_copy, 'source = "digits"\n', f'source = "{data}"\n')

    # The same samples in the same order, from a file instead of the dataset: the same held-out samples.
    np.save(data, images)
    assert main(["evaluate", str(run_copy), "--metrics", "reconstruction_error"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "on the 180 samples of" in out and "that training held out (validation_split 0.1, seed 0)" in out

    np.save(data, images[::-1])
    assert one_line_error(capsys, "evaluate", run_copy) == (
        f"the samples held out from the run {run_copy} cannot be found again: the 180 samples of {data} that seed 0 "
        "and validation_split 0.1 give are not those training held out: the data changed, or its samples were "
        f"reordered, since training; to score other samples, give them: tfae evaluate {run_copy} DATA (or put back "
        "the data and the seed that training used)"
    )
    np.save(data, images[:-1])
    assert f": {data} has 1796 samples now, and had 1797 when training split it; " in one_line_error(
        capsys, "evaluate", run_copy
    )


def test_a_run_without_a_record_is_scored_with_a_note(run_copy, capsys):
    (run_copy / SPLIT_FILE).unlink()
    assert main(["evaluate", str(run_copy), "--metrics", "reconstruction_error"]) == 0
    out, err = capsys.readouterr()
    assert err == (
        f"tfae evaluate: note: {run_copy} has no split.json (a run trained before tfae recorded its split), so that "
        "these are the samples training held out is unchecked: they are if its data and seed are unchanged since\n"
    )
    assert "on the 180 samples of digits that training held out" in out


def test_a_record_that_is_not_one_is_refused(run_copy, capsys):
    (run_copy / SPLIT_FILE).write_text('{"format": 1, "samples": 1797}')
    assert one_line_error(capsys, "evaluate", run_copy) == (
        f"cannot read {run_copy / SPLIT_FILE}, the record of which samples the run held out (not a record of "
        "format 1); delete it to use the run's data unchecked"
    )


def test_generate_refuses_to_fit_a_sampler_to_other_training_data(run_copy, tmp_path, capsys):
    edit_config(run_copy, "seed = 0\n", "seed = 3\n")
    output = tmp_path / "samples.png"
    assert one_line_error(capsys, "generate", run_copy, "--sampler", "gmm", "-o", output) == (
        f"--sampler gmm is fitted to the codes of the run's training data, but the samples trained on in the run "
        f"{run_copy} cannot be found again: its config.toml says [training] seed = 3, but training split the data "
        "with seed 0; give the data to fit it to with --data DATA, or put back the data and the seed that training used"
    )
    assert not output.exists()


def test_resume_refuses_data_that_changed_since_the_run_started(tmp_path, capsys):
    import keras

    class InterruptAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    data = tmp_path / "data.npy"
    x = np.random.default_rng(0).random((40, 6)).astype("float32")
    np.save(data, x)
    config = tmp_path / "small.toml"
    config.write_text(f'[data]\nsource = "{data}"\n[model]\nhidden = [4]\n[training]\nepochs = 2\nbatch_size = 20\n')
    folder = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        Run.create(load_config(config), folder).train(verbose=0, callbacks=[InterruptAfterFirstEpoch()])
    assert (folder / SPLIT_FILE).is_file()

    np.save(data, x[::-1])
    assert one_line_error(capsys, "train", "--resume", folder) == (
        f"cannot resume: the samples trained on in the run {folder} cannot be found again: the 36 samples of "
        f"{data} that seed 0 and validation_split 0.1 give are not those the model was trained on: the data changed, "
        "or its samples were reordered, since training; resume with the data and the seed the run started with, "
        "or start a new run"
    )
