"""The retriever as an index: chunked (out-of-core) search, add / remove, ids, codes on disk."""

import joblib
import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator

import skhash
import skhash.codes
from skhash import ITQHasher, KNeighborsRetriever, ProductQuantizer, encode_to_file
from skhash.codes import HammingSpace, ProductSpace
from skhash.datasets import load_digits

X, Y = load_digits(return_X_y=True)
X_DB, Y_DB, X_Q = X[300:], Y[300:], X[:300]


@pytest.fixture(scope="module", params=["hamming", "symmetric", "asymmetric"])
def frozen(request):
    """A fitted encoder, frozen, and whether the retriever searches asymmetrically."""
    if request.param == "hamming":
        encoder = ITQHasher(n_bits=12, random_state=0)  # short codes: many ties
    else:
        encoder = ProductQuantizer(4, 16, random_state=0)
    return FrozenEstimator(encoder.fit(X_DB)), request.param == "asymmetric"


def _retriever(frozen, **kw):
    encoder, asymmetric = frozen
    return KNeighborsRetriever(encoder, n_neighbors=20, asymmetric=asymmetric, **kw)


# ------------------------------------------------------------ chunked search
@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 1000])
def test_chunked_search_equals_one_pass(chunk_rows):
    rng = np.random.RandomState(0)
    spaces = [
        (HammingSpace(8), rng.randint(0, 4, (500, 1)).astype(np.uint8) << 6,
         rng.randint(0, 4, (40, 1)).astype(np.uint8) << 6, False),  # 4 distinct codes: ties
        (ProductSpace(rng.randn(3, 4, 2)), rng.randint(0, 4, (500, 3)).astype(np.uint8),
         rng.randint(0, 4, (40, 3)).astype(np.uint8), False),
        (ProductSpace(rng.randn(3, 4, 2)), rng.randint(0, 4, (500, 3)).astype(np.uint8),
         rng.randn(40, 6).astype(np.float32), True),
    ]
    for space, database, queries, asymmetric in spaces:
        for k in (1, 10, 120):
            want = space.kneighbors(queries, database, k, asymmetric=asymmetric)
            got = space.search(queries, database, k, asymmetric=asymmetric,
                               chunk_rows=chunk_rows)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])


def test_retriever_searches_the_database_in_chunks(frozen, monkeypatch):
    whole = _retriever(frozen).fit(X_DB, Y_DB)
    want = whole.kneighbors(X_Q)
    monkeypatch.setattr(skhash.codes, "DATABASE_CHUNK_ROWS", 97)
    got = whole.kneighbors(X_Q)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(whole.predict(X_Q), _retriever(frozen).fit(X_DB, Y_DB)
                                  .predict(X_Q))


# ------------------------------------------------------------ codes on disk
def test_codes_on_disk_search_as_codes_in_memory(frozen, tmp_path, monkeypatch):
    encoder, _ = frozen
    in_memory = _retriever(frozen).fit(X_DB, Y_DB)
    codes = encode_to_file(encoder, X_DB, tmp_path / "codes.npy", chunk_rows=101)
    assert isinstance(codes, np.memmap) and not codes.flags.writeable
    np.testing.assert_array_equal(codes, in_memory.codes_)
    monkeypatch.setattr(skhash.codes, "DATABASE_CHUNK_ROWS", 256)
    for source in (codes, tmp_path / "codes.npy", str(tmp_path / "codes.npy")):
        on_disk = _retriever(frozen).fit_codes(source, Y_DB)
        assert isinstance(on_disk.codes_, np.memmap)
        for a, b in zip(on_disk.kneighbors(X_Q), in_memory.kneighbors(X_Q)):
            np.testing.assert_array_equal(a, b)
        assert on_disk.score(X_Q, Y[:300]) == in_memory.score(X_Q, Y[:300])


def test_encode_to_file_refuses_to_overwrite_and_bad_chunks(tmp_path):
    encoder = ITQHasher(n_bits=8, random_state=0).fit(X_DB)
    path = tmp_path / "codes.npy"
    encode_to_file(encoder, X_DB, path)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        encode_to_file(encoder, X_DB, path)
    np.testing.assert_array_equal(encode_to_file(encoder, X_Q, path, overwrite=True),
                                  encoder.encode(X_Q))
    with pytest.raises(ValueError, match="chunk_rows"):
        encode_to_file(encoder, X_DB, tmp_path / "other.npy", chunk_rows=0)


