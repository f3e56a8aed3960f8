"""4-bit fast scan: exact top-k over product codes with ``K <= 16``.

The technique of faiss's ``IndexPQFastScan``, Quick ADC and ScaNN's LUT16,
with an exact re-ranking so that the answer is the one of the float32
lookup-table kernel (:func:`skhash._search.lut_topk`), distances and ties
included:

1. **8-bit tables.** Each query's ``(M, K)`` float32 table becomes ``M``
   tables of 16 ``uint8`` entries: ``q[m, c] = floor((T[m, c] - min_c T[m, c])
   / delta)`` with one step ``delta = max_m range_m / 255`` for all codebooks,
   so the sum ``Q`` of a code's ``M`` entries (at most ``255 * M``, a ``uint16``
   for ``M <= 256``) is, up to the constant ``sum_m min_c T[m, c]``, its
   distance divided by ``delta`` minus an error in ``[0, M)``.
2. **In-register look-ups.** The database is stored in blocks of 32 codes,
   two codebooks per byte (low and high nibble). One AVX2 ``vpshufb`` looks
   up 32 codes of one codebook in a 16-entry table held in a register; the
   sums run in 16-bit lanes (even and odd codes apart, so no lane crosses),
   and a vector compare against the query's threshold gives a 32-bit mask of
   the codes of the block that can still be among the nearest. A block
   whose mask is zero costs about ten vector instructions per codebook pair.
3. **Exact candidates.** A code whose ``Q`` is at least ``slack`` above the
   k-th smallest ``Q`` seen cannot be among the ``k`` nearest:
   ``slack = M + 1 + ceil(2 * M * 2**-24 * sum_m max_c |T[m, c]| / delta)``
   covers the quantisation error (``M`` steps) and the float32 rounding of
   both sums being compared. The codes that pass are kept in a reservoir;
   when it fills, its k-th smallest ``Q`` lowers the threshold and the
   reservoir is compacted.
4. **Exact re-ranking.** The survivors' distances are recomputed from the
   float32 tables in the order the generic kernel adds them (``m = 0, 1,
   ...``) and ranked by ``(distance, index)``: the same floats, the same
   ties.

A query whose reservoir cannot be compacted (more than three quarters of it
within ``slack`` of the k-th best, e.g. a database of one repeated code) is
reported as failed and searched again by the generic kernel, so the answer
is exact in every case.

The kernel is generated for the host CPU by numba. It is used only where
the CPU has AVX2 and numba compiles for the host (``NUMBA_CPU_NAME`` unset
or ``host``, ``NUMBA_CPU_FEATURES`` not turning AVX2 off, the JIT not
disabled); elsewhere :func:`available` is False and the generic kernel
runs.
"""

import math
import platform

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from ._search import _heap_offer, _heap_sorted, _serialized

__all__ = ["available", "supports", "fastscan_topk"]

#: Codes per block (one 256-bit register of bytes).
BLOCK = 32
# Database blocks per chunk: 512 x 32 codes (128 KiB of codes at M = 16),
# scanned by every query of a query block while they are in cache.
_CHUNK_BLOCKS = 512
_Q_BLOCK = 16
_U32 = 2.0**-24  # unit roundoff of float32

_V8 = ir.VectorType(ir.IntType(8), 32)
_V16 = ir.VectorType(ir.IntType(16), 16)


def _host_has_avx2():
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    if numba.config.DISABLE_JIT:
        return False  # the intrinsic has no pure-Python form
    if numba.config.CPU_NAME not in (None, "host"):
        return False  # numba targets another CPU: the instruction may not exist
    if numba.config.CPU_FEATURES is not None and "-avx2" in numba.config.CPU_FEATURES:
        return False  # AVX2 turned off for numba's code generation
    try:
        import llvmlite.binding as llvm

        return bool(llvm.get_host_cpu_features().get("avx2", False))
    except Exception:  # pragma: no cover - feature probing unsupported
        return False


_AVX2 = _host_has_avx2()


def available():
    """Whether this machine runs the fast-scan kernel (x86-64 with AVX2)."""
    return _AVX2


def supports(M, K):
    """Whether codes of ``M`` parts of ``K`` codewords can be fast-scanned."""
    return 1 <= K <= 16 and 1 <= M <= 256


