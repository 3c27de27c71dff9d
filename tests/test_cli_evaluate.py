"""`tfae evaluate`: metrics of a trained run on the samples it held out, as a table and as JSON; bad input is
one line."""

import json
import subprocess
import sys

import numpy as np
import pytest

import tfae
from plugin_fixtures import run_python
from tfae.cli import main
from tfae.datasets import load_digits
from tfae.evaluation import evaluate
from timeouts import HANG_TIMEOUT_S


def tfae_command(*arguments, cwd=None):
    command = [sys.executable, "-m", "tfae", *map(str, arguments)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=HANG_TIMEOUT_S)


def table(stdout):
    """``{metric: [values]}`` from the printed table: the rows after the ``metric  value`` header."""
    lines = stdout.splitlines()
    header = lines.index(next(line for line in lines if line.split() == ["metric", "value"]))
    rows = {}
    for line in lines[header + 1 :]:
        if line.startswith("tfae evaluate: "):
            break
        name, *values = line.split()
        rows[name] = [float(value) for value in values]
    return rows


@pytest.fixture(scope="module")
def plain_model(tmp_path_factory):
    """A saved autoencoder with a vanilla bottleneck (no densities), for 8x8 inputs; untrained."""
    from tfae.models.layouts import LayoutAutoencoder

    model = LayoutAutoencoder({"name": "vanilla", "latent_dim": 2}, hidden=[8])
    model.build((None, 8, 8))
    model.compile(loss="bernoulli")
    path = tmp_path_factory.mktemp("plain") / "plain.keras"
    model.save(path)
    return path


def test_evaluates_the_samples_the_run_held_out_and_writes_json(digits_run, tmp_path):
    output = tmp_path / "results" / "metrics.json"
    result = tfae_command("evaluate", digits_run, "--samples", "20", "--output", output)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith(
        f"tfae evaluate: {digits_run / 'model.keras'} on the 180 samples of digits that training held out "
        "(validation_split 0.1, seed 0); 20 codes per sample, seed 0\n"
    )
    rows = table(result.stdout)
    assert {"negative_elbo", "log_likelihood", "reconstruction_loss", "reconstruction_error", "active_units"} <= set(
        rows
    )
    assert rows["importance_samples"] == [20]
    assert len(rows["kl_per_dimension"]) == 2  # the run's two latent dimensions, on one line
    assert "mig" not in rows  # the digits have labels, not ground-truth factors

    record = json.loads(output.read_text())
    assert {key: record[key] for key in ("model", "data", "data_samples", "held_out", "samples", "seed")} == {
        "model": str(digits_run / "model.keras"),
        "data": "digits",
        "data_samples": 180,
        "held_out": True,
        "samples": 20,
        "seed": 0,
    }
    assert record["tfae_version"] == tfae.__version__
    assert {"kl_per_dimension_0", "kl_per_dimension_1", "importance_samples"} <= set(record)
    assert record["negative_elbo"] == pytest.approx(rows["negative_elbo"][0], abs=1e-4)
    assert -record["log_likelihood"] <= record["negative_elbo"]

    # The held-out samples are those that `tfae train` held out: the last 10% of the digits shuffled with the
    # run's seed. Evaluated here in Python, they give the command's numbers.
    images, _ = load_digits()
    held_out = images[np.random.default_rng(0).permutation(len(images))[-180:]]
    model = tfae.load_model(digits_run / "model.keras", compile=False)
    expected = evaluate(model, held_out, metrics=["log_likelihood", "reconstruction_error"], samples=20, seed=0)
    assert record["log_likelihood"] == pytest.approx(expected["log_likelihood"], rel=1e-5)
    assert record["reconstruction_error"] == pytest.approx(expected["reconstruction_error"], rel=1e-5)


def test_given_data_and_chosen_metrics(digits_run, tmp_path, capsys):
    output = tmp_path / "chosen.json"
    arguments = ["evaluate", digits_run / "model.keras", "digits", "--metrics", "active_units, reconstruction_error"]
    assert main([*map(str, arguments), "--samples", "5", "-o", str(output)]) == 0
    out = capsys.readouterr().out
    assert "on the 1797 samples of digits; seed 0" in out
    assert "codes per sample" not in out  # neither metric draws codes
    assert set(table(out)) == {"active_units", "reconstruction_error"}
    record = json.loads(output.read_text())
    assert record["data"] == "digits" and record["data_samples"] == 1797 and record["held_out"] is False


