"""Memory is checked before it is spent (issue 27, item 1): where a user's number sets how much memory a
command takes, the work is done in chunks when it is legitimately large (IWAE samples, generation, rendering,
drawing), and refused with one line naming the number and the limit when it cannot fit.

Each refusal is checked before anything large is allocated, so no case here needs more than a few megabytes;
the commands run in-process (``tfae.cli.main``), and nothing is left behind.
"""

import resource
import tracemalloc

import keras
import numpy as np
import pytest
from PIL import Image

from tfae.bottlenecks import GaussianBottleneck
from tfae.bottlenecks.base import MAX_REGULARIZERS
from tfae.cli import main
from tfae.datasets import dsprites
from tfae.metrics import importance
from tfae.metrics.discretize import MAX_BINS
from tfae.metrics.mig import mig
from tfae.models import Autoencoder
from tfae.regularizers import BaseRegularizer
from tfae.training.data import MAX_IMAGE_PIXELS
from tfae.training.pictures import MAX_GRID_IMAGES, image_grid
from tfae.training.run import _rows
from tfae.training.sizes import NUMBERS_PER_WEIGHT, check_model_size, layout_weight_count, training_bytes


def one_line(capsys, command):
    """The error line of a command refused as bad input: one line on stderr, no traceback."""
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tfae {command}: error: "), captured.err[-3000:]
    return lines[0]


def write_config(folder, source, model="", training=""):
    config = folder / "config.toml"
    config.write_text(
        f'[data]\nsource = "{source}"\n\n{model}\n[training]\nepochs = 1\n{training}\n[output]\ndir = "runs"\n'
    )
    return config


# The model's size: every component's weights, and what training holds besides ------------------------------


def test_a_million_features_are_counted_at_what_training_really_holds():
    # 128 million weights passed the old count (16 bytes each, 2 GB) on a machine of 6 GB, and training
    # died with std::bad_alloc: it holds about 16 float32 numbers per weight with Adam, measured.
    bottleneck = GaussianBottleneck(latent_dim=2)
    weights = layout_weight_count((1_000_000,), "dense", [64, 32], 3, 2, 4)
    assert training_bytes(weights, "adam") == weights * 4 * (NUMBERS_PER_WEIGHT + 4)
    assert training_bytes(weights, "sgd") == weights * 4 * NUMBERS_PER_WEIGHT
    with pytest.raises(Exception) as raised:
        check_model_size((1_000_000,), "dense", [64, 32], 3, bottleneck, "adam", available=6 * 2**30)
    message = str(raised.value)
    assert f"has {weights:,} weights, and training them with adam needs about 8.8 GB (17 float32 numbers" in message
    assert "but only 6.4 GB is available; use a smaller latent_dim or smaller hidden sizes" in message


def test_a_prior_s_own_weights_are_counted_before_any_is_allocated(tmp_path, capsys, monkeypatch):
    # 20 million pseudo-inputs of 64 values: 1.3 billion weights of the prior's own, which the layout's
    # count left out. The model is built abstractly, so the refusal allocates none of them.
    monkeypatch.chdir(tmp_path)
    model = '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 2\nprior = {name = "vamp", components = 20000000}\n'
    config = write_config(tmp_path, "digits", model)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert main(["train", str(config), "-q"]) == 2
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    line = one_line(capsys, "train")
    assert line.startswith(f"tfae train: error: {config}")
    own = 20_000_000 * 64  # the pseudo-inputs
    weights = layout_weight_count((64,), "dense", [64, 32], 3, 2, 4) + own
    assert f"has {weights:,} weights ({own:,} of them the bottleneck's regularizers' and prior's own)" in line
    remedy = "or fewer weights in the regularizers and the prior (a discriminator's hidden sizes, a prior's components)"
    assert remedy in line
    assert grown < 2**29  # the pseudo-inputs alone would take 5.1 GB
    assert not (tmp_path / "runs").exists()


def test_a_batch_of_large_outputs_is_counted_and_a_smaller_batch_suggested(tmp_path):
    from tfae.training.config import load_config
    from tfae.training.run import Run
    from tfae.training.sizes import ACTIVATION_COPIES, abstract_model, activation_count

    config = load_config(write_config(tmp_path, "digits", "[model]\nhidden = [8192]\n", "batch_size = 16384\n"))
    config.check_components()
    model = abstract_model(lambda: Run(tmp_path / "run", config)._assemble((64,)))
    # The input, the hidden layer, the code, and the decoder's mirror of them.
    assert activation_count(model) == 64 + 8192 + 2 + 2 + 8192 + 64
    outputs = 16384 * activation_count(model) * 4 * ACTIVATION_COPIES
    weights = model.count_params()
    needed = training_bytes(weights) + outputs
    shape = ((64,), "dense", [8192], 3, model.bottleneck)
    with pytest.raises(Exception) as raised:
        check_model_size(*shape, model=model, batch_size=16384, available=needed - 1)
    message = str(raised.value)
    assert "; 3.2 GB for the layers' outputs for a batch of 16384), but only 3.3 GB is available" in message
    assert message.endswith(
        "use a smaller batch_size, or a smaller latent_dim or smaller hidden sizes, or fewer features per sample"
    )
    assert check_model_size(*shape, model=model, batch_size=16384, available=needed) == weights


