"""The procedural dSprites: its factors, its images, its loader and its stream."""

import subprocess
import sys

import numpy as np
import pytest

from tfae.datasets import DSprites, load_dsprites
from tfae.errors import DataError

MIDDLE = 16


def sprite(shape=0, scale=5, orientation=0, x=MIDDLE, y=MIDDLE):
    return [shape, scale, orientation, x, y]


def centre_of_mass(image):
    rows, columns = np.nonzero(image[..., 0])
    return columns.mean(), rows.mean()


def box_middle(image):
    rows, columns = np.nonzero(image[..., 0])
    return (columns.min() + columns.max()) / 2, (rows.min() + rows.max()) / 2


@pytest.fixture(scope="module")
def data():
    return DSprites()


def test_sizes_names_and_values(data):
    assert len(data) == 737_280 == 3 * 6 * 40 * 32 * 32
    assert data.factor_names == ("shape", "scale", "orientation", "position_x", "position_y")
    assert data.factor_sizes == (3, 6, 40, 32, 32)
    for name, size in zip(data.factor_names, data.factor_sizes):
        assert data.factor_values[name].shape == (size,)
    np.testing.assert_allclose(data.factor_values["scale"], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    orientations = data.factor_values["orientation"]
    assert orientations[0] == 0 and orientations[-1] < 2 * np.pi
    np.testing.assert_allclose(np.diff(orientations), 2 * np.pi / 40)
    assert data.factor_values["position_x"][[0, -1]].tolist() == [0.0, 1.0]


def test_images_are_binary_float32_of_the_asked_size(rng):
    for size in (64, 32, 16):
        data = DSprites(image_size=size)
        images = data.render(data.sample_factors(50, rng))
        assert images.shape == (50, size, size, 1) and images.dtype == np.float32
        assert set(np.unique(images)) == {0.0, 1.0}
        assert (images.sum(axis=(1, 2, 3)) > 0).all()


def test_rendering_is_deterministic(data, rng):
    factors = data.sample_factors(100, rng)
    first = data.render(factors)
    assert first.tobytes() == data.render(factors).tobytes()
    # An image does not depend on the others rendered with it.
    assert first[7:8].tobytes() == data.render(factors[7:8]).tobytes()


def test_position_x_moves_the_sprite_right_and_position_y_down(data):
    for shape in range(3):
        across = data.render([sprite(shape, x=x) for x in range(32)])
        down = data.render([sprite(shape, y=y) for y in range(32)])
        x_of_across = [centre_of_mass(image)[0] for image in across]
        y_of_across = [centre_of_mass(image)[1] for image in across]
        assert (np.diff(x_of_across) > 0).all()
        np.testing.assert_allclose(y_of_across, y_of_across[0], atol=0.25)
        assert (np.diff([centre_of_mass(image)[1] for image in down]) > 0).all()
        # From one end to the other, the centre crosses the middle 60% of the image, to within pixels.
        assert x_of_across[-1] - x_of_across[0] == pytest.approx(0.6 * 64, abs=1)


def test_scale_grows_the_area_and_keeps_the_centre(data):
    for shape in range(3):
        images = data.render([sprite(shape, scale=scale) for scale in range(6)])
        areas = images.sum(axis=(1, 2, 3))
        assert (np.diff(areas) > 0).all()
        assert areas[-1] / areas[0] == pytest.approx(4, rel=0.2)  # twice the size, four times the area
        centres = np.array([centre_of_mass(image) for image in images])
        assert np.abs(centres - centres[0]).max() < 1


def test_orientation_turns_the_heart_and_not_the_square_by_a_quarter_turn(data):
    quarter = 10  # 10 of 40 steps: pi / 2
    squares = data.render([sprite(0, orientation=0), sprite(0, orientation=quarter)])
    assert np.abs(squares[0] - squares[1]).sum() <= 4
    hearts = data.render([sprite(2, orientation=0), sprite(2, orientation=quarter)])
    assert np.abs(hearts[0] - hearts[1]).sum() > 0.2 * hearts[0].sum()
    # The lobes hold more of the heart than the tip: upright, its mass lies above the middle of its box;
    # a quarter turn counterclockwise puts the tip to the right, and the mass left of the middle.
    (x_up, y_up), (x_turned, y_turned) = (centre_of_mass(heart) for heart in hearts)
    assert y_up < box_middle(hearts[0])[1] - 0.5 and abs(x_up - box_middle(hearts[0])[0]) < 0.5
    assert x_turned < box_middle(hearts[1])[0] - 0.5 and abs(y_turned - box_middle(hearts[1])[1]) < 0.5
    ellipse = data.render([sprite(1, orientation=o) for o in (0, quarter, 2 * quarter)])
    assert np.abs(ellipse[0] - ellipse[1]).sum() > 0.5 * ellipse[0].sum()
    np.testing.assert_array_equal(ellipse[0], ellipse[2])


def test_orientation_keeps_the_sprite_about_its_centre(data):
    for shape in range(3):
        images = data.render([sprite(shape, orientation=o) for o in range(40)])
        centres = np.array([centre_of_mass(image) for image in images])
        assert np.abs(centres - centres.mean(axis=0)).max() < 1


def test_the_three_shapes_differ(data):
    images = data.render([sprite(shape) for shape in range(3)])
    for first, second in ((0, 1), (0, 2), (1, 2)):
        assert np.abs(images[first] - images[second]).sum() > 0.15 * images[first].sum()


@pytest.mark.parametrize("image_size, gap", [(64, 3), (16, 1)])
def test_sprites_stay_inside_the_frame(image_size, gap):
    data = DSprites(image_size=image_size)
    corners = [(0, 0), (0, 31), (31, 0), (31, 31)]
    factors = [
        sprite(shape, 5, orientation, x, y) for shape in range(3) for orientation in range(40) for x, y in corners
    ]
    images = data.render(factors)[..., 0]
    inner = images[:, gap:-gap, gap:-gap]
    # Every sprite, at the largest scale in a corner, keeps `gap` empty pixels to each edge.
    np.testing.assert_array_equal(inner.sum(axis=(1, 2)), images.sum(axis=(1, 2)))
    assert images.sum(axis=(1, 2)).min() > 0


def test_index_and_factors_round_trip_in_the_original_order(data, rng):
    indices = rng.integers(0, len(data), size=1000)
    factors = data.index_to_factors(indices)
    assert factors.dtype == np.int64 and factors.shape == (1000, 5)
    np.testing.assert_array_equal(data.factors_to_index(factors), indices)
    # The last factor varies fastest, as in the original's file.
    assert data.index_to_factors([0, 1, 32, 1024, 40 * 1024, 6 * 40 * 1024, len(data) - 1]).tolist() == [
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 1, 0],
        [0, 0, 1, 0, 0],
        [0, 1, 0, 0, 0],
        [1, 0, 0, 0, 0],
        [2, 5, 39, 31, 31],
    ]
    np.testing.assert_array_equal(data.images(indices[:5]), data.render(factors[:5]))


