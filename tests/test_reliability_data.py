"""Data that ``tfae train`` cannot use, and models too large for the memory (issue 18, part 5): one line on
stderr, exit status 2, no traceback, and no run folder left behind.

Each case is a real file given to the real command: its entry point ``tfae.cli.main`` in the test's process for
unusable data, and ``python -m tfae train`` in a fresh process for the models too large for the machine,
which run under an address-space limit (``RLIMIT_AS``), so that a regression fails the test instead of
exhausting the machine's memory. The weight counts that the size
check relies on are checked against the models Keras builds.
"""

import io
import math
import os
import resource
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tfae.cli import main
from tfae.errors import ConfigError, DataError
from tfae.training.data import MAX_SAMPLE_DIMENSIONS, load_data
from tfae.training.sizes import available_memory, check_model_size, layout_weight_count
from timeouts import HANG_TIMEOUT_S

# Enough for TensorFlow to start and load the data (about 2 GiB of address space), far too little for the
# models the size check refuses.
ADDRESS_SPACE_LIMIT = 6 * 2**30


def write_config(folder, source, model="", training=""):
    config = folder / "config.toml"
    config.write_text(
        f'[data]\nsource = "{source}"\n\n{model}\n[training]\nepochs = 1\n{training}\n[output]\ndir = "runs"\n'
    )
    return config


def train(config, limit=None):
    """Runs the real ``python -m tfae train config``, under an address-space limit if given."""

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "tfae", "train", str(config)],
        cwd=config.parent,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
        preexec_fn=limit_memory if limit else None,
    )


def one_line_error(result, folder):
    """The error line of a run refused as bad input; checks that nothing else was printed or left behind."""
    assert result.returncode == 2, result.stderr[-4000:]
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfae train: error: "), result.stderr[-4000:]
    assert not (folder / "runs").exists()
    return lines[0]


