"""Image-folder loader: one sub-folder per class, decoded with Pillow, cached as uint8.

The layout is the one torchvision's ``ImageFolder`` reads::

    path/<class name>/<image file>

Decoding is done once; the decoded ``uint8`` pixels are then cached in the
user's cache folder (never in the data folder), keyed by the folder's file
list, sizes and modification times, so a later call loads one ``.npz`` file.
"""

import hashlib
import json
import numbers
import os
import secrets
import warnings
from pathlib import Path

import numpy as np

from .._docstrings import fill_doc
from ._loaders import _make_bunch

__all__ = ["load_image_folder"]

#: File name extensions (lower case) read as images; other files are ignored.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")

# Bumped whenever the decoding or the cache layout changes: old caches then miss.
_FORMAT_VERSION = 1

# Pillow modes read as one grey channel; every other decodable mode is colour.
_GREY_MODES = ("1", "L", "LA", "La")

_SCALE = np.float32(1.0 / 255.0)

_DESCR = """\
Images read from the class folders of '{path}'.

{n} images in {k} classes ({names}); labels are the sorted sub-folder names.
Each image is {c} channel(s) of {h}x{w} pixels (channel-first rows); pixel
values are divided by 255 so they lie in [0, 1].
"""


def _import_pillow():
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(
            "load_image_folder needs Pillow (pip install pillow, or "
            "pip install 'skhash[images]') to decode image files."
        ) from exc
    return Image


# --------------------------------------------------------------------------- #
# Parameters
# --------------------------------------------------------------------------- #


def _check_image_size(image_size):
    """Return ``image_size`` as ``(height, width)`` or None."""
    if image_size is None:
        return None
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    try:
        size = tuple(image_size)
    except TypeError:
        size = ()
    if len(size) != 2 or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in size
    ):
        raise ValueError(
            f"image_size must be None, a positive int or a (height, width) pair of "
            f"positive ints, got {image_size!r}."
        )
    return int(size[0]), int(size[1])


def _check_color(color):
    if color not in ("auto", "rgb", "grey"):
        raise ValueError(f"color must be 'auto', 'rgb' or 'grey', got {color!r}.")
    return color