@intrinsic
def _block_sums(typingctx, packed, p_off, lut, l_off, out, npairs, thr):
    """Sums of one block of 32 codes and the mask of those ``<= thr``.

    ``packed[p_off:]`` holds ``npairs`` rows of 32 bytes (row ``p``: code
    ``i``'s parts ``2p`` in the low and ``2p + 1`` in the high nibble);
    ``lut[l_off:]`` holds ``2 * npairs`` tables of 16 bytes, each written
    twice (one copy per 128-bit lane). Writes the 32 ``uint16`` sums to
    ``out`` (even codes in ``out[:16]``, odd codes in ``out[16:]``) and
    returns a ``uint32`` whose bit ``j`` is lane ``j``'s compare (bits 0-15
    the even codes, 16-31 the odd ones).
    """
    sig = types.uint32(packed, types.intp, lut, types.intp, out, types.intp, types.uint16)

    def codegen(context, builder, signature, args):
        packed_a, p_off, lut_a, l_off, out_a, npairs, thr = args
        cptr = context.make_array(signature.args[0])(context, builder, packed_a).data
        lptr = context.make_array(signature.args[2])(context, builder, lut_a).data
        optr = context.make_array(signature.args[4])(context, builder, out_a).data
        cptr = builder.gep(cptr, [p_off])
        lptr = builder.gep(lptr, [l_off])
        shuffle = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_V8, [_V8, _V8]), "llvm.x86.avx2.pshuf.b")
        nibble = ir.Constant(_V8, [0x0F] * 32)
        low_byte = ir.Constant(_V16, [0x00FF] * 16)
        four = ir.Constant(_V16, [4] * 16)
        eight = ir.Constant(_V16, [8] * 16)
        zero = ir.Constant(_V16, [0] * 16)
        acc_even = cgutils.alloca_once_value(builder, zero)
        acc_odd = cgutils.alloca_once_value(builder, zero)
        v8p = _V8.as_pointer()

        def load32(ptr, offset):
            return builder.load(builder.bitcast(builder.gep(ptr, [offset]), v8p), align=1)

        with cgutils.for_range(builder, npairs) as loop:
            p = loop.index
            codes = load32(cptr, builder.mul(p, ir.Constant(p.type, 32)))
            low = builder.and_(codes, nibble)
            high = builder.and_(builder.bitcast(
                builder.lshr(builder.bitcast(codes, _V16), four), _V8), nibble)
            t_off = builder.mul(p, ir.Constant(p.type, 64))
            t0 = load32(lptr, t_off)
            t1 = load32(lptr, builder.add(t_off, ir.Constant(p.type, 32)))
            r0 = builder.bitcast(builder.call(shuffle, [t0, low]), _V16)
            r1 = builder.bitcast(builder.call(shuffle, [t1, high]), _V16)
            even = builder.add(builder.and_(r0, low_byte), builder.and_(r1, low_byte))
            odd = builder.add(builder.lshr(r0, eight), builder.lshr(r1, eight))
            builder.store(builder.add(builder.load(acc_even), even), acc_even)
            builder.store(builder.add(builder.load(acc_odd), odd), acc_odd)
        sum_even = builder.load(acc_even)
        sum_odd = builder.load(acc_odd)
        v16p = _V16.as_pointer()
        builder.store(sum_even, builder.bitcast(optr, v16p), align=1)
        builder.store(sum_odd, builder.bitcast(
            builder.gep(optr, [ir.Constant(ir.IntType(64), 16)]), v16p), align=1)
        limit = ir.Constant(_V16, ir.Undefined)
        for lane in range(16):
            limit = builder.insert_element(limit, thr, ir.Constant(ir.IntType(32), lane))
        i16, i32 = ir.IntType(16), ir.IntType(32)
        mask_even = builder.bitcast(builder.icmp_unsigned("<=", sum_even, limit), i16)
        mask_odd = builder.bitcast(builder.icmp_unsigned("<=", sum_odd, limit), i16)
        return builder.or_(builder.zext(mask_even, i32),
                           builder.shl(builder.zext(mask_odd, i32), ir.Constant(i32, 16)))

    return sig, codegen


@njit(inline="always")
def _next_hit(packed, b, end, b_stride, lut, l_off, sums, npairs, thr):
    """The first block from ``b`` (before ``end``) with a code ``<= thr``:
    ``(block, mask)``, or ``(end, 0)``. A tight loop of its own, so that the
    bookkeeping of the hits stays out of the registers of the scan."""
    while b < end:
        mask = _block_sums(packed, b * b_stride, lut, l_off, sums, npairs, thr)
        if mask != 0:
            return b, mask
        b += 1
    return end, np.uint32(0)