def crafted_npy(shape):
    """A .npy header declaring an array of ``shape`` float32, followed by only 64 bytes of data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + bytes(64)


def write_empty(path):
    path.write_bytes(b"")


def write_text(path):
    path.write_text("0.1,0.2,0.3\n0.4,0.5,0.6\n")


def write_complex(path):
    np.save(path, np.full((8, 4), 0.5 + 0.25j))


def write_eight_dimensions(path):
    np.save(path, np.zeros((8, 1, 1, 1, 1, 1, 1, 2, 2), "float32"))


def write_huge_header(path):
    path.write_bytes(crafted_npy((10**11, 10)))


DATA_CASES = {
    "empty": (write_empty, ["data.npy is empty (0 bytes), so it holds no array; save the data with numpy.save"]),
    "text": (write_text, ["data.npy is not a NumPy file", "(a text or CSV file, say, named .npy)"]),
    "complex": (write_complex, ["the data are complex numbers (complex128), and tfae trains on real numbers"]),
    "eight_dimensions": (
        write_eight_dimensions,
        ["the samples have 8 dimensions (data of shape (8, 1, 1, 1, 1, 1, 1, 2, 2)), but TensorFlow takes at most"],
    ),
    "huge_header": (
        write_huge_header,
        ["data.npy is truncated or damaged: its header declares an array of shape (100000000000, 10) (float32)"],
    ),
}


@pytest.mark.parametrize("case", DATA_CASES)
def test_unusable_data_gives_one_line_and_no_run_folder(tmp_path, monkeypatch, capsys, case):
    write, parts = DATA_CASES[case]
    data = tmp_path / "data.npy"
    write(data)
    config = write_config(tmp_path, data)
    # The command's own entry point, in this process (the real ``python -m tfae train`` process is what the
    # memory-limit tests below run): a TensorFlow start-up per case bought nothing more.
    monkeypatch.chdir(tmp_path)
    returncode = main(["train", str(config)])
    line = one_line_error(subprocess.CompletedProcess([], returncode, "", capsys.readouterr().err), tmp_path)
    assert line.startswith(f"tfae train: error: {config} line 2: "), line
    for part in parts:
        assert part in line, line
    # NumPy's advice for a file it takes for a pickle is to load it unsafely; tfae never gives it.
    assert "allow_pickle" not in line


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x80\x04K\x01.", "data.npy is a Python pickle, not a NumPy file; tfae does not unpickle data"),
        (b"\x93NUMPY", "cannot read {path} as a NumPy file (EOF: reading magic string, expected 8 bytes got 6)"),
        (crafted_npy((3, 4))[:-50], "data.npy is truncated or damaged: its header declares an array of shape (3, 4)"),
    ],
)
def test_damaged_numpy_files_name_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "data.npy"
    path.write_bytes(content)
    with pytest.raises(DataError) as raised:
        load_data(path)
    assert message.format(path=path) in str(raised.value) and "allow_pickle" not in str(raised.value)


def test_a_damaged_array_in_a_npz_file_is_named(tmp_path):
    path = tmp_path / "data.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", crafted_npy((10**11, 10)))
    with pytest.raises(DataError, match=r"the array 'x' in .*data.npz is truncated or damaged: its header declares"):
        load_data(path)
    truncated = tmp_path / "truncated.npz"
    np.savez(truncated, x=np.ones((50, 4)))
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(DataError, match=r"cannot read .*truncated.npz as a NumPy file \(File is not a zip file\)"):
        load_data(truncated)


def test_real_and_integer_data_of_up_to_seven_dimensions_per_sample_still_load(tmp_path):
    shape = (4, 1, 1, 1, 1, 1, 1, 3)
    assert len(shape) - 1 == MAX_SAMPLE_DIMENSIONS
    for dtype in ("bool", "uint8", "int64", "float16", "float64"):
        path = tmp_path / f"{dtype}.npy"
        np.save(path, np.ones(shape, dtype))
        dataset = load_data(path)
        assert dataset.x.dtype == np.float32 and dataset.x.shape == shape


# Model sizes


@pytest.mark.parametrize(
    "layout, hidden, sample_shape, bottleneck",
    [
        ("dense", [64, 32], (8, 8), {"name": "gaussian", "latent_dim": 2}),
        ("dense", [], (5,), {"name": "vanilla", "latent_dim": 3}),
        ("dense", [7], (3, 4, 2), {"name": "bernoulli", "latent_dim": 6}),
        ("conv", [4, 6], (7, 5), {"name": "gaussian", "latent_dim": 2}),
        ("conv", [3, 5, 2], (9, 6, 3), {"name": "vanilla", "latent_dim": 4}),
    ],
)
def test_weight_counts_are_those_of_the_model_keras_builds(layout, hidden, sample_shape, bottleneck):
    from tfae.models.layouts import LayoutAutoencoder
    from tfae.plugins import resolve

    built = resolve("bottleneck", bottleneck)
    model = LayoutAutoencoder(built, layout=layout, hidden=hidden, kernel_size=3)
    model.build((None, *sample_shape))
    assert check_model_size(sample_shape, layout, hidden, 3, built, available=2**40) == model.count_params()


def test_weight_count_of_a_dense_layout_in_closed_form():
    # 1e6 features, hidden [64, 32], a Gaussian code of 2: encoder 1e6*64+64 + 64*32+32 + 32*4+4, decoder
    # 2*32+32 + 32*64+64 + 64*1e6+1e6.
    count = layout_weight_count((1_000_000,), "dense", [64, 32], 3, latent_dim=2, code_width=4)
    encoder = 1_000_000 * 64 + 64 + 64 * 32 + 32 + 32 * 4 + 4
    assert count == encoder + 2 * 32 + 32 + 32 * 64 + 64 + 64 * 1_000_000 + 1_000_000
    assert layout_weight_count((5,), "conv", [4], 3, 2, 2) is None


def test_a_model_larger_than_the_memory_is_refused_naming_both_sizes():
    from tfae.bottlenecks import GaussianBottleneck

    bottleneck = GaussianBottleneck(latent_dim=10**9)
    weights = layout_weight_count((64,), "dense", [64, 32], 3, 10**9, 2 * 10**9)
    encoder = 64 * 64 + 64 + 64 * 32 + 32 + 32 * 2 * 10**9 + 2 * 10**9
    assert weights == encoder + 10**9 * 32 + 32 + 32 * 64 + 64 + 64 * 64 + 64
    with pytest.raises(ConfigError) as raised:
        check_model_size((64,), "dense", [64, 32], 3, bottleneck, "adam", available=8 * 10**9)
    assert str(raised.value) == (
        "the model is too large for this machine's memory: a dense layout for samples of shape 64 (64 values) with "
        f"hidden = [64, 32] and latent_dim = 1,000,000,000 has {weights:,} weights, and training them with adam "
        f"needs about {weights * 68 / 1e12:.1f} TB (17 float32 numbers per weight, tfae.training.sizes."
        "NUMBERS_PER_WEIGHT plus two per optimizer slot: the weights, their gradients, 2 optimizer slot(s) and what "
        "training keeps besides), but only 8.0 GB is available; use a smaller latent_dim or smaller hidden sizes, or "
        "fewer features per sample"
    )
    # Plain SGD keeps no slots: the same weights need 13 numbers each, not 17.
    assert check_model_size((64,), "dense", [64, 32], 3, bottleneck, "sgd", available=weights * 52) == weights


def test_available_memory_is_what_the_address_space_limit_leaves():
    code = (
        "import resource\n"
        "from tfae.training.sizes import available_memory\n"
        "with open('/proc/self/status') as status:\n"
        "    used = next(int(line.split()[1]) * 1024 for line in status if line.startswith('VmSize:'))\n"
        "resource.setrlimit(resource.RLIMIT_AS, (used + 2**30, used + 2**30))\n"
        "print(available_memory())\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_TIMEOUT_S, check=False
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    available = int(completed.stdout.split()[-1])
    assert 2**30 - 2**26 < available <= 2**30
    assert available_memory() > 0


# Slow: the real command under a memory limit (~12 CPU-s each); tests/test_reliability_memory_bounds.py checks the
# same refusals in this process. .ci/run runs these.
@pytest.mark.slow
def test_a_latent_dim_of_a_billion_gives_one_line_and_no_run_folder(tmp_path):
    model = '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 1000000000\n'
    config = write_config(tmp_path, "digits", model)
    line = one_line_error(train(config, limit=ADDRESS_SPACE_LIMIT), tmp_path)
    assert line.startswith(f"tfae train: error: {config}")
    weights = layout_weight_count((64,), "dense", [64, 32], 3, 10**9, 2 * 10**9)
    assert "the model is too large for this machine's memory: a dense layout for samples of shape" in line
    assert f"latent_dim = 1,000,000,000 has {weights:,} weights" in line


@pytest.mark.slow
def test_a_million_features_under_a_memory_limit_give_one_line_and_no_run_folder(tmp_path):
    data = tmp_path / "wide.npy"
    np.save(data, np.zeros((4, 1_000_000), "float32"))
    # The default hidden sizes: 129 million weights, which the size check once counted at 2 GB and let
    # through, and training then died with std::bad_alloc (SIGABRT), leaving a run folder.
    config = write_config(tmp_path, data, "", "validation_split = 0\n")
    line = one_line_error(train(config, limit=ADDRESS_SPACE_LIMIT), tmp_path)
    weights = layout_weight_count((1_000_000,), "dense", [64, 32], 3, 2, 4)
    assert f"shape 1000000 (1,000,000 values) with hidden = [64, 32] and latent_dim = 2 has {weights:,}" in line
    assert math.isclose(weights, 1.29e8, rel_tol=0.01)