class Critic(BaseRegularizer):
    """A regularizer with a network of its own, built as the bottleneck is made, as a discriminator is."""

    def __init__(self, units=1000, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.network = keras.layers.Dense(units)

    def build(self, latent_dim):
        self.network.build((None, latent_dim))

    def calc(self, *parameters):
        return keras.ops.zeros(keras.ops.shape(parameters[0])[:1])


def test_every_built_in_component_builds_abstractly_and_a_component_that_cannot_is_still_counted(tmp_path):
    from tfae.training.config import load_config
    from tfae.training.run import Run
    from tfae.training.sizes import abstract_model

    # A beta schedule's variables come from initializers, so that a config with one is counted whole.
    model = '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 2\nregularizer = {name = "kld", beta = "dasr"}\n'
    config = load_config(write_config(tmp_path, "digits", model))
    config.check_components()
    assert abstract_model(lambda: Run(tmp_path / "run", config)._assemble((64,))) is not None
    # A variable made from a value cannot be made without memory: the count falls back to the layout and
    # the regularizers' own layers, which the real bottleneck has built by then.
    assert abstract_model(lambda: keras.Variable(1.0)) is None
    bottleneck = GaussianBottleneck(latent_dim=2, regularizer=Critic(units=1000))
    layout = layout_weight_count((64,), "dense", [64, 32], 3, 2, 4)
    assert check_model_size((64,), "dense", [64, 32], 3, bottleneck, available=2**40) == layout + 2 * 1000 + 1000


# Work in chunks: IWAE samples, generation, rendering, drawing ----------------------------------------------


@pytest.fixture(scope="module")
def vae():
    keras.utils.set_random_seed(0)
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2}, likelihood="bernoulli")
    model.build((None, 16))
    return model


def test_the_importance_pass_sums_its_chunks_right_and_its_memory_does_not_grow_with_k(monkeypatch):
    # With every weight 0 the posterior is the prior, N(0, 1), whatever the sample, and the decoder gives
    # 0.5 for every pixel: each log-weight is log p(x|z) = 16 log(1/2) exactly, so the IWAE-k estimate and
    # the ELBO are that, and each KL 0, however the draws fall into chunks.
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2}, likelihood="bernoulli")
    model.build((None, 16))
    model.set_weights([np.zeros(weight.shape, weight.dtype) for weight in model.get_weights()])
    x = np.random.default_rng(0).uniform(size=(3, 16)).astype("float32")
    monkeypatch.setattr(importance, "CODES_PER_CALL", 64)  # chunks of 64 codes: ten of them per sample
    found = importance.importance_weighted_pass(model, x, samples=640, seed=1)
    for name in ("log_likelihood", "elbo"):
        np.testing.assert_allclose(found[name], -16 * np.log(2), rtol=1e-6)
    np.testing.assert_allclose(found["reconstruction"], 16 * np.log(2), rtol=1e-6)
    np.testing.assert_allclose(found["kl_per_dimension"], 0, atol=1e-6)
    monkeypatch.undo()

    def peak(samples):
        tracemalloc.start()
        try:
            importance.importance_weighted_pass(model, x[:1], samples=samples, seed=1)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # The log-weights of all k codes of a sample were kept to the end (8 TB for k = 10**12); now a chunk's.
    chunk = importance.CODES_PER_CALL
    assert peak(4 * chunk) < 1.5 * peak(chunk)


def test_generate_writes_any_number_of_samples_a_chunk_at_a_time(vae, tmp_path, capsys, monkeypatch):
    import tfae.cli

    path = tmp_path / "vae.keras"
    vae.save(path)
    # Chunks of 10 samples of 16 values, where the default is 16 MiB.
    monkeypatch.setattr(tfae.cli, "GENERATED_BYTES_PER_CHUNK", 10 * 16 * 4)
    assert main(["generate", str(path), "-n", "25", "--seed", "3", "-o", str(tmp_path / "s.npy")]) == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (25, 16) and samples.dtype == np.float32
    np.testing.assert_allclose(samples[:10], vae.sample(10, seed=3), rtol=1e-6)
    assert not np.allclose(samples[10:20], samples[:10])
    assert "wrote" in capsys.readouterr().out


