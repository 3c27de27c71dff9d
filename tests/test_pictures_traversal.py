"""Latent traversals: the grid of codes, the dimensions shown, the picture, and `tfae train`'s traversal.png."""

import struct

import numpy as np
import pytest

import tfae
from tfae.bottlenecks import BernoulliBottleneck, GaussianBottleneck, VanillaBottleneck
from tfae.cli import main
from tfae.datasets import load_digits
from tfae.models import Autoencoder
from tfae.training import pictures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE, path
    return struct.unpack(">II", header[16:24])


def test_the_codes_grid_sweeps_one_dimension_per_row_and_keeps_the_others():
    code = np.array([0.5, -1.0, 2.0, 0.25], "float32")
    values = np.linspace(-3, 3, 7)
    grid = pictures.traversal_codes(code, values, dimensions=[2, 0])
    assert grid.shape == (2, 7, 4) and grid.dtype == np.float32
    for row, dimension in enumerate([2, 0]):
        for column, value in enumerate(values):
            expected = code.copy()
            expected[dimension] = value
            np.testing.assert_array_equal(grid[row, column], expected)
    every = pictures.traversal_codes(code, values)
    assert every.shape == (4, 7, 4)
    np.testing.assert_array_equal(every[1, :, 1], values.astype("float32"))
    np.testing.assert_array_equal(every[1, :, [0, 2, 3]], np.repeat(code[[0, 2, 3], None], 7, axis=1))


def test_the_rows_are_the_dimensions_with_the_highest_scores_highest_first():
    assert pictures.ordered_dimensions([0.1, 3.0, 0.0, 2.0, 0.1]) == [1, 3, 0, 4, 2]  # ties in their order
    scores = np.full(20, 0.01)
    scores[[19, 3, 7, 11]] = [5.0, 4.0, 3.0, 2.0]
    assert pictures.ordered_dimensions(scores, count=4) == [19, 3, 7, 11]
    assert len(pictures.ordered_dimensions(scores)) == pictures.TRAVERSED_DIMENSIONS == 16


def test_the_sweep_is_chosen_by_the_bottleneck_and_its_prior():
    gaussian = pictures.traversal_values(GaussianBottleneck(latent_dim=2))
    np.testing.assert_allclose(gaussian, np.linspace(-3, 3, pictures.TRAVERSAL_STEPS))
    normal = pictures.traversal_values(GaussianBottleneck(latent_dim=2, prior="standard_normal"))
    np.testing.assert_allclose(normal, np.linspace(-3, 3, pictures.TRAVERSAL_STEPS))
    bernoulli = pictures.traversal_values(BernoulliBottleneck(latent_dim=2), steps=5)
    np.testing.assert_allclose(bernoulli, np.linspace(0, 1, 5))
    np.testing.assert_allclose(pictures.traversal_values(VanillaBottleneck(latent_dim=2), steps=3), [-3, 0, 3])


def test_under_another_prior_each_dimension_sweeps_its_own_quantiles():
    bottleneck = GaussianBottleneck(latent_dim=3, prior="mixture")
    values = pictures.traversal_values(bottleneck, seed=1)
    assert values.shape == (3, pictures.TRAVERSAL_STEPS)
    assert (np.diff(values, axis=1) > 0).all()
    # The probabilities are N(0, 1)'s at -3 to 3: the prior's own codes fall below each value that often.
    drawn = np.asarray(bottleneck.sample_prior(20_000, seed=2))
    below = (drawn.T[:, :, None] < values[:, None, :]).mean(axis=1)
    np.testing.assert_allclose(below, np.tile(pictures.traversal_probabilities(), (3, 1)), atol=0.01)
    grid = pictures.traversal_codes(np.zeros(3), values, dimensions=[2, 0])
    np.testing.assert_array_equal(grid[0, :, 2], values[2].astype("float32"))
    np.testing.assert_array_equal(grid[1, :, 0], values[0].astype("float32"))


@pytest.fixture(scope="module")
def gaussian_model():
    """A small Gaussian VAE, three latent dimensions, a few epochs on the shipped digits (flattened)."""
    import keras

    keras.utils.set_random_seed(0)
    images, _ = load_digits()
    x = images.reshape(len(images), -1)
    model = Autoencoder(bottleneck=GaussianBottleneck(latent_dim=3, regularizer="kld", seed=0))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="bernoulli")
    model.fit(x, epochs=5, batch_size=128, verbose=0)
    return model, x


def decoder_of(model, calls=None):
    from keras import ops

    def decode(codes):
        if calls is not None:
            calls.append(codes.shape)
        return ops.convert_to_numpy(model.decoder(codes, training=False))

    return decode


def test_the_decoded_grid_varies_along_each_row(gaussian_model):
    model, x = gaussian_model
    code = np.asarray(model.encoder(x[:1], training=False))[0]
    values = np.linspace(-3, 3, 9)
    codes = pictures.traversal_codes(code, values)
    decoded = decoder_of(model)(codes.reshape(-1, 3)).reshape(3, 9, 64)
    for row in decoded:
        assert np.abs(row[-1] - row[0]).max() > 0.05  # the ends of the sweep decode differently
        assert np.abs(np.diff(row, axis=0)).max() > 1e-3  # and so do neighbouring steps
    # A row's codes are the base code but for its dimension: set that one back and it decodes the base code.
    base = decoder_of(model)(code[None])[0]
    restored = codes.copy()
    for row in range(3):
        restored[row, :, row] = code[row]
    np.testing.assert_allclose(decoder_of(model)(restored.reshape(-1, 3)), np.tile(base, (27, 1)), atol=1e-6)