def one_line_error(capsys, *argv):
    code = main(["evaluate", *map(str, argv)])
    _, err = capsys.readouterr()
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert line.startswith("tfae evaluate: error: ")
    return line[len("tfae evaluate: error: ") :]


def test_a_run_folder_without_a_model(capsys, tmp_path):
    assert one_line_error(capsys, tmp_path) == (
        f"no model at {tmp_path / 'model.keras'}: give a .keras file or a run folder that holds model.keras"
    )
    (tmp_path / "config.toml").write_text("[training]\nepochs = 3\n")
    assert one_line_error(capsys, tmp_path).endswith(
        f"(a run that has not finished: continue it with tfae train --resume {tmp_path})"
    )


def test_a_model_file_alone_needs_data(capsys, plain_model):
    message = one_line_error(capsys, plain_model)
    assert message.startswith(f"{plain_model} has no run's config.toml beside it, which says what data it was")
    assert message.endswith("give DATA (a dataset's name, a .npy/.npz file or a folder of images)")


def test_data_of_the_wrong_shape(capsys, tmp_path, plain_model):
    data = tmp_path / "wide.npy"
    np.save(data, np.zeros((5, 3), "float32"))
    assert one_line_error(capsys, plain_model, data) == (
        f"{data}: the samples have shape (3,) (3 values), but the model takes samples of shape (8, 8) (64 values); "
        "give data of that shape, or a model trained on data like these"
    )


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--samples", "0"], "--samples must be a positive number of codes drawn per sample; got 0"),
        (
            ["--importance-samples", "0"],
            "--importance-samples must be a positive number of codes drawn per sample; got 0",
        ),
        (
            ["--metrics", "mig,,sap"],
            "--metrics takes metric names separated by commas, such as mig,sap; got 'mig,,sap'",
        ),
        (["-o", "metrics.txt"], "--output must name a .json file; got metrics.txt"),
    ],
)
def test_bad_options(capsys, plain_model, arguments, message):
    assert one_line_error(capsys, plain_model, "digits", *arguments) == message


def test_an_unknown_metric_gets_the_registry_suggestions(capsys, plain_model):
    message = one_line_error(capsys, plain_model, "digits", "--metrics", "migg")
    assert message.startswith("Unknown metric 'migg'. Did you mean 'mig'? Available metrics: active_units, ")


def test_a_metric_the_model_or_data_cannot_give(capsys, plain_model):
    message = one_line_error(capsys, plain_model, "digits", "--metrics", "log_likelihood", "--samples", "2")
    assert message.startswith("The metric 'log_likelihood' needs a variational bottleneck (this model's is Vanilla")
    message = one_line_error(capsys, plain_model, "digits", "--metrics", "mig")
    assert message == (
        "the metric 'mig' needs data whose ground-truth factors are known, and the 1797 samples of digits have "
        f"none: evaluate on data with known factors, for example `tfae evaluate {plain_model} dsprites`"
    )


def test_the_data_is_checked_before_the_model_is_loaded(capsys, tmp_path, digits_run):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a model")
    message = one_line_error(capsys, broken, "digits", "--metrics", "factor_vae_score")
    assert message == (
        "the metric 'factor_vae_score' needs data that renders new samples of chosen factors, which the 1797 "
        f"samples of digits cannot: evaluate on such data, for example `tfae evaluate {broken} dsprites`"
    )
    # A run's held-out samples are what it was trained on: the digits, which have no factors.
    message = one_line_error(capsys, digits_run, "--metrics", "active_units,sap")
    assert message == (
        "the metric 'sap' needs data whose ground-truth factors are known, and the 180 samples of digits that "
        "training held out (validation_split 0.1, seed 0) have none: evaluate on data with known factors, for "
        f"example `tfae evaluate {digits_run} dsprites`"
    )


def test_help_imports_no_tensorflow():
    result = run_python(
        """
        import contextlib, io, json, sys

        from tfae.cli import main

        with contextlib.redirect_stdout(io.StringIO()) as help_text:
            try:
                main(["evaluate", "--help"])
            except SystemExit:
                pass
        print(json.dumps({
            "loaded": [name for name in ("keras", "tensorflow", "jax") if name in sys.modules],
            "help": help_text.getvalue(),
        }))
        """
    )
    assert result["loaded"] == []
    assert "--samples K" in result["help"] and "--metrics A,B" in result["help"]
