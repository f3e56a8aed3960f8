"""load_image_folder and the image-folder layout of load_cifar10, on tiny folders."""

import os
import sys

import numpy as np
import pytest

from skhash.datasets import _images, load_cifar10, load_image_folder

Image = pytest.importorskip("PIL.Image")

RED = (200, 30, 30)
BLUE = (30, 30, 200)
GREY = 77


@pytest.fixture(autouse=True)
def _cache_env(tmp_path, monkeypatch):
    """Keep the default cache of every test inside its own tmp_path."""
    monkeypatch.setenv("SKHASH_CACHE", str(tmp_path / "cache_env"))


def _save(path, mode, size, value, fmt=None):
    """Write a uniform image of ``size`` (height, width)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (size[1], size[0]), value).save(path, format=fmt)


@pytest.fixture
def folder(tmp_path):
    """Two classes; 'dog' holds one grey image; plus files that must be ignored."""
    root = tmp_path / "data"
    _save(root / "cat" / "0.png", "RGB", (4, 6), RED)
    _save(root / "cat" / "1.jpg", "RGB", (4, 6), RED)
    _save(root / "dog" / "a.png", "L", (4, 6), GREY)
    _save(root / "dog" / "b.PNG", "RGB", (4, 6), BLUE)
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / ".hidden.jpg").write_bytes(b"not decodable")
    (root / ".git").mkdir()
    (root / ".git" / "x.png").write_bytes(b"not decodable")
    (root / "README.md").write_text("top-level files are not classes")
    return root


def _cache_files(directory):
    return sorted(p.name for p in (directory / "image_folder").glob("*.npz"))


def test_labels_shapes_values(folder):
    bunch = load_image_folder(folder, cache=False)
    assert bunch.target_names == ["cat", "dog"]
    assert bunch.target.dtype == np.int64
    assert bunch.target.tolist() == [0, 0, 1, 1]
    assert bunch.filenames.tolist() == ["cat/0.png", "cat/1.jpg", "dog/a.png", "dog/b.PNG"]
    assert bunch.input_shape == (3, 4, 6)
    assert bunch.data.dtype == np.float32 and bunch.data.shape == (4, 72)
    assert bunch.images.shape == (4, 3, 4, 6)
    assert np.shares_memory(bunch.images, bunch.data)
    assert 0.0 <= bunch.data.min() and bunch.data.max() <= 1.0
    np.testing.assert_allclose(bunch.images[0] * 255, np.broadcast_to(
        np.array(RED, np.float32)[:, None, None], (3, 4, 6)), rtol=1e-6)
    # The JPEG is lossy but close; the grey PNG repeats over the three channels.
    np.testing.assert_allclose(bunch.images[1, :, 0, 0] * 255, RED, atol=6)
    np.testing.assert_allclose(bunch.images[2] * 255, GREY, rtol=1e-6)
    assert "2 classes" in bunch.DESCR

    X, y = load_image_folder(folder, cache=False, return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


def test_color_modes(tmp_path):
    root = tmp_path / "grey"
    _save(root / "a" / "0.png", "L", (3, 3), 10)
    _save(root / "b" / "0.bmp", "1", (3, 3), 1)
    a16 = np.full((3, 3), 0x1234 * 2, np.uint16)  # 16-bit grey: high byte 0x24
    (root / "b").mkdir(exist_ok=True)
    Image.fromarray(a16).save(root / "b" / "1.png")
    grey = load_image_folder(root, cache=False)
    assert grey.input_shape == (1, 3, 3)
    assert np.round(grey.images[:, 0, 0, 0] * 255).tolist() == [10, 255, 0x24]
    assert load_image_folder(root, color="rgb", cache=False).input_shape == (3, 3, 3)

    colour = tmp_path / "colour"
    _save(colour / "a" / "rgba.png", "RGBA", (2, 2), RED + (0,))
    _save(colour / "a" / "cmyk.tif", "CMYK", (2, 2), (0, 0, 0, 0))
    palette = Image.new("RGB", (2, 2), BLUE).convert("P")
    palette.save(colour / "a" / "palette.gif")
    bunch = load_image_folder(colour, cache=False)
    assert bunch.filenames.tolist() == ["a/cmyk.tif", "a/palette.gif", "a/rgba.png"]
    pixels = np.round(bunch.images[:, :, 0, 0] * 255).tolist()
    assert pixels[0] == [255, 255, 255]
    assert pixels[1] == list(palette.convert("RGB").getpixel((0, 0)))
    assert pixels[2] == list(RED)  # alpha dropped, not composited
    forced = load_image_folder(colour, color="grey", cache=False)
    assert forced.input_shape == (1, 2, 2)
    assert round(float(forced.images[2, 0, 0, 0]) * 255) == round(
        (200 * 299 + 30 * 587 + 30 * 114) / 1000)


def test_nested_folders_sorted(tmp_path):
    root = tmp_path / "data"
    for rel in ["b/2.png", "b/sub/0.png", "b/10.png", "a/x.webp", "a/.skip/y.png"]:
        _save(root / rel, "RGB", (2, 2), RED, fmt="WEBP" if rel.endswith("webp") else None)
    bunch = load_image_folder(root, cache=False)
    assert bunch.filenames.tolist() == ["a/x.webp", "b/10.png", "b/2.png", "b/sub/0.png"]
    assert bunch.target.tolist() == [0, 1, 1, 1]


def test_image_size(folder):
    (folder / "dog" / "b.PNG").unlink()
    _save(folder / "dog" / "big.jpg", "RGB", (20, 30), BLUE)
    with pytest.raises(ValueError, match=r"'cat/0\.png' is 4x6.*'dog/big\.jpg' is 20x30"):
        load_image_folder(folder, cache=False)
    bunch = load_image_folder(folder, image_size=(5, 7), cache=False)
    assert bunch.images.shape == (4, 3, 5, 7)
    np.testing.assert_allclose(bunch.images[3, :, 2, 3] * 255, BLUE, atol=8)
    assert load_image_folder(folder, image_size=3, cache=False).input_shape == (3, 3, 3)
    for bad in (0, (2,), (2, 0), 2.5, True, "32"):
        with pytest.raises(ValueError, match="image_size"):
            load_image_folder(folder, image_size=bad, cache=False)
    with pytest.raises(ValueError, match="color"):
        load_image_folder(folder, color="RGB", cache=False)


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        load_image_folder(tmp_path / "file")
    root = tmp_path / "data"
    root.mkdir()
    (root / "loose.png").write_bytes(b"")
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_image_folder(root)
    _save(root / "cat" / "0.png", "RGB", (2, 2), RED)
    (root / "empty_class").mkdir()
    (root / "empty_class" / "labels.csv").write_text("0\n")
    with pytest.raises(ValueError, match="'empty_class'.*no image files"):
        load_image_folder(root)
    (root / "empty_class" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ValueError, match=r"Cannot decode image file .*broken\.jpg"):
        load_image_folder(root)
    (root / "empty_class" / "broken.jpg").unlink()
    Image.fromarray(np.zeros((2, 2), np.float32)).save(root / "empty_class" / "f.tif")
    with pytest.raises(ValueError, match=r"f\.tif.*not supported"):
        load_image_folder(root)


def test_missing_pillow(folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"load_image_folder needs Pillow \(pip install pillow"):
        load_image_folder(folder, cache=False)


def test_cache_hit_and_invalidation(folder, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    first = load_image_folder(folder, cache_dir=cache_dir)
    assert len(_cache_files(cache_dir)) == 1
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before

    def fail(*args, **kwargs):
        raise AssertionError("decoded despite a valid cache")

    with monkeypatch.context() as m:
        m.setattr(_images, "_decode_image", fail)
        with monkeypatch.context() as no_pillow:
            no_pillow.setitem(sys.modules, "PIL", None)  # a cache hit needs no Pillow
            second = load_image_folder(folder, cache_dir=cache_dir)
        for key in ("data", "target", "filenames"):
            np.testing.assert_array_equal(second[key], first[key])
        assert second.target_names == first.target_names
        assert second.input_shape == first.input_shape
        with pytest.raises(AssertionError, match="decoded"):
            load_image_folder(folder, cache=False)
        # Other options are other cache entries.
        with pytest.raises(AssertionError, match="decoded"):
            load_image_folder(folder, cache_dir=cache_dir, color="grey")

    # Rewriting a file (new content, new mtime) invalidates the cache ...
    path = folder / "cat" / "0.png"
    _save(path, "RGB", (4, 6), BLUE)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = load_image_folder(folder, cache_dir=cache_dir)
    np.testing.assert_array_equal(np.round(third.images[0, :, 0, 0] * 255), BLUE)
    # ... and replaces the stale file.
    assert len(_cache_files(cache_dir)) == 1
    # So does adding a file.
    _save(folder / "dog" / "c.png", "RGB", (4, 6), BLUE)
    assert load_image_folder(folder, cache_dir=cache_dir).data.shape[0] == 5
    assert len(_cache_files(cache_dir)) == 1


def test_cache_location(folder, tmp_path, monkeypatch):
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    load_image_folder(folder)  # default: $SKHASH_CACHE (set by the autouse fixture)
    assert len(_cache_files(tmp_path / "cache_env")) == 1
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
    with pytest.raises(ValueError, match="inside the image folder"):
        load_image_folder(folder, cache_dir=folder / "cat")
    monkeypatch.setenv("SKHASH_CACHE", str(folder))
    with pytest.raises(ValueError, match="inside the image folder"):
        load_image_folder(folder)
    load_image_folder(folder, cache=False)  # cache=False ignores the cache folder

    monkeypatch.delenv("SKHASH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _images._default_cache_dir() == tmp_path / "xdg" / "skhash"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _images._default_cache_dir() == tmp_path / "home" / ".cache" / "skhash"


def test_cache_unreadable_or_unwritable(folder, tmp_path):
    cache_dir = tmp_path / "cache"
    first = load_image_folder(folder, cache_dir=cache_dir)
    (path,) = (cache_dir / "image_folder").glob("*.npz")
    path.write_bytes(b"truncated")
    with pytest.warns(RuntimeWarning, match="unreadable image cache"):
        again = load_image_folder(folder, cache_dir=cache_dir)
    np.testing.assert_array_equal(again.data, first.data)
    assert np.load(path, allow_pickle=False)["pixels"].dtype == np.uint8  # rewritten

    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(RuntimeWarning, match="Could not write the image cache"):
        bunch = load_image_folder(folder, cache_dir=blocker)
    np.testing.assert_array_equal(bunch.data, first.data)
    assert not list(tmp_path.glob("**/*.tmp"))


# --------------------------------------------------------------------------- #
# load_cifar10 on train/ and test/ image folders
# --------------------------------------------------------------------------- #

CLASSES = [f"c{k}" for k in range(10)]


def _write_cifar_folders(base, n_train=2, n_test=1, classes=CLASSES):
    for split, n in (("train", n_train), ("test", n_test)):
        for label, name in enumerate(classes):
            for i in range(n):
                value = (label * 20 + i, 100 if split == "train" else 200, 0)
                _save(base / split / name / f"{i:04d}.png", "RGB", (32, 32), value)


def test_load_cifar10_folders(tmp_path):
    _write_cifar_folders(tmp_path)
    train = load_cifar10(tmp_path, cache_dir=tmp_path / "cache")
    assert train.data.shape == (20, 3072) and train.data.dtype == np.float32
    assert train.images.shape == (20, 3, 32, 32) and train.input_shape == (3, 32, 32)
    assert train.target_names == CLASSES
    assert train.target.tolist() == [k for k in range(10) for _ in range(2)]
    assert train.filenames[:3].tolist() == [
        "train/c0/0000.png", "train/c0/0001.png", "train/c1/0000.png"]
    assert np.round(train.images[3, :, 0, 0] * 255).tolist() == [21, 100, 0]
    assert set(train) == {"data", "target", "images", "input_shape", "target_names",
                          "filenames", "DESCR"}

    X, y = load_cifar10(tmp_path, subset="test", cache=False, return_X_y=True)
    assert X.shape == (10, 3072) and y.tolist() == list(range(10))
    both = load_cifar10(tmp_path, subset="all", cache_dir=tmp_path / "cache")
    assert both.data.shape == (30, 3072)
    np.testing.assert_array_equal(both.data[20:], X)
    assert both.filenames[20] == "test/c0/0000.png"


def test_load_cifar10_folders_subdir_and_errors(tmp_path):
    _write_cifar_folders(tmp_path / "cifar10-jpeg", n_train=1, classes=CLASSES[:9])
    with pytest.raises(ValueError, match="9 class sub-folder"):
        load_cifar10(tmp_path, subset="test", cache=False)
    _save(tmp_path / "cifar10-jpeg" / "test" / "other" / "0.png", "RGB", (32, 32), RED)
    _save(tmp_path / "cifar10-jpeg" / "train" / "c9" / "0.png", "RGB", (32, 32), RED)
    assert load_cifar10(tmp_path, subset="test", cache=False).data.shape == (10, 3072)
    with pytest.raises(ValueError, match="class folders differ"):
        load_cifar10(tmp_path, subset="all", cache=False)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"data_batch_1.*'train/'.*never downloads"):
        load_cifar10(empty)
