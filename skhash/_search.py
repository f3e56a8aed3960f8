"""Compiled search kernels (numba): the hot path of every skhash search.

Two families of exact scans over a database of codes:

* Hamming: codes as rows of ``uint64`` words, distance = popcount(q XOR x)
  summed over the words;
* lookup tables: product codes as rows of ``M`` small integers, distance =
  ``sum_m T[m, x_m]`` for a per-query table ``T`` of shape ``(M, K)``
  (symmetric and asymmetric product-quantization distances are both of this
  form, only the tables differ).

Top-k keeps, per query, a bounded max-heap ordered by ``(distance, index)``.
The database is scanned in increasing index order, so a candidate whose
distance equals the current k-th best can never enter: ties are therefore
broken by database index, deterministically. The database is processed in
cache-sized chunks and the queries in blocks (parallel over blocks), so each
chunk is read from memory once per block and reused from cache by every
query of the block. Extra memory is ``O(n_queries * k)``.
"""

import functools
import os
import threading

import numba
import numpy as np
from numba import njit, prange

# numba's OpenMP layer leaves its threads spinning after each search, which
# starves PyTorch's own OpenMP threads (training and encoding in the same
# process became 14-35x slower on a loaded 2-core machine). The workqueue
# layer parks its threads instead. Set NUMBA_THREADING_LAYER to choose
# another layer (e.g. "tbb").
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

# The workqueue layer is not thread-safe: two Python threads inside parallel
# kernels at once abort the interpreter ("Concurrent access has been
# detected"). Every public kernel below therefore runs under one process-wide
# lock while the active layer is workqueue (or not yet known). Each kernel
# already uses all of numba's threads, so serialising concurrent searches
# costs no throughput: 20 searches from 4 Python threads took as long as the
# same 20 run one after another (and as long as single-threaded kernels run
# concurrently from the 4 threads), on 2 cores. With a thread-safe layer
# (tbb, omp) the lock is skipped.
_PARALLEL_LOCK = threading.Lock()
_THREADSAFE_LAYERS = ("tbb", "omp")
_threadsafe = None  # unknown until numba has launched a parallel kernel


def _layer_is_threadsafe():
    global _threadsafe
    if _threadsafe is None:
        try:
            layer = numba.threading_layer()
        except ValueError:  # no parallel kernel launched yet
            return False
        _threadsafe = layer in _THREADSAFE_LAYERS
    return _threadsafe


def _serialized(kernel):
    """``kernel`` callable from several Python threads at once (see above)."""

    @functools.wraps(kernel)
    def call(*args):
        if _layer_is_threadsafe():
            return kernel(*args)
        with _PARALLEL_LOCK:
            return kernel(*args)

    call.kernel = kernel
    return call

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_S1 = np.uint64(1)
_S2 = np.uint64(2)
_S4 = np.uint64(4)
_S56 = np.uint64(56)

# Database rows per chunk (per query block); 16384 rows x 8 bytes = 128 KiB.
_X_CHUNK = 16384
_Q_BLOCK = 32
# Database codes per vectorised distance pass.
_BLOCK = 256


@njit(inline="always")
def _popcount64(x):
    # SWAR popcount; LLVM turns this idiom into a single POPCNT instruction.
    x = x - ((x >> _S1) & _M1)
    x = (x & _M2) + ((x >> _S2) & _M2)
    x = (x + (x >> _S4)) & _M4
    return (x * _H01) >> _S56


@njit(inline="always")
def _sift_down(hd, hi, size):
    # Restore the max-heap property (key = (distance, index)) from the root.
    pos = 0
    d0 = hd[0]
    i0 = hi[0]
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        right = child + 1
        if right < size and (
            hd[right] > hd[child] or (hd[right] == hd[child] and hi[right] > hi[child])
        ):
            child = right
        if hd[child] > d0 or (hd[child] == d0 and hi[child] > i0):
            hd[pos] = hd[child]
            hi[pos] = hi[child]
            pos = child
        else:
            break
    hd[pos] = d0
    hi[pos] = i0


@njit(inline="always")
def _sift_up(hd, hi, pos):
    d0 = hd[pos]
    i0 = hi[pos]
    while pos > 0:
        parent = (pos - 1) // 2
        if hd[parent] < d0 or (hd[parent] == d0 and hi[parent] < i0):
            hd[pos] = hd[parent]
            hi[pos] = hi[parent]
            pos = parent
        else:
            break
    hd[pos] = d0
    hi[pos] = i0


