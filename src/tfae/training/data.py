"""The data sources a config (or ``tfae encode``, ``similar``, ``evaluate``) names: a registered dataset
(``"digits"``, ``"mnist"``, ``"fashion_mnist"``, ``"dsprites"``, a plugin's), a NumPy file, or a folder.

Every source gives float32 samples, one per row (``(n, ...)``), and labels where the source has them.
Unsigned 8-bit data (images) is divided by 255 to lie in [0, 1]; other numbers are used as they are.
A source that is an existing path is a file or a folder, whatever datasets are registered; any other string
is a dataset's registered name. A string that cannot name a file (longer than the file system allows, such as
an inline table of a dataset's parameters) is no path.

A folder's images are decoded only when each declares at most ``MAX_IMAGE_PIXELS`` pixels (8192 x 8192),
checked from its header before its pixels are inflated: a small PNG can declare billions (a decompression bomb).
"""

import errno
import math
import os
import re
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from tfae.datasets.base import BaseDataset, Dataset
from tfae.errors import DataError, UnknownNameError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a .npz file is a zip archive; the second, an empty one
PICKLE_MAGIC = b"\x80"
# TensorFlow's kernels take tensors of at most 8 dimensions, and a batch of samples has one more than a sample.
MAX_SAMPLE_DIMENSIONS = 7
SAVE_HELP = "save the data with numpy.save (.npy) or numpy.savez (.npz)"
# The most pixels an image of a data folder may declare: 8192 x 8192, 64 MiB as grayscale bytes (256 MiB as
# float32 RGB), where a real data set's images take thousands. Below Pillow's own warning (89 million).
MAX_IMAGE_PIXELS = 2**26


def sources_help():
    """What a data source can be, with the registered datasets' names, for messages."""
    from tfae.plugins import get_registry

    names = ", ".join(f'"{name}"' for name in get_registry().names("dataset"))
    return f"a registered dataset ({names}), a .npy or .npz file, or a folder of images"


def path_exists(text):
    """Whether a file or folder ``text`` exists; ``False`` for a string that cannot name one: longer than the
    file system allows (``ENAMETOOLONG``, such as a long inline table), holding a NUL character, or starting
    with ``~user`` for a user this system does not have."""
    try:
        return Path(text).expanduser().exists()
    except (ValueError, RuntimeError):
        return False
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG:
            return False
        raise


def is_path(source):
    """Whether the string ``source`` means a file or a folder: it exists, or it reads as a path (it holds a
    folder separator, starts with ``~`` or ``.``, or ends in a file suffix), which no dataset's name does."""
    text = str(source).strip()
    if path_exists(text):
        return True
    separators = {"/", os.sep, os.altsep or "/"}
    return any(separator in text for separator in separators) or text.startswith(("~", ".")) or bool(Path(text).suffix)