def _default_cache_dir():
    """``$SKHASH_CACHE``, else ``$XDG_CACHE_HOME/skhash``, else ``~/.cache/skhash``."""
    env = os.environ.get("SKHASH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "skhash"
    return Path.home() / ".cache" / "skhash"


# --------------------------------------------------------------------------- #
# Scanning
# --------------------------------------------------------------------------- #


def _is_image_name(name):
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _walk_images(directory, prefix, seen):
    """Yield ``(relative path, stat)`` of the images under ``directory``, in order.

    The files of a folder come first, sorted by name, then its sub-folders,
    sorted by name (torchvision's order). Hidden entries are skipped; symbolic
    links are followed, each real folder visited once.
    """
    key = os.stat(directory)
    key = (key.st_dev, key.st_ino)
    if key in seen:
        return
    seen.add(key)
    entries = sorted(
        (e for e in os.scandir(directory) if not e.name.startswith(".")),
        key=lambda e: e.name,
    )
    for entry in entries:
        if _is_image_name(entry.name) and entry.is_file():
            yield f"{prefix}/{entry.name}", entry.stat()
    for entry in entries:
        if entry.is_dir():
            yield from _walk_images(entry.path, f"{prefix}/{entry.name}", seen)


def _scan_folder(root):
    """Return the sorted class names and, in order, ``(relpath, label, stat)`` per image."""
    if not root.exists():
        raise FileNotFoundError(f"Image folder not found: '{root}'.")
    if not root.is_dir():
        raise NotADirectoryError(f"'{root}' is not a directory: expected a folder "
                                 "holding one sub-folder per class.")
    classes = sorted(
        e.name for e in os.scandir(root) if not e.name.startswith(".") and e.is_dir()
    )
    if not classes:
        raise ValueError(
            f"'{root}' has no class sub-folders: expected one sub-folder per class, "
            "each holding that class's images (path/<class>/<image file>)."
        )
    found, seen = [], set()
    for label, name in enumerate(classes):
        images = list(_walk_images(root / name, name, seen))
        if not images:
            raise ValueError(
                f"Class folder '{name}' in '{root}' holds no image files (recognised "
                f"extensions: {', '.join(IMAGE_EXTENSIONS)}, any case)."
            )
        found.extend((rel, label, st) for rel, st in images)
    return classes, found


# --------------------------------------------------------------------------- #
# Decoding
# --------------------------------------------------------------------------- #


def _decode_image(image_module, path, color, size):
    """Decode one file into a uint8 array: ``(H, W)`` for grey, ``(H, W, 3)`` for colour.

    ``color="grey"`` converts colour to grey; ``"auto"`` and ``"rgb"`` keep
    grey images grey (the caller repeats them over three channels). ``size`` is
    ``(height, width)`` or None.
    """
    with image_module.open(path) as im:
        if size is not None and im.format == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale, never below ``size``.
            im.draft(None, (size[1], size[0]))
        mode = im.mode
        if mode.startswith("I;16"):
            # 16-bit grey: keep the 8 most significant bits (convert("L") clips).
            im = image_module.fromarray((np.asarray(im) >> 8).astype(np.uint8))
        elif mode in ("I", "F"):
            raise ValueError(f"{mode!r} images (32-bit integer or float pixels) are "
                             "not supported; convert them to 8 or 16 bits per channel")
        elif mode in _GREY_MODES:
            if mode != "L":
                im = im.convert("L")
        elif color == "grey":
            im = im.convert("L") if mode == "RGB" else im.convert("RGB").convert("L")
        elif mode != "RGB":
            im = im.convert("RGB")
        if size is not None and im.size != (size[1], size[0]):
            resample = getattr(image_module, "Resampling", image_module).BILINEAR
            im = im.resize((size[1], size[0]), resample=resample)
        return np.asarray(im)


def _decode_all(image_module, root, relpaths, color, size):
    """Decode every image into one preallocated ``(n, C, H, W)`` uint8 array."""
    n = len(relpaths)
    decode_errors = (OSError, SyntaxError, ValueError, image_module.DecompressionBombError)
    pixels, base = None, str(root)
    for i, rel in enumerate(relpaths):
        file = os.path.join(base, rel)
        try:
            arr = _decode_image(image_module, file, color, size)
        except decode_errors as exc:
            raise ValueError(f"Cannot decode image file '{file}': {exc}") from exc
        if pixels is None:
            first, hw = rel, arr.shape[:2]
            pixels = np.empty((n, 3 if color == "rgb" else 1) + hw, dtype=np.uint8)
        elif arr.shape[:2] != hw:
            raise ValueError(
                f"Images in '{root}' differ in size: '{first}' is {hw[0]}x{hw[1]} "
                f"(height x width) but '{rel}' is {arr.shape[0]}x{arr.shape[1]}. "
                "Pass image_size=(height, width) to resize them all."
            )
        if arr.ndim == 3:
            if pixels.shape[1] == 1:
                # color="auto" and the first colour image: switch to RGB; the
                # grey images so far repeat over the three channels.
                rgb = np.empty((n, 3) + hw, dtype=np.uint8)
                rgb[:i] = pixels[:i]
                pixels = rgb
            pixels[i] = arr.transpose(2, 0, 1)
        else:
            pixels[i] = arr  # broadcasts a grey image over the channels
    return pixels


# --------------------------------------------------------------------------- #
# Cache
# --------------------------------------------------------------------------- #


def _cache_file(root, found, size, color, cache_dir):
    """Path of the cache file for this folder state, and the glob of its older versions."""
    options = json.dumps(
        {"version": _FORMAT_VERSION, "root": str(root), "size": size, "color": color}
    )
    prefix = hashlib.sha256(options.encode()).hexdigest()[:16]
    content = hashlib.sha256()
    for rel, _, st in found:
        line = f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n"
        content.update(line.encode("utf-8", "surrogateescape"))
    slug = "".join(c if c.isalnum() or c in "._" else "_" for c in root.name)[:40] or "root"
    directory = cache_dir / "image_folder"
    return (
        directory / f"{slug}-{prefix}-{content.hexdigest()[:16]}.npz",
        f"*-{prefix}-*.npz",
    )


def _load_cache(path, filenames):
    """Return the cached arrays, or None when the file is missing or does not match."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            cached = {k: npz[k] for k in ("pixels", "target", "target_names", "filenames")}
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError, KeyError, EOFError) as exc:
        warnings.warn(f"Ignoring unreadable image cache '{path}' ({exc}); decoding again.",
                      RuntimeWarning, stacklevel=4)
        return None
    pixels = cached["pixels"]
    if (
        pixels.dtype != np.uint8
        or pixels.ndim != 4
        or cached["target"].shape != (pixels.shape[0],)
        or not np.array_equal(cached["filenames"], filenames)
    ):
        return None
    return cached


def _save_cache(path, stale_glob, arrays):
    """Write ``arrays`` to ``path`` atomically, then remove older caches of the folder."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        with open(tmp, "xb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
        tmp = None
        for old in path.parent.glob(stale_glob):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        warnings.warn(f"Could not write the image cache '{path}' ({exc}); the images "
                      "will be decoded again next time.", RuntimeWarning, stacklevel=4)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #


def _read_image_folder(path, *, image_size=None, color="auto", cache=True, cache_dir=None):
    """Scan, decode (or load from the cache) a class-folder tree.

    Returns ``(pixels, target, target_names, filenames)``: uint8 pixels of
    shape ``(n, C, H, W)``, int64 labels, the list of class names and an
    array of relative paths.
    """
    size = _check_image_size(image_size)
    color = _check_color(color)
    root = Path(path).expanduser().resolve()
    classes, found = _scan_folder(root)
    filenames = np.array([rel for rel, _, _ in found], dtype=str)
    target = np.array([label for _, label, _ in found], dtype=np.int64)

    cache_path = None
    if cache:
        cache_root = Path(cache_dir).expanduser() if cache_dir is not None else (
            _default_cache_dir())
        cache_root = cache_root.resolve()
        if cache_root == root or root in cache_root.parents:
            raise ValueError(
                f"The cache folder '{cache_root}' lies inside the image folder '{root}'; "
                "skhash never writes into a data folder. Pass another cache_dir (or set "
                "$SKHASH_CACHE), or cache=False."
            )
        cache_path, stale_glob = _cache_file(root, found, size, color, cache_root)
        cached = _load_cache(cache_path, filenames)
        if cached is not None:
            return cached["pixels"], target, cached["target_names"].tolist(), filenames

    image_module = _import_pillow()
    pixels = _decode_all(image_module, root, filenames.tolist(), color, size)
    if cache_path is not None:
        _save_cache(cache_path, stale_glob, {
            "pixels": pixels,
            "target": target,
            "target_names": np.array(classes, dtype=str),
            "filenames": filenames,
        })
    return pixels, target, classes, filenames


def _pixels_to_data(pixels):
    """Flatten ``(n, C, H, W)`` uint8 pixels into float32 rows in [0, 1]."""
    return np.multiply(pixels.reshape(pixels.shape[0], -1), _SCALE, dtype=np.float32)


@fill_doc
def load_image_folder(path, *, image_size=None, color="auto", cache=True, cache_dir=None,
                      return_X_y=False):
    """Load a folder of images with one sub-folder per class (never downloads).

    The layout is the one torchvision's ``ImageFolder`` reads::

        path/<class name>/<image file>

    Labels are the sorted sub-folder names, numbered ``0 .. n_classes - 1``;
    the images of a class come in sorted file-name order (files of a folder
    before those of its sub-folders, which are read too). Files with the
    extensions ``.jpg .jpeg .png .bmp .gif .tif .tiff .webp`` (any case) are
    images; hidden files and folders (name starting with ``.``) and files with
    other extensions are ignored. Images are decoded with Pillow.

    Decoded pixels are cached (see ``cache``), so only the first call pays for
    decoding.

    Parameters
    ----------
    path : str or path-like
        The folder holding one sub-folder per class.
    image_size : int or (int, int), default=None
        If given, every image is resized to ``(height, width)`` (an int means a
        square) with Pillow's bilinear filter. If None, all images must already
        have the same size.
    color : {"auto", "rgb", "grey"}, default="auto"
        ``"auto"``: three RGB channels if any image is colour (grey images are
        then repeated over the three channels), one grey channel if all are
        grey. ``"rgb"`` and ``"grey"`` force three or one channel(s); colour
        is made grey with Pillow's ITU-R 601-2 luma transform.
    cache : bool, default=True
        Cache the decoded pixels and reuse them while the folder does not
        change. False neither reads nor writes the cache.
    cache_dir : str or path-like, default=None
        Cache folder; the file goes in its ``image_folder`` sub-folder. Default:
        ``$SKHASH_CACHE``, else ``$XDG_CACHE_HOME/skhash``, else
        ``~/.cache/skhash``. It may not lie inside ``path``.
    %(bunch_returns)s
        data : ndarray of shape (n_samples, C * H * W), dtype float32
            Flattened channel-first images, pixel values divided by 255 (in
            [0, 1]).
        target : ndarray of shape (n_samples,), dtype int64
            Class labels, the index of the class folder in ``target_names``.
        images : ndarray of shape (n_samples, C, H, W), dtype float32
            The same pixels as ``data`` (a view of it).
        input_shape : tuple of int
            ``(C, H, W)``, with ``C`` 3 (RGB) or 1 (grey).
        target_names : list of str
            The class folder names, sorted.
        filenames : ndarray of shape (n_samples,), dtype str
            Each image's path relative to ``path``, with ``/`` separators
            (e.g. ``"cat/0001.jpg"``).
    %(bunch_tail)s

    Raises
    ------
    ImportError
        If Pillow is not installed.
    FileNotFoundError, NotADirectoryError
        If ``path`` does not exist or is not a directory.
    ValueError
        If ``path`` has no class sub-folder, a class folder holds no image,
        a file with an image extension cannot be decoded (the message names
        it), images differ in size while ``image_size`` is None (the message
        names two of them), a parameter is invalid, or the cache folder lies
        inside ``path``.

    See Also
    --------
    load_cifar10 : Reads CIFAR-10 stored as ``train/`` and ``test/`` image folders.

    Notes
    -----
    Conversions: palette, CMYK and other colour modes become RGB; an alpha
    channel is dropped (not composited over a background); 1-bit and 16-bit
    grey images become 8-bit grey (16-bit keeps its high byte); 32-bit integer
    and float images are refused. Multi-frame files (GIF, TIFF) give their
    first frame. EXIF orientation is not applied. With ``image_size``, JPEG
    files at least twice as large as the target are decoded at reduced scale
    by libjpeg before the bilinear resize (faster, slightly different pixels).

    The cache is one uncompressed ``.npz`` file of uint8 pixels, labels, class
    names and file names, loaded with ``allow_pickle=False``. Its name is
    keyed by the folder's absolute path, ``image_size``, ``color`` and a
    format version, and by every image's relative path, size and modification
    time: adding, removing or rewriting an image invalidates it (older files
    of the same folder and options are removed). It is written atomically
    (temporary file, then :func:`os.replace`) and never inside ``path``; if it
    cannot be written, a warning is issued and the data are returned anyway.

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from skhash.datasets import load_image_folder
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for name, colour in [("cat", (200, 30, 30)), ("dog", (30, 30, 200))]:
    ...         os.mkdir(os.path.join(tmp, name))
    ...         for i in range(2):
    ...             Image.new("RGB", (6, 4), colour).save(os.path.join(tmp, name, f"{i}.png"))
    ...     folder = load_image_folder(tmp, cache=False)
    >>> folder.data.shape, folder.images.shape, folder.input_shape
    ((4, 72), (4, 3, 4, 6), (3, 4, 6))
    >>> folder.target.tolist(), folder.target_names
    ([0, 0, 1, 1], ['cat', 'dog'])
    >>> folder.filenames.tolist()
    ['cat/0.png', 'cat/1.png', 'dog/0.png', 'dog/1.png']
    >>> round(float(folder.images[0, 0, 0, 0]) * 255)
    200
    """
    pixels, target, target_names, filenames = _read_image_folder(
        path, image_size=image_size, color=color, cache=cache, cache_dir=cache_dir
    )
    root = Path(path).expanduser()
    c, h, w = pixels.shape[1:]
    shown = ", ".join(target_names[:10]) + (", ..." if len(target_names) > 10 else "")
    descr = _DESCR.format(path=root, n=pixels.shape[0], k=len(target_names), names=shown,
                          c=c, h=h, w=w)
    return _make_bunch(_pixels_to_data(pixels), target, (c, h, w), target_names, descr,
                       return_X_y, extra={"filenames": filenames})
