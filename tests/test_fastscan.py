"""The 4-bit fast-scan kernel gives the generic lookup-table kernel's answer."""

import pickle

import numpy as np
import pytest

from skhash import _fastscan, _search
from skhash.codes import ProductSpace
from skhash.neighbors import KNeighborsRetriever
from skhash.quantization import DeepQuanHasher, DPQQuantizer, ProductQuantizer

needs_avx2 = pytest.mark.skipif(not _fastscan.available(),
                                reason="the fast-scan kernel needs an x86-64 CPU with AVX2")


def _generic(space, queries, codes, k, asymmetric):
    space.fast_scan = False
    try:
        return space.kneighbors(queries, codes, k, asymmetric=asymmetric)
    finally:
        del space.fast_scan  # back to the class default


def _generic_kernel(T, X, k):
    d = np.empty((T.shape[0], k), np.float32)
    i = np.empty((T.shape[0], k), np.int64)
    _search.lut_topk(np.ascontiguousarray(T), np.ascontiguousarray(X.T), k, d, i)
    return d, i


@needs_avx2
@pytest.mark.parametrize("M, K, n, k", [
    (16, 16, 5000, 100),   # the 16 x 16 of the benchmark
    (7, 16, 1003, 10),     # odd M: a padding part; n not a multiple of 32
    (1, 16, 33, 33),       # k = n
    (3, 5, 70, 7),         # K < 16
    (17, 2, 300, 50),      # two codewords: many ties
    (256, 16, 64, 5),      # the largest M whose 8-bit sums fit 16 bits
])
@pytest.mark.parametrize("asymmetric", [False, True])
def test_fast_scan_equals_generic_kernel(M, K, n, k, asymmetric):
    rng = np.random.default_rng(M * 1000 + n)
    space = ProductSpace(rng.standard_normal((M, K, 3)))
    assert space.uses_fast_scan
    codes = rng.integers(0, K, (n, M)).astype(np.uint8)
    queries = rng.standard_normal((37, M * 3)).astype(np.float32)
    if not asymmetric:
        queries = space.encode(queries)
    dist, ind = space.kneighbors(queries, codes, k, asymmetric=asymmetric)
    ref_d, ref_i = _generic(space, queries, codes, k, asymmetric)
    np.testing.assert_array_equal(dist, ref_d)  # the same float32 sums
    np.testing.assert_array_equal(ind, ref_i)   # the same ties, by index
    # and the answer is the ranking of the full distance matrix
    full = space.pairwise(queries, codes, asymmetric=asymmetric)
    order = np.lexsort((np.broadcast_to(np.arange(n), full.shape), full), axis=1)[:, :k]
    np.testing.assert_array_equal(ind, order)


@needs_avx2
def test_repeated_codes_fall_back_to_the_generic_kernel():
    # half the database one code, half another: the reservoir fills with
    # codes tied within the quantisation step and cannot be compacted
    rng = np.random.default_rng(0)
    space = ProductSpace(rng.standard_normal((8, 16, 2)))
    codes = np.zeros((20000, 8), np.uint8)
    codes[5000:] = 3
    queries = rng.standard_normal((20, 16)).astype(np.float32)
    T = space.query_tables(queries, asymmetric=True)
    d = np.empty((20, 50), np.float32)
    i = np.empty((20, 50), np.int64)
    failed = _fastscan.fastscan_topk(T, codes, 50, d, i)
    assert failed.all()  # every query handed back ...
    dist, ind = space.kneighbors(queries, codes, 50, asymmetric=True)  # ... and answered
    ref_d, ref_i = _generic(space, queries, codes, 50, True)
    np.testing.assert_array_equal(dist, ref_d)
    np.testing.assert_array_equal(ind, ref_i)
    first = (ind == np.arange(50)).all(1)
    assert (first | (ind == np.arange(5000, 5050)).all(1)).all()