def dataset_component(source):
    """The registered dataset that ``source`` names, built with its parameters, or ``None`` for a path.

    Args:
        source: a ``BaseDataset``; a registered dataset's name; a dict ``{"name": ..., **params}``; or a path.

    Raises:
        DataError: a name that no dataset has and no file or folder either, with the registry's suggestions.
        ParameterError: a parameter the dataset does not take, or of the wrong type.
    """
    from tfae.plugins import resolve

    if isinstance(source, BaseDataset):
        return source
    if not isinstance(source, Mapping) and is_path(source):
        return None
    try:
        dataset = resolve("dataset", source)
    except UnknownNameError as error:
        raise DataError(f"{error} No file or folder {str(source)!r} exists either.") from None
    if not isinstance(dataset, BaseDataset):
        raise DataError(
            f"The dataset {source!r} is a {type(dataset).__name__}; a registered dataset must be a "
            "tfae.datasets.BaseDataset, whose load() returns a tfae.datasets.Dataset"
        )
    return dataset


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
            f"{path} is a Python pickle, not a NumPy file; tfae does not unpickle data, which can run code: {SAVE_HELP}"
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
    from PIL import UnidentifiedImageError

    files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
    if not files:
        raise DataError(f"the folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    class_names = sorted({path.parent.relative_to(folder).parts[0] for path in files if path.parent != folder})
    if class_names and any(path.parent == folder for path in files):
        class_names = []
    mode = "L" if color == "grayscale" else "RGB"
    images, size = [], tuple(image_size[::-1]) if image_size else None
    if size is not None:
        _check_images_memory(folder, len(files), size, len(mode), f"[data] image_size = {list(image_size)}")
    for path in files:
        try:
            with _opened_image(path) as image:
                image = image.convert(mode)
                if size is None:
                    size, first = image.size, path
                    _check_images_memory(folder, len(files), size, len(mode), f"{path.name}, the first image")
                if image.size != size:
                    if not image_size:
                        raise DataError(
                            f"the images in {folder} differ in size ({first.name} is {size[0]}x{size[1]}, "
                            f"{path.name} is {image.size[0]}x{image.size[1]}, width x height); "
                            f"set [data] image_size = [{size[1]}, {size[0]}] to resize them all"
                        )
                    image = image.resize(size)
                images.append(np.asarray(image, dtype="uint8"))
        except (UnidentifiedImageError, OSError, ValueError) as error:
            # ValueError: Pillow's refusal of a PNG text chunk that inflates too far ("Decompressed Data Too Large").
            if isinstance(error, DataError):
                raise
            raise DataError(f"cannot read the image {path}: {' '.join(str(error).split())}") from None
    labels = None
    if class_names:
        index = {name: number for number, name in enumerate(class_names)}
        labels = np.array([index[path.relative_to(folder).parts[0]] for path in files])
    return np.stack(images), labels, class_names or None


# Bytes per value of a folder's images while they load: the decoded bytes, their stack, and the float32 samples.
IMAGE_LOADING_BYTES = 1 + 1 + 4


def _check_images_memory(folder, count, size, channels, given):
    """Refuses, before any is decoded, images of ``size`` (width, height) that are too large to make, one by one
    (``MAX_IMAGE_PIXELS``) or all together (the memory available); ``given`` says where the size comes from."""
    from tfae.byte_sizes import readable_bytes
    from tfae.training.sizes import available_memory

    width, height = size
    if width * height > MAX_IMAGE_PIXELS:
        raise DataError(
            f"{given} asks for images of {width}x{height} pixels ({width * height:,}), more than the "
            f"{MAX_IMAGE_PIXELS:,} (8192 x 8192) that tfae makes (tfae.training.data.MAX_IMAGE_PIXELS); "
            "set a smaller [data] image_size"
        )
    needed = count * width * height * channels * IMAGE_LOADING_BYTES
    available = available_memory()
    if available is not None and needed > available:
        raise DataError(
            f"the {count:,} images in {folder} at {width}x{height} pixels (the size of {given}) need about "
            f"{readable_bytes(needed)} to load as float32 samples, but only {readable_bytes(available)} is available; "
            "set a smaller [data] image_size, or use fewer images"
        )


def _opened_image(path):
    """``PIL.Image.open(path)``, after checking the pixels its header declares against ``MAX_IMAGE_PIXELS``.

    Raises:
        DataError: the image declares more pixels than that, naming both numbers; its pixels were not decoded.
    """
    from PIL import Image

    with warnings.catch_warnings():
        # Pillow warns from 89 million pixels and refuses from 179 million; tfae's own limit is lower.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except Image.DecompressionBombError as error:
            declared = re.search(r"\((\d+) pixels\)", str(error))
            shown = f"{int(declared.group(1)):,} pixels" if declared else "too many pixels"
            raise _too_many_pixels(path, shown) from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise _too_many_pixels(path, f"{width}x{height} pixels ({width * height:,})")
    return image


def _too_many_pixels(path, declared):
    return DataError(
        f"cannot read the image {path}: it declares {declared}, more than the {MAX_IMAGE_PIXELS:,} (8192 x 8192) "
        "that tfae decodes (tfae.training.data.MAX_IMAGE_PIXELS), so it is damaged or a decompression bomb, made to "
        "exhaust memory; it was not decoded. Scale it down, or remove it from the folder"
    )


def load_data(source, key="", labels="", image_size=(), color="grayscale"):
    """Loads a data source into a ``Dataset``.

    Args:
        source: a registered dataset: its name (``"digits"``, shipped with tfae; ``"mnist"`` or
            ``"fashion_mnist"``, downloaded once by Keras, training split; ``"dsprites"``, rendered; a plugin's),
            a dict ``{"name": ..., **params}``, or a ``BaseDataset``; or a ``.npy`` or ``.npz`` file, or a folder
            of images (subfolders are labels). A string that is an existing path is a file or folder.
        key: the data's array name in a ``.npz`` file (default: ``x``, ``images`` or the only array).
        labels: the labels' array name in a ``.npz`` file (default: ``y`` or ``labels`` if present).
        image_size: ``[height, width]`` to resize a folder's images to (default: the first image's size).
        color: ``"grayscale"`` or ``"rgb"``, for a folder of images.

    Raises:
        DataError: the source is missing, empty, unreadable or no NumPy file, or names no registered dataset;
            or its data are not real numbers, have more than ``MAX_SAMPLE_DIMENSIONS`` dimensions per sample,
            or hold NaN or inf.
    """
    dataset = dataset_component(source)
    if dataset is not None:
        return _loaded(dataset)
    class_names = None
    exists = path_exists(source)
    path = Path(source).expanduser() if exists else Path(source)
    if exists and path.is_dir():
        x, y, class_names = _load_images(path, image_size, color)
    elif exists and path.is_file():
        if path.suffix.lower() not in (".npy", ".npz"):
            raise DataError(f"cannot read {path}: a data file must be .npy or .npz (or give a folder of images)")
        x, y = _load_numpy(path, key, labels)
    else:
        raise DataError(f"data source '{source}' not found: give {sources_help()}")
    return Dataset(_as_samples(x, source), _as_labels(y, len(x), source), str(source), class_names)


def _loaded(component):
    """The ``Dataset`` that a registered dataset loads, checked as a file's data is."""
    dataset = component.load()
    if not isinstance(dataset, Dataset):
        raise DataError(
            f"{component!r}.load() returned a {type(dataset).__name__}; a dataset's load() must return a "
            "tfae.datasets.Dataset"
        )
    source = dataset.source or type(component).__name__
    x = _as_samples(dataset.x, source)
    return Dataset(
        x,
        _as_labels(dataset.labels, len(x), source),
        source,
        None if dataset.class_names is None else list(dataset.class_names),
        _as_factors(dataset.factors, len(x), source),
        dataset.ground_truth,
    )


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


def _as_factors(factors, count, source):
    if factors is None:
        return None
    factors = np.asarray(factors)
    if factors.ndim == 1:
        factors = factors[:, None]
    if factors.ndim != 2 or len(factors) != count or factors.dtype.kind not in "iu":
        raise DataError(
            f"{source}: the factors must be integers, one row per sample, shape ({count}, factors); got an "
            f"array of {factors.dtype} of shape {factors.shape}"
        )
    return factors


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
