"""The data sources a config (or ``tfae encode``) names: built-in digits, MNIST, a NumPy file, a folder.

Every source gives float32 samples, one per row (``(n, ...)``), and labels where the source has them.
Unsigned 8-bit data (images) is divided by 255 to lie in [0, 1]; other numbers are used as they are.
"""

import dataclasses
import gzip
import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from tfae.errors import DataError

DOWNLOAD_ROOT = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
MNIST_FILE = "mnist.npz"
FASHION_MNIST_FOLDER = "fashion-mnist"
FASHION_MNIST_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
SOURCES_HELP = '"digits", "mnist", "fashion_mnist", a .npy or .npz file, or a folder of images'
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a .npz file is a zip archive; the second, an empty one
PICKLE_MAGIC = b"\x80"
# TensorFlow's kernels take tensors of at most 8 dimensions, and a batch of samples has one more than a sample.
MAX_SAMPLE_DIMENSIONS = 7
SAVE_HELP = "save the data with numpy.save (.npy) or numpy.savez (.npz)"


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


def _check_numpy_file(path):
    """Raises ``DataError`` for a file that is empty, or that is no .npy or .npz file whatever its name."""
    with open(path, "rb") as file:
        head = file.read(len(NPY_MAGIC))
    if not head:
        raise DataError(f"{path} is empty (0 bytes), so it holds no array; {SAVE_HELP}")
    if head.startswith(PICKLE_MAGIC):
        raise DataError(
            f"{path} is a Python pickle, not a NumPy file; tfae does not unpickle data, which can run code: "
            f"{SAVE_HELP}"
        )
    if not head.startswith((NPY_MAGIC, *ZIP_MAGICS)):
        raise DataError(
            f"{path} is not a NumPy file: it starts with neither the .npy header nor a .npz file's zip header "
            f"(a text or CSV file, say, named {Path(path).suffix}); {SAVE_HELP}"
        )


def _check_declared_size(file, size, where):
    """Raises ``DataError`` if ``file`` (``size`` bytes) is a .npy file whose header declares more data than the
    file holds: NumPy would allocate the declared array first, terabytes for a damaged header."""
    if file.read(len(NPY_MAGIC)) != NPY_MAGIC:
        return
    file.seek(0)
    version = np.lib.format.read_magic(file)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(file)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(file)
    else:
        return  # version 3.0 only adds UTF-8 field names, which tfae refuses as data anyway
    declared = math.prod(shape) * dtype.itemsize
    held = size - file.tell()
    if not dtype.hasobject and declared > held:
        raise DataError(
            f"{where} is truncated or damaged: its header declares an array of shape {shape} ({dtype}), "
            f"{declared:,} bytes, but it holds {max(held, 0):,} bytes of data; {SAVE_HELP}"
        )


def _reading_error(path, error):
    """The ``DataError`` for an exception NumPy raised while reading ``path``, without NumPy's advice to load
    the file with ``allow_pickle=True``, which would let it run code."""
    reason = " ".join(str(error).split()) or type(error).__name__
    if "Object arrays cannot be loaded" in reason:
        return DataError(
            f"cannot read {path}: it holds an array of Python objects, which tfae does not load since unpickling "
            f"can run code (NumPy: {reason}); save the data as an array of numbers"
        )
    if "pickled" in reason:
        return DataError(f"{path} holds pickled Python objects, not a NumPy array of numbers; {SAVE_HELP}")
    if "max_header_size" in reason:
        return DataError(f"cannot read {path}: its .npy header is larger than NumPy reads safely; {SAVE_HELP}")
    return DataError(f"cannot read {path} as a NumPy file ({reason}); it may be truncated or damaged: {SAVE_HELP}")


def _load_numpy(path, key, labels_key):
    _check_numpy_file(path)
    try:
        with open(path, "rb") as file:
            _check_declared_size(file, os.fstat(file.fileno()).st_size, path)
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return loaded, None
        # A .npz file's arrays are read, and can turn out damaged, only when they are asked for.
        with loaded:
            return _pick_arrays(loaded, path, key, labels_key)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        if isinstance(error, DataError):
            raise
        raise _reading_error(path, error) from None


def _pick_arrays(loaded, path, key, labels_key):
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
    return _read_member(loaded, data_key, path), (_read_member(loaded, label_key, path) if label_key else None)


def _read_member(loaded, name, path):
    """The array ``name`` of the .npz file ``loaded``, once its header is checked against its size."""
    if f"{name}.npy" in loaded.zip.namelist():
        member = loaded.zip.getinfo(f"{name}.npy")
        with loaded.zip.open(member) as file:
            _check_declared_size(file, member.file_size, f"the array '{name}' in {path}")
    return loaded[name]


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
        DataError: the source is missing, empty, unreadable or no NumPy file; or its data are not real numbers,
            have more than ``MAX_SAMPLE_DIMENSIONS`` dimensions per sample, or hold NaN or inf.
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
    if x.dtype.kind == "c":
        raise DataError(
            f"{source}: the data are complex numbers ({x.dtype}), and tfae trains on real numbers; save the real "
            "and imaginary parts (or the magnitude and phase) as separate features"
        )
    if x.dtype.kind not in "biuf":
        raise DataError(f"{source}: the data must be numbers; got an array of {x.dtype}")
    if x.ndim < 2 or x.shape[0] < 1 or math.prod(x.shape[1:]) < 1:
        raise DataError(
            f"{source}: the data must hold one sample per row, shape (samples, features...); got shape {x.shape}"
        )
    if x.ndim - 1 > MAX_SAMPLE_DIMENSIONS:
        raise DataError(
            f"{source}: the samples have {x.ndim - 1} dimensions (data of shape {x.shape}), but TensorFlow takes "
            f"at most {MAX_SAMPLE_DIMENSIONS} per sample (8 with the batch's); reshape the data to fewer, such as "
            f"(samples, features) = {(x.shape[0], math.prod(x.shape[1:]))}"
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
        f"model takes samples of shape {input_shape} ({math.prod(input_shape)} values); give data of that shape, "
        "or a model trained on data like these"
    )
