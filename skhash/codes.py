"""Code spaces: how two codes compare.

A fitted skhash encoder exposes one code space as ``code_space_``. Every
ranking in the library (retrievers, scorers, benchmarks) goes through it.

* :class:`HammingSpace` -- binary codes of ``n_bits``, stored packed as
  ``ceil(n_bits / 8)`` uint8 per item (``numpy.packbits`` order), compared by
  Hamming distance (XOR + popcount).
* :class:`ProductSpace` -- product codes: ``M`` sub-codes, each an index into
  its own codebook of ``K`` codewords (``codebooks`` of shape ``(M, K, d)``).
  Symmetric distance sums ``M`` precomputed ``K x K`` tables; asymmetric
  distance sums ``M`` per-query tables of ``K`` entries built from a
  continuous query vector. Vector quantization is the case ``M = 1``.

Searches are exact. Results are sorted by distance, ties broken by database
index (smallest first), so rankings are reproducible.
"""

import numbers
from abc import ABC, abstractmethod
from contextlib import contextmanager

import numba
import numpy as np

from . import _fastscan, _search

__all__ = ["CodeSpace", "HammingSpace", "ProductSpace", "pack_bits", "unpack_bits",
           "merge_top_lists", "search_threads"]

# Query rows per chunk for the full distance matrices (memory bound:
# chunk_size * n_database distances at a time).
DEFAULT_CHUNK_SIZE = 1024