@njit(inline="always")
def _spread16(x):
    # bit b of a 16-bit value to bit 2b
    x = (x | (x << np.uint32(8))) & np.uint32(0x00FF00FF)
    x = (x | (x << np.uint32(4))) & np.uint32(0x0F0F0F0F)
    x = (x | (x << np.uint32(2))) & np.uint32(0x33333333)
    return (x | (x << np.uint32(1))) & np.uint32(0x55555555)


@njit(inline="always")
def _code_order(mask):
    """A :func:`_block_sums` mask with bit ``i`` for the block's code ``i``."""
    return _spread16(mask & np.uint32(0xFFFF)) | (
        _spread16(mask >> np.uint32(16)) << np.uint32(1))


@njit(parallel=True, cache=True, nogil=True)
def _pack(X, npairs):
    """Codes ``(n, M)`` (values < 16) as blocks of 32 codes, two parts a byte."""
    n, M = X.shape
    n_blocks = (n + BLOCK - 1) // BLOCK
    out = np.zeros(n_blocks * npairs * BLOCK, np.uint8)
    for b in prange(n_blocks):
        base = b * npairs * BLOCK
        for i in range(min(BLOCK, n - b * BLOCK)):
            j = b * BLOCK + i
            for p in range(npairs):
                low = np.uint8(X[j, 2 * p])
                high = np.uint8(X[j, 2 * p + 1]) if 2 * p + 1 < M else np.uint8(0)
                out[base + p * BLOCK + i] = low | (high << np.uint8(4))
    return out


@njit(inline="always")
def _quantize(Tq, npairs, lut, offset):
    """Write query table ``Tq`` (M, K) as 8-bit tables at ``lut[offset:]``;
    return the slack (see the module docstring)."""
    M, K = Tq.shape
    spread = 0.0
    largest = 0.0
    for m in range(M):
        low = np.float64(Tq[m, 0])
        high = low
        big = abs(low)
        for c in range(1, K):
            v = np.float64(Tq[m, c])
            low = min(low, v)
            high = max(high, v)
            big = max(big, abs(v))
        spread = max(spread, high - low)
        largest += big
    delta = spread / 255.0 if spread > 0.0 else 1.0
    for m in range(2 * npairs):
        base = offset + m * 32
        if m >= M:  # the padding part of an odd M
            for c in range(32):
                lut[base + c] = 0
            continue
        low = np.float64(Tq[m, 0])
        for c in range(1, K):
            low = min(low, np.float64(Tq[m, c]))
        for c in range(16):
            v = np.uint8(0)
            if c < K:
                v = np.uint8(min(max(math.floor((np.float64(Tq[m, c]) - low) / delta), 0.0),
                                 255.0))
            lut[base + c] = v
            lut[base + 16 + c] = v
    rounding = 2.0 * M * _U32 * largest / delta
    # clamp before the integer conversion (a huge ratio would wrap an int64);
    # past 65535 every code passes anyway
    return np.int64(M + 1) + (np.int64(70000) if rounding >= 70000.0
                              else np.int64(math.ceil(rounding)))


@njit(inline="always")
def _compact(ci, cq, count, k, slack):
    """Keep the reservoir's codes within ``slack`` of its k-th smallest sum;
    return (new count, new threshold)."""
    kth = np.partition(cq[:count], k - 1)[k - 1]
    thr = min(65535, np.int64(kth) + slack - 1)
    kept = 0
    for r in range(count):
        if cq[r] <= thr:
            ci[kept] = ci[r]
            cq[kept] = cq[r]
            kept += 1
    return kept, thr


