"""`tfae encode`, `generate`, `similar`, `schedule` and `examples` on a model trained by `tfae train`."""

import struct

import numpy as np

from tfae.cli import main
from tfae.training.config import example_configs, load_config


def png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", header[16:24])
    assert 300 <= width <= 2500 and 200 <= height <= 2500, (path.name, width, height)
    return width, height


def test_encode_writes_one_code_per_sample(digits_run, tmp_path, capsys):
    output = tmp_path / "codes.npy"
    assert main(["encode", str(digits_run / "model.keras"), "digits", "-o", str(output)]) == 0
    codes = np.load(output)
    assert codes.shape == (1797, 2)
    assert np.isfinite(codes).all()
    assert capsys.readouterr().out.strip() == f"tfae encode: wrote {output}: codes of shape (1797, 2) for digits"


def test_generate_draws_a_grid_or_writes_arrays(digits_run, tmp_path, capsys):
    picture = tmp_path / "samples.png"
    assert main(["generate", str(digits_run), "-n", "64", "-o", str(picture), "--seed", "1"]) == 0
    width, height = png_size(picture)
    assert width > 400 and height > 400
    arrays = tmp_path / "samples.npy"
    assert main(["generate", str(digits_run), "-n", "5", "-o", str(arrays), "--seed", "1"]) == 0
    samples = np.load(arrays)
    assert samples.shape == (5, 8, 8)
    assert ((samples >= 0) & (samples <= 1)).all()


def test_similar_lists_the_nearest_samples_in_latent_space(digits_run, tmp_path, capsys):
    picture = tmp_path / "similar.png"
    assert main(["similar", str(digits_run), "digits", "--index", "0", "-k", "10", "-o", str(picture)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("The 10 samples nearest to sample 0 (label 0) in latent space (2 dimensions")
    assert lines[1].split() == ["rank", "index", "distance", "label"]
    rows = [line.split() for line in lines[2:12]]
    assert [row[0] for row in rows] == [str(rank) for rank in range(1, 11)]
    assert "0" not in [row[1] for row in rows]
    distances = [float(row[2]) for row in rows]
    assert distances == sorted(distances)
    codes = np.load(_encode(digits_run, tmp_path))
    expected = np.argsort(np.linalg.norm(codes - codes[0], axis=1), kind="stable")[1:11]
    assert [int(row[1]) for row in rows] == expected.tolist()
    png_size(picture)


def _encode(digits_run, tmp_path):
    output = tmp_path / "all_codes.npy"
    assert main(["encode", str(digits_run), "digits", "-o", str(output)]) == 0
    return output


def test_schedule_plots_a_name_json_toml_or_a_config(tmp_path, capsys):
    for number, spec in enumerate(
        [
            "dasr",
            '{"name": "dasr", "attack": 10, "sustain": 10, "cycles": 4}',
            '{name = "dasr", attack = 5}',
            str(example_configs()["beta_vae_cyclical"]),
            "beta_vae_cyclical",
        ]
    ):
        output = tmp_path / f"schedule{number}.png"
        assert main(["schedule", spec, "-o", str(output)]) == 0, capsys.readouterr().err
        png_size(output)
    assert "end_value=2.0, delay=3, attack=4" in capsys.readouterr().out.splitlines()[-1]


def test_examples_lists_and_prints_the_shipped_configs(capsys, tmp_path):
    assert main(["examples"]) == 0
    listed = capsys.readouterr().out
    for name in example_configs():
        assert name in listed
    assert main(["examples", "conv_vae"]) == 0
    copy = tmp_path / "copy.toml"
    copy.write_text(capsys.readouterr().out)
    assert load_config(copy).values["model"]["layout"] == "conv"