@njit(inline="always")
def _heap_offer(hd, hi, size, k, d, j):
    """Insert (d, j) into a heap holding ``size`` items; return the new size."""
    if size < k:
        hd[size] = d
        hi[size] = j
        _sift_up(hd, hi, size)
        return size + 1
    hd[0] = d
    hi[0] = j
    _sift_down(hd, hi, size)
    return size


@njit(inline="always")
def _heap_sorted(hd, hi, size, out_d, out_i):
    """Write the heap's items sorted by (distance, index) and empty it."""
    while size > 0:
        size -= 1
        out_d[size] = hd[0]
        out_i[size] = hi[0]
        hd[0] = hd[size]
        hi[0] = hi[size]
        _sift_down(hd, hi, size)


@njit(inline="always")
def _block_distances(Q, qi, XT, b0, nbk, buf):
    """Hamming distances of query ``qi`` to ``nbk`` codes from ``b0`` into ``buf``.

    ``XT`` is word-major ``(w, n)``, so each word's slice is contiguous and
    the loops vectorise (AVX-512 VPOPCNTQ where the CPU has it). Returns the
    block's minimum distance.
    """
    w = XT.shape[0]
    q = Q[qi, 0]
    xs = XT[0, b0:b0 + nbk]
    for j in range(nbk):
        buf[j] = np.int32(_popcount64(q ^ xs[j]))
    for u in range(1, w):
        q = Q[qi, u]
        xs = XT[u, b0:b0 + nbk]
        for j in range(nbk):
            buf[j] += np.int32(_popcount64(q ^ xs[j]))
    m = buf[0]
    for j in range(1, nbk):
        m = min(m, buf[j])
    return m


@njit(parallel=True, cache=True, nogil=True)
def _hamming_topk(Q, XT, k, out_d, out_i):
    """Exact k nearest codes in Hamming distance.

    ``Q`` (nq, w) uint64 query words; ``XT`` (w, n) uint64 database words,
    word-major; ``out_d`` (nq, k) int32 and ``out_i`` (nq, k) int64 receive
    the results sorted by (distance, index).

    Each block of ``_BLOCK`` database codes is scanned in two passes: a
    branch-free, vectorised pass writes the block's distances and their
    minimum; only when that minimum beats the query's current k-th distance
    does a second pass offer the block's candidates to the heap.
    """
    nq = Q.shape[0]
    n = XT.shape[1]
    w = XT.shape[0]
    big = np.int32(64 * w + 1)
    n_blocks = (nq + _Q_BLOCK - 1) // _Q_BLOCK
    for b in prange(n_blocks):
        q0 = b * _Q_BLOCK
        q1 = min(nq, q0 + _Q_BLOCK)
        nb = q1 - q0
        hd = np.empty((nb, k), np.int32)
        hi = np.empty((nb, k), np.int64)
        size = np.zeros(nb, np.int64)
        thr = np.full(nb, big, np.int32)
        buf = np.empty(_BLOCK, np.int32)
        for c0 in range(0, n, _X_CHUNK):
            c1 = min(n, c0 + _X_CHUNK)
            for qq in range(nb):
                t = thr[qq]
                s = size[qq]
                hdq = hd[qq]
                hiq = hi[qq]
                for b0 in range(c0, c1, _BLOCK):
                    nbk = min(_BLOCK, c1 - b0)
                    if _block_distances(Q, q0 + qq, XT, b0, nbk, buf) >= t:
                        continue
                    for j in range(nbk):
                        d = buf[j]
                        if d < t:
                            s = _heap_offer(hdq, hiq, s, k, d, b0 + j)
                            if s == k:
                                t = hdq[0]
                thr[qq] = t
                size[qq] = s
        for qq in range(nb):
            _heap_sorted(hd[qq], hi[qq], size[qq], out_d[q0 + qq], out_i[q0 + qq])


@njit(parallel=True, cache=True, nogil=True)
def _hamming_pairwise(Q, X, out):
    """All Hamming distances: ``out[i, j] = popcount(Q[i] ^ X[j])`` (int32)."""
    nq = Q.shape[0]
    n = X.shape[0]
    w = Q.shape[1]
    for i in prange(nq):
        for j in range(n):
            d = np.int32(0)
            for u in range(w):
                d += np.int32(_popcount64(Q[i, u] ^ X[j, u]))
            out[i, j] = d


@njit(parallel=True, cache=True, nogil=True)
def _hamming_radius_count(Q, X, radius, counts):
    """Number of database codes within ``radius`` of each query."""
    nq = Q.shape[0]
    n = X.shape[0]
    w = Q.shape[1]
    for i in prange(nq):
        c = 0
        for j in range(n):
            d = 0
            for u in range(w):
                d += _popcount64(Q[i, u] ^ X[j, u])
            if d <= radius:
                c += 1
        counts[i] = c