def test_a_picture_of_more_samples_than_a_grid_draws_is_refused_before_the_model_loads(tmp_path, capsys):
    number = str(10**8)
    assert main(["generate", str(tmp_path / "missing.keras"), "-n", number, "-o", str(tmp_path / "s.png")]) == 2
    line = one_line(capsys, "generate")
    assert f"-n {number} is more samples than a picture shows: a .png grid draws at most {MAX_GRID_IMAGES:,}" in line
    assert "(tfae.training.pictures.MAX_GRID_IMAGES); write the arrays to a .npy file instead" in line
    with pytest.raises(ValueError, match=f"A grid draws at most {MAX_GRID_IMAGES:,} samples"):
        image_grid(np.zeros((MAX_GRID_IMAGES + 1, 4)), tmp_path / "grid.png")
    assert not list(tmp_path.iterdir())


def test_one_large_dsprites_image_renders_in_bands_with_bounded_temporaries(monkeypatch):
    data = dsprites.DSprites(image_size=64)
    factors = data.index_to_factors(np.arange(0, 737280, 73728))
    whole = data.render(factors)
    monkeypatch.setattr(dsprites, "RENDER_PIXELS", 1000)  # bands of 15 rows, one image at a time
    np.testing.assert_array_equal(data.render(factors), whole)
    monkeypatch.undo()
    large = dsprites.DSprites(image_size=2048)
    tracemalloc.start()
    try:
        image = large.render([[2, 5, 0, 16, 16]])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The image is 16 MiB of float32; unchunked, its float64 temporaries took about ten times 32 MiB.
    assert image.sum() > 0 and peak < image.nbytes + 12 * dsprites.RENDER_PIXELS * 8


def test_the_latent_picture_draws_from_the_split_without_joining_it():
    x_train, x_val = np.arange(20).reshape(10, 2), np.arange(20, 26).reshape(3, 2)
    points = np.random.default_rng(0).permutation(13)[:7]
    np.testing.assert_array_equal(_rows((x_train, x_val), points), np.concatenate([x_train, x_val])[points])
    np.testing.assert_array_equal(_rows(x_train, points[points < 10]), x_train[points[points < 10]])


# Refusals: numbers that cannot fit ---------------------------------------------------------------------------


def test_mig_refuses_more_bins_than_its_limit():
    codes, factors = np.random.default_rng(0).normal(size=(50, 2)), np.arange(50)[:, None] % 3
    with pytest.raises(ValueError) as raised:
        mig(codes, factors, bins=10**9)
    assert str(raised.value) == (
        f"`bins` must be at most {MAX_BINS:,} (tfae.metrics.discretize.MAX_BINS): each code dimension's histogram "
        "holds every bin, and scores use 20. Received: bins=1000000000"
    )
    assert 0 <= mig(codes, factors, bins=MAX_BINS) <= 1


def test_a_bottleneck_refuses_more_regularizers_than_its_limit():
    assert len(GaussianBottleneck(latent_dim=2, regularizer=["kld"] * MAX_REGULARIZERS).regularizers) == 256
    with pytest.raises(ValueError) as raised:
        GaussianBottleneck(latent_dim=2, regularizer=["kld"] * 5000)
    assert str(raised.value) == (
        "A bottleneck takes at most 256 regularizers (tfae.bottlenecks.base.MAX_REGULARIZERS): each adds a term to "
        "the compiled train step, which outgrows the memory with thousands. Received: regularizer, a list of 5,000; "
        "weight one regularizer's beta instead of repeating it"
    )


def images(folder, count=2):
    folder.mkdir()
    for number in range(count):
        Image.fromarray(np.full((8, 8), 40 * number, dtype="uint8")).save(folder / f"{number}.png")
    return folder


def test_an_image_size_too_large_to_make_is_refused_before_an_image_is_decoded(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = images(tmp_path / "pictures")
    config = write_config(tmp_path, folder, training="validation_split = 0\n")
    config.write_text(config.read_text().replace("[data]\n", "[data]\nimage_size = [100000, 100000]\n"))
    assert main(["train", str(config), "-q"]) == 2
    line = one_line(capsys, "train")
    assert (
        f"[data] image_size = [100000, 100000] asks for images of 100000x100000 pixels (10,000,000,000), more than "
        f"the {MAX_IMAGE_PIXELS:,} (8192 x 8192) that tfae makes (tfae.training.data.MAX_IMAGE_PIXELS)"
    ) in line
    # Within the limit per image, but not all together: 2 images of 8192 x 8192 where 100 MB are available.
    import tfae.training.sizes

    monkeypatch.setattr(tfae.training.sizes, "available_memory", lambda: 10**8)
    config.write_text(config.read_text().replace("[100000, 100000]", "[8192, 8192]"))
    assert main(["train", str(config), "-q"]) == 2
    line = one_line(capsys, "train")
    assert "the 2 images in" in line and "at 8192x8192 pixels (the size of [data] image_size = [8192, 8192])" in line
    assert "need about 805.3 MB to load as float32 samples, but only 100.0 MB is available" in line
    assert not (tmp_path / "runs").exists()