def _check_int(value, name, low, high=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, got {value}.")
    return int(value)


def pack_bits(bits):
    """Pack a ``(n, n_bits)`` array of 0/1 into ``(n, ceil(n_bits / 8))`` uint8.

    Examples
    --------
    >>> pack_bits([[1, 0, 0, 0, 0, 0, 0, 1, 1]])
    array([[129, 128]], dtype=uint8)
    """
    bits = np.asarray(bits)
    if bits.ndim != 2:
        raise ValueError(f"bits must be a 2-D array (n_samples, n_bits), got shape {bits.shape}.")
    if bits.size and not np.isin(bits, (0, 1)).all():
        raise ValueError("bits must contain only 0 and 1.")
    return np.packbits(bits.astype(np.uint8, copy=False), axis=1)


def unpack_bits(codes, n_bits):
    """Inverse of :func:`pack_bits`: ``(n, n_bytes)`` uint8 to ``(n, n_bits)`` 0/1 uint8.

    Examples
    --------
    >>> unpack_bits([[129, 128]], 9)
    array([[1, 0, 0, 0, 0, 0, 0, 1, 1]], dtype=uint8)
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError("codes must be a 2-D array of packed uint8 codes.")
    return np.unpackbits(codes.astype(np.uint8, copy=False), axis=1, count=n_bits)


#: Database codes a search reads at a time (:meth:`CodeSpace.search`).
DATABASE_CHUNK_ROWS = 2**22

# Whole-database rankings are built ``rank_chunk_rows(n_database)`` queries
# at a time: at most _MAX_RANK_ROWS rows and about _RANK_CHUNK_ELEMENTS
# (query, item) pairs per chunk. A pair costs about 30 bytes while its chunk
# is ranked and judged (distance, sort keys, int64 ranking, relevance), so a
# chunk stays near 256 MiB whatever the database size.
_MAX_RANK_ROWS = 512
_RANK_CHUNK_ELEMENTS = 2**23


def rank_chunk_rows(n_database):
    """Queries per chunk of a whole-database ranking (memory bound)."""
    return int(max(1, min(_MAX_RANK_ROWS, _RANK_CHUNK_ELEMENTS // max(int(n_database), 1))))


def merge_top_lists(tops, k):
    """Merge per-shard top lists ``[(dist, ind), ...]`` into the exact global top ``k``.

    Each shard's ``ind`` holds global database indices. Sorting the union by
    (distance, index) keeps ties in database order, so the result is the
    single-pass one.
    """
    dist = np.concatenate([d for d, _ in tops], axis=1)
    ind = np.concatenate([i for _, i in tops], axis=1)
    order = np.lexsort((ind, dist))[:, :k]
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(ind, order, axis=1)


def drop_self(dist, ind):
    """Remove each database item from its own neighbour list (k+1 -> k).

    Row ``q`` queried item ``q`` of the database; the item itself is removed,
    or the last neighbour when ties pushed the item out of its own list.
    """
    n, k1 = ind.shape
    is_self = ind == np.arange(n)[:, None]
    drop = np.where(is_self.any(1), is_self.argmax(1), k1 - 1)
    keep = np.ones_like(ind, dtype=bool)
    keep[np.arange(n), drop] = False
    return dist[keep].reshape(n, k1 - 1), ind[keep].reshape(n, k1 - 1)


class CodeSpace(ABC):
    """How codes compare: the interface every code space implements.

    A subclass validates codes (``check_codes``), computes distance matrices
    (``pairwise``) and exact top-k lists (``kneighbors``) with its kernels,
    and states its code length (``n_bits``). This base turns those into
    rankings (``rank``, ``ranked``): the one place where skhash ranks a set
    of queries against a database -- the retriever, the scorers and the
    benchmark all call it.
    """

    #: "hamming" or "product": what the codes are. A subclass also has
    #: ``n_bits``, the integer number of bits a code takes.
    kind = None

    @abstractmethod
    def check_codes(self, codes, name="codes"):
        """Validated database codes, in the dtype the kernels read."""

    @abstractmethod
    def pairwise(self, Q, X, *, asymmetric=False):
        """Full ``(n_queries, n_database)`` distance matrix."""

    @abstractmethod
    def kneighbors(self, Q, X, n_neighbors, *, asymmetric=False):
        """``(distances, indices)`` of the exact top ``n_neighbors``, ties by index."""

    def rank(self, queries, database, *, asymmetric=False, exclude_self=False,
             chunk_size=None):
        """Whole-database rankings, ``(start, ranking)`` per chunk of queries.

        ``ranking`` holds the database indices of queries ``start : start +
        len(ranking)``, nearest first, ties by database index (stable sort).
        Chunks have ``chunk_size`` queries (default :func:`rank_chunk_rows`),
        so memory is bounded whatever the number of queries. With
        ``exclude_self`` the queries are the database itself and each item
        is removed from its own ranking.
        """
        from .metrics._ranking import rank_by_distance

        n_total = self._n_ranked(database, exclude_self)
        step = rank_chunk_rows(database.shape[0]) if chunk_size is None else int(chunk_size)
        for s in range(0, queries.shape[0], step):
            d = self.pairwise(queries[s:s + step], database, asymmetric=asymmetric)
            if exclude_self:
                # the item itself goes last (strictly farthest), then is cut
                rows = np.arange(d.shape[0])
                far = d.max() + 1 if np.issubdtype(d.dtype, np.integer) else np.inf
                d[rows, s + rows] = far
            ranking = rank_by_distance(d)[:, :n_total]
            del d
            yield s, ranking

    def ranked(self, queries, database, n_neighbors=None, *, asymmetric=False,
               exclude_self=False):
        """The database ranked for each query: ``(n_queries, n_ranked)`` indices.

        ``n_neighbors=None`` ranks the whole database (stable sort: ties by
        database index) and returns the full ranking: to score it, prefer
        :func:`skhash.metrics._scorer.ranking_scores`, which never holds it.
        Otherwise the exact top ``n_neighbors``. With ``exclude_self`` the
        queries are the database itself and each item is removed from its
        own ranking.
        """
        n_total = self._n_ranked(database, exclude_self)
        if n_neighbors is None:
            rankings = [r for _, r in self.rank(queries, database, asymmetric=asymmetric,
                                                exclude_self=exclude_self)]
            return np.concatenate(rankings) if rankings else np.empty((0, n_total), np.int64)
        if n_neighbors > n_total:
            raise ValueError(
                f"n_neighbors={n_neighbors} is larger than the database ({n_total} items)."
            )
        k = n_neighbors + 1 if exclude_self else n_neighbors
        dist, ind = self.kneighbors(queries, database, k, asymmetric=asymmetric)
        return drop_self(dist, ind)[1] if exclude_self else ind

    def search(self, queries, database, n_neighbors, *, asymmetric=False, chunk_rows=None):
        """Exact top ``n_neighbors`` over a database read ``chunk_rows`` codes at a time.

        The same answer as :meth:`kneighbors` (distances ascending, ties by
        database index), for a database of any size: each chunk (a slice of
        ``database``, which may be a :class:`numpy.memmap`) is searched on
        its own and its top list merged into the running one, so memory
        holds one chunk and the ``(n_queries, 2 * n_neighbors)`` merge, not
        the database. ``chunk_rows`` defaults to ``DATABASE_CHUNK_ROWS``
        (4,194,304 codes: 32 MiB of 64-bit codes).
        """
        n = int(database.shape[0])
        k = self._check_k(n_neighbors, n)
        step = DATABASE_CHUNK_ROWS if chunk_rows is None else _check_int(
            chunk_rows, "chunk_rows", 1)
        if queries.shape[0] > step:  # e.g. a memmapped database queried against itself
            parts = [self.search(queries[s:s + step], database, k, asymmetric=asymmetric,
                                 chunk_rows=step) for s in range(0, queries.shape[0], step)]
            return (np.concatenate([d for d, _ in parts]),
                    np.concatenate([i for _, i in parts]))
        queries = np.asarray(queries)
        if n <= step:
            return self.kneighbors(queries, database, k, asymmetric=asymmetric)
        best = None
        for start in range(0, n, step):
            top = self.shard_top(queries, database[start:start + step], k, start,
                                 asymmetric=asymmetric)
            best = top if best is None else merge_top_lists([best, top], k)
        return best

    def shard_top(self, queries, shard, n_neighbors, start, *, asymmetric=False):
        """Top ``min(n_neighbors, len(shard))`` of one slice of a database whose
        first row is database item ``start``: global indices, ready for
        :func:`merge_top_lists` (used by :meth:`search` and :mod:`skhash.dask`)."""
        shard = np.asarray(shard)  # reads this slice only (memmaps, dask blocks)
        dist, ind = self.kneighbors(queries, shard, min(n_neighbors, shard.shape[0]),
                                    asymmetric=asymmetric)
        ind += start
        return dist, ind

    @staticmethod
    def _n_ranked(database, exclude_self):
        n_total = database.shape[0] - 1 if exclude_self else database.shape[0]
        if n_total < 1:
            raise ValueError("ranking needs at least one database item other than the query.")
        return n_total

    def _check_k(self, k, n_database):
        k = _check_int(k, "n_neighbors", 1)
        if k > n_database:
            raise ValueError(
                f"n_neighbors={k} is larger than the database ({n_database} items)."
            )
        return k

    @staticmethod
    def _check_chunk(chunk_size):
        return _check_int(chunk_size, "chunk_size", 1)


class HammingSpace(CodeSpace):
    """Binary codes of ``n_bits`` compared by Hamming distance.

    Codes are stored packed (``ceil(n_bits / 8)`` uint8 per item, as produced
    by :func:`pack_bits` / an encoder's ``encode``). Internally the database
    is viewed as 64-bit words (zero-copy when the packed width is a multiple
    of 8 bytes, otherwise zero-padded once) and scanned by compiled kernels.

    Parameters
    ----------
    n_bits : int
        Code length in bits, >= 1.

    Examples
    --------
    >>> import numpy as np
    >>> space = HammingSpace(4)
    >>> db = space.pack([[0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0]])
    >>> dist, ind = space.kneighbors(space.pack([[1, 0, 0, 0]]), db, 2)
    >>> dist, ind
    (array([[0, 1]], dtype=int32), array([[2, 0]]))
    """

    kind = "hamming"
    #: dtype of the packed codes
    code_dtype = np.dtype(np.uint8)

    def __init__(self, n_bits):
        self.n_bits = _check_int(n_bits, "n_bits", 1)

    def __repr__(self):
        return f"HammingSpace(n_bits={self.n_bits})"

    @property
    def n_bytes(self):
        """Bytes per packed code."""
        return (self.n_bits + 7) // 8

    @property
    def n_words(self):
        """64-bit words per code in the search kernels."""
        return (self.n_bits + 63) // 64

    def pack(self, bits):
        """Pack ``(n, n_bits)`` 0/1 codes."""
        bits = np.asarray(bits)
        if bits.ndim != 2 or bits.shape[1] != self.n_bits:
            raise ValueError(
                f"expected bits of shape (n, {self.n_bits}), got {bits.shape}."
            )
        return pack_bits(bits)

    def unpack(self, codes):
        """Unpack packed codes to ``(n, n_bits)`` 0/1 uint8."""
        return unpack_bits(self.check_codes(codes), self.n_bits)

    def check_codes(self, codes, name="codes"):
        """Validate packed codes: 2-D uint8 with ``n_bytes`` columns, padding bits 0.

        When ``n_bits`` is not a multiple of 8, the unused low bits of the last
        byte must be 0 (as :func:`pack_bits` leaves them); codes that set them
        are refused with a ``ValueError``, since they would add to every
        distance.
        """
        codes = np.asarray(codes)
        if codes.ndim != 2:
            raise ValueError(
                f"{name} must be a 2-D array of packed codes, got shape {codes.shape}."
            )
        if codes.dtype != np.uint8:
            raise TypeError(f"{name} must be packed uint8 codes, got dtype {codes.dtype}.")
        if codes.shape[1] != self.n_bytes:
            raise ValueError(
                f"{name} have {codes.shape[1]} bytes per item, but {self.n_bits}-bit codes "
                f"take {self.n_bytes}."
            )
        n_pad = 8 * self.n_bytes - self.n_bits
        if n_pad and codes.shape[0]:
            # packbits order: the padding is the low bits of the last byte; a
            # set padding bit would count in every Hamming distance
            dirty = np.flatnonzero(codes[:, -1] & np.uint8((1 << n_pad) - 1))
            if dirty.size:
                raise ValueError(
                    f"{name} have padding bits set: {self.n_bits}-bit codes leave the "
                    f"lowest {n_pad} bit(s) of the last byte unused (numpy.packbits "
                    f"order) and they must be 0, but {dirty.size} code(s) set them "
                    f"(first: row {dirty[0]}). Pack codes with pack_bits or np.packbits."
                )
        return codes

    def as_words(self, codes):
        """View packed codes as ``(n, n_words)`` uint64 (padding with zero bytes)."""
        codes = self.check_codes(codes)
        n, width = codes.shape
        if width % 8 == 0:
            return np.ascontiguousarray(codes).view(np.uint64)
        padded = np.zeros((n, self.n_words * 8), dtype=np.uint8)
        padded[:, :width] = codes
        return padded.view(np.uint64)

    @staticmethod
    def _no_asymmetric(asymmetric):
        if asymmetric:
            raise ValueError(
                "asymmetric search needs product codes; binary codes are compared by "
                "Hamming distance only."
            )

    def pairwise(self, Q, X, *, asymmetric=False):
        """Full ``(n_queries, n_database)`` int32 Hamming distance matrix."""
        self._no_asymmetric(asymmetric)
        return self._pairwise_words(self.as_words(Q), self.as_words(X))

    def _pairwise_words(self, Qw, Xw):
        out = np.empty((Qw.shape[0], Xw.shape[0]), dtype=np.int32)
        if out.size:
            _search.hamming_pairwise(Qw, Xw, out)
        return out

    def kneighbors(self, Q, X, n_neighbors, *, asymmetric=False):
        """Exact top-``n_neighbors`` database codes for each query.

        Returns
        -------
        distances : ndarray of int32, shape (n_queries, n_neighbors)
        indices : ndarray of int64, shape (n_queries, n_neighbors)
            Sorted by distance, ties by database index.
        """
        self._no_asymmetric(asymmetric)
        return self._kneighbors_words(self.as_words(Q), self.as_words(X), n_neighbors)

    def _kneighbors_words(self, Qw, Xw, n_neighbors):
        k = self._check_k(n_neighbors, Xw.shape[0])
        dist = np.empty((Qw.shape[0], k), dtype=np.int32)
        ind = np.empty((Qw.shape[0], k), dtype=np.int64)
        if Qw.shape[0]:
            # word-major database: each word's column is contiguous (free for
            # codes of <= 64 bits, one transposed copy otherwise)
            _search.hamming_topk(Qw, np.ascontiguousarray(Xw.T), k, dist, ind)
        return dist, ind

    def radius_neighbors(self, Q, X, radius, *, chunk_rows=None):
        """Database codes within Hamming distance ``radius`` (inclusive).

        The database (and the queries) are read ``chunk_rows`` codes at a
        time (default ``DATABASE_CHUNK_ROWS``), so a memmapped database is
        never loaded whole.

        Returns
        -------
        distances, indices : ndarray of object, shape (n_queries,)
            Per query, int32 distances and int64 indices sorted by distance,
            ties by database index (as ``sklearn.neighbors`` returns them).
        """
        step = DATABASE_CHUNK_ROWS if chunk_rows is None else _check_int(
            chunk_rows, "chunk_rows", 1)
        n, nq = X.shape[0], Q.shape[0]
        if n <= step and nq <= step:
            return self._radius_words(self.as_words(Q), self.as_words(X), radius)
        dist = np.empty(nq, dtype=object)
        ind = np.empty(nq, dtype=object)
        for q0 in range(0, nq, step):
            Qw = self.as_words(np.asarray(Q[q0:q0 + step]))
            parts = []
            for start in range(0, n, step):
                d, i = self._radius_words(Qw, self.as_words(np.asarray(X[start:start + step])),
                                          radius)
                parts.append((d, i, start))
            for q in range(Qw.shape[0]):
                d = np.concatenate([p[0][q] for p in parts])
                i = np.concatenate([p[1][q] + p[2] for p in parts])
                order = np.lexsort((i, d))
                dist[q0 + q], ind[q0 + q] = d[order], i[order]
        return dist, ind

    def _radius_words(self, Qw, Xw, radius):
        radius = _check_int(radius, "radius", 0)
        nq = Qw.shape[0]
        counts = np.zeros(nq, dtype=np.int64)
        if nq and Xw.shape[0]:
            _search.hamming_radius_count(Qw, Xw, radius, counts)
        offsets = np.zeros(nq + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        flat_d = np.empty(offsets[-1], dtype=np.int32)
        flat_i = np.empty(offsets[-1], dtype=np.int64)
        if offsets[-1]:
            _search.hamming_radius_fill(Qw, Xw, radius, offsets, flat_d, flat_i)
        dist = np.empty(nq, dtype=object)
        ind = np.empty(nq, dtype=object)
        for q in range(nq):
            d = flat_d[offsets[q] : offsets[q + 1]]
            i = flat_i[offsets[q] : offsets[q + 1]]
            order = np.argsort(d, kind="stable")  # indices were filled in order
            dist[q] = d[order]
            ind[q] = i[order]
        return dist, ind


class ProductSpace(CodeSpace):
    """Product codes compared through lookup tables.

    Parameters
    ----------
    codebooks : array-like of shape (M, K, d)
        ``M`` codebooks of ``K`` codewords of dimension ``d``. A code is a
        row of ``M`` integers in ``[0, K)``; it decodes to the concatenation
        of its ``M`` codewords (a vector of ``M * d`` values).

    Attributes
    ----------
    symmetric_tables : ndarray of shape (M, K, K)
        Squared Euclidean distances between the codewords of each codebook,
        computed on first use. When ``M * K * K`` float32 values would
        exceed ``max_table_bytes`` (e.g. a 75 x 75 SOM: 5,625 codewords, a
        121 MiB table), searches compute each query's rows on the fly from
        the codewords instead of storing the table.

    Notes
    -----
    Symmetric distance between codes ``a`` and ``b`` is
    ``sum_m ||C_m[a_m] - C_m[b_m]||^2`` (squared L2 between the decoded
    vectors); asymmetric distance between a continuous vector ``v`` and a
    code ``b`` is ``sum_m ||v_m - C_m[b_m]||^2``. Both are sums of ``M``
    table look-ups per database code. Codes are uint8 when ``K <= 256``,
    uint16 otherwise. Codes of ``K <= 16`` codewords are searched by the
    4-bit fast scan where the CPU has AVX2 (8-bit tables in vector
    registers, then an exact re-ranking: the same distances and ties as the
    generic kernel; see :attr:`fast_scan` and the benchmarks page).

    Examples
    --------
    >>> import numpy as np
    >>> codebooks = np.array([[[0.0], [1.0]], [[0.0], [2.0]]])   # M=2, K=2, d=1
    >>> space = ProductSpace(codebooks)
    >>> db = np.array([[0, 0], [1, 1], [1, 0]], dtype=np.uint8)
    >>> space.decode(db)
    array([[0., 0.],
           [1., 2.],
           [1., 0.]], dtype=float32)
    >>> dist, ind = space.kneighbors(np.array([[1, 0]], dtype=np.uint8), db, 3)
    >>> ind
    array([[2, 0, 1]])
    >>> dist
    array([[0., 1., 4.]], dtype=float32)
    """

    kind = "product"

    def __init__(self, codebooks):
        codebooks = np.asarray(codebooks, dtype=np.float32)
        if codebooks.ndim != 3:
            raise ValueError(f"codebooks must have shape (M, K, d), got {codebooks.shape}.")
        M, K, d = codebooks.shape
        if M < 1 or K < 1 or d < 1:
            raise ValueError(f"codebooks must be non-empty, got shape {codebooks.shape}.")
        if not np.isfinite(codebooks).all():
            raise ValueError("codebooks contain NaN or infinity.")
        self.codebooks = np.ascontiguousarray(codebooks)
        self._tables = None

    #: Largest symmetric table (bytes) kept in memory; above it, rows are
    #: computed per query chunk from the codewords.
    max_table_bytes = 64 * 2**20

    #: Search codes of ``K <= 16`` codewords (4-bit codes) with the fast-scan
    #: kernel (8-bit tables in registers, then an exact re-ranking: the same
    #: answer as the generic kernel, see :mod:`skhash._fastscan`) where the
    #: CPU has AVX2. Set to False on an instance (or the class) to force the
    #: generic lookup-table kernel.
    fast_scan = True

    @property
    def uses_fast_scan(self):
        """Whether :meth:`kneighbors` runs the 4-bit fast-scan kernel here."""
        return bool(self.fast_scan) and _fastscan.available() and _fastscan.supports(
            self.M, self.K)

    @property
    def stores_tables(self):
        """Whether symmetric search reads a stored ``(M, K, K)`` table."""
        return self.M * self.K * self.K * 4 <= self.max_table_bytes

    @property
    def symmetric_tables(self):
        """``(M, K, K)`` squared distances between codewords (computed once)."""
        if self._tables is None:
            ks = np.arange(self.K)
            self._tables = np.stack(
                [self._table_rows(m, ks) for m in range(self.M)]
            )
        return self._tables

    def _table_rows(self, m, codes):
        """Rows ``codes`` of codebook ``m``'s table, exact zeros on the diagonal."""
        c = self.codebooks[m].astype(np.float64)
        q = c[codes]
        d2 = (q * q).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2.0 * q @ c.T
        d2 = np.maximum(d2, 0.0)
        d2[np.arange(len(codes)), codes] = 0.0
        return _float32_table(d2, self.M, "codewords")

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_tables"] = None  # recomputed on demand; keeps pickles small
        return state

    def __repr__(self):
        return f"ProductSpace(M={self.M}, K={self.K}, d={self.d})"

    M = property(lambda self: self.codebooks.shape[0], doc="Number of sub-codes.")
    K = property(lambda self: self.codebooks.shape[1], doc="Codewords per codebook.")
    d = property(lambda self: self.codebooks.shape[2], doc="Dimension of one codeword.")

    @property
    def code_dtype(self):
        """Smallest unsigned dtype holding a sub-code."""
        return np.uint8 if self.K <= 256 else np.uint16

    @property
    def n_bits(self):
        """Bits a code takes, an integer as :attr:`HammingSpace.n_bits`:
        ``M * ceil(log2(K))`` (``M * log2(K)`` when ``K`` is a power of 2)."""
        return int(self.M * int(np.ceil(np.log2(self.K)))) if self.K > 1 else 0

    @property
    def information_bits(self):
        """``M * log2(K)``: the information in a code (fractional for a ``K``
        that is not a power of 2, such as a 75 x 75 SOM's 12.46 bits)."""
        return float(self.M * np.log2(self.K))

    def check_codes(self, codes, name="codes"):
        """Validate ``(n, M)`` integer codes with values in ``[0, K)``."""
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != self.M:
            raise ValueError(f"{name} must have shape (n, {self.M}), got {codes.shape}.")
        if not np.issubdtype(codes.dtype, np.integer):
            raise TypeError(f"{name} must be integers, got dtype {codes.dtype}.")
        if codes.size and (codes.min() < 0 or codes.max() >= self.K):
            raise ValueError(
                f"{name} must lie in [0, {self.K}), got values in "
                f"[{codes.min()}, {codes.max()}]."
            )
        return np.ascontiguousarray(codes, dtype=self.code_dtype)

    def check_vectors(self, vectors, name="vectors"):
        """Validate continuous ``(n, M * d)`` vectors (float32)."""
        vectors = np.asarray(vectors)
        if np.issubdtype(vectors.dtype, np.integer):
            raise ValueError(
                f"{name} are integer codes, but asymmetric search needs continuous query "
                "vectors (an encoder's embed(X))."
            )
        vectors = vectors.astype(np.float32, copy=False)
        width = self.M * self.d
        if vectors.ndim != 2 or vectors.shape[1] != width:
            raise ValueError(f"{name} must have shape (n, {width}), got {vectors.shape}.")
        if not np.isfinite(vectors).all():
            raise ValueError(f"{name} contain NaN or infinity.")
        return vectors

    def decode(self, codes):
        """Reconstruct ``(n, M * d)`` vectors from codes."""
        codes = self.check_codes(codes)
        parts = self.codebooks[np.arange(self.M)[None, :], codes.astype(np.intp)]
        return parts.reshape(codes.shape[0], self.M * self.d)

    def encode(self, vectors, *, chunk_size=DEFAULT_CHUNK_SIZE):
        """Nearest codeword per sub-vector: ``(n, M)`` codes.

        Distances are computed in float64 from the float32 vectors and
        codewords, so they cannot overflow (squares of float32 values stay
        far below float64's range; float32 arithmetic overflowed above about
        1e19), and relative to the codebook's mean, so a large common offset
        does not cancel them out. The assignment is the nearest codeword in
        float64, ties to the smallest index. Rows are processed
        ``chunk_size`` at a time.
        """
        chunk_size = self._check_chunk(chunk_size)
        vectors = self.check_vectors(vectors)
        n = vectors.shape[0]
        sub = vectors.reshape(n, self.M, self.d)
        codes = np.empty((n, self.M), dtype=self.code_dtype)
        for m in range(self.M):
            c = self.codebooks[m].astype(np.float64)
            center = c.mean(0)
            c -= center
            c_norms = (c * c).sum(1)
            for s in range(0, n, chunk_size):
                v = sub[s : s + chunk_size, m, :].astype(np.float64) - center
                # ||v - c||^2 - ||v||^2: the same argmin, one matrix product
                d2 = c_norms[None, :] - 2.0 * (v @ c.T)
                codes[s : s + chunk_size, m] = np.argmin(d2, axis=1)
        return codes

    def query_tables(self, queries, *, asymmetric=False):
        """Per-query lookup tables ``(n_queries, M, K)`` (float32).

        ``queries`` are codes (symmetric) or continuous vectors (asymmetric).
        """
        if asymmetric:
            v = self.check_vectors(queries, "queries").reshape(-1, self.M, self.d)
            # float64 relative to each codebook's mean, as in encode: squares of
            # float32 values cannot overflow, a large common offset cannot cancel
            c = self.codebooks.astype(np.float64)
            center = c.mean(1, keepdims=True)  # (M, 1, d)
            c -= center
            v = v.astype(np.float64) - center[:, 0][None]
            dots = np.einsum("nmd,mkd->nmk", v, c)
            tables = (v**2).sum(-1)[:, :, None] - 2.0 * dots + (c**2).sum(-1)[None]
            return _float32_table(np.maximum(tables, 0.0), self.M, "queries or codewords")
        codes = self.check_codes(queries, "queries").astype(np.intp)
        if self.stores_tables:
            return np.ascontiguousarray(self.symmetric_tables[np.arange(self.M)[None, :], codes])
        tables = np.empty((codes.shape[0], self.M, self.K), dtype=np.float32)
        for m in range(self.M):
            tables[:, m, :] = self._table_rows(m, codes[:, m])
        return tables

    def pairwise(self, Q, X, *, asymmetric=False, chunk_size=DEFAULT_CHUNK_SIZE):
        """Full ``(n_queries, n_database)`` float32 distance matrix."""
        chunk_size = self._check_chunk(chunk_size)
        X = self.check_codes(X, "database codes")
        Q = self.check_vectors(Q, "queries") if asymmetric else self.check_codes(Q, "queries")
        out = np.empty((Q.shape[0], X.shape[0]), dtype=np.float32)
        for s in range(0, Q.shape[0], chunk_size):
            tables = self.query_tables(Q[s : s + chunk_size], asymmetric=asymmetric)
            if X.shape[0]:
                _search.lut_pairwise(tables, X, out[s : s + chunk_size])
        return out

    def kneighbors(self, Q, X, n_neighbors, *, asymmetric=False, chunk_size=DEFAULT_CHUNK_SIZE):
        """Exact top-``n_neighbors`` database codes for each query.

        Returns ``(distances float32, indices int64)``, each of shape
        ``(n_queries, n_neighbors)``, sorted by distance then index.
        """
        chunk_size = self._check_chunk(chunk_size)
        X = self.check_codes(X, "database codes")
        Q = self.check_vectors(Q, "queries") if asymmetric else self.check_codes(Q, "queries")
        k = self._check_k(n_neighbors, X.shape[0])
        dist = np.empty((Q.shape[0], k), dtype=np.float32)
        ind = np.empty((Q.shape[0], k), dtype=np.int64)
        packed = _fastscan.pack(X) if self.uses_fast_scan else None
        XT = None
        for s in range(0, Q.shape[0], chunk_size):
            tables = self.query_tables(Q[s : s + chunk_size], asymmetric=asymmetric)
            todo = slice(None)
            if packed is not None:
                todo = _fastscan.fastscan_topk(tables, X, k, dist[s : s + chunk_size],
                                               ind[s : s + chunk_size], packed)
                if not todo.any():
                    continue
            if XT is None:
                # code-major database: each codebook's column is contiguous for
                # the block passes of the kernel (one copy of n * M small integers)
                XT = np.ascontiguousarray(X.T)
            d, i = dist[s : s + chunk_size][todo], ind[s : s + chunk_size][todo]
            _search.lut_topk(np.ascontiguousarray(tables[todo]), XT, k, d, i)
            dist[s : s + chunk_size][todo] = d
            ind[s : s + chunk_size][todo] = i
        return dist, ind


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _float32_table(tables, M, what):
    """``tables`` (float64, entries on the last axis) as float32, refusing an overflow.

    A distance is the sum of ``M`` table entries, added in float32 by the
    search kernels: when the largest entries could sum past float32's range
    the distances would be infinite and the ranking arbitrary, so a
    ``ValueError`` says so (scale the data) instead.
    """
    if tables.size and M * float(tables.max()) >= _FLOAT32_MAX:
        raise ValueError(
            f"Squared distances between the {what} reach {float(tables.max()):.3g} per part, "
            f"so a sum over M={M} parts overflows float32 (max {_FLOAT32_MAX:.3g}) and the "
            "ranking would be arbitrary. Scale the data down (e.g. with StandardScaler) "
            "before fitting the quantizer."
        )
    return np.ascontiguousarray(tables, dtype=np.float32)


@contextmanager
def search_threads(n_jobs):
    """Run the search kernels on ``n_jobs`` threads (None: numba's default, -1: all)."""
    if n_jobs is None:
        yield
        return
    available = numba.config.NUMBA_NUM_THREADS
    n_jobs = _check_int(n_jobs, "n_jobs", -available, None) if n_jobs != -1 else available
    if n_jobs == 0:
        raise ValueError("n_jobs must not be 0.")
    wanted = min(available, n_jobs if n_jobs > 0 else max(1, available + 1 + n_jobs))
    old = numba.get_num_threads()
    numba.set_num_threads(wanted)
    try:
        yield
    finally:
        numba.set_num_threads(old)
