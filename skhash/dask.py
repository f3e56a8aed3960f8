"""Encode and search with Dask: collections larger than one process.

Dask is optional (``pip install "dask[array]" distributed``); this module
imports it when a function is called.

* :func:`encode` maps a fitted encoder over a ``dask.array`` by blocks of
  rows and declares the output as it is -- ``encode``'s width and dtype --
  where a plain ``map_blocks`` (and dask-ml's ``ParallelPostFit``) assume
  the input's chunks and get the width of an encoder's output wrong. Checked
  with dask 2026.8.0 and dask-ml 2025.1.0 on 1,000 x 20 float32 rows in
  blocks of 250: ``ParallelPostFit(ITQHasher(n_bits=16)).transform`` and
  ``map_blocks(hasher.transform, dtype=...)`` declare shape ``(1000, 20)``
  and compute ``(1000, 16)`` (a ``ProductQuantizer(M=4)``: ``(1000, 4)``),
  and ``map_blocks`` without ``dtype`` fails (its dtype inference calls the
  encoder on a 1-column sample); :func:`encode` declares what it computes.
* :func:`kneighbors` searches a database of codes held as a ``dask.array``
  (its row blocks are the shards, on whatever workers hold them): each
  shard's exact top ``k`` is computed where the shard is, and the top lists
  are merged exactly (distance, then global index), so the answer is the
  single-process one, ties included.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .codes import merge_top_lists
from .metrics._scorer import unwrap_encoder

__all__ = ["encode", "kneighbors"]

_METHODS = ("encode", "transform", "embed")


def _import_dask_array():
    try:
        import dask.array as da
    except ImportError as exc:
        raise ImportError('skhash.dask needs dask: pip install "dask[array]" '
                          "(and distributed for a cluster).") from exc
    return da


def _apply(encoder, method, block, width=None, dtype=None):
    if block.shape[0] == 0 and width is not None:  # an empty block of rows
        return np.empty((0, width), dtype=dtype)
    inner, rows = unwrap_encoder(encoder, block)
    return np.asarray(getattr(inner, method)(rows))


def _known_rows(array, what):
    """``array`` with known row-chunk sizes (computing them if needed)."""
    if any(np.isnan(c) for c in array.chunks[0]):
        array = array.compute_chunk_sizes()
    if array.shape[0] == 0:
        raise ValueError(f"{what} has no rows.")
    return array


def encode(encoder, X, *, method="encode"):
    """A fitted encoder's ``encode`` (or ``transform`` / ``embed``) of a dask array, lazily.

    Parameters
    ----------
    encoder : estimator
        A fitted skhash encoder, or a ``Pipeline`` ending in one.
    X : dask.array.Array of shape (n_samples, n_features)
        The rows; blocks split along rows only (column blocks are joined
        first).
    method : {"encode", "transform", "embed"}, default="encode"
        Packed database codes, unpacked codes, or the continuous queries of
        asymmetric search.

    Returns
    -------
    codes : dask.array.Array
        Lazy, with ``X``'s row chunks, one column chunk of the output's width
        and its dtype (found by encoding one row).
    """
    da = _import_dask_array()
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")
    final, _ = unwrap_encoder(encoder)
    check_is_fitted(final, "code_space_")
    if not hasattr(final, method):
        raise ValueError(f"{type(final).__name__} has no {method!r} (embed is for "
                         "quantizers: the queries of asymmetric search).")
    X = da.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D dask array of rows, got {X.ndim} dimensions.")
    X = _known_rows(X, "X")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    probe = _apply(encoder, method, np.asarray(X[:1].compute()))
    width, dtype = probe.shape[1], probe.dtype
    return X.map_blocks(lambda block: _apply(encoder, method, block, width, dtype),
                        dtype=dtype, chunks=(X.chunks[0], (width,)),
                        meta=np.empty((0, width), dtype))


def kneighbors(space, queries, database, n_neighbors, *, asymmetric=False):
    """Exact top ``n_neighbors`` over a database of codes sharded as a dask array.

    Parameters
    ----------
    space : skhash.codes.CodeSpace or fitted encoder or KNeighborsRetriever
        How codes compare (an encoder's or retriever's ``code_space_``).
    queries : ndarray
        Query codes (or, with ``asymmetric=True``, query embeddings).
    database : dask.array.Array of shape (n_database, code width)
        Database codes, blocks along rows (e.g. from :func:`encode`); each
        block is a shard searched where it lives.
    n_neighbors : int
        Neighbours per query.
    asymmetric : bool, default=False
        Product codes: compare continuous queries with the codes.

    Returns
    -------
    distances, indices : ndarray of shape (n_queries, n_neighbors)
        As :meth:`skhash.codes.CodeSpace.kneighbors` on the whole database:
        ascending distances, ties by global database index.
    """
    import dask

    da = _import_dask_array()
    space = getattr(space, "code_space_", space)
    database = da.asarray(database)
    if database.ndim != 2:
        raise ValueError("database must be a 2-D dask array of codes.")
    database = _known_rows(database, "database")
    if database.numblocks[1] > 1:
        database = database.rechunk({1: -1})
    k = space._check_k(n_neighbors, database.shape[0])
    queries = np.asarray(queries)
    sizes = database.chunks[0]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    shards = database.to_delayed().ravel()
    tops = [dask.delayed(space.shard_top)(queries, shard, k, int(start), asymmetric=asymmetric)
            for shard, start, size in zip(shards, starts, sizes) if size > 0]
    return dask.compute(dask.delayed(merge_top_lists)(tops, k))[0]
