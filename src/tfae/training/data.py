"""The data sources a config (or ``tfae encode``) names: built-in digits, MNIST, a NumPy file, a folder.

Every source gives float32 samples, one per row (``(n, ...)``), and labels where the source has them.
Unsigned 8-bit data (images) is divided by 255 to lie in [0, 1]; other numbers are used as they are.
"""

import dataclasses
import gzip
import math
import os
from pathlib import Path

import numpy as np

from tfae.errors import DataError

DOWNLOAD_ROOT = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
MNIST_FILE = "mnist.npz"
FASHION_MNIST_FOLDER = "fashion-mnist"
FASHION_MNIST_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
SOURCES_HELP = '"digits", "mnist", "fashion_mnist", a .npy or .npz file, or a folder of images'


@dataclasses.dataclass
class Dataset:
    """Samples and, where the source has them, labels.

    Args:
        x: float32 array, shape ``(n, ...)``.
        labels: int array of shape ``(n,)``, or ``None``.
        source: what the data came from, for messages and titles.
        class_names: the label names (a folder of images' subfolders), or ``None``.
    """

    x: np.ndarray
    labels: object = None
    source: str = ""
    class_names: object = None


def keras_datasets_folder():
    """Where Keras keeps downloaded datasets: ``$KERAS_HOME/datasets``, by default ``~/.keras/datasets``."""
    return Path(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras"))) / "datasets"


def _download(file_name, subfolder, dataset):
    import keras

    folder = keras_datasets_folder() / subfolder
    if (folder / file_name).exists():
        return folder / file_name
    try:
        return Path(
            keras.utils.get_file(
                file_name,
                origin=DOWNLOAD_ROOT + file_name,
                cache_dir=str(keras_datasets_folder().parent),
                cache_subdir=str(Path("datasets") / subfolder),
            )
        )
    except Exception as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise DataError(
            f"cannot download {dataset} ({reason}); this machine may be offline. Download "
            f"{DOWNLOAD_ROOT}{file_name} on a machine that is online and put it at {folder / file_name}, "
            'or train on the built-in digits with [data] source = "digits"'
        ) from None


def _load_mnist():
    path = _download(MNIST_FILE, "", "MNIST")
    with np.load(path, allow_pickle=False) as data:
        return data["x_train"], data["y_train"]


def _load_fashion_mnist():
    labels_path, images_path = (_download(name, FASHION_MNIST_FOLDER, "Fashion-MNIST") for name in FASHION_MNIST_FILES)
    with gzip.open(labels_path, "rb") as file:
        labels = np.frombuffer(file.read(), np.uint8, offset=8)
    with gzip.open(images_path, "rb") as file:
        images = np.frombuffer(file.read(), np.uint8, offset=16).reshape(len(labels), 28, 28)
    return images, labels


def _pick(arrays, key, path, what):
    if key:
        if key not in arrays:
            raise DataError(f"{path} has no array named '{key}' ({what}); it holds: {', '.join(arrays)}")
        return key
    return None


def _load_numpy(path, key, labels_key):
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path} as a NumPy file: {' '.join(str(error).split())}") from None
    if isinstance(loaded, np.ndarray):
        return loaded, None
    with loaded:
        arrays = list(loaded.files)
        if not arrays:
            raise DataError(f"{path} holds no arrays")
        data_key = _pick(arrays, key, path, "[data] key")
        if data_key is None:
            candidates = [name for name in ("x", "x_train", "images", "data") if name in arrays]
            if candidates:
                data_key = candidates[0]
            elif len(arrays) == 1:
                data_key = arrays[0]
            else:
                raise DataError(f"{path} holds several arrays ({', '.join(arrays)}); name the data with [data] key")
        label_key = _pick(arrays, labels_key, path, "[data] labels")
        if label_key is None:
            label_key = next((name for name in ("y", "y_train", "labels", "target") if name in arrays), None)
        return loaded[data_key], (loaded[label_key] if label_key else None)


