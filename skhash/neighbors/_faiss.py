"""Hand a fitted retriever's index to faiss (an optional dependency).

The exported index holds skhash's own codes and codebooks (nothing is
re-trained or re-encoded), so that it gives the distances of the retriever:

================================  ==============================  =============================
codes                             faiss index                     search it with
================================  ==============================  =============================
binary (Hamming)                  ``IndexBinaryFlat``             the packed query codes
product, ``K`` a power of two     ``IndexPQ`` (our codebooks,     asymmetric: the query
                                  our codes via ``add_sa_codes``) embeddings; symmetric: the
                                                                  query codes' codewords
product, ``K = 16``,              ``IndexPQFastScan`` (8-bit      as ``IndexPQ``; distances
``fast_scan=True``                tables: approximate)            approximate
product, ``K`` not a power of     ``IndexFlatL2`` over the        as ``IndexPQ``
two (DeepSOM's 400 nodes)         decoded codewords (exact,
                                  ``4 * n * M * d`` bytes)
================================  ==============================  =============================

:meth:`KNeighborsRetriever.faiss_queries` builds the query array of the last
column. Symmetric distances through faiss are asymmetric distances to the
query's own codewords, which are the symmetric distances
(``sum_m ||C_m[a_m] - C_m[b_m]||^2``) up to float32 rounding.
"""

import numpy as np

__all__ = ["import_faiss", "retriever_to_faiss"]


def import_faiss():
    """The ``faiss`` module, or an ``ImportError`` that says how to install it."""
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "exporting to faiss needs the faiss package: pip install faiss-cpu "
            "(or a faiss-gpu build)."
        ) from exc
    return faiss


def _power_of_two_bits(K):
    """``log2(K)`` when ``K`` is a power of two (2 ... 2**16), else None."""
    bits = int(K).bit_length() - 1
    return bits if K >= 2 and 1 << bits == K and bits <= 16 else None


def retriever_to_faiss(space, codes, *, fast_scan=False):
    """The faiss index holding ``codes`` of code space ``space`` (see the module)."""
    faiss = import_faiss()
    codes = np.ascontiguousarray(codes)
    if space.kind == "hamming":
        if fast_scan:
            raise ValueError("fast_scan=True is for product codes with K = 16; these are "
                             "binary codes (exported as IndexBinaryFlat).")
        index = faiss.IndexBinaryFlat(8 * codes.shape[1])
        index.add(codes.astype(np.uint8, copy=False))
        return index
    M, K, d = space.M, space.K, space.d
    nbits = _power_of_two_bits(K)
    if fast_scan and nbits != 4:
        raise ValueError(f"fast_scan=True needs K = 16 codewords per codebook (4-bit codes); "
                         f"this code space has K = {K}.")
    if nbits is None:
        index = faiss.IndexFlatL2(M * d)
        index.add(space.decode(codes))
        return index
    index = faiss.IndexPQ(M * d, M, nbits)
    faiss.copy_array_to_vector(space.codebooks.ravel(), index.pq.centroids)
    index.is_trained = True
    index.add_sa_codes(faiss.pack_bitstrings(codes.astype(np.int32), nbits))
    return faiss.IndexPQFastScan(index) if fast_scan else index
