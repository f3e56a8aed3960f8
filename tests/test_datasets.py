"""Tests for skhash.datasets: loaders (digits, IDX/MNIST, CIFAR-10) and split protocols."""

import doctest
import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

import skhash.datasets as ds
from skhash.datasets import (
    RetrievalSplit,
    _distort,
    _loaders,
    _protocols,
    cnnh_split,
    load_cifar10,
    load_digits,
    load_mnist,
    random_split,
    read_idx,
)

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

_IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def _idx_bytes(array):
    array = np.asarray(array)
    header = struct.pack(">BBBB", 0, 0, _IDX_CODES[array.dtype], array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_idx(path, array, *, compress=None):
    path = Path(path)
    payload = _idx_bytes(array)
    if compress is None:
        compress = path.name.endswith(".gz")
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def _write_fake_mnist(directory, split, n, *, compress, hw=(28, 28), seed=0, n_labels=None):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n,) + hw, dtype=np.uint8)
    labels = (np.arange(n if n_labels is None else n_labels) % 10).astype(np.uint8)
    prefix = "t10k" if split == "test" else "train"
    ext = ".gz" if compress else ""
    _write_idx(directory / f"{prefix}-images-idx3-ubyte{ext}", images)
    _write_idx(directory / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return images, labels


# --------------------------------------------------------------------------- #
# Public API / doctests
# --------------------------------------------------------------------------- #


def test_public_api():
    assert set(ds.__all__) == {
        "make_multilabel_digits",
        "load_digits",
        "read_idx",
        "load_mnist",
        "load_cifar10",
        "RetrievalSplit",
        "cnnh_split",
        "random_split",
        "dsh_split",
        "ssdh_split",
        "unseen_classes_split",
        "load_image_folder",
        "distort_images",
    }
    for name in ds.__all__:
        assert getattr(ds, name).__doc__


@pytest.mark.parametrize("module", [_loaders, _protocols, _distort])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


# --------------------------------------------------------------------------- #
# load_digits
# --------------------------------------------------------------------------- #


def test_load_digits():
    bunch = load_digits()
    assert bunch.data.shape == (1797, 64)
    assert bunch.data.dtype == np.float32
    assert bunch.target.shape == (1797,)
    assert bunch.target.dtype == np.int64
    assert bunch.images.shape == (1797, 1, 8, 8)
    assert bunch.images.dtype == np.float32
    assert bunch.input_shape == (1, 8, 8)
    assert list(bunch.target_names) == list(range(10))
    assert isinstance(bunch.DESCR, str) and bunch.DESCR
    assert bunch.data.min() == 0.0 and bunch.data.max() == 1.0
    np.testing.assert_array_equal(bunch.images.reshape(1797, -1), bunch.data)
    # Same pixels as scikit-learn's digits / 16.
    from sklearn.datasets import load_digits as sk_load_digits

    sk = sk_load_digits()
    np.testing.assert_allclose(bunch.data, sk.data / 16.0, rtol=1e-6)
    np.testing.assert_array_equal(bunch.target, sk.target)

    X, y = load_digits(return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


# --------------------------------------------------------------------------- #
# read_idx
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
)
def test_read_idx_round_trip(tmp_path, compress, dtype):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    name = "arr-idx3" + (".gz" if compress else "")
    path = _write_idx(tmp_path / name, array)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype)
    assert out.dtype.isnative
    assert out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, array)
    # str paths work too
    np.testing.assert_array_equal(read_idx(str(path)), array)


def test_read_idx_1d_and_gzip_sniffed(tmp_path):
    labels = np.arange(7, dtype=np.uint8)
    # gzip content under a name without .gz is detected by its signature
    path = _write_idx(tmp_path / "labels-idx1-ubyte", labels, compress=True)
    np.testing.assert_array_equal(read_idx(path), labels)


def test_read_idx_missing(tmp_path):
    missing = tmp_path / "nope-idx1-ubyte"
    with pytest.raises(FileNotFoundError, match="nope-idx1-ubyte"):
        read_idx(missing)


def test_read_idx_bad_magic(tmp_path):
    payload = bytearray(_idx_bytes(np.zeros(4, dtype=np.uint8)))
    payload[0] = 0x12
    path = tmp_path / "bad"
    path.write_bytes(bytes(payload))
    with pytest.raises(ValueError, match="magic"):
        read_idx(path)