def _load_images(folder, image_size, color):
    from PIL import Image, UnidentifiedImageError

    files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
    if not files:
        raise DataError(f"the folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    class_names = sorted({path.parent.relative_to(folder).parts[0] for path in files if path.parent != folder})
    if class_names and any(path.parent == folder for path in files):
        class_names = []
    mode = "L" if color == "grayscale" else "RGB"
    images, size = [], tuple(image_size[::-1]) if image_size else None
    for path in files:
        try:
            with Image.open(path) as image:
                image = image.convert(mode)
                if size is None:
                    size, first = image.size, path
                if image.size != size:
                    if not image_size:
                        raise DataError(
                            f"the images in {folder} differ in size ({first.name} is {size[0]}x{size[1]}, "
                            f"{path.name} is {image.size[0]}x{image.size[1]}, width x height); "
                            f"set [data] image_size = [{size[1]}, {size[0]}] to resize them all"
                        )
                    image = image.resize(size)
                images.append(np.asarray(image, dtype="uint8"))
        except (UnidentifiedImageError, OSError) as error:
            raise DataError(f"cannot read the image {path}: {error}") from None
    labels = None
    if class_names:
        index = {name: number for number, name in enumerate(class_names)}
        labels = np.array([index[path.relative_to(folder).parts[0]] for path in files])
    return np.stack(images), labels, class_names or None


def load_data(source, key="", labels="", image_size=(), color="grayscale"):
    """Loads a data source into a ``Dataset``.

    Args:
        source: ``"digits"`` (shipped with tfae), ``"mnist"`` or ``"fashion_mnist"`` (downloaded once by
            Keras, training split), a ``.npy`` or ``.npz`` file, or a folder of images (subfolders are labels).
        key: the data's array name in a ``.npz`` file (default: ``x``, ``images`` or the only array).
        labels: the labels' array name in a ``.npz`` file (default: ``y`` or ``labels`` if present).
        image_size: ``[height, width]`` to resize a folder's images to (default: the first image's size).
        color: ``"grayscale"`` or ``"rgb"``, for a folder of images.

    Raises:
        DataError: the source is missing or unreadable, or holds NaN or inf.
    """
    class_names = None
    name = str(source).strip().lower().replace("-", "_")
    if name == "digits":
        from tfae.datasets import load_digits

        x, y = load_digits()
    elif name == "mnist":
        x, y = _load_mnist()
    elif name == "fashion_mnist":
        x, y = _load_fashion_mnist()
    else:
        path = Path(source).expanduser()
        if path.is_dir():
            x, y, class_names = _load_images(path, image_size, color)
        elif path.is_file():
            if path.suffix.lower() not in (".npy", ".npz"):
                raise DataError(f"cannot read {path}: a data file must be .npy or .npz (or give a folder of images)")
            x, y = _load_numpy(path, key, labels)
        else:
            raise DataError(f"data source '{source}' not found: give {SOURCES_HELP}")
    return Dataset(_as_samples(x, source), _as_labels(y, len(x), source), str(source), class_names)


def _as_samples(x, source):
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"{source}: the data must be numbers; got an array of {x.dtype}")
    if x.ndim < 2 or x.shape[0] < 1 or math.prod(x.shape[1:]) < 1:
        raise DataError(
            f"{source}: the data must hold one sample per row, shape (samples, features...); got shape {x.shape}"
        )
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    samples = x.astype("float32") / scale
    check_finite(samples, source)
    return samples


def check_finite(x, source):
    """Raises ``DataError`` naming the first sample with NaN or inf in it."""
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise DataError(
            f"{source}: the data holds NaN or inf values in {len(bad)} sample(s), the first at index {bad[0]}; "
            "remove or replace them"
        )


def _as_labels(labels, count, source):
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels.reshape(-1)
    if labels.shape != (count,):
        raise DataError(f"{source}: the labels have shape {labels.shape}; expected one per sample, ({count},)")
    return labels


def fit_to_model(x, input_shape, source):
    """Returns ``x`` with the model's sample shape: as it is, or reshaped when only the layout differs
    (flat vectors for 8x8 images, say). Raises ``DataError`` naming both shapes otherwise."""
    input_shape = tuple(input_shape)
    if tuple(x.shape[1:]) == input_shape:
        return x
    if math.prod(x.shape[1:]) == math.prod(input_shape):
        return x.reshape((len(x), *input_shape))
    raise DataError(
        f"{source}: the samples have shape {tuple(x.shape[1:])} ({math.prod(x.shape[1:])} values), but the "
        f"model takes samples of shape {input_shape} ({math.prod(input_shape)} values)"
    )