def test_fit_codes_needs_a_fitted_encoder_and_valid_codes(frozen):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        KNeighborsRetriever(ITQHasher()).fit_codes(np.zeros((5, 4), np.uint8))
    encoder, asymmetric = frozen
    width = encoder.estimator.encode(X_DB[:1]).shape[1]
    with pytest.raises((ValueError, TypeError)):
        _retriever(frozen).fit_codes(np.zeros((5, width + 1), np.uint8))


# ----------------------------------------------------------- add and remove
def test_add_equals_one_fit_on_everything(frozen):
    whole = _retriever(frozen).fit(X_DB, Y_DB)
    grown = _retriever(frozen).fit(X_DB[:500], Y_DB[:500])
    grown.add(X_DB[500:900], Y_DB[500:900]).add(X_DB[900:], Y_DB[900:])
    np.testing.assert_array_equal(grown.codes_, whole.codes_)
    np.testing.assert_array_equal(grown.ids_, whole.ids_)
    np.testing.assert_array_equal(grown.classes_, whole.classes_)
    for a, b in zip(grown.kneighbors(X_Q), whole.kneighbors(X_Q)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(grown.predict_proba(X_Q), whole.predict_proba(X_Q))
    assert grown.score(X_Q, Y[:300]) == whole.score(X_Q, Y[:300])


def test_add_brings_new_classes_and_keeps_unlabelled_indexes_unlabelled(frozen):
    r = _retriever(frozen).fit(X_DB[Y_DB < 5], Y_DB[Y_DB < 5])
    assert list(r.classes_) == [0, 1, 2, 3, 4]
    r.add(X_DB[Y_DB >= 5], Y_DB[Y_DB >= 5])
    assert list(r.classes_) == list(range(10))
    with pytest.raises(ValueError, match="needs y"):
        r.add(X_Q[:3])
    bare = _retriever(frozen).fit(X_DB)
    with pytest.raises(ValueError, match="without y"):
        bare.add(X_Q[:3], Y[:3])
    assert bare.add(X_Q[:3]).n_samples_fit_ == len(X_DB) + 3


def test_remove_equals_a_fit_without_the_removed_items(frozen):
    drop = np.arange(0, len(X_DB), 3)
    keep = np.setdiff1d(np.arange(len(X_DB)), drop)
    fitted = _retriever(frozen).fit(X_DB, Y_DB).remove(drop)  # default ids: positions
    direct = _retriever(frozen).fit(X_DB[keep], Y_DB[keep], ids=keep)
    np.testing.assert_array_equal(fitted.codes_, direct.codes_)
    np.testing.assert_array_equal(fitted.ids_, keep)
    for a, b in zip(fitted.kneighbors(X_Q, return_ids=True),
                    direct.kneighbors(X_Q, return_ids=True)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fitted.predict(X_Q), direct.predict(X_Q))


def test_caller_ids_come_back_from_kneighbors_and_survive_updates(frozen):
    names = np.array([f"img_{i:05d}.png" for i in range(len(X_DB))])
    r = _retriever(frozen).fit(X_DB, Y_DB, ids=names)
    dist, pos = r.kneighbors(X_Q)
    _, got = r.kneighbors(X_Q, return_ids=True)
    np.testing.assert_array_equal(got, names[pos])
    r.remove(names[:10]).add(X_DB[:10], Y_DB[:10], ids=names[:10])
    dist_after, moved = r.kneighbors(X_Q, return_ids=True)
    # the same items under the same names, though their positions changed
    # (ties are ordered by position: only items tied at the cut-off may swap)
    np.testing.assert_array_equal(dist_after, dist)
    for q in range(len(X_Q)):
        inside = dist[q] < dist[q][-1]
        assert set(moved[q][inside]) == set(got[q][inside])
    with pytest.raises(ValueError, match="needs ids"):
        r.add(X_Q[:2], Y[:2])


@pytest.mark.parametrize("ids, error, match", [
    (np.zeros(len(X_DB)), TypeError, "integers or strings"),
    (np.arange(len(X_DB) - 1), ValueError, "one id per row"),
    (np.r_[0, np.arange(len(X_DB) - 1)], ValueError, r"repeated: \[0\]"),
])
def test_bad_ids_are_refused_before_training(ids, error, match):
    with pytest.raises(error, match=match):
        KNeighborsRetriever(ITQHasher(n_bits=8)).fit(X_DB, ids=ids)


def test_update_errors_name_the_problem(frozen):
    r = _retriever(frozen).fit(X_DB, Y_DB)
    with pytest.raises(ValueError, match="already in the index"):
        r.add(X_Q[:2], Y[:2], ids=[5, 10**6])
    with pytest.raises(KeyError, match=r"not in the index: \[123456\]"):
        r.remove([1, 123456])
    with pytest.raises(ValueError, match="distinct"):
        r.remove([1, 1])
    with pytest.raises(ValueError, match="empty the index"):
        r.remove(r.ids_)
    assert r.n_samples_fit_ == len(X_DB)  # nothing half-done


# -------------------------------------------------------------- persistence
def test_the_index_saves_and_loads_with_the_estimator(frozen, tmp_path):
    names = np.array([f"k{i}" for i in range(len(X_DB))])
    r = _retriever(frozen).fit(X_DB[:800], Y_DB[:800], ids=names[:800])
    r.add(X_DB[800:], Y_DB[800:], ids=names[800:]).remove(names[:5])
    want = r.kneighbors(X_Q, return_ids=True)
    skhash.save(r, tmp_path / "safe")
    joblib.dump(r, tmp_path / "r.joblib")
    for loaded in (skhash.load(tmp_path / "safe"), joblib.load(tmp_path / "r.joblib")):
        np.testing.assert_array_equal(loaded.ids_, r.ids_)
        for a, b in zip(loaded.kneighbors(X_Q, return_ids=True), want):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------- failed updates change nothing
def _state(r):
    keep = ("codes_", "ids_", "_y", "n_samples_fit_", "classes_", "_next_id")
    return {k: (np.array(getattr(r, k)) if hasattr(r, k) else None) for k in keep}


def _assert_unchanged(r, before):
    for key, value in _state(r).items():
        if value is None:
            assert before[key] is None, key
        else:
            np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_a_failed_add_or_remove_leaves_the_index_as_it_was(frozen):
    r = _retriever(frozen).fit(X_DB[:500], Y_DB[:500])
    before = _state(r)
    bad = [
        lambda: r.add(X_DB[500:502], np.array(["cat", "dog"], dtype=object)),  # strings
        lambda: r.add(X_DB[500:502], [1.5, 2.0]),  # fractional labels
        lambda: r.add(X_DB[500:502], Y_DB[500:503]),  # one label too many
        lambda: r.add(X_DB[500:502], Y_DB[500:502], ids=["a", "b"]),  # string ids
        lambda: r.add(X_DB[500:502], Y_DB[500:502], ids=[3, 900]),  # id taken
        lambda: r.remove(["5"]),  # a string id in an integer index
        lambda: r.remove([1, 10**9]),
    ]
    for call in bad:
        with pytest.raises((ValueError, TypeError, KeyError)):
            call()
        _assert_unchanged(r, before)
    # labels of the same kind, given as floats with integral values, are fine
    r.add(X_DB[500:502], Y_DB[500:502].astype(float))
    assert r.classes_.dtype == before["classes_"].dtype


def test_a_failed_fit_codes_leaves_the_index_as_it_was(frozen):
    encoder, _ = frozen
    r = _retriever(frozen).fit(X_DB[:100], Y_DB[:100])
    before = _state(r)
    codes = encoder.estimator.encode(X_DB[:30])
    with pytest.raises(ValueError, match="distinct"):
        r.fit_codes(codes, ids=np.zeros(30, int))
    with pytest.raises(ValueError, match="labels for 30"):
        r.fit_codes(codes, Y_DB[:10])
    _assert_unchanged(r, before)


def test_fit_checks_the_label_count_before_training():
    encoder = ITQHasher(n_bits=8)
    with pytest.raises(ValueError, match="10 labels for 50"):
        KNeighborsRetriever(encoder).fit(X_DB[:50], Y_DB[:10])
    assert not hasattr(encoder, "code_space_")


def test_integer_ids_are_never_reused_and_string_ids_from_object_arrays():
    r = KNeighborsRetriever(ITQHasher(n_bits=8, random_state=0)).fit(X_DB[:10])
    r.remove([9]).add(X_DB[10:11])
    assert r.ids_.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10]
    names = np.array([f"n{i}" for i in range(10)], dtype=object)
    named = KNeighborsRetriever(ITQHasher(n_bits=8, random_state=0)).fit(X_DB[:10], ids=names)
    assert named.ids_.dtype.kind == "U"
    named.remove(np.array(["n3"], dtype=object))
    assert "n3" not in named.ids_
    big = np.array([2**63 + 5], dtype=np.uint64)
    with pytest.raises(ValueError, match="int64"):
        KNeighborsRetriever(ITQHasher(n_bits=8)).fit(X_DB[:1], ids=big)


