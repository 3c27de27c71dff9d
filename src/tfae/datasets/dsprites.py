"""dSprites, drawn on the fly: binary images of a square, an ellipse or a heart, from five known factors.

dSprites (L. Matthey, I. Higgins, D. Hassabis and A. Lerchner, 2017, github.com/deepmind/dsprites-dataset)
holds every combination of shape (3), scale (6 values from 0.5 to 1), orientation (40 angles), position x
(32 values in [0, 1]) and position y (32), 737,280 binary 64x64 images, the usual benchmark of
disentanglement. Here each image is computed from its factors with NumPy, so nothing is downloaded and any
resolution from 16x16 up can be asked for. The shapes and their sizes are tfae's own, close to the original's
but not its pixels: compare scores with papers' only as far as that allows.

The original's sixth factor, color, has one value; it is left out, which keeps the original's indices (its
factors vary fastest last, and a factor of size 1 adds nothing to an index). Its 40 orientations run over
``[0, 2 pi]`` with both ends, the same image twice; here they are 40 distinct angles over ``[0, 2 pi)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tfae.datasets.base import BaseDataset, Dataset
from tfae.errors import DataError
from tfae.hookspecs import hookimpl

SHAPE_NAMES = ("square", "ellipse", "heart")
# Smaller, the smallest sprites can fall between pixel centres and render empty (checked over every image).
MIN_IMAGE_SIZE = 16
# A sprite at scale 1 fits, at any orientation, in a disc of this radius (a fraction of the image's side);
# its centre stays POSITION_MARGIN from the edges, so every sprite keeps a gap to the frame.
SPRITE_RADIUS = 0.15
POSITION_MARGIN = 0.2
# The square and the ellipse fill the unit disc: corners, or the long axis, on its circle.
SQUARE_HALF_SIDE = 1 / math.sqrt(2)
ELLIPSE_SEMI_AXES = (1.0, 0.5)
# The heart is (x^2 + y^2 - 1)^3 <= x^2 y^3, turned about its centre of area (0, 0.2935), from which its
# farthest point lies 1.2935 away (both measured numerically).
HEART_CENTRE_Y = 0.2935
HEART_RADIUS = 1.2935
# load_dsprites returns arrays; past this many bytes of images, a stream (DSprites.as_dataset) is the way.
MAX_LOADED_BYTES = 2**30
# Pixels rendered at once (1024 images of 64x64; a band of rows of a larger image), which bounds the float64
# temporaries of a render, about ten of this many numbers, whatever the images' number and size.
RENDER_PIXELS = 2**22


def _check_image_size(image_size: int) -> int:
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < MIN_IMAGE_SIZE:
        raise DataError(
            f"`image_size` must be an integer of at least {MIN_IMAGE_SIZE} (pixels per side). "
            f"Received: image_size={image_size!r}"
        )
    return int(image_size)


def _as_integers(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind not in "iu" and array.size:
        raise DataError(f"`{name}` must hold integers. Received: {name} with dtype {array.dtype}")
    return array.astype("int64")


class DSprites:
    """dSprites rendered on demand: 737,280 binary images, one per combination of five factors.

    Factors are given as class indices, one column per factor in ``factor_names`` order, each in
    ``[0, size)``; ``factor_values`` holds what each index stands for. An image's index in ``[0, len)`` is
    the mixed-radix number of its factors, the last (``position_y``) varying fastest, as in the original.

    The sprite, white (1) on black (0), is scaled, turned counterclockwise by its orientation about its
    centre, and centred at ``(position_x, position_y)``, which run from left to right and from top to
    bottom over the middle 60% of the image, so that no sprite touches the frame. A pixel is 1 when its
    centre falls inside the shape: the same factors always give the same image, and no randomness is used.

    Args:
        image_size: pixels per side, at least 16; 64 is the original's. Smaller images (16, 32) render
            faster, for tests and quick experiments.

    Example:

    >>> data = DSprites(image_size=32)
    >>> len(data), data.factor_sizes
    (737280, (3, 6, 40, 32, 32))
    >>> images = data.render([[2, 5, 0, 16, 16]])  # the largest heart, upright, in the middle
    >>> images.shape, images.dtype.name
    ((1, 32, 32, 1), 'float32')
    """

    factor_names = ("shape", "scale", "orientation", "position_x", "position_y")
    factor_sizes = (3, 6, 40, 32, 32)
    shape_names = SHAPE_NAMES
    factor_values = {
        "shape": np.arange(3, dtype="float64"),
        "scale": np.linspace(0.5, 1.0, 6),
        "orientation": np.linspace(0.0, 2 * np.pi, 40, endpoint=False),
        "position_x": np.linspace(0.0, 1.0, 32),
        "position_y": np.linspace(0.0, 1.0, 32),
    }

    def __init__(self, image_size: int = 64) -> None:
        self.image_size = _check_image_size(image_size)

    def __len__(self) -> int:
        return math.prod(self.factor_sizes)

    def __repr__(self) -> str:
        return f"DSprites(image_size={self.image_size})"

    def check_factors(self, factors: Any) -> np.ndarray:
        """Returns ``factors`` as an int64 array of shape ``(n, 5)``, after checking every index is in range.

        Raises:
            DataError: (a ``ValueError``) for another shape, non-integers, or an index out of its range; the
                message names the factor, the value and its bound.
        """
        factors = _as_integers(factors, "factors")
        if factors.ndim != 2 or factors.shape[1] != len(self.factor_sizes):
            raise DataError(
                f"`factors` must have shape (n, {len(self.factor_sizes)}), one column per factor "
                f"{self.factor_names}. Received: factors of shape {factors.shape}"
            )
        for column, (name, size) in enumerate(zip(self.factor_names, self.factor_sizes)):
            outside = (factors[:, column] < 0) | (factors[:, column] >= size)
            if outside.any():
                value = factors[np.argmax(outside), column]
                raise DataError(f"Factor `{name}` takes indices 0 to {size - 1}. Received: {name}={value}")
        return factors

    def index_to_factors(self, indices: Any) -> np.ndarray:
        """Returns the factors of images by index, an int64 array of shape ``(n, 5)``.

        Args:
            indices: integers in ``[0, len(self))``, of shape ``(n,)``.
        """
        indices = self._check_indices(indices)
        return np.stack(np.unravel_index(indices, self.factor_sizes), axis=-1).astype("int64")

    def factors_to_index(self, factors: Any) -> np.ndarray:
        """Returns the indices of images by factors, an int64 array of shape ``(n,)``.

        Args:
            factors: integer array of shape ``(n, 5)``, each column in ``[0, factor size)``.
        """
        factors = self.check_factors(factors)
        return np.ravel_multi_index(tuple(factors.T), self.factor_sizes).astype("int64")

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Returns ``n`` factor rows drawn uniformly and independently, an int64 array of shape ``(n, 5)``.

        Args:
            n: how many rows.
            rng: the NumPy generator to draw from, as ``np.random.default_rng(seed)`` makes.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise DataError(f"`n` must be an integer of at least 0. Received: n={n!r}")
        return rng.integers(0, self.factor_sizes, size=(int(n), len(self.factor_sizes)), dtype="int64")

    def render(self, factors: Any) -> np.ndarray:
        """Returns the images of the given factors, float32 of shape ``(n, image_size, image_size, 1)``.

        Args:
            factors: integer array of shape ``(n, 5)``, each column in ``[0, factor size)``.

        Returns:
            Pixels 0 or 1: 1 where the pixel's centre lies inside the sprite.
        """
        factors = self.check_factors(factors)
        size = self.image_size
        images = np.empty((len(factors), size, size, 1), dtype="float32")
        count = max(1, RENDER_PIXELS // size**2)
        rows = max(1, min(size, RENDER_PIXELS // size))
        for start in range(0, len(factors), count):
            for top in range(0, size, rows):
                band = slice(top, top + rows)
                images[start : start + count, band, :, 0] = self._render_inside(factors[start : start + count], band)
        return images

    def images(self, indices: Any) -> np.ndarray:
        """Returns the images by index, float32 of shape ``(n, image_size, image_size, 1)``.

        Args:
            indices: integers in ``[0, len(self))``, of shape ``(n,)``.
        """
        return self.render(self.index_to_factors(indices))

    def as_dataset(self, batch_size: int, indices: Any = None, shuffle_seed: int | None = None) -> Any:
        """Returns a ``keras.utils.PyDataset`` of image batches, rendered as ``fit`` asks for them.

        Each batch is a tuple ``(images,)``, float32 of shape ``(batch, image_size, image_size, 1)``: to
        ``fit``, data with no targets, which an autoencoder reconstructs. Only one batch is in memory at a
        time, so the whole 737,280 images can be streamed.

        Args:
            batch_size: images per batch; the last batch may be smaller.
            indices: the images to go through, integers in ``[0, len(self))``; all of them by default.
            shuffle_seed: ``None`` keeps the order of ``indices``; a seed shuffles them, again at the end of
                every epoch, the same way for the same seed.

        Example:

        >>> data = DSprites(image_size=16)
        >>> stream = data.as_dataset(batch_size=256)
        >>> len(stream), stream[0][0].shape
        (2880, (256, 16, 16, 1))
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise DataError(f"`batch_size` must be an integer of at least 1. Received: batch_size={batch_size!r}")
        indices = np.arange(len(self)) if indices is None else self._check_indices(indices)
        if len(indices) == 0:
            raise DataError("`indices` must name at least one image. Received: indices of length 0")
        return _sprite_batches_class()(self, indices, int(batch_size), shuffle_seed)

    def _check_indices(self, indices: Any) -> np.ndarray:
        indices = _as_integers(indices, "indices")
        if indices.ndim != 1:
            raise DataError(f"`indices` must have shape (n,). Received: indices of shape {indices.shape}")
        outside = (indices < 0) | (indices >= len(self))
        if outside.any():
            raise DataError(
                f"Image indices run from 0 to {len(self) - 1}. Received: index {indices[np.argmax(outside)]}"
            )
        return indices

    def _render_inside(self, factors: np.ndarray, rows: slice) -> np.ndarray:
        """Returns whether each pixel's centre in ``rows`` is inside the sprite, bool of shape ``(n, rows, size)``."""
        values = self.factor_values
        size = self.image_size
        radius = SPRITE_RADIUS * values["scale"][factors[:, 1]]
        angle = values["orientation"][factors[:, 2]]
        centre_x = POSITION_MARGIN + (1 - 2 * POSITION_MARGIN) * values["position_x"][factors[:, 3]]
        centre_y = POSITION_MARGIN + (1 - 2 * POSITION_MARGIN) * values["position_y"][factors[:, 4]]
        pixel_centres = (np.arange(size) + 0.5) / size
        # Offsets from the sprite's centre in units of its radius, with y pointing up, as the shapes are drawn.
        right = (pixel_centres[None, None, :] - centre_x[:, None, None]) / radius[:, None, None]
        up = (centre_y[:, None, None] - pixel_centres[None, rows, None]) / radius[:, None, None]
        # Turning the sprite counterclockwise by `angle` is turning the pixels clockwise into its own frame.
        cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
        u = cos * right + sin * up
        v = cos * up - sin * right
        inside = np.zeros((len(factors), len(pixel_centres[rows]), size), dtype=bool)
        for shape, test in enumerate((_inside_square, _inside_ellipse, _inside_heart)):
            selected = factors[:, 0] == shape
            if selected.any():
                inside[selected] = test(u[selected], v[selected])
        return inside


