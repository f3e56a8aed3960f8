"""Code spaces against brute force, ties included."""

import numpy as np
import pytest

from skhash.codes import HammingSpace, ProductSpace, pack_bits, search_threads, unpack_bits


def _brute_hamming(Qbits, Xbits):
    return (Qbits[:, None, :] != Xbits[None, :, :]).sum(-1)


def _stable_topk(D, k):
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(D, order, 1), order


@pytest.mark.parametrize("n_bits", [1, 7, 12, 48, 64, 65, 130])
def test_hamming_pairwise_and_topk_match_brute_force(n_bits):
    rng = np.random.default_rng(n_bits)
    # few distinct codes -> many exact ties
    pool = rng.integers(0, 2, size=(9, n_bits), dtype=np.uint8)
    Xbits = pool[rng.integers(0, 9, size=300)]
    Qbits = pool[rng.integers(0, 9, size=40)]
    space = HammingSpace(n_bits)
    Q, X = space.pack(Qbits), space.pack(Xbits)
    D = _brute_hamming(Qbits, Xbits)
    np.testing.assert_array_equal(space.pairwise(Q, X), D)
    for k in (1, 5, 300):
        dist, ind = space.kneighbors(Q, X, k)
        d_ref, i_ref = _stable_topk(D, k)
        np.testing.assert_array_equal(dist, d_ref)
        np.testing.assert_array_equal(ind, i_ref)  # ties broken by database index


def test_hamming_topk_many_chunks_and_blocks():
    # larger than one database chunk (16384) and one query block (32)
    rng = np.random.default_rng(0)
    space = HammingSpace(16)
    X = rng.integers(0, 256, size=(40000, 2), dtype=np.uint8)
    Q = rng.integers(0, 256, size=(70, 2), dtype=np.uint8)
    D = space.pairwise(Q, X)
    dist, ind = space.kneighbors(Q, X, 50)
    d_ref, i_ref = _stable_topk(D, 50)
    np.testing.assert_array_equal(ind, i_ref)
    np.testing.assert_array_equal(dist, d_ref)


def test_hamming_radius_neighbors():
    rng = np.random.default_rng(1)
    Xbits = rng.integers(0, 2, size=(200, 10), dtype=np.uint8)
    Qbits = rng.integers(0, 2, size=(15, 10), dtype=np.uint8)
    space = HammingSpace(10)
    D = _brute_hamming(Qbits, Xbits)
    dist, ind = space.radius_neighbors(space.pack(Qbits), space.pack(Xbits), 2)
    assert dist.dtype == object and ind.shape == (15,)
    for q in range(15):
        expected = np.flatnonzero(D[q] <= 2)
        expected = expected[np.argsort(D[q, expected], kind="stable")]
        np.testing.assert_array_equal(ind[q], expected)
        np.testing.assert_array_equal(dist[q], D[q, expected])


def test_pack_unpack_round_trip():
    rng = np.random.default_rng(2)
    bits = rng.integers(0, 2, size=(5, 13), dtype=np.uint8)
    packed = pack_bits(bits)
    assert packed.shape == (5, 2) and packed.dtype == np.uint8
    np.testing.assert_array_equal(unpack_bits(packed, 13), bits)
    with pytest.raises(ValueError, match="only 0 and 1"):
        pack_bits([[0, 2]])


def _product_case(M=4, K=16, d=3, seed=0):
    rng = np.random.default_rng(seed)
    codebooks = rng.normal(size=(M, K, d)).astype(np.float32)
    # duplicated database codes -> exact ties
    pool = rng.integers(0, K, size=(12, M), dtype=np.uint8)
    X = pool[rng.integers(0, 12, size=250)]
    Qc = pool[rng.integers(0, 12, size=20)]
    Qv = rng.normal(size=(20, M * d)).astype(np.float32)
    return ProductSpace(codebooks), X, Qc, Qv


def test_product_symmetric_is_squared_l2_between_decoded():
    space, X, Qc, _ = _product_case()
    ref = ((space.decode(Qc)[:, None, :] - space.decode(X)[None]) ** 2).sum(-1)
    np.testing.assert_allclose(space.pairwise(Qc, X), ref, rtol=1e-4, atol=1e-4)