@njit(parallel=True, cache=True, nogil=True)
def _hamming_radius_fill(Q, X, radius, offsets, out_d, out_i):
    """Fill the (distance, index) pairs within ``radius``, in index order."""
    nq = Q.shape[0]
    n = X.shape[0]
    w = Q.shape[1]
    for i in prange(nq):
        p = offsets[i]
        for j in range(n):
            d = np.int32(0)
            for u in range(w):
                d += np.int32(_popcount64(Q[i, u] ^ X[j, u]))
            if d <= radius:
                out_d[p] = d
                out_i[p] = j
                p += 1


@njit(inline="always")
def _lut_block_distances(Tq, XT, b0, nbk, buf):
    """Table distances of one query (tables ``Tq`` (M, K)) to ``nbk`` codes from
    ``b0`` of the code-major database ``XT`` (M, n), into ``buf``; returns their
    minimum. One codebook at a time over the block: no dependency chain
    between codes, so the sums of neighbouring codes run side by side (the
    sum order per code is m = 0, 1, ...)."""
    M = Tq.shape[0]
    row = Tq[0]
    xs = XT[0, b0:b0 + nbk]
    for j in range(nbk):
        buf[j] = row[xs[j]]
    for m in range(1, M - 1):
        row = Tq[m]
        xs = XT[m, b0:b0 + nbk]
        for j in range(nbk):
            buf[j] += row[xs[j]]
    low = np.float32(np.inf)
    if M == 1:
        for j in range(nbk):
            low = min(low, buf[j])
        return low
    # the last codebook's pass also finds the block's minimum
    row = Tq[M - 1]
    xs = XT[M - 1, b0:b0 + nbk]
    for j in range(nbk):
        d = buf[j] + row[xs[j]]
        buf[j] = d
        low = min(low, d)
    return low


@njit(parallel=True, cache=True, nogil=True)
def _lut_topk(T, XT, k, out_d, out_i):
    """Exact k nearest product codes, a block of codes at a time.

    ``T`` (nq, M, K) float32 tables, ``XT`` (M, n) the database codes
    code-major. As :func:`_hamming_topk`: a branch-free pass writes a
    block's distances and their minimum, and only a block whose minimum
    beats the query's current k-th distance is offered to the heap.
    """
    nq = T.shape[0]
    n = XT.shape[1]
    inf = np.float32(np.inf)
    n_blocks = (nq + _Q_BLOCK - 1) // _Q_BLOCK
    for b in prange(n_blocks):
        q0 = b * _Q_BLOCK
        q1 = min(nq, q0 + _Q_BLOCK)
        nb = q1 - q0
        hd = np.empty((nb, k), np.float32)
        hi = np.empty((nb, k), np.int64)
        size = np.zeros(nb, np.int64)
        thr = np.full(nb, inf, np.float32)
        buf = np.empty(_BLOCK, np.float32)
        for c0 in range(0, n, _X_CHUNK):
            c1 = min(n, c0 + _X_CHUNK)
            for qq in range(nb):
                t = thr[qq]
                s = size[qq]
                hdq = hd[qq]
                hiq = hi[qq]
                Tq = T[q0 + qq]
                for b0 in range(c0, c1, _BLOCK):
                    nbk = min(_BLOCK, c1 - b0)
                    if _lut_block_distances(Tq, XT, b0, nbk, buf) >= t and s == k:
                        continue
                    for j in range(nbk):
                        d = buf[j]
                        if d < t or s < k:
                            s = _heap_offer(hdq, hiq, s, k, d, b0 + j)
                            if s == k:
                                t = hdq[0]
                thr[qq] = t
                size[qq] = s
        for qq in range(nb):
            _heap_sorted(hd[qq], hi[qq], size[qq], out_d[q0 + qq], out_i[q0 + qq])


@njit(parallel=True, cache=True, nogil=True)
def _lut_pairwise(T, X, out):
    """All lookup-table distances: ``out[i, j] = sum_m T[i, m, X[j, m]]``."""
    nq = T.shape[0]
    M = T.shape[1]
    n = X.shape[0]
    for i in prange(nq):
        Ti = T[i]
        for j in range(n):
            d = np.float32(0.0)
            for m in range(M):
                d += Ti[m, X[j, m]]
            out[i, j] = d


hamming_topk = _serialized(_hamming_topk)
hamming_pairwise = _serialized(_hamming_pairwise)
hamming_radius_count = _serialized(_hamming_radius_count)
hamming_radius_fill = _serialized(_hamming_radius_fill)
lut_topk = _serialized(_lut_topk)
lut_pairwise = _serialized(_lut_pairwise)