def _inside_square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) <= SQUARE_HALF_SIDE


def _inside_ellipse(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    semi_major, semi_minor = ELLIPSE_SEMI_AXES
    return (u / semi_major) ** 2 + (v / semi_minor) ** 2 <= 1


def _inside_heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    x = u * HEART_RADIUS
    y = v * HEART_RADIUS + HEART_CENTRE_Y
    return (x * x + y * y - 1) ** 3 <= x * x * y**3


@functools.cache
def _sprite_batches_class() -> type:
    # Keras is imported here, not at the top, so that `tfae.datasets` imports with NumPy alone.
    import keras

    class SpriteBatches(keras.utils.PyDataset):
        """Batches ``(images,)`` of a ``DSprites``, rendered on request; see ``DSprites.as_dataset``."""

        def __init__(self, data: DSprites, indices: np.ndarray, batch_size: int, shuffle_seed: int | None):
            super().__init__()
            self.data = data
            self.indices = indices
            self.batch_size = batch_size
            self._rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
            self._order = self.indices if self._rng is None else self._rng.permutation(self.indices)

        def __len__(self) -> int:
            return math.ceil(len(self.indices) / self.batch_size)

        def __getitem__(self, batch: int) -> tuple[np.ndarray]:
            if not 0 <= batch < len(self):
                raise IndexError(f"Batch {batch} is out of range: there are {len(self)} batches.")
            start = batch * self.batch_size
            return (self.data.images(self._order[start : start + self.batch_size]),)

        def on_epoch_end(self) -> None:
            if self._rng is not None:
                self._order = self._rng.permutation(self.indices)

    return SpriteBatches


def _check_count(n: Any, data: DSprites) -> int:
    """``n`` as an int, after checking it is a number of images that ``load_dsprites`` can draw."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= len(data):
        raise DataError(f"`n` must be an integer from 1 to {len(data):,}. Received: n={n!r}")
    _check_memory(int(n), data)
    return int(n)


def _check_memory(count: int, data: DSprites) -> None:
    bytes_needed = count * data.image_size**2 * np.dtype("float32").itemsize
    if bytes_needed > MAX_LOADED_BYTES:
        most = MAX_LOADED_BYTES // (data.image_size**2 * np.dtype("float32").itemsize)
        raise DataError(
            f"{count:,} images of {data.image_size}x{data.image_size} take {bytes_needed / 2**30:.1f} GiB; "
            f"load_dsprites returns at most {most:,} at this size. Received: n={count}. Stream them "
            f"instead: DSprites(image_size={data.image_size}).as_dataset(batch_size)"
        )


def load_dsprites(
    n: int | None = None, seed: int = 0, image_size: int = 64, factors: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Returns dSprites images and their factors as arrays, ``(images, factors)``.

    Either ``n`` distinct images drawn at random (the same ones for the same seed), or the images of the
    given ``factors``. The arrays stay under 1 GiB of images (65,536 images at 64x64, 1,048,576 at 16x16);
    to go through the whole dataset, stream it: ``DSprites(image_size).as_dataset(batch_size)``.

    Args:
        n: how many images, drawn without replacement; from 1 to 737,280 within the memory bound.
        seed: the seed of the draw.
        image_size: pixels per side, at least 16; 64 is the original's.
        factors: instead of ``n``, the factor indices to render, an integer array of shape ``(m, 5)``.

    Returns:
        ``images``: float32 array of shape ``(n, image_size, image_size, 1)`` with values 0 or 1;
        ``factors``: int64 array of shape ``(n, 5)``, the class index of each factor, in
        ``DSprites.factor_names`` order (``DSprites.factor_values`` maps indices to values).

    Raises:
        DataError: (a ``ValueError``) for a bad ``n``, ``image_size`` or ``factors``, or too many images.

    Example:

    >>> images, factors = load_dsprites(n=100, image_size=32)
    >>> images.shape, factors.shape
    ((100, 32, 32, 1), (100, 5))
    """
    data = DSprites(image_size)
    if factors is not None:
        if n is not None:
            raise DataError(f"Give `n` or `factors`, not both. Received: n={n!r} and factors")
        factors = data.check_factors(factors)
        _check_memory(len(factors), data)
    else:
        if n is None:
            raise DataError(
                f"`load_dsprites` needs `n`, how many images to draw, or `factors`. Received: n=None. To go "
                f"through all {len(data):,}, stream them: DSprites(image_size).as_dataset(batch_size)"
            )
        count = _check_count(n, data)
        indices = np.random.default_rng(seed).choice(len(data), size=count, replace=False)
        factors = data.index_to_factors(indices)
    return data.render(factors), factors


class DSpritesDataset(BaseDataset):
    """``"dsprites"``: ``n`` dSprites images drawn at random (``load_dsprites``), with their factors.

    The ``Dataset`` it loads holds the images, float32 of shape ``(n, image_size, image_size, 1)``; their five
    factors (``factors``, for MIG, SAP and DCI); a ``DSprites`` that renders any factors (``ground_truth``, for
    the FactorVAE and beta-VAE scores); and the shape as the label (square, ellipse, heart), which colours
    ``latent.png``. In a config: ``[data.source]`` with ``name = "dsprites"`` and these parameters.

    Args:
        n: how many images, drawn without replacement; at most 65,536 at 64x64 (the arrays stay under 1 GiB).
        image_size: pixels per side, at least 16; 64 is the original's.
        seed: the seed of the draw: the same images for the same seed.

    Example:

    >>> data = DSpritesDataset(n=100, image_size=16).load()
    >>> data.x.shape, data.factors.shape, data.class_names
    ((100, 16, 16, 1), (100, 5), ['square', 'ellipse', 'heart'])
    """

    def __init__(self, n: int = 10000, image_size: int = 64, seed: int = 0) -> None:
        data = DSprites(image_size)
        self.n = _check_count(n, data)
        self.image_size = data.image_size
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise DataError(f"`seed` must be an integer. Received: seed={seed!r}")
        self.seed = int(seed)

    def load(self) -> Dataset:
        images, factors = load_dsprites(n=self.n, seed=self.seed, image_size=self.image_size)
        return Dataset(
            images,
            labels=factors[:, 0],
            source="dsprites",
            class_names=list(SHAPE_NAMES),
            factors=factors,
            ground_truth=DSprites(self.image_size),
        )

    def get_config(self) -> dict[str, Any]:
        return {"n": self.n, "image_size": self.image_size, "seed": self.seed}


@hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    register(DSpritesDataset, name="dsprites")