def test_read_idx_unknown_dtype(tmp_path):
    payload = bytearray(_idx_bytes(np.zeros(4, dtype=np.uint8)))
    payload[2] = 0x0A
    path = tmp_path / "bad"
    path.write_bytes(bytes(payload))
    with pytest.raises(ValueError, match="type code 0x0A"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_truncated(tmp_path, compress):
    payload = _idx_bytes(np.zeros((4, 3), dtype=np.int16))[:-5]
    path = tmp_path / ("trunc" + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(payload) if compress else payload)
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


def test_read_idx_trailing_data_and_short_header(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(_idx_bytes(np.zeros(4, dtype=np.uint8)) + b"\x00")
    with pytest.raises(ValueError, match="5 data bytes"):
        read_idx(path)
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x02")  # 3 dims, 1 size
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="magic"):
        read_idx(path)


def test_read_idx_corrupt_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.zeros(100, dtype=np.uint8)))[:-10])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(path)


# --------------------------------------------------------------------------- #
# load_mnist
# --------------------------------------------------------------------------- #


@pytest.mark.skipif(
    not MNIST_DIR.is_dir(), reason=f"MNIST test files not available at {MNIST_DIR}"
)
def test_load_mnist_real_test_set():
    bunch = load_mnist(MNIST_DIR)
    assert bunch.data.shape == (10000, 784)
    assert bunch.data.dtype == np.float32
    assert bunch.data.min() >= 0.0 and bunch.data.max() <= 1.0
    assert bunch.data.max() == 1.0
    assert bunch.target.dtype == np.int64
    assert bunch.images.shape == (10000, 1, 28, 28)
    assert bunch.input_shape == (1, 28, 28)
    assert np.bincount(bunch.target, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert list(bunch.target_names) == list(range(10))
    # The protocol the workspace README describes.
    split = cnnh_split(bunch.target, n_queries_per_class=100, n_train=5000, random_state=0)
    assert split.query.size == 1000 and split.database.size == 9000
    assert split.train.size == 5000


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_fake_all(tmp_path, compress):
    tr_img, tr_lbl = _write_fake_mnist(tmp_path, "train", 12, compress=compress, seed=1)
    te_img, te_lbl = _write_fake_mnist(tmp_path, "test", 5, compress=not compress, seed=2)

    X, y = load_mnist(tmp_path, subset="test", return_X_y=True)
    assert X.shape == (5, 784) and X.dtype == np.float32
    np.testing.assert_allclose(X, te_img.reshape(5, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, te_lbl)

    train = load_mnist(tmp_path, subset="train")
    assert train.data.shape == (12, 784)
    np.testing.assert_array_equal(train.target, tr_lbl)

    both = load_mnist(tmp_path, subset="all")
    assert both.data.shape == (17, 784)
    assert both.images.shape == (17, 1, 28, 28)
    np.testing.assert_array_equal(both.data[:12], train.data)
    np.testing.assert_array_equal(both.data[12:], X)
    np.testing.assert_array_equal(both.target, np.concatenate([tr_lbl, te_lbl]))


def test_load_mnist_missing_files(tmp_path):
    _write_fake_mnist(tmp_path, "test", 3, compress=True)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path, subset="train")
    msg = str(info.value)
    assert str(tmp_path) in msg
    assert "train-images-idx3-ubyte" in msg and "train-labels-idx1-ubyte" in msg
    assert "never downloads" in msg

    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path, subset="all")

    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "absent")


def test_load_mnist_count_mismatch(tmp_path):
    _write_fake_mnist(tmp_path, "test", 4, compress=False, n_labels=5)
    with pytest.raises(ValueError, match="4 images but .* 5 labels"):
        load_mnist(tmp_path)


def test_load_mnist_bad_subset(tmp_path):
    with pytest.raises(ValueError, match="subset"):
        load_mnist(tmp_path, subset="validation")


# --------------------------------------------------------------------------- #
# load_cifar10
# --------------------------------------------------------------------------- #


def _write_fake_cifar(directory, *, n_per_batch=3, meta=True, str_keys=False):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    batches = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = [(i + j) % 10 for j in range(n_per_batch)]
        key_d, key_l = ("data", "labels") if str_keys else (b"data", b"labels")
        with open(directory / name, "wb") as f:
            pickle.dump({key_d: data, key_l: labels, b"batch_label": name.encode()}, f)
        batches[name] = (data, np.asarray(labels))
    if meta:
        label_names = [f"class{k}".encode() for k in range(10)]
        with open(directory / "batches.meta", "wb") as f:
            pickle.dump({b"label_names": label_names, b"num_cases_per_batch": n_per_batch}, f)
    return batches