@needs_avx2
@pytest.mark.parametrize("offset, scale, hand_back", [
    (0.0, 1.0, False), (1e3, 1.0, False), (0.0, 1e-30, False),
    (1e5, 1e-3, True),  # float32 rounding (ulp 0.008) dwarfs the 8-bit step
])
def test_tables_with_a_large_offset_stay_exact(offset, scale, hand_back):
    # float32 sums of tables far from zero round by more than one 8-bit
    # step: the slack covers it, or the queries are handed back
    rng = np.random.default_rng(1)
    M, K, n, k = 12, 16, 4000, 20
    T = (offset + scale * rng.random((9, M, K))).astype(np.float32)
    X = rng.integers(0, K, (n, M)).astype(np.uint8)
    d = np.empty((9, k), np.float32)
    i = np.empty((9, k), np.int64)
    failed = _fastscan.fastscan_topk(T, X, k, d, i)
    ref_d, ref_i = _generic_kernel(T, X, k)
    assert failed.all() if hand_back else not failed.any()
    np.testing.assert_array_equal(d[~failed], ref_d[~failed])
    np.testing.assert_array_equal(i[~failed], ref_i[~failed])


@needs_avx2
def test_block_sums_are_the_8bit_table_sums():
    rng = np.random.default_rng(2)
    M = 10
    X = rng.integers(0, 16, (32, M)).astype(np.uint8)
    T = rng.random((1, M, 16)).astype(np.float32)
    lut = np.empty(M * 32, np.uint8)
    from skhash._fastscan import _block_sums, _quantize  # noqa: PLC0415

    slack = _quantize.py_func(T[0], M // 2, lut, 0)
    assert slack >= M + 1
    q8 = lut.reshape(M, 32)[:, :16]
    np.testing.assert_array_equal(q8, lut.reshape(M, 32)[:, 16:])  # both lanes
    # the 8-bit entries are the floor of the tables in steps of delta
    T64 = T[0].astype(np.float64)
    delta = (T64.max(1) - T64.min(1)).max() / 255
    np.testing.assert_array_equal(q8, np.floor((T64 - T64.min(1, keepdims=True)) / delta))
    from numba import njit  # noqa: PLC0415

    @njit
    def one_block(packed, lut, out, npairs, thr):
        return _block_sums(packed, 0, lut, 0, out, npairs, thr)

    packed = _fastscan.pack(X)
    out = np.empty(32, np.uint16)
    sums = q8[np.arange(M), X].sum(1)
    thr = int(np.median(sums))
    mask = one_block(packed, lut, out, M // 2, np.uint16(thr))
    np.testing.assert_array_equal(np.concatenate([out[:16], out[16:]]),
                                  np.concatenate([sums[0::2], sums[1::2]]))
    bits = [(int(mask) >> ((i & 1) * 16 + (i >> 1))) & 1 for i in range(32)]
    np.testing.assert_array_equal(np.array(bits, bool), sums <= thr)


def test_generic_kernel_where_fast_scan_is_off_or_unavailable(monkeypatch):
    rng = np.random.default_rng(3)
    space = ProductSpace(rng.standard_normal((4, 16, 2)))
    codes = rng.integers(0, 16, (500, 4)).astype(np.uint8)
    q = rng.standard_normal((5, 8)).astype(np.float32)
    calls = []
    monkeypatch.setattr(_fastscan, "fastscan_topk",
                        lambda *a, **kw: calls.append(1) or np.ones(a[0].shape[0], bool))
    space.fast_scan = False
    assert not space.uses_fast_scan
    off = space.kneighbors(q, codes, 9, asymmetric=True)
    space.fast_scan = True
    monkeypatch.setattr(_fastscan, "_AVX2", False)
    assert not space.uses_fast_scan
    unavailable = space.kneighbors(q, codes, 9, asymmetric=True)
    assert calls == []
    full = space.pairwise(q, codes, asymmetric=True)
    order = np.lexsort((np.broadcast_to(np.arange(500), full.shape), full), axis=1)[:, :9]
    for dist, ind in (off, unavailable):
        np.testing.assert_array_equal(dist, np.sort(full, 1)[:, :9])
        np.testing.assert_array_equal(ind, order)
    assert not ProductSpace(rng.standard_normal((4, 17, 2))).uses_fast_scan  # K > 16
    assert not ProductSpace(rng.standard_normal((257, 2, 1))).uses_fast_scan  # M > 256


def test_fast_scan_switch_survives_pickling():
    space = ProductSpace(np.zeros((2, 16, 1)) + np.arange(16)[None, :, None])
    space.fast_scan = False
    assert pickle.loads(pickle.dumps(space)).fast_scan is False
    assert pickle.loads(pickle.dumps(ProductSpace(space.codebooks))).fast_scan is True


@needs_avx2
@pytest.mark.parametrize("make", [
    lambda: ProductQuantizer(M=4, K=16, max_iter=10, random_state=0),
    lambda: DeepQuanHasher(M=2, K=16, code_dim=2, hidden_units=(8,), pretrain_epochs=1,
                           max_epochs=1, batch_size=64, kmeans_max_iter=5, random_state=0),
    lambda: DPQQuantizer(M=2, K=16, embedding_dim=8, part_hidden_units=(), max_epochs=1,
                         hidden_units=(8,), batch_size=64, random_state=0),
])
def test_quantizers_with_16_codewords_search_by_fast_scan(make):
    from sklearn.datasets import load_digits  # noqa: PLC0415

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    retriever = KNeighborsRetriever(make(), n_neighbors=15).fit(X[:1200], y[:1200])
    space = retriever.code_space_
    assert space.K == 16 and space.uses_fast_scan
    dist, ind = retriever.kneighbors(X[1200:1300])
    codes = retriever.encoder_.transform(X[1200:1300])
    full = space.pairwise(codes, retriever.encoder_.transform(X[:1200]))
    np.testing.assert_allclose(dist, np.sort(full, 1)[:, :15])
    np.testing.assert_array_equal(
        ind, np.lexsort((np.broadcast_to(np.arange(1200), full.shape), full), axis=1)[:, :15])


@needs_avx2
def test_a_dominant_constant_part_keeps_the_compiled_slack_finite():
    # one part's table row constant and enormous against the others' ranges:
    # the rounding term of the slack is ~1e30 steps (found by review: it
    # wrapped an int64 and left the output uninitialised)
    cb = np.zeros((2, 16, 1))
    cb[1, :, 0] = np.arange(16) * 1e-4
    space = ProductSpace(cb)
    q = np.array([[1e14, 0.0]], np.float32)
    rng = np.random.default_rng(0)
    X = np.stack([np.zeros(200, int), rng.integers(1, 16, 200)], 1).astype(np.uint8)
    dist, ind = space.kneighbors(q, X, 5, asymmetric=True)
    ref_d, ref_i = _generic(space, q, X, 5, True)
    np.testing.assert_array_equal(dist, ref_d)
    np.testing.assert_array_equal(ind, ref_i)


@pytest.mark.parametrize("setting, value", [("CPU_NAME", "generic"),
                                            ("CPU_FEATURES", "+sse2,-avx2"),
                                            ("DISABLE_JIT", True)])
def test_no_fast_scan_where_numba_cannot_emit_avx2(monkeypatch, setting, value):
    import numba  # noqa: PLC0415

    monkeypatch.setattr(numba.config, setting, value)
    assert not _fastscan._host_has_avx2()


def test_fastscan_topk_refuses_mismatched_inputs():
    T = np.zeros((2, 4, 16), np.float32)
    X = np.zeros((40, 4), np.uint8)
    d = np.empty((2, 3), np.float32)
    i = np.empty((2, 3), np.int64)
    with pytest.raises(ValueError, match="do not fit codes"):
        _fastscan.fastscan_topk(T, X[:, :3], 3, d, i)
    with pytest.raises(ValueError, match="do not fit codes"):
        _fastscan.fastscan_topk(np.zeros((2, 4, 17), np.float32), X, 3, d, i)
    with pytest.raises(ValueError, match="packed does not hold"):
        _fastscan.fastscan_topk(T, X, 3, d, i, packed=_fastscan.pack(X[:20]))