def test_the_picture_has_one_row_per_dimension_and_one_column_per_value(gaussian_model, tmp_path):
    model, x = gaussian_model
    code = np.asarray(model.encoder(x[:1], training=False))[0]
    calls = []
    path = pictures.latent_traversal(decoder_of(model, calls), code, tmp_path / "traversal.png")
    assert path == tmp_path / "traversal.png"
    assert calls == [(3 * pictures.TRAVERSAL_STEPS, 3)]  # one decoder call for the whole grid
    assert [p.name for p in tmp_path.iterdir()] == ["traversal.png"]  # no temporary file left
    width, height = png_size(path)

    # 8x8 digits are drawn 0.8 inches a cell at 100 dpi, 80 pixels: the size grows by a cell per row or column.
    cell = 80
    fewer_columns = pictures.latent_traversal(
        decoder_of(model), code, tmp_path / "five.png", values=np.linspace(-2, 2, 5)
    )
    assert png_size(fewer_columns) == (width - 4 * cell, height)
    one_row_fewer = pictures.latent_traversal(decoder_of(model), code, tmp_path / "two.png", dimensions=[0, 2])
    assert png_size(one_row_fewer) == (width, height - cell)
    assert (width, height) == (9 * cell + 130, 3 * cell + 80)  # labels left, column labels and title on top
    # The original, in a column of its own; notes on the row labels, and grey rows, take no more room.
    marked = pictures.latent_traversal(
        decoder_of(model), code, tmp_path / "marked.png", original=x[0], inactive=[1], dimensions=[2, 1, 0]
    )
    assert png_size(marked) == (width + cell, height)
    noted = pictures.latent_traversal(
        decoder_of(model), code, tmp_path / "noted.png", original=x[0], notes=["KL 2.00", "KL 1.00", "KL 0.00"]
    )
    assert png_size(noted) == (width + cell + 30, height)  # a wider margin for two-line row labels


def test_samples_that_are_not_images_are_line_plots(tmp_path):
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(20, 12))
    calls = []

    def decode(codes):
        calls.append(codes.shape)
        return codes @ weights

    dimensions = list(range(16))
    path = pictures.latent_traversal(decode, np.zeros(20), tmp_path / "traversal.png", dimensions=dimensions)
    assert calls == [(16 * 9, 20)]
    width, height = png_size(path)
    assert width == 9 * 130 and height == 16 * 90 + 50  # cells of 1.3 x 0.9 inches


def write_config(path, bottleneck):
    path.write_text(
        f"[model]\nhidden = [16]\n[model.bottleneck]\n{bottleneck}\n[training]\nepochs = 1\nbatch_size = 256\n"
    )
    return path


def test_tfae_train_writes_a_traversal_for_a_variational_model(tmp_path, capsys, monkeypatch):
    drawn = []
    draw = pictures.latent_traversal

    def recording(decode, code, path, **options):
        drawn.append(options)
        return draw(decode, code, path, **options)

    monkeypatch.setattr(pictures, "latent_traversal", recording)
    config = write_config(
        tmp_path / "wide.toml", 'name = "gaussian"\nlatent_dim = 20\n[model.bottleneck.regularizer]\nname = "kld"'
    )
    folder = tmp_path / "wide"
    assert main(["train", str(config), "--run-dir", str(folder), "-q"]) == 0, capsys.readouterr().err
    (options,) = drawn
    assert len(options["dimensions"]) == 16
    assert (
        "the 16 of 20 dimensions in order of their KL (nats) over 30 held-out samples; grey: inactive"
        in (options["title"])
    )
    np.testing.assert_allclose(options["values"], np.linspace(-3, 3, 9))
    # The rows are in order of each dimension's KL, largest first; the inactive ones are those whose posterior
    # mean hardly varies over the held-out samples (active_units' rule); the original is the first of them.
    kl = [float(note.removeprefix("KL ")) for note in options["notes"]]
    assert kl == sorted(kl, reverse=True) and len(kl) == 16
    held_out = load_digits()[0][np.random.default_rng(0).permutation(1797)[-180:]][:30]
    np.testing.assert_array_equal(options["original"], held_out[0])
    model = tfae.load_model(folder / "model.keras")
    variance = np.var(model.encoder.predict(held_out, verbose=0), axis=0)
    assert options["inactive"] == [dimension for dimension in options["dimensions"] if variance[dimension] <= 0.01]
    width, height = png_size(folder / "traversal.png")
    assert (width, height) == (10 * 80 + 160, 16 * 80 + 100)  # 16 rows, the original's column; two title lines

    config = write_config(tmp_path / "ae.toml", 'name = "vanilla"\nlatent_dim = 2')
    folder = tmp_path / "ae"
    assert main(["train", str(config), "--run-dir", str(folder), "-q"]) == 0, capsys.readouterr().err
    assert (folder / "reconstructions.png").exists()
    assert not (folder / "traversal.png").exists()
    assert len(drawn) == 1