def test_load_cifar10_fake(tmp_path):
    batches = _write_fake_cifar(tmp_path)
    bunch = load_cifar10(tmp_path)
    assert bunch.data.shape == (15, 3072)
    assert bunch.data.dtype == np.float32
    assert bunch.target.dtype == np.int64
    assert bunch.images.shape == (15, 3, 32, 32)
    assert bunch.input_shape == (3, 32, 32)
    assert bunch.target_names == [f"class{k}" for k in range(10)]
    expected = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    np.testing.assert_allclose(bunch.data, expected / 255.0, rtol=1e-6)
    # Channel-first layout: the first 1024 values of a row are the red plane.
    np.testing.assert_allclose(
        bunch.images[0, 0], expected[0, :1024].reshape(32, 32) / 255.0, rtol=1e-6
    )
    np.testing.assert_array_equal(
        bunch.target,
        np.concatenate([batches[f"data_batch_{i}"][1] for i in range(1, 6)]),
    )

    X, y = load_cifar10(tmp_path, subset="test", return_X_y=True)
    assert X.shape == (3, 3072)
    np.testing.assert_array_equal(y, batches["test_batch"][1])

    both = load_cifar10(tmp_path, subset="all")
    assert both.data.shape == (18, 3072)
    np.testing.assert_array_equal(both.data[15:], X)


def test_load_cifar10_subdir_default_names_str_keys(tmp_path):
    _write_fake_cifar(tmp_path / "cifar-10-batches-py", meta=False, str_keys=True)
    bunch = load_cifar10(tmp_path, subset="test")
    assert bunch.data.shape == (3, 3072)
    assert bunch.target_names[0] == "airplane" and bunch.target_names[-1] == "truck"
    assert len(bunch.target_names) == 10


def test_load_cifar10_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        load_cifar10(tmp_path)
    (tmp_path / "test_batch").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_cifar10(tmp_path, subset="all")
    with pytest.raises(ValueError, match="subset"):
        load_cifar10(tmp_path, subset="val")


def test_load_cifar10_truncated_batch_names_the_file(tmp_path):
    # issue #11: a truncated pickle raised a bare UnpicklingError
    _write_fake_cifar(tmp_path)
    path = tmp_path / "test_batch"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match="test_batch.*truncated or corrupt") as info:
        load_cifar10(tmp_path, subset="test")
    assert isinstance(info.value.__cause__, (pickle.UnpicklingError, EOFError))
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="test_batch"):
        load_cifar10(tmp_path, subset="test")


@pytest.mark.parametrize("bad", [-1, 10])
def test_load_cifar10_label_out_of_range(tmp_path, bad):
    # issue #11: labels outside the 10 classes were accepted
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, bad, 1]}, f)
    with pytest.raises(ValueError, match=rf"test_batch.*label {bad} at position 1"):
        load_cifar10(tmp_path, subset="test")


def test_load_mnist_label_out_of_range(tmp_path):
    # issue #11: an MNIST label 200 was accepted
    _write_fake_mnist(tmp_path, "test", 4, compress=False)
    labels = np.array([1, 2, 200, 3], dtype=np.uint8)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.*label 200 at position 2"):
        load_mnist(tmp_path)


def test_load_cifar10_bad_batch(tmp_path):
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(ValueError, match="3072"):
        load_cifar10(tmp_path, subset="test")
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"pixels": 0}, f)
    with pytest.raises(ValueError, match="not a CIFAR-10 batch"):
        load_cifar10(tmp_path, subset="test")


# --------------------------------------------------------------------------- #
# cnnh_split
# --------------------------------------------------------------------------- #


def _labels():
    # Unbalanced classes, shuffled, with non-contiguous label values.
    y = np.repeat([3, 5, 7, 11], [30, 25, 40, 21])
    return np.random.default_rng(42).permutation(y)


def _check_partition(split, n):
    assert isinstance(split, RetrievalSplit)
    for part in split:
        assert part.dtype == np.int64 and part.ndim == 1
        assert np.all(np.diff(part) > 0)  # sorted, no duplicates
    assert np.intersect1d(split.query, split.database).size == 0
    np.testing.assert_array_equal(np.union1d(split.query, split.database), np.arange(n))
    assert np.isin(split.train, split.database).all()