def test_sample_factors_covers_every_value_uniformly(data):
    factors = data.sample_factors(20_000, np.random.default_rng(0))
    assert factors.dtype == np.int64 and factors.shape == (20_000, 5)
    for column, size in enumerate(data.factor_sizes):
        counts = np.bincount(factors[:, column], minlength=size)
        assert len(counts) == size
        assert counts.min() > 0.7 * len(factors) / size


def test_load_dsprites_is_reproducible_and_distinct():
    images, factors = load_dsprites(n=100, seed=0, image_size=16)
    again, factors_again = load_dsprites(n=100, seed=0, image_size=16)
    other, factors_other = load_dsprites(n=100, seed=1, image_size=16)
    assert images.shape == (100, 16, 16, 1) and images.dtype == np.float32
    assert factors.shape == (100, 5) and factors.dtype == np.int64
    assert images.tobytes() == again.tobytes()
    np.testing.assert_array_equal(factors, factors_again)
    assert not np.array_equal(factors, factors_other)
    data = DSprites(image_size=16)
    assert len(np.unique(data.factors_to_index(factors))) == 100
    np.testing.assert_array_equal(images, data.render(factors))
    given, given_factors = load_dsprites(factors=factors[:3], image_size=16)
    np.testing.assert_array_equal(given, images[:3])
    np.testing.assert_array_equal(given_factors, factors[:3])


