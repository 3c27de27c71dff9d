"""Hostile and malformed input to the commands (issue 27, item 2): a PNG decompression bomb as data, configs
nested 2000 deep, a discriminator of 3000 layers, seeds Keras cannot take, and an inline data table longer
than a file name may be. Each gets one line and exit status 2 from the command, in-process
(``tfae.cli.main``), and nothing is left behind; each limit is checked against the failure it prevents.
"""

import errno
import json
import re
import shutil
import struct
import zlib
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import tfae.evaluation
from tfae.cli import main
from tfae.errors import ConfigError, DataError
from tfae.models import Autoencoder
from tfae.random import MAX_SEED, check_seed
from tfae.training.config import MAX_CONFIG_DEPTH, MAX_CONFIG_LIST_LENGTH, read_config
from tfae.training.data import MAX_IMAGE_PIXELS, load_data, path_exists

DEPTH = 2000
HUGE_SEED = "99999999999999999999"
SEED_ERROR = f"must be a whole number from 0 to 2**32 - 1 ({MAX_SEED}), the seeds Keras takes"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A small Gaussian VAE for 8x8 digits, saved as a run folder would hold it."""
    folder = tmp_path_factory.mktemp("model")
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2})
    model.build((None, 64))
    model.save(folder / "model.keras")
    return folder / "model.keras"


def one_line(capsys, command):
    """The error line of a command refused as bad input: exit status 2, one line on stderr, no traceback."""
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tfae {command}: error: "), captured.err[-3000:]
    return lines[0]


# A decompression bomb: a real PNG whose header declares millions of pixels, and whose pixels (all black,
# one bit each) deflate to a few kilobytes. Decoding one allocates a byte per pixel, then more to convert it.


def write_png(path, width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)  # the filter byte, then the row's bits
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit per pixel, grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def image_folder(folder, width, height):
    """A folder of two 8x8 images and one of ``width`` x ``height``."""
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((8, 8), 200, dtype="uint8")).save(folder / name)
    write_png(folder / "c.png", width, height)
    return folder


BOMBS = {
    "refused by Pillow too": (20000, 20000),  # 400 million pixels: Pillow raises DecompressionBombError
    "Pillow only warns": (10000, 10000),  # 100 million: Pillow warns, and would decode it
    "just over tfae's limit": (8193, 8192),  # 67 million: Pillow says nothing
}


def test_the_bombs_are_real_pngs_that_inflate_to_what_they_declare(tmp_path):
    path = write_png(tmp_path / "bomb.png", *BOMBS["Pillow only warns"])
    assert path.stat().st_size < 200_000
    with pytest.warns(Image.DecompressionBombWarning), Image.open(path) as image:
        assert image.size == (10000, 10000) and image.mode == "1"
        image.verify()  # the chunks' checksums
    with open(path, "rb") as file:
        data = file.read()
    start = data.index(b"IDAT") + 4
    stream = data[start : start + struct.unpack(">I", data[start - 8 : start - 4])[0]]
    assert len(zlib.decompress(stream)) == 10000 * (1 + 10000 // 8)
    assert 8193 * 8192 > MAX_IMAGE_PIXELS == 8192 * 8192


@pytest.mark.parametrize("case", sorted(BOMBS))
def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path, case):
    width, height = BOMBS[case]
    folder = image_folder(tmp_path / "images", width, height)
    with pytest.raises(DataError) as caught:
        load_data(folder)
    declared = (
        f"{width}x{height} pixels ({width * height:,})" if case != "refused by Pillow too" else "400,000,000 pixels"
    )
    assert str(caught.value) == (
        f"cannot read the image {folder / 'c.png'}: it declares {declared}, more than the 67,108,864 (8192 x 8192) "
        "that tfae decodes (tfae.training.data.MAX_IMAGE_PIXELS), so it is damaged or a decompression bomb, made "
        "to exhaust memory; it was not decoded. Scale it down, or remove it from the folder"
    )


def test_a_folder_of_ordinary_images_still_loads(tmp_path):
    folder = image_folder(tmp_path / "images", 8, 8)
    dataset = load_data(folder)
    assert dataset.x.shape == (3, 8, 8)


def test_train_and_encode_refuse_a_bomb_in_one_line(tmp_path, monkeypatch, capsys, model_file):
    monkeypatch.chdir(tmp_path)
    folder = image_folder(tmp_path / "images", *BOMBS["refused by Pillow too"])
    config = tmp_path / "bomb.toml"
    config.write_text(f'[data]\nsource = "{folder}"\n\n[training]\nepochs = 1\n')
    assert main(["train", str(config), "-q"]) == 2
    assert "it declares 400,000,000 pixels, more than the 67,108,864" in one_line(capsys, "train")
    assert not (tmp_path / "runs").exists()
    assert main(["encode", str(model_file), str(folder), "-o", str(tmp_path / "codes.npy")]) == 2
    assert "decompression bomb" in one_line(capsys, "encode")
    assert not (tmp_path / "codes.npy").exists()


# Configs nested 2000 deep, three ways: inline tables and arrays (which Python's TOML reader follows by
# recursion) and dotted table headers (which it reads without).


def nested(kind):
    if kind == "inline tables":
        return "[model]\nbottleneck = " + "{a = " * DEPTH + "1" + "}" * DEPTH + "\n"
    if kind == "arrays":
        return "[model]\nhidden = " + "[" * DEPTH + "]" * DEPTH + "\n"
    return "[model.bottleneck" + ".a" * DEPTH + "]\nb = 1\n"


NESTINGS = ["inline tables", "arrays", "dotted headers"]
TOO_DEEP = f"tables and lists nested more than {MAX_CONFIG_DEPTH} deep, the most tfae reads"


@pytest.mark.parametrize("kind", NESTINGS)
def test_a_config_nested_2000_deep_is_one_line(tmp_path, monkeypatch, capsys, kind):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "deep.toml"
    config.write_text(nested(kind))
    with pytest.raises(ConfigError, match=re.escape(TOO_DEEP)):
        read_config(config)
    assert main(["train", str(config), "-q"]) == 2
    line = one_line(capsys, "train")
    assert line.startswith(f"tfae train: error: {config}") and TOO_DEEP in line and len(line) < 400
    assert not (tmp_path / "runs").exists()


def test_the_control_python_cannot_read_the_inline_nesting():
    from tfae.training.config import tomllib

    with pytest.raises(RecursionError):
        tomllib.loads(nested("inline tables"))


@pytest.mark.parametrize("kind", NESTINGS)
def test_resume_and_evaluate_of_a_run_with_a_config_nested_2000_deep(tmp_path, capsys, model_file, kind):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model_file, run / "model.keras")
    (run / "config.toml").write_text(nested(kind))
    assert main(["train", "--resume", str(run), "-q"]) == 2
    assert TOO_DEEP in one_line(capsys, "train")
    assert main(["evaluate", str(run)]) == 2
    assert TOO_DEEP in one_line(capsys, "evaluate")
    assert sorted(path.name for path in run.iterdir()) == ["config.toml", "model.keras"]


def test_schedule_refuses_a_spec_nested_2000_deep(tmp_path, capsys):
    inline = "{name = 'dasr', a = " + "{a = " * DEPTH + "1" + "}" * DEPTH + "}"
    deep_file = tmp_path / "deep.toml"
    deep_file.write_text(nested("inline tables"))
    deep_json = tmp_path / "deep.json"
    deep_json.write_text('{"name": "dasr", "a": ' + "[" * DEPTH + "]" * DEPTH + "}")
    dotted = tmp_path / "dotted.toml"
    dotted.write_text(nested("dotted headers"))
    for spec in (inline, "name = 'dasr'\na = " + "[" * DEPTH + "]" * DEPTH, deep_file, deep_json, dotted):
        assert main(["schedule", str(spec), "-o", str(tmp_path / "schedule.png")]) == 2
        line = one_line(capsys, "schedule")
        assert TOO_DEEP in line and len(line) < 800, line
    assert not (tmp_path / "schedule.png").exists()


def test_a_config_at_the_depth_limit_reads(tmp_path):
    """The deepest a config may nest: the document, then 31 tables."""
    config = tmp_path / "deepest.toml"
    config.write_text("[model.bottleneck" + ".a" * (MAX_CONFIG_DEPTH - 3) + "]\nb = 1\n")
    read_config(config)  # the shape passes; the unknown parameter 'a' is found when the components are checked
    config.write_text("[model.bottleneck" + ".a" * (MAX_CONFIG_DEPTH - 2) + "]\nb = 1\n")
    with pytest.raises(ConfigError, match="nested more than 32 deep"):
        read_config(config)


# A FactorVAE discriminator of 3000 layers (tfae-disentangle's regularizer builds a keras.Sequential of
# `hidden` Dense layers): refused by the length of the list, before any plugin is asked to build it.


def test_a_discriminator_of_3000_layers_is_refused_by_its_list(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "factor.toml"
    hidden = ", ".join(["1"] * 3000)
    config.write_text(
        '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 2\n'
        f'regularizer = ["kld", {{name = "factor_vae", beta = 6, hidden = [{hidden}]}}]\n'
    )
    assert main(["train", str(config), "-q"]) == 2
    assert one_line(capsys, "train") == (
        f"tfae train: error: {config} line 4: [model.bottleneck.regularizer[1].hidden] is a list of 3,000 items, "
        f"more than the {MAX_CONFIG_LIST_LENGTH} a list in a config may hold "
        "(tfae.training.config.MAX_CONFIG_LIST_LENGTH); a network of thousands of layers exhausts Python's stack "
        "when Keras builds it: give fewer, wider layers"
    )
    assert not (tmp_path / "runs").exists()


def _sequential_output(layers):
    network = keras.Sequential([keras.layers.Dense(1) for _ in range(layers)])
    return network(np.zeros((1, 2), dtype="float32"))


@pytest.mark.slow
def test_the_control_keras_cannot_build_1200_layers_but_builds_the_limit():
    """Keras builds a Sequential by recursion: 800 layers build, 1200 exhaust the stack (12 s in all)."""
    assert _sequential_output(MAX_CONFIG_LIST_LENGTH).shape == (1, 1)
    with pytest.raises(RecursionError):
        _sequential_output(1200)


# Seeds: Keras' take 0 to 2**32 - 1 (NumPy's global seed, which keras.utils.set_random_seed sets, and JAX's
# uint32 seeds); a larger one was an OverflowError from deep inside Keras.


def test_the_control_keras_refuses_seeds_outside_the_range():
    np.random.RandomState(MAX_SEED)  # what keras.utils.set_random_seed calls
    with pytest.raises(ValueError):
        np.random.RandomState(MAX_SEED + 1)
    with pytest.raises((OverflowError, ValueError)):  # ValueError on TensorFlow, OverflowError on JAX
        keras.random.SeedGenerator(int(HUGE_SEED))
    with pytest.raises(OverflowError):  # how tfae.evaluation set a bottleneck's seed generator for its draws
        np.asarray([2**64, 0], dtype="int64")
    assert check_seed(MAX_SEED) == MAX_SEED and check_seed(np.int64(0)) == 0


@pytest.mark.parametrize("seed", [HUGE_SEED, "-1", str(MAX_SEED + 1)])
@pytest.mark.parametrize("command", ["generate", "evaluate"])
def test_a_seed_outside_the_range_is_one_line(tmp_path, capsys, model_file, command, seed):
    output = tmp_path / ("samples.png" if command == "generate" else "results.json")
    arguments = [command, str(model_file)] + (["digits"] if command == "evaluate" else [])
    assert main([*arguments, "--seed", seed, "-o", str(output)]) == 2
    assert one_line(capsys, command) == f"tfae {command}: error: --seed {SEED_ERROR}; got {seed}"
    assert not output.exists()


@pytest.mark.parametrize(
    "table, where",
    [
        ("[training]\nseed = 99999999999999999999\n", "line 2: [training] seed"),
        ("[training]\nseed = -1\n", "line 2: [training] seed"),
        (
            '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 2\nseed = 18446744073709551616\n',
            "line 4: [model.bottleneck] seed",
        ),
        (
            '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 2\n'
            'regularizer = ["kld", {name = "factor_vae", seed = 99999999999999999999}]\n',
            "line 4: [model.bottleneck.regularizer[1]] seed",
        ),
    ],
)
def test_a_seed_in_a_config_outside_the_range_is_one_line(tmp_path, monkeypatch, capsys, table, where):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "seed.toml"
    config.write_text(table)
    assert main(["train", str(config), "-q"]) == 2
    line = one_line(capsys, "train")
    assert line.startswith(f"tfae train: error: {config} {where} {SEED_ERROR}; got "), line
    assert not (tmp_path / "runs").exists()


def test_a_seed_outside_the_range_in_a_table_on_the_command_line_is_one_line(tmp_path, capsys, model_file):
    sampler = '{name = "gmm", seed = 99999999999999999999}'
    assert main(["generate", str(model_file), "--sampler", sampler, "-o", str(tmp_path / "samples.png")]) == 2
    assert one_line(capsys, "generate") == (
        f"tfae generate: error: the sampler {sampler!r}: seed {SEED_ERROR}; got 99999999999999999999"
    )
    schedule = "{name = 'dasr', attack = 3, seed = -1}"
    assert main(["schedule", schedule, "-o", str(tmp_path / "schedule.png")]) == 2
    assert one_line(capsys, "schedule") == f"tfae schedule: error: the schedule {schedule!r}: seed {SEED_ERROR}; got -1"
    assert not any(tmp_path.iterdir())


def test_evaluation_refuses_a_seed_outside_the_range(model_file):
    model = tfae.load_model(model_file)
    model.compile(loss="bernoulli")
    x = np.random.default_rng(0).random((8, 64)).astype("float32")
    with pytest.raises(ValueError) as caught:
        tfae.evaluation.evaluate(model, x, metrics=["negative_elbo"], samples=2, seed=2**64)
    assert str(caught.value) == f"`seed` {SEED_ERROR}. Received: seed={2**64}"
    with pytest.raises(ValueError, match=r"Received: seed=an integer of about 5001 digits$"):
        tfae.evaluation.evaluate(model, x, metrics=["negative_elbo"], samples=2, seed=10**5000)
    # The largest seed works.
    results = tfae.evaluation.evaluate(model, x, metrics=["negative_elbo"], samples=2, seed=MAX_SEED)
    assert np.isfinite(results["negative_elbo"])


# An inline data table longer than a file name may be (255 bytes on most file systems): DATA is tried as a
# path first, which the operating system refuses with ENAMETOOLONG.

LONG_TABLE = '{"name": "digits"' + " " * 300 + "}"


def test_the_control_a_long_table_is_no_file_name():
    with pytest.raises(OSError) as caught:
        Path(LONG_TABLE).exists()
    assert caught.value.errno == errno.ENAMETOOLONG
    assert not path_exists(LONG_TABLE) and not path_exists("a\0b") and not path_exists("~no-such-user-tfae/x")


def test_encode_takes_an_inline_table_longer_than_a_file_name(tmp_path, capsys, model_file):
    output = tmp_path / "codes.npy"
    assert json.loads(LONG_TABLE) == {"name": "digits"}
    assert main(["encode", str(model_file), LONG_TABLE, "-o", str(output)]) == 0
    assert np.load(output).shape == (1797, 2)
    assert capsys.readouterr().err == ""


def test_schedule_takes_an_inline_table_longer_than_a_file_name(tmp_path, capsys):
    output = tmp_path / "schedule.png"
    assert main(["schedule", '{name = "dasr", attack = 3' + " " * 300 + "}", "-o", str(output)]) == 0
    assert output.stat().st_size > 0


def test_a_long_name_that_is_no_table_is_a_missing_source(tmp_path, capsys, model_file):
    name = "d" * 300
    assert main(["encode", str(model_file), name, "-o", str(tmp_path / "codes.npy")]) == 2
    assert "Unknown dataset 'ddd" in one_line(capsys, "encode")