def test_cnnh_split_basic():
    y = _labels()
    split = cnnh_split(y, n_queries_per_class=5, n_train=30, random_state=0)
    _check_partition(split, y.size)
    q_labels, q_counts = np.unique(y[split.query], return_counts=True)
    assert q_labels.tolist() == [3, 5, 7, 11]
    assert q_counts.tolist() == [5, 5, 5, 5]
    assert split.database.size == y.size - 20
    assert split.train.size == 30
    query, database, train = split  # unpacks as a tuple
    assert query is split.query


def test_cnnh_split_train_none_is_database():
    y = _labels()
    split = cnnh_split(y, n_queries_per_class=2, n_train=None, random_state=1)
    np.testing.assert_array_equal(split.train, split.database)
    assert split.train is not split.database


def test_cnnh_split_reproducible():
    y = _labels()
    a = cnnh_split(y, n_queries_per_class=5, n_train=30, random_state=7)
    b = cnnh_split(y, n_queries_per_class=5, n_train=30, random_state=7)
    c = cnnh_split(y, n_queries_per_class=5, n_train=30, random_state=8)
    for x, z in zip(a, b):
        np.testing.assert_array_equal(x, z)
    assert not np.array_equal(a.query, c.query)
    assert not np.array_equal(a.train, c.train)
    rs = np.random.RandomState(7)
    d = cnnh_split(y, n_queries_per_class=5, n_train=30, random_state=rs)
    np.testing.assert_array_equal(d.query, a.query)


def test_cnnh_split_string_labels():
    y = np.array(["cat", "dog"] * 10)
    split = cnnh_split(y, n_queries_per_class=3, n_train=4, random_state=0)
    _check_partition(split, 20)
    assert sorted(y[split.query].tolist()) == ["cat"] * 3 + ["dog"] * 3


def test_cnnh_split_errors():
    y = _labels()  # smallest class (11) has 21 items
    with pytest.raises(ValueError, match=r"11.*21 items"):
        cnnh_split(y, n_queries_per_class=21)
    cnnh_split(y, n_queries_per_class=20, n_train=None)  # 20 < 21 is fine
    with pytest.raises(ValueError, match="larger than the database"):
        cnnh_split(y, n_queries_per_class=5, n_train=y.size - 19)
    cnnh_split(y, n_queries_per_class=5, n_train=y.size - 20)  # exactly the database
    with pytest.raises(ValueError, match="1-D"):
        cnnh_split(y.reshape(-1, 2), n_queries_per_class=1)
    with pytest.raises(ValueError, match="1-D"):
        cnnh_split(y[:, None], n_queries_per_class=1)
    with pytest.raises(ValueError, match="n_queries_per_class"):
        cnnh_split(y, n_queries_per_class=0)
    with pytest.raises(ValueError, match="n_train"):
        cnnh_split(y, n_queries_per_class=1, n_train=0)
    with pytest.raises(ValueError, match="n_train"):
        cnnh_split(y, n_queries_per_class=1, n_train=2.5)
    with pytest.raises(ValueError, match="empty"):
        cnnh_split([], n_queries_per_class=1)


# --------------------------------------------------------------------------- #
# random_split
# --------------------------------------------------------------------------- #


def test_random_split_counts_and_fractions():
    split = random_split(50, n_queries=7, n_train=20, random_state=0)
    _check_partition(split, 50)
    assert (split.query.size, split.database.size, split.train.size) == (7, 43, 20)

    split = random_split(50, n_queries=0.1, n_train=0.5, random_state=0)
    _check_partition(split, 50)
    assert (split.query.size, split.database.size, split.train.size) == (5, 45, 22)

    split = random_split(10, n_queries=0.25, random_state=0)  # ceil(2.5) = 3
    assert split.query.size == 3
    np.testing.assert_array_equal(split.train, split.database)


