"""``KNeighborsRetriever.to_faiss``: the exported faiss index gives the retriever's answers."""

import sys

import numpy as np
import pytest

from skhash import DPQQuantizer, ITQHasher, KNeighborsRetriever, ProductQuantizer, SelfOrganizingMap
from skhash.datasets import load_digits

faiss = pytest.importorskip("faiss", reason="faiss is optional: pip install faiss-cpu")

X, Y = load_digits(return_X_y=True)
X_DB, Y_DB, X_Q = X[200:], Y[200:], X[:200]
K_NEIGHBORS = 15


def _assert_same_answers(retriever, index, rtol=1e-5):
    """Same distances; same indices wherever a distance is not tied in its row."""
    dist, ind = retriever.kneighbors(X_Q, n_neighbors=K_NEIGHBORS)
    fdist, find = index.search(retriever.faiss_queries(X_Q), K_NEIGHBORS)
    scale = max(1.0, float(np.abs(dist).max()))
    np.testing.assert_allclose(fdist, dist, rtol=rtol, atol=rtol * scale)
    for q in range(dist.shape[0]):
        row = dist[q]
        tied = np.isclose(row[:, None], row[None, :], rtol=rtol, atol=rtol * scale).sum(1) > 1
        # the last distance may be tied with items beyond the cut-off
        untied = ~tied & ~np.isclose(row, row[-1], rtol=rtol, atol=rtol * scale)
        np.testing.assert_array_equal(find[q][untied], ind[q][untied])


def test_binary_codes_export_as_index_binary_flat():
    r = KNeighborsRetriever(ITQHasher(n_bits=20, random_state=0)).fit(X_DB, Y_DB)
    index = r.to_faiss()
    assert isinstance(index, faiss.IndexBinaryFlat)
    assert index.ntotal == len(X_DB) and index.d == 24  # 20 bits in 3 bytes
    _assert_same_answers(r, index)


@pytest.mark.parametrize("M, K", [(4, 256), (4, 64), (2, 64), (8, 16), (5, 16)])
@pytest.mark.parametrize("asymmetric", [True, False])
def test_product_codes_export_as_index_pq_with_our_codebooks(M, K, asymmetric):
    r = KNeighborsRetriever(ProductQuantizer(M, K, random_state=0),
                            asymmetric=asymmetric).fit(X_DB, Y_DB)
    index = r.to_faiss()
    assert isinstance(index, faiss.IndexPQ)
    assert (index.pq.M, index.pq.ksub, index.ntotal) == (M, K, len(X_DB))
    # faiss decodes our codes to our codewords: the codes went in as they are
    codes = faiss.pack_bitstrings(r.codes_.astype(np.int32), int(np.log2(K)))
    np.testing.assert_array_equal(index.sa_decode(codes), r.code_space_.decode(r.codes_))
    _assert_same_answers(r, index)


def test_deep_quantizer_exports_too():
    dpq = DPQQuantizer(4, 16, embedding_dim=32, hidden_units=(32,), max_epochs=2,
                       random_state=0)
    r = KNeighborsRetriever(dpq, asymmetric=True).fit(X_DB, Y_DB)
    _assert_same_answers(r, r.to_faiss())


@pytest.mark.parametrize("asymmetric", [True, False])
def test_codebooks_of_other_sizes_export_as_an_exact_flat_index(asymmetric):
    # a 4 x 5 SOM: K = 20 codewords, not a power of two
    r = KNeighborsRetriever(SelfOrganizingMap((4, 5), n_iter=500, random_state=0),
                            asymmetric=asymmetric).fit(X_DB, Y_DB)
    index = r.to_faiss()
    assert isinstance(index, faiss.IndexFlatL2) and index.ntotal == len(X_DB)
    _assert_same_answers(r, index)


def test_fast_scan_export_is_the_4_bit_index_and_close():
    r = KNeighborsRetriever(ProductQuantizer(8, 16, random_state=0),
                            asymmetric=True).fit(X_DB, Y_DB)
    index = r.to_faiss(fast_scan=True)
    assert isinstance(index, faiss.IndexPQFastScan) and index.ntotal == len(X_DB)
    dist, ind = r.kneighbors(X_Q, n_neighbors=K_NEIGHBORS)
    fdist, find = index.search(r.faiss_queries(X_Q), K_NEIGHBORS)
    # faiss's 8-bit tables: distances within a few percent, most neighbours shared
    np.testing.assert_allclose(fdist, dist, rtol=0.05, atol=0.05 * float(dist.max()))
    shared = np.mean([len(np.intersect1d(a, b)) / K_NEIGHBORS for a, b in zip(find, ind)])
    assert shared > 0.8


def test_fast_scan_needs_4_bit_product_codes():
    pq = KNeighborsRetriever(ProductQuantizer(4, 64, random_state=0)).fit(X_DB)
    with pytest.raises(ValueError, match="K = 16"):
        pq.to_faiss(fast_scan=True)
    itq = KNeighborsRetriever(ITQHasher(n_bits=16, random_state=0)).fit(X_DB)
    with pytest.raises(ValueError, match="binary codes"):
        itq.to_faiss(fast_scan=True)


def test_missing_faiss_is_a_clear_import_error(monkeypatch):
    r = KNeighborsRetriever(ITQHasher(n_bits=16, random_state=0)).fit(X_DB)
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        r.to_faiss()


def test_unfitted_retriever_cannot_export():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        KNeighborsRetriever(ITQHasher()).to_faiss()