@njit(parallel=True, cache=True, nogil=True)
def _fastscan_topk(T, X, packed, k, out_d, out_i, failed):
    """Exact k nearest codes; see the module docstring.

    ``T`` (nq, M, K) float32 tables, ``X`` (n, M) the codes (for the exact
    re-ranking), ``packed`` the output of :func:`_pack`. Rows of ``out_d`` /
    ``out_i`` whose ``failed`` entry is set are left for the generic kernel.
    """
    nq, M, K = T.shape
    n = X.shape[0]
    npairs = (M + 1) // 2
    n_blocks = (n + BLOCK - 1) // BLOCK
    b_stride = npairs * BLOCK
    l_stride = npairs * 64
    cap = min(4 * k + 1024, n + 1)  # n + 1: the reservoir never fills
    n_qb = (nq + _Q_BLOCK - 1) // _Q_BLOCK
    for qb in prange(n_qb):
        q0 = qb * _Q_BLOCK
        nb = min(nq, q0 + _Q_BLOCK) - q0
        lut = np.empty(nb * l_stride, np.uint8)
        slack = np.empty(nb, np.int64)
        for qq in range(nb):
            slack[qq] = _quantize(T[q0 + qq], npairs, lut, qq * l_stride)
        thr = np.full(nb, 65535, np.int64)
        ci = np.empty((nb, cap), np.int64)
        cq = np.empty((nb, cap), np.int32)
        count = np.zeros(nb, np.int64)
        dead = np.zeros(nb, np.bool_)
        sums = np.empty(BLOCK, np.uint16)
        for c0 in range(0, n_blocks, _CHUNK_BLOCKS):
            c1 = min(n_blocks, c0 + _CHUNK_BLOCKS)
            for qq in range(nb):
                if dead[qq]:
                    continue
                t = thr[qq]
                c = count[qq]
                sl = slack[qq]
                ciq = ci[qq]
                cqq = cq[qq]
                b = c0
                while b < c1:
                    b, mask = _next_hit(packed, b, c1, b_stride, lut, qq * l_stride, sums,
                                        npairs, np.uint16(t))
                    if mask == 0:
                        break
                    mask = _code_order(mask)
                    while mask != 0:
                        i = trailing_zeros(mask)
                        mask &= mask - np.uint32(1)
                        j = b * BLOCK + i
                        if j >= n:  # the padding of the last block
                            break
                        qv = np.int32(sums[(i >> 1) + 16 * (i & 1)])
                        if qv > t:
                            continue
                        if c == cap:
                            c, t = _compact(ciq, cqq, c, k, sl)
                            if c > (3 * cap) // 4:
                                dead[qq] = True
                                break
                            if qv > t:
                                continue
                        ciq[c] = j
                        cqq[c] = qv
                        c += 1
                    if dead[qq]:
                        break
                    b += 1
                thr[qq] = t
                count[qq] = c
        # exact re-ranking of the survivors (kept in index order)
        hd = np.empty(k, np.float32)
        hi = np.empty(k, np.int64)
        for qq in range(nb):
            if dead[qq]:
                failed[q0 + qq] = True
                continue
            c = count[qq]
            if c > k:
                c, _ = _compact(ci[qq], cq[qq], c, k, slack[qq])
            Tq = T[q0 + qq]
            s = 0
            worst = np.float32(np.inf)
            for r in range(c):
                j = ci[qq, r]
                d = Tq[0, X[j, 0]]
                for m in range(1, M):
                    d += Tq[m, X[j, m]]
                if s < k or d < worst:
                    s = _heap_offer(hd, hi, s, k, d, j)
                    if s == k:
                        worst = hd[0]
            _heap_sorted(hd, hi, s, out_d[q0 + qq], out_i[q0 + qq])


_pack_serial = _serialized(_pack)
_topk_serial = _serialized(_fastscan_topk)


def pack(X):
    """``(n, M)`` codes with values below 16, in the fast-scan block layout."""
    X = np.ascontiguousarray(X)
    return _pack_serial(X, (X.shape[1] + 1) // 2)


def fastscan_topk(T, X, k, out_d, out_i, packed=None):
    """Fill ``out_d`` / ``out_i`` with the exact top ``k`` of each query.

    ``T`` (nq, M, K) float32 tables, ``X`` (n, M) codes; ``packed`` the
    output of :func:`pack` when the caller keeps it. Returns the boolean
    mask of the queries left unanswered (to be searched by the generic
    kernel).
    """
    X = np.ascontiguousarray(X)
    if T.ndim != 3 or X.ndim != 2 or T.shape[1] != X.shape[1] or not supports(*T.shape[1:]):
        raise ValueError(f"tables of shape {T.shape} do not fit codes of shape {X.shape} "
                         "(the fast scan takes (nq, M, K <= 16) tables and (n, M) codes).")
    if packed is None:
        packed = pack(X)
    n_blocks = (X.shape[0] + BLOCK - 1) // BLOCK
    if packed.shape != (n_blocks * ((X.shape[1] + 1) // 2) * BLOCK,):
        raise ValueError("packed does not hold these codes (use pack(X) of the same X).")
    failed = np.zeros(T.shape[0], dtype=bool)
    _topk_serial(T, X, packed, k, out_d, out_i, failed)
    return failed