def test_random_split_reproducible():
    a = random_split(100, n_queries=10, n_train=30, random_state=3)
    b = random_split(100, n_queries=10, n_train=30, random_state=3)
    c = random_split(100, n_queries=10, n_train=30, random_state=4)
    for x, z in zip(a, b):
        np.testing.assert_array_equal(x, z)
    assert not np.array_equal(a.query, c.query)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_samples=1, n_queries=1), "n_samples"),
        (dict(n_samples=10, n_queries=10), "only 9 are available"),
        (dict(n_samples=10, n_queries=0), "n_queries"),
        (dict(n_samples=10, n_queries=1.0), r"\(0, 1\)"),
        (dict(n_samples=10, n_queries=2, n_train=0.1), "selects no item"),
        (dict(n_samples=10, n_queries="3"), "n_queries"),
        (dict(n_samples=10, n_queries=2, n_train=9), "only 8 are available"),
        (dict(n_samples=10, n_queries=2, n_train=1.5), "n_train"),
    ],
)
def test_random_split_errors(kwargs, match):
    kwargs = dict(kwargs)
    n_samples = kwargs.pop("n_samples")
    with pytest.raises(ValueError, match=match):
        random_split(n_samples, **kwargs)


# --------------------------------------------------------------------------- #
# distort_images (synthetic datasets)
# --------------------------------------------------------------------------- #


def test_distort_images_invert():
    X = np.random.RandomState(0).rand(5, 2 * 3 * 4).astype(np.float32)
    out = ds.distort_images(X, (2, 3, 4), "invert")
    np.testing.assert_allclose(out, 1 - X)
    assert out.dtype == np.float32 and out.shape == X.shape


def test_distort_images_jitter_moves_strokes_and_keeps_the_format():
    X = np.zeros((200, 28 * 28), dtype=np.float32)
    image = X.reshape(-1, 28, 28)
    image[:, 8:20, 13:15] = 1.0  # a vertical bar in the middle
    out = ds.distort_images(X, (1, 28, 28), "jitter", random_state=0)
    assert out.shape == X.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    moved = np.abs(out - X).sum(1) > 1
    assert moved.mean() > 0.9  # nearly every image rotated and/or shifted
    # the bar stays in the image: at most 3 pixels of shift and 15 degrees of rotation
    np.testing.assert_allclose(out.sum(1), X.sum(1), rtol=0.15)
    # seeded: the same distortion again, another with another seed
    np.testing.assert_array_equal(out, ds.distort_images(X, (1, 28, 28), "jitter",
                                                         random_state=0))
    assert not np.array_equal(out, ds.distort_images(X, (1, 28, 28), "jitter",
                                                     random_state=1))
    # no rotation and no shift: the images unchanged
    np.testing.assert_allclose(ds.distort_images(X, (1, 28, 28), "jitter", max_shift=0,
                                                 max_rotation=0, random_state=0), X, atol=1e-6)


def test_distort_images_shift_only_is_a_whole_pixel_translation():
    X = np.zeros((50, 36), dtype=np.float32)
    X[:, 14] = 1.0  # one lit pixel at (2, 2) of a 6 x 6 image
    out = ds.distort_images(X, (1, 6, 6), "jitter", max_shift=1, max_rotation=0,
                            random_state=0).reshape(-1, 6, 6)
    for img in out:
        (r,), (c,) = np.nonzero(img > 0.5)
        assert abs(r - 2) <= 1 and abs(c - 2) <= 1 and img.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("X, shape, kind, match", [
    (np.zeros((2, 16)), (1, 4, 4), "blur", "kind must be one of"),
    (np.zeros(16), (1, 4, 4), "invert", "must be 2-D"),
    (np.zeros((2, 16)), (1, 4, 5), "invert", "does not match the 16 features"),
    (np.zeros((2, 16)), (4, 4), "invert", "does not match"),
    (np.full((2, 16), 255.0), (1, 4, 4), "invert", r"values in \[0, 1\]"),
    (np.full((2, 16), np.nan), (1, 4, 4), "jitter", "NaN or infinite"),
])
def test_distort_images_bad_input(X, shape, kind, match):
    with pytest.raises(ValueError, match=match):
        ds.distort_images(X, shape, kind)


def test_distort_images_negative_or_fractional_limits_and_no_rows():
    with pytest.raises(ValueError, match="must be >= 0"):
        ds.distort_images(np.zeros((1, 16)), (1, 4, 4), "jitter", max_shift=-1)
    with pytest.raises(ValueError, match="whole number"):
        ds.distort_images(np.zeros((1, 16)), (1, 4, 4), "jitter", max_shift=1.5)
    for kind in ("invert", "jitter"):
        assert ds.distort_images(np.zeros((0, 16)), (1, 4, 4), kind).shape == (0, 16)