def test_the_stream_covers_its_indices_in_batches():
    data = DSprites(image_size=16)
    indices = np.arange(1000, 1100)
    stream = data.as_dataset(batch_size=32, indices=indices)
    assert len(stream) == 4
    batches = [stream[i] for i in range(len(stream))]
    assert all(isinstance(batch, tuple) and len(batch) == 1 for batch in batches)
    assert [len(batch[0]) for batch in batches] == [32, 32, 32, 4]
    np.testing.assert_array_equal(np.concatenate([batch[0] for batch in batches]), data.images(indices))
    with pytest.raises(IndexError):
        stream[4]

    shuffled = data.as_dataset(batch_size=32, indices=indices, shuffle_seed=0)
    first_epoch = np.concatenate([shuffled[i][0] for i in range(len(shuffled))])
    assert not np.array_equal(first_epoch, data.images(indices))
    key = lambda images: sorted(image.tobytes() for image in images)  # noqa: E731
    assert key(first_epoch) == key(data.images(indices))
    shuffled.on_epoch_end()
    assert not np.array_equal(np.concatenate([shuffled[i][0] for i in range(len(shuffled))]), first_epoch)
    again = data.as_dataset(batch_size=32, indices=indices, shuffle_seed=0)
    np.testing.assert_array_equal(again[0][0], first_epoch[:32])
    assert len(data.as_dataset(batch_size=256)) == 2880


def test_an_autoencoder_fits_the_stream():
    from tfae.models import Autoencoder

    data = DSprites(image_size=16)
    stream = data.as_dataset(batch_size=16, indices=np.arange(0, len(data), len(data) // 64), shuffle_seed=0)
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld"})
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(stream, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(stream[0][0], verbose=0).shape == (16, 16, 16, 1)


def test_importing_the_datasets_needs_no_keras():
    code = "import sys, tfae.datasets; print(any(m in sys.modules for m in ('keras', 'tensorflow', 'jax')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: DSprites(image_size=15), "at least 16 (pixels per side). Received: image_size=15"),
        (lambda: DSprites(image_size=16.0), "Received: image_size=16.0"),
        (lambda: load_dsprites(n=0), "from 1 to 737,280. Received: n=0"),
        (lambda: load_dsprites(n=737_281), "from 1 to 737,280. Received: n=737281"),
        (lambda: load_dsprites(), "Received: n=None. To go through all 737,280, stream them"),
        (lambda: load_dsprites(n=100_000), "at most 65,536 at this size. Received: n=100000. Stream them"),
        (lambda: load_dsprites(n=1, image_size=4), "Received: image_size=4"),
        (lambda: load_dsprites(n=1, factors=[sprite()]), "Give `n` or `factors`, not both"),
        (lambda: DSprites().render([sprite(x=32)]), "takes indices 0 to 31. Received: position_x=32"),
        (lambda: DSprites().render([sprite(shape=-1)]), "takes indices 0 to 2. Received: shape=-1"),
        (lambda: DSprites().render([sprite(orientation=40)]), "0 to 39. Received: orientation=40"),
        (lambda: DSprites().render([[0, 0, 0, 0]]), "shape (n, 5)"),
        (lambda: DSprites().render([[0.5, 0, 0, 0, 0]]), "must hold integers"),
        (lambda: DSprites().images([737_280]), "from 0 to 737279. Received: index 737280"),
        (lambda: DSprites().as_dataset(batch_size=0), "Received: batch_size=0"),
        (lambda: DSprites().as_dataset(batch_size=8, indices=[]), "at least one image"),
    ],
)
def test_bad_input_names_the_value_and_the_bound(call, message):
    with pytest.raises(DataError) as raised:
        call()
    assert isinstance(raised.value, ValueError)
    assert message in str(raised.value)
