"""ITQHasher and LSHHasher: the codes against numpy by hand, ITQ's optimisation,
retrieval, persistence."""

import joblib
import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes

from skhash.codes import HammingSpace
from skhash.datasets import load_digits
from skhash.hashing import ITQHasher, LSHHasher
from skhash.hashing._baselines import _itq_rotation
from skhash.metrics import rank_by_distance
from skhash.neighbors import KNeighborsRetriever


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


@pytest.fixture(scope="module")
def itq(digits):
    return ITQHasher(n_bits=16, random_state=0).fit(digits[0])


@pytest.fixture(scope="module")
def lsh(digits):
    return LSHHasher(n_bits=16, random_state=0).fit(digits[0])


def test_itq_rotation_is_orthogonal(itq):
    R = itq.rotation_
    assert R.shape == (16, 16)
    np.testing.assert_allclose(R.T @ R, np.eye(16), atol=1e-10)
    np.testing.assert_allclose(R @ R.T, np.eye(16), atol=1e-10)


def test_itq_loss_non_increasing(itq):
    loss = itq.quantization_loss_
    assert loss.shape == (itq.n_iter_,)
    assert 1 <= itq.n_iter_ <= itq.n_iter
    assert (np.diff(loss) <= 1e-9 * loss[0]).all()
    assert loss[-1] < loss[0]


def test_itq_procrustes_step_direction():
    # one iteration from R0 is the orthogonal Procrustes solution of V R ~ sign(V R0)
    rng = np.random.RandomState(0)
    V = rng.standard_normal((200, 6))
    R0, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    R, loss, n_iter = _itq_rotation(V, R0, n_iter=1)
    expected, _ = orthogonal_procrustes(V, np.where(V @ R0 > 0, 1.0, -1.0))
    np.testing.assert_allclose(R, expected, atol=1e-12)
    B = np.where(V @ R > 0, 1.0, -1.0)
    assert n_iter == 1
    assert loss[0] == pytest.approx(np.sum((B - V @ R) ** 2))


def test_itq_codes_by_hand(itq, digits):
    X = digits[0].astype(np.float64)
    np.testing.assert_allclose(itq.mean_, X.mean(axis=0), rtol=1e-6, atol=1e-7)
    # components_ span the 16 leading principal directions (up to sign)
    _, _, Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(np.abs(itq.components_ @ Vt[:16].T), np.eye(16), atol=1e-4)
    V = (X - itq.mean_) @ itq.components_.T
    bits = (V @ itq.rotation_ > 0).astype(np.uint8)
    np.testing.assert_array_equal(itq.transform(X), bits)
    np.testing.assert_array_equal(itq.encode(X), np.packbits(bits, axis=1))
    assert itq.quantization_loss_[-1] == pytest.approx(
        np.sum((2.0 * bits - 1 - V @ itq.rotation_) ** 2), rel=1e-6
    )


def test_lsh_codes_by_hand(lsh, digits):
    X = digits[0].astype(np.float64)
    assert lsh.projections_.shape == (64, 16)
    np.testing.assert_allclose(lsh.mean_, X.mean(axis=0), rtol=1e-6, atol=1e-7)
    bits = ((X - lsh.mean_) @ lsh.projections_ > 0).astype(np.uint8)
    np.testing.assert_array_equal(lsh.transform(X), bits)
    np.testing.assert_array_equal(lsh.encode(X), np.packbits(bits, axis=1))
    assert lsh.code_space_.n_bits == 16


def test_itq_beats_lsh_on_digits(itq, lsh, digits):
    X, y = digits
    itq_map, lsh_map = itq.score(X, y), lsh.score(X, y)
    assert itq_map > lsh_map + 0.1, (itq_map, lsh_map)


@pytest.mark.parametrize("cls", [ITQHasher, LSHHasher])
def test_repeatable_with_random_state(cls, digits):
    X = digits[0]
    a = cls(n_bits=12, random_state=3).fit(X).transform(X)
    b = cls(n_bits=12, random_state=3).fit(X).transform(X)
    c = cls(n_bits=12, random_state=4).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.uint8 and set(np.unique(a)) <= {0, 1}


def test_itq_n_bits_too_large(digits):
    X = digits[0]
    with pytest.raises(ValueError, match=r"n_bits=65 .*n_features=64"):
        ITQHasher(n_bits=65).fit(X)
    with pytest.raises(ValueError, match=r"n_samples=10"):
        ITQHasher(n_bits=16).fit(X[:10])
    # random projections have no such limit
    assert LSHHasher(n_bits=100, random_state=0).fit(X[:10]).transform(X).shape == (1797, 100)


@pytest.mark.parametrize("cls", [ITQHasher, LSHHasher])
def test_asymmetric_search_refused(cls, digits):
    est = cls(n_bits=8, random_state=0).fit(digits[0])
    np.testing.assert_array_equal(est._query_codes(digits[0][:3]), est.encode(digits[0][:3]))
    with pytest.raises(ValueError, match="asymmetric"):
        est._query_codes(digits[0][:3], asymmetric=True)


def test_nan_rejected(digits):
    X = digits[0].copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ITQHasher(n_bits=8).fit(X)


@pytest.mark.parametrize("cls", [ITQHasher, LSHHasher])
def test_retriever_matches_hamming_brute_force(cls, digits):
    X, y = digits
    Xq, Xdb = X[:50], X[50:]
    retriever = KNeighborsRetriever(cls(n_bits=16, random_state=0), n_neighbors=7)
    dist, ind = retriever.fit(Xdb, y[50:]).kneighbors(Xq)
    hasher = cls(n_bits=16, random_state=0).fit(Xdb)
    np.testing.assert_array_equal(retriever.codes_, hasher.encode(Xdb))
    # every database item's Hamming distance, then a stable sort
    D = HammingSpace(16).pairwise(hasher.encode(Xq), hasher.encode(Xdb))
    mismatches = hasher.transform(Xq)[:, None] != hasher.transform(Xdb)
    np.testing.assert_array_equal(D, np.count_nonzero(mismatches, axis=-1))
    order = rank_by_distance(D)[:, :7]
    np.testing.assert_array_equal(ind, order)
    np.testing.assert_array_equal(dist, np.take_along_axis(D, order, 1))


@pytest.mark.parametrize("cls", [ITQHasher, LSHHasher])
def test_joblib_round_trip(cls, digits, tmp_path):
    X = digits[0]
    est = cls(n_bits=16, random_state=0).fit(X)
    joblib.dump(est, tmp_path / "est.joblib")
    loaded = joblib.load(tmp_path / "est.joblib")
    np.testing.assert_array_equal(loaded.encode(X), est.encode(X))
    assert loaded.code_space_.n_bits == 16