def test_memmapped_codes_must_be_of_the_code_dtype(tmp_path):
    encoder = ProductQuantizer(4, 16, random_state=0).fit(X_DB)
    path = tmp_path / "wide.npy"
    np.save(path, encoder.encode(X_DB).astype(np.int64))
    with pytest.raises(TypeError, match="uint8"):
        KNeighborsRetriever(FrozenEstimator(encoder)).fit_codes(path)
    # in memory, other integer dtypes are converted once, at fit_codes
    r = KNeighborsRetriever(FrozenEstimator(encoder)).fit_codes(np.load(path))
    assert r.codes_.dtype == np.uint8


def test_store_init_params_lets_a_subclass_extend_the_signature():
    class MyITQ(ITQHasher):
        def __init__(self, n_bits=16, *, extra=1, n_iter=50, random_state=None):
            super().__init__(n_bits=n_bits, n_iter=n_iter, random_state=random_state)
            self.extra = extra

    assert MyITQ(extra=3).get_params() == {"extra": 3, "n_bits": 16, "n_iter": 50,
                                           "random_state": None}


def test_radius_and_self_queries_are_chunked_too(monkeypatch):
    rng = np.random.RandomState(1)
    space = HammingSpace(12)
    db = space.check_codes(np.packbits(rng.randint(0, 2, (700, 12)).astype(np.uint8), axis=1))
    queries = db[:90]
    want = space.radius_neighbors(queries, db, 3)
    got = space.radius_neighbors(queries, db, 3, chunk_rows=64)
    for a, b in zip(want[0], got[0]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(want[1], got[1]):
        np.testing.assert_array_equal(a, b)
    r = KNeighborsRetriever(ITQHasher(n_bits=12, random_state=0), n_neighbors=5).fit(X_DB)
    whole = r.kneighbors()
    whole_r = r.radius_neighbors(X_Q, radius=2)
    monkeypatch.setattr(skhash.codes, "DATABASE_CHUNK_ROWS", 101)
    for a, b in zip(r.kneighbors(), whole):
        np.testing.assert_array_equal(a, b)
    for part_a, part_b in zip(r.radius_neighbors(X_Q, radius=2), whole_r):
        for a, b in zip(part_a, part_b):
            np.testing.assert_array_equal(a, b)


def test_default_ids_take_no_memory_until_an_item_is_removed():
    r = KNeighborsRetriever(ITQHasher(n_bits=8, random_state=0)).fit(X_DB[:50])
    assert r._ids is None and r.ids_.tolist() == list(range(50))
    r.add(X_DB[50:60])
    assert r._ids is None and r.ids_.tolist() == list(range(60))  # still the positions
    np.testing.assert_array_equal(r.kneighbors(X_Q[:3], 5, return_ids=True)[1],
                                  r.kneighbors(X_Q[:3], 5)[1])
    r.remove([0])
    assert r._ids is not None and r.ids_[0] == 1
    r.add(X_DB[60:61])
    assert r.ids_[-1] == 60  # never a removed item's id