def test_product_asymmetric_is_squared_l2_vector_to_decoded():
    space, X, _, Qv = _product_case()
    ref = ((Qv[:, None, :] - space.decode(X)[None]) ** 2).sum(-1)
    np.testing.assert_allclose(space.pairwise(Qv, X, asymmetric=True), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("asymmetric", [False, True])
def test_product_topk_matches_sorted_pairwise(asymmetric):
    space, X, Qc, Qv = _product_case(seed=3)
    Q = Qv if asymmetric else Qc
    D = space.pairwise(Q, X, asymmetric=asymmetric)
    for k in (1, 7, 250):
        dist, ind = space.kneighbors(Q, X, k, asymmetric=asymmetric, chunk_size=6)
        d_ref, i_ref = _stable_topk(D, k)
        np.testing.assert_array_equal(ind, i_ref)
        np.testing.assert_array_equal(dist, d_ref)


def test_large_codebooks_compute_table_rows_on_the_fly(monkeypatch):
    # A big map (e.g. a 75 x 75 SOM, M = 1) must not store a K x K table.
    space, X, Qc, _ = _product_case(seed=5)
    stored = space.pairwise(Qc, X)
    d_ref, i_ref = space.kneighbors(Qc, X, 9)
    fresh = ProductSpace(space.codebooks)
    monkeypatch.setattr(ProductSpace, "max_table_bytes", 16)
    assert not fresh.stores_tables
    np.testing.assert_array_equal(fresh.pairwise(Qc, X), stored)
    dist, ind = fresh.kneighbors(Qc, X, 9)
    np.testing.assert_array_equal(ind, i_ref)
    np.testing.assert_array_equal(dist, d_ref)
    assert fresh._tables is None  # nothing K x K was built
    # identical codes are at distance exactly 0
    np.testing.assert_array_equal(fresh.pairwise(X[:5], X[:5]).diagonal(), 0.0)


def test_vector_quantization_is_m_equal_one():
    rng = np.random.default_rng(4)
    space = ProductSpace(rng.normal(size=(1, 8, 5)))
    v = rng.normal(size=(30, 5)).astype(np.float32)
    codes = space.encode(v)
    brute = np.argmin(((v[:, None] - space.codebooks[0][None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(codes[:, 0], brute)
    assert space.n_bits == 3 and isinstance(space.n_bits, int) and space.code_dtype == np.uint8
    # a K that is not a power of 2: whole bits to store, fractional information
    som_like = ProductSpace(rng.normal(size=(1, 5625, 2)))
    assert som_like.n_bits == 13 and som_like.information_bits == pytest.approx(12.457, abs=1e-3)


def test_product_code_dtype_and_errors():
    rng = np.random.default_rng(5)
    assert ProductSpace(rng.normal(size=(2, 300, 1))).code_dtype == np.uint16
    space = ProductSpace(rng.normal(size=(2, 4, 1)))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        space.decode(np.array([[0, 4]]))
    with pytest.raises(ValueError, match="shape"):
        space.decode(np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="NaN"):
        ProductSpace(np.full((1, 2, 2), np.nan))
    with pytest.raises(ValueError, match=r"\(M, K, d\)"):
        ProductSpace(np.zeros((2, 2)))


def test_hamming_errors():
    space = HammingSpace(16)
    X = np.zeros((5, 2), np.uint8)
    with pytest.raises(ValueError, match="larger than the database"):
        space.kneighbors(X, X, 6)
    with pytest.raises(ValueError, match="bytes per item"):
        space.kneighbors(np.zeros((1, 3), np.uint8), X, 1)
    with pytest.raises(TypeError, match="uint8"):
        space.kneighbors(X.astype(np.int64), X, 1)
    with pytest.raises(ValueError, match="asymmetric"):
        space.kneighbors(X, X, 1, asymmetric=True)
    with pytest.raises(ValueError, match="n_bits"):
        HammingSpace(0)


def test_search_threads_restores_setting():
    import numba

    before = numba.get_num_threads()
    with search_threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def test_hamming_padding_bits_are_refused():
    # issue #11: 4-bit codes use the 4 high bits of their byte (np.packbits
    # order); 0xFF sets the 4 padding bits, which would count in every distance
    space = HammingSpace(4)
    dirty = np.array([[0xFF]], dtype=np.uint8)
    db = np.array([[0x00], [0xF0]], dtype=np.uint8)
    for call in (
        lambda: space.kneighbors(dirty, db, 2),
        lambda: space.pairwise(dirty, db),
        lambda: space.radius_neighbors(dirty, db, 1),
        lambda: space.kneighbors(db, np.vstack([db, dirty]), 1),
        lambda: space.unpack(dirty),
    ):
        with pytest.raises(ValueError, match="padding bits set"):
            call()
    # the same code without its padding bits: distances 4 and 0
    dist, ind = space.kneighbors(np.array([[0xF0]], dtype=np.uint8), db, 2)
    np.testing.assert_array_equal(dist, [[0, 4]])
    np.testing.assert_array_equal(ind, [[1, 0]])
    # no padding when n_bits is a multiple of 8
    assert HammingSpace(8).pairwise(dirty, db).tolist() == [[8, 4]]


@pytest.mark.parametrize("scale, offset", [(1e30, 0.0), (1.0, 1e6)])
def test_product_encode_is_exact_at_any_scale(scale, offset):
    # issue #11: float32 distances overflowed above ~1e19 (86% of the codes
    # wrong at 1e30); a large common offset cancelled them out
    rng = np.random.default_rng(7)
    M, K, d = 4, 16, 3
    codebooks = (rng.normal(size=(M, K, d)) * scale + offset).astype(np.float32)
    vectors = (rng.normal(size=(500, M * d)) * scale + offset).astype(np.float32)
    space = ProductSpace(codebooks)
    sub = vectors.astype(np.float64).reshape(-1, M, d)
    cb = codebooks.astype(np.float64)
    brute = np.stack(
        [np.argmin(((sub[:, m, None, :] - cb[m][None]) ** 2).sum(-1), axis=1) for m in range(M)],
        axis=1,
    )
    np.testing.assert_array_equal(space.encode(vectors), brute)
    np.testing.assert_array_equal(space.encode(vectors, chunk_size=7), brute)


def test_product_tables_are_exact_under_an_offset_and_refuse_an_overflow():
    # asymmetric tables in float64 relative to the codebook's mean: a common
    # offset of 1e4 no longer cancels the float32 distances of unit-scale data
    rng = np.random.default_rng(3)
    M, K, d = 2, 8, 4
    codebooks = (rng.normal(size=(M, K, d)) + 1e4).astype(np.float32)
    queries = (rng.normal(size=(6, M * d)) + 1e4).astype(np.float32)
    space = ProductSpace(codebooks)
    sub = queries.astype(np.float64).reshape(-1, M, 1, d)
    brute = ((sub - codebooks.astype(np.float64)[None]) ** 2).sum(-1)
    np.testing.assert_allclose(space.query_tables(queries, asymmetric=True), brute,
                               rtol=1e-5, atol=1e-4)
    # at 1e30 a squared distance exceeds float32: a clear error, not inf ties
    huge = ProductSpace(codebooks * np.float32(1e20))
    with pytest.raises(ValueError, match="overflows float32.*Scale the data"):
        huge.query_tables(queries * np.float32(1e20), asymmetric=True)
    with pytest.raises(ValueError, match="overflows float32.*Scale the data"):
        huge.kneighbors(np.zeros((1, M), np.uint8), np.zeros((3, M), np.uint8), 2)


def test_product_quantizer_refuses_data_whose_distances_overflow():
    from skhash.quantization import ProductQuantizer

    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32) * np.float32(1e30)
    with pytest.raises(ValueError, match="overflow float32 in k-means"):
        ProductQuantizer(M=2, K=4, random_state=0).fit(X)
