"""Ranking metrics for learned hashing and quantization retrieval.

Every metric here takes the labels of the queries and of the database and
decides which database items are *relevant* to a query:

* 1-D class labels (any dtype): an item is relevant when its label equals the
  query's label;
* 2-D 0/1 indicator matrices (multi-label data such as NUS-WIDE or MS-COCO):
  an item is relevant when it shares at least one positive label with the
  query.

The ranked metrics take a ``ranking`` array of shape ``(n_queries, n_ranked)``
whose row ``i`` lists database indices for query ``i``, nearest first (for
example the output of :func:`rank_by_distance` or of a retriever's
``kneighbors``). Queries are processed in chunks so that memory stays bounded
for large databases.

The module is pure NumPy.
"""

import math
import numbers

import numpy as np

from .._docstrings import fill_doc

__all__ = [
    "relevance",
    "rank_by_distance",
    "mean_average_precision",
    "tie_averaged_mean_average_precision",
    "precision_at_k",
    "recall_at_k",
    "precision_within_radius",
    "precision_recall_curve_at_k",
    "precision_recall_by_radius",
]

# Queries are processed in chunks of at most ``_MAX_CHUNK_ROWS`` rows and
# (roughly) at most ``_CHUNK_ELEMENTS`` elements per temporary
# (n_chunk, n_database) array.
_MAX_CHUNK_ROWS = 1024
_CHUNK_ELEMENTS = 2**23

_NORMALIZATIONS = ("retrieved", "relevant", "min")

_NUMERIC_KINDS = "biuf"


# ---------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------


def _chunk_rows(n_cols):
    """Number of query rows to process at once for a row width ``n_cols``."""
    rows = _CHUNK_ELEMENTS // max(int(n_cols), 1)
    return int(max(1, min(_MAX_CHUNK_ROWS, rows)))


def _as_label_array(y, name):
    if hasattr(y, "toarray"):  # scipy.sparse indicator matrix
        y = y.toarray()
    y = np.asarray(y)
    if y.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D class labels or a 2-D 0/1 indicator matrix; "
            f"got an array with {y.ndim} dimension(s)."
        )
    if y.shape[0] == 0:
        raise ValueError(f"{name} is empty; at least one sample is required.")
    return y


_KIND_NAMES = {"number": "numbers", "str": "strings", "bytes": "bytes"}


def _continuous_error(name, example):
    return ValueError(
        f"{name} holds continuous values (e.g. {example!r}; type_of_target is "
        "'continuous'), not class labels: relevance means equal labels, so every "
        "distinct value would be a class of its own. Pass integer or string class "
        "labels (bin a continuous target first)."
    )


def _object_label_kind(y, name):
    kinds = set()
    for v in y.tolist():
        if isinstance(v, str):
            kinds.add("str")
        elif isinstance(v, bytes):
            kinds.add("bytes")
        elif isinstance(v, numbers.Number):
            if not isinstance(v, numbers.Integral):
                if v != v:  # NaN is the only value that is not equal to itself
                    raise ValueError(f"{name} contains NaN.")
                if not (isinstance(v, numbers.Real) and math.isfinite(v)
                        and float(v).is_integer()):
                    raise _continuous_error(name, v)
            kinds.add("number")
        else:
            kinds.add(type(v).__name__)
    if len(kinds) > 1:
        raise ValueError(
            f"{name} mixes labels of different types ({', '.join(sorted(kinds))}); "
            "labels of different types never compare equal. Use one type."
        )
    return kinds.pop() if kinds else "number"


def check_class_labels(y, name="y"):
    """Validate 1-D class labels; return their kind.

    Raises a ``ValueError`` naming the problem when ``y`` contains NaN or
    infinity, holds continuous values (non-integral floats:
    ``type_of_target(y) == "continuous"``), or mixes labels of different
    types (e.g. numbers and strings). The kind is ``"number"``, ``"str"``,
    ``"bytes"`` or another type name; labels of different kinds never match.
    """
    kind = y.dtype.kind
    if kind == "c":
        raise ValueError(
            f"{name}: Complex data not supported; class labels must be integers or strings."
        )
    if kind == "f":
        if np.isnan(y).any():
            raise ValueError(f"{name} contains NaN.")
        if np.isinf(y).any():
            raise ValueError(f"{name} contains infinity.")
        fractional = np.flatnonzero(y != np.rint(y))
        if fractional.size:
            raise _continuous_error(name, y[fractional[0]].item())
        return "number"
    if kind in "biu":
        return "number"
    if kind == "U":
        return "str"
    if kind == "S":
        return "bytes"
    if kind == "O":
        return _object_label_kind(y, name)
    return str(y.dtype)


def _check_indicator(y, name):
    if y.dtype.kind == "b":
        return y
    if y.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} is a 2-D indicator matrix and must be numeric or boolean; "
            f"got dtype {y.dtype}."
        )
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError(f"{name} contains NaN.")
    if not ((y == 0) | (y == 1)).all():
        raise ValueError(
            f"{name} is a 2-D indicator matrix and must contain only 0 and 1."
        )
    return y.astype(bool)


def _encode_1d(q, db):
    """Map 1-D labels of both sets to shared integer codes."""
    same_kind = q.dtype == db.dtype or (
        q.dtype.kind in _NUMERIC_KINDS and db.dtype.kind in _NUMERIC_KINDS
    )
    if same_kind and q.dtype.kind != "O":
        try:
            _, codes = np.unique(np.concatenate([q, db]), return_inverse=True)
            codes = codes.reshape(-1).astype(np.intp, copy=False)
            return codes[: q.shape[0]], codes[q.shape[0] :]
        except TypeError:
            pass
    # Fallback for object arrays (labels of one kind, checked by the caller;
    # NumPy would otherwise promote ints and strings to strings so that
    # 1 == "1"): encode by Python equality and hashing.
    mapping = {}
    values = q.tolist() + db.tolist()
    try:
        codes = np.fromiter(
            (mapping.setdefault(v, len(mapping)) for v in values),
            dtype=np.intp,
            count=len(values),
        )
    except TypeError as exc:
        raise ValueError(
            f"1-D labels must be hashable scalar values: {exc}"
        ) from None
    return codes[: q.shape[0]], codes[q.shape[0] :]


class _Labels:
    """Validated, encoded query/database labels with relevance helpers."""

    def __init__(self, query_labels, database_labels):
        q = _as_label_array(query_labels, "query_labels")
        db = _as_label_array(database_labels, "database_labels")
        if q.ndim != db.ndim:
            raise ValueError(
                "query_labels and database_labels must be the same kind of "
                "labels (both 1-D class labels or both 2-D indicator "
                f"matrices); got a {q.ndim}-D and a {db.ndim}-D array."
            )
        self.n_queries = q.shape[0]
        self.n_database = db.shape[0]
        self.multilabel = q.ndim == 2
        if self.multilabel:
            if q.shape[1] != db.shape[1]:
                raise ValueError(
                    "query_labels and database_labels indicator matrices must "
                    f"have the same number of columns; got {q.shape[1]} and "
                    f"{db.shape[1]}."
                )
            self.q = _check_indicator(q, "query_labels")
            self.db = _check_indicator(db, "database_labels")
            # 0/1 products summed in float32: every term is >= 0, so the
            # sum is > 0 exactly when at least one label is shared, whatever
            # the rounding. This lets the product use BLAS.
            self._q32 = self.q.astype(np.float32)
            self._db32_t = np.ascontiguousarray(self.db.T, dtype=np.float32)
            self._n_relevant = None
        else:
            kind_q = check_class_labels(q, "query_labels")
            kind_db = check_class_labels(db, "database_labels")
            if kind_q != kind_db:
                raise ValueError(
                    f"query_labels are {_KIND_NAMES.get(kind_q, kind_q)} but "
                    f"database_labels are {_KIND_NAMES.get(kind_db, kind_db)}: labels "
                    "of different types never match (1 != '1'), so no item would be "
                    "relevant to any query. Convert both to the same type."
                )
            self.q, self.db = _encode_1d(q, db)
            counts = np.bincount(self.db, minlength=self.q.max() + 1)
            self._n_relevant = counts[self.q].astype(np.int64)

    def block(self, start, stop):
        """Boolean relevance of queries ``start:stop`` to the whole database."""
        if self.multilabel:
            return (self._q32[start:stop] @ self._db32_t) > 0
        return self.q[start:stop, None] == self.db[None, :]

    def chunk_rows(self):
        return _chunk_rows(self.n_database)

    def ranked(self, start, stop, ranking_chunk):
        """Relevance of the ranked items and total relevant per query."""
        if self.multilabel:
            full = self.block(start, stop)
            n_relevant = np.count_nonzero(full, axis=1).astype(np.int64)
            rel = np.take_along_axis(full, ranking_chunk, axis=1)
        else:
            rel = self.db[ranking_chunk] == self.q[start:stop, None]
            n_relevant = self._n_relevant[start:stop]
        return rel, n_relevant

    def iter_ranked(self, ranking, offset=0):
        """Relevance of ``ranking`` (the rows of queries ``offset:``), in chunks."""
        step = self.chunk_rows()
        for start in range(0, ranking.shape[0], step):
            stop = min(start + step, ranking.shape[0])
            rel, n_relevant = self.ranked(offset + start, offset + stop, ranking[start:stop])
            yield offset + start, offset + stop, rel, n_relevant

    def iter_blocks(self):
        step = self.chunk_rows()
        for start in range(0, self.n_queries, step):
            stop = min(start + step, self.n_queries)
            full = self.block(start, stop)
            yield start, stop, full, np.count_nonzero(full, axis=1)

    def n_relevant(self):
        if self._n_relevant is None:
            out = np.empty(self.n_queries, dtype=np.int64)
            for start, stop, _, n_rel in self.iter_blocks():
                out[start:stop] = n_rel
            self._n_relevant = out
        return self._n_relevant

    def pairs(self, query_idx, database_idx):
        """Relevance of individual (query, database item) pairs."""
        if not self.multilabel:
            return self.q[query_idx] == self.db[database_idx]
        out = np.empty(query_idx.shape[0], dtype=bool)
        step = max(1, _CHUNK_ELEMENTS // max(self.q.shape[1], 1))
        for start in range(0, query_idx.shape[0], step):
            stop = start + step
            out[start:stop] = (
                self.q[query_idx[start:stop]] & self.db[database_idx[start:stop]]
            ).any(axis=1)
        return out


def _check_ranking(ranking, n_queries, n_database):
    ranking = np.asarray(ranking)
    if ranking.ndim != 2:
        raise ValueError(
            "ranking must be a 2-D array of shape (n_queries, n_ranked); got "
            f"an array with {ranking.ndim} dimension(s)."
        )
    if ranking.dtype.kind not in "iu":
        raise ValueError(
            f"ranking must contain integer database indices; got dtype {ranking.dtype}."
        )
    if ranking.shape[0] != n_queries:
        raise ValueError(
            f"ranking has {ranking.shape[0]} rows but there are {n_queries} "
            "queries; they must match."
        )
    n_ranked = ranking.shape[1]
    if n_ranked == 0:
        raise ValueError("ranking has no columns; at least one is required.")
    if n_ranked > n_database:
        raise ValueError(
            f"ranking has {n_ranked} columns but the database has only "
            f"{n_database} items, so rows must contain duplicate indices."
        )
    lo, hi = ranking.min(), ranking.max()
    if lo < 0 or hi >= n_database:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"ranking contains index {bad}, outside the database range "
            f"[0, {n_database})."
        )
    ranking = ranking.astype(np.intp, copy=False)
    # Duplicate check: mark the ranked items of each row; a row without
    # duplicates marks exactly n_ranked distinct items.
    step = _chunk_rows(n_database)
    for start in range(0, n_queries, step):
        chunk = ranking[start : start + step]
        mark = np.zeros((chunk.shape[0], n_database), dtype=bool)
        mark[np.arange(chunk.shape[0])[:, None], chunk] = True
        bad = np.flatnonzero(np.count_nonzero(mark, axis=1) != n_ranked)
        if bad.size:
            raise ValueError(
                f"ranking row {start + bad[0]} contains duplicate database indices."
            )
    return ranking


def _check_k(k, n_ranked, name="k"):
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {k!r}.")
    if not 1 <= k <= n_ranked:
        raise ValueError(
            f"{name} must satisfy 1 <= {name} <= n_ranked = {n_ranked}; got {k}."
        )
    return int(k)


def _check_distances(distances, name="distances"):
    distances = np.asarray(distances)
    if distances.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_queries, n_database); got "
            f"an array with {distances.ndim} dimension(s)."
        )
    if distances.dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"{name} must be real numbers; got dtype {distances.dtype}.")
    if distances.shape[0] == 0 or distances.shape[1] == 0:
        raise ValueError(f"{name} is empty; got shape {distances.shape}.")
    if distances.dtype.kind == "f" and np.isnan(distances).any():
        raise ValueError(f"{name} contains NaN.")
    return distances


def _distances_of(labels, distances):
    """``distances`` checked, and of the shape ``(n_queries, n_database)`` of ``labels``."""
    distances = _check_distances(distances)
    if distances.shape != (labels.n_queries, labels.n_database):
        raise ValueError(
            f"distances has shape {distances.shape} but the labels give "
            f"({labels.n_queries}, {labels.n_database}) (n_queries, n_database)."
        )
    return distances


def _as_small_uint(distances, shift=False):
    """Return `distances` as uint8/uint16 if that is lossless, else None.

    Small unsigned integers (e.g. Hamming distances) let NumPy's stable sort
    use radix sort and bin lookups use a table. With ``shift=True`` the
    values are first shifted so that the minimum is 0 (order-preserving).
    """
    # Python scalars: no overflow in the range arithmetic below.
    lo, hi = distances.min().item(), distances.max().item()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    offset = lo if shift else 0
    if lo - offset < 0 or hi - offset > np.iinfo(np.uint16).max:
        return None
    is_float = distances.dtype.kind == "f"
    if is_float and not np.array_equal(distances, np.rint(distances)):
        return None
    dtype = np.uint8 if hi - offset <= np.iinfo(np.uint8).max else np.uint16
    if offset:
        work = np.float64 if is_float else np.int64
        return np.subtract(distances, offset, dtype=work).astype(dtype)
    return distances.astype(dtype)


def _safe_divide(num, den):
    num = np.asarray(num, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=np.asarray(den) > 0)


def _average_precision(rel, n_relevant, normalize):
    """AP of each row of the boolean relevance matrix ``rel`` (n, k)."""
    k = rel.shape[1]
    n_hits = np.count_nonzero(rel, axis=1)
    rows, cols = np.nonzero(rel)  # row-major: hits of each row in rank order
    # The j-th hit of a row (1-based) at 0-based position c has P@(c+1) =
    # j / (c+1); j is obtained from a cumulative count of hits per row.
    first = np.cumsum(n_hits) - n_hits
    ordinal = np.arange(rows.size) - first[rows] + 1
    sum_precision = np.bincount(
        rows, weights=ordinal / (cols + 1.0), minlength=rel.shape[0]
    )
    if normalize == "retrieved":
        z = n_hits
    elif normalize == "relevant":
        z = n_relevant
    else:  # "min"
        z = np.minimum(k, n_relevant)
    return _safe_divide(sum_precision, z)


def _mean_ap(ap, n_relevant, skip_no_relevant, return_per_query):
    """The mean of the per-query ``ap``; with ``skip_no_relevant`` the queries
    without a relevant item are left out of it (their AP reported as NaN)."""
    if skip_no_relevant:
        has_relevant = n_relevant > 0
        if not has_relevant.any():
            raise ValueError(
                "No query has a relevant item in the database, so every query "
                "is skipped with skip_no_relevant=True; mAP is undefined."
            )
        ap[~has_relevant] = np.nan
        value = float(ap[has_relevant].mean())
    else:
        value = float(ap.mean())
    if return_per_query:
        return value, ap
    return value


def _tie_averaged_ap(distances, rel, n_relevant):
    """Expected AP over the whole database of each row, every order of tied
    items equally likely (McSherry & Najork, ECIR 2008).

    ``distances`` and ``rel`` are ``(n, N)``: each query's distance to and
    relevance of every database item; ``n_relevant`` its relevant count.
    Within a group of ``g`` tied items of which ``r`` are relevant, with
    ``R`` relevant items ranked before the group and the group's ``i``-th
    place (0-based) at rank ``p``, the place holds a relevant item with
    probability ``r / g`` and, given that, the expected number of relevant
    items up to it is ``R + 1 + i (r - 1) / (g - 1)``; its expected term
    of ``sum_i P@i rel_i`` is the product over ``p``. AP is that sum over
    the places divided by ``n_relevant``: linear in the terms, so the
    expectation is exact.
    """
    n, N = distances.shape
    order = np.argsort(distances, axis=1, kind="stable")
    d = np.take_along_axis(distances, order, axis=1)
    hit = np.take_along_axis(rel, order, axis=1)
    new = np.ones((n, N), dtype=bool)  # a place that opens a group of ties
    np.not_equal(d[:, 1:], d[:, :-1], out=new[:, 1:])
    del d, order
    new = new.ravel()
    group = np.cumsum(new) - 1
    first = np.flatnonzero(new)  # flat index of each group's first place
    size = np.diff(np.append(first, n * N)).astype(np.float64)
    n_hit = np.add.reduceat(hit.ravel().astype(np.float64), first)
    before = (np.cumsum(hit, axis=1) - hit).ravel()[first].astype(np.float64)
    del new
    rank = np.arange(N, dtype=np.float64)  # 0-based rank of each place
    place = (np.tile(rank, n) - (first % N)[group])  # 0-based place within its group
    g, r = size[group], n_hit[group]
    expected_hits = before[group] + 1.0 + place * (r - 1.0) / np.maximum(g - 1.0, 1.0)
    terms = (r / g) * expected_hits / np.tile(rank + 1.0, n)
    return _safe_divide(terms.reshape(n, N).sum(axis=1), n_relevant)


class RankedScores:
    """Ranked metrics accumulated over the rows of a ranking, chunk by chunk.

    The whole ranking never has to exist at once: feed it with :meth:`add`
    in blocks of query rows (any sizes, each query once), then read the
    metrics. Each query's value depends on its own row only, so the result
    is the same for every chunking.

    Parameters
    ----------
    labels : _Labels
        Validated query and database labels.
    map_ks : sequence of int or None
        Cut-offs of mAP (None: every ranked column).
    precision_ks : sequence of int
        Cut-offs of precision@k and recall@k.
    curve_ks : ndarray of int or None
        Cut-offs of :func:`precision_recall_curve_at_k`; None: no curve.
    normalize : {"retrieved", "relevant", "min"}
        Normaliser of AP, see :func:`mean_average_precision`.
    also_normalize : sequence of {"retrieved", "relevant", "min"}
        Other normalisers to accumulate AP with too, at every cut-off of
        ``map_ks`` (read with ``mean_average_precision(k, normalize=...)``):
        one ranking, several reports.
    """

    def __init__(self, labels, *, map_ks=(None,), precision_ks=(), curve_ks=None,
                 normalize="retrieved", also_normalize=()):
        for z in (normalize, *also_normalize):
            if not isinstance(z, str) or z not in _NORMALIZATIONS:
                raise ValueError(f"normalize must be one of {_NORMALIZATIONS}; got {z!r}.")
        n = labels.n_queries
        self.labels = labels
        self.normalize = normalize
        self.ap = {k: np.full(n, np.nan) for k in map_ks}
        self.ap_other = {(k, z): np.full(n, np.nan) for k in map_ks
                         for z in also_normalize if z != normalize}
        self.n_relevant = np.zeros(n, dtype=np.int64)
        self.hits = dict.fromkeys(precision_ks, 0)
        self.recall_sum = dict.fromkeys(precision_ks, 0.0)
        self.curve_ks = None if curve_ks is None else np.asarray(curve_ks, dtype=np.int64)
        if self.curve_ks is not None:
            self.curve_precision = np.zeros(self.curve_ks.size)
            self.curve_recall = np.zeros(self.curve_ks.size)
        self.n_added = 0

    def add(self, start, ranking):
        """Add the ranking rows of queries ``start : start + len(ranking)``."""
        n_ranked = ranking.shape[1]
        cuts = [n_ranked if k is None else k for k in self.ap] + list(self.hits)
        if self.curve_ks is not None:
            cuts.append(int(self.curve_ks.max()))
        cut = max(cuts)
        for s, e, rel, n_rel in self.labels.iter_ranked(ranking[:, :cut], offset=start):
            self.n_relevant[s:e] = n_rel
            for k, ap in self.ap.items():
                ap[s:e] = _average_precision(rel[:, : k or n_ranked], n_rel, self.normalize)
            for (k, z), ap in self.ap_other.items():
                ap[s:e] = _average_precision(rel[:, : k or n_ranked], n_rel, z)
            for k in self.hits:
                hits = np.count_nonzero(rel[:, :k], axis=1)
                self.hits[k] += int(hits.sum())
                self.recall_sum[k] += _safe_divide(hits, n_rel).sum()
            if self.curve_ks is not None:
                hits = np.cumsum(rel, axis=1, dtype=np.int64)[:, self.curve_ks - 1]
                self.curve_precision += hits.sum(axis=0) / self.curve_ks
                self.curve_recall += _safe_divide(hits, n_rel[:, None]).sum(axis=0)
        self.n_added += ranking.shape[0]
        return self

    def _check_complete(self):
        if self.n_added != self.labels.n_queries:
            raise ValueError(
                f"rankings of {self.n_added} queries were added, but there are "
                f"{self.labels.n_queries} queries."
            )

    def mean_average_precision(self, k=None, *, normalize=None, skip_no_relevant=False,
                               return_per_query=False):
        """mAP at the cut-off ``k`` (one of ``map_ks``), normalised as
        ``normalize`` (None: the ``normalize`` given at construction; others:
        those of ``also_normalize``)."""
        self._check_complete()
        if normalize is None or normalize == self.normalize:
            ap = self.ap[k].copy()
        elif (k, normalize) in self.ap_other:
            ap = self.ap_other[(k, normalize)].copy()
        else:
            raise ValueError(f"mAP normalised by {normalize!r} was not accumulated; pass it in "
                             "also_normalize.")
        return _mean_ap(ap, self.n_relevant, skip_no_relevant, return_per_query)

    def precision_at_k(self, k):
        """Mean precision@k (``k`` one of ``precision_ks``)."""
        self._check_complete()
        return self.hits[k] / (k * self.labels.n_queries)

    def recall_at_k(self, k):
        """Mean recall@k (``k`` one of ``precision_ks``)."""
        self._check_complete()
        return float(self.recall_sum[k] / self.labels.n_queries)

    def precision_recall_curve(self):
        """``(precision, recall, ks)`` at the ``curve_ks`` cut-offs."""
        self._check_complete()
        n = self.labels.n_queries
        return self.curve_precision / n, self.curve_recall / n, self.curve_ks


class TieAveragedScores:
    """:func:`tie_averaged_mean_average_precision`, accumulated chunk by chunk.

    Feed it the distances of blocks of query rows with :meth:`add` (each
    query once), then read :meth:`mean_average_precision`; only one block's
    ``(rows, n_database)`` work arrays exist at a time.
    """

    def __init__(self, labels):
        self.labels = labels
        self.ap = np.full(labels.n_queries, np.nan)
        self.n_added = 0

    def chunk_rows(self):
        """Query rows per block that keep the work arrays near 2**22 elements."""
        return _chunk_rows(self.labels.n_database) // 2 or 1

    def add(self, start, distances):
        """Add the distances of queries ``start : start + len(distances)``."""
        step = self.chunk_rows()
        for s in range(0, distances.shape[0], step):
            d = distances[s:s + step]
            a, b = start + s, start + s + d.shape[0]
            rel = self.labels.block(a, b)
            self.ap[a:b] = _tie_averaged_ap(d, rel, np.count_nonzero(rel, axis=1))
        self.n_added += distances.shape[0]
        return self

    def mean_average_precision(self, *, skip_no_relevant=False, return_per_query=False):
        """The mean of the expected APs (see :func:`mean_average_precision`
        for ``skip_no_relevant``)."""
        if self.n_added != self.labels.n_queries:
            raise ValueError(
                f"distances of {self.n_added} queries were added, but there are "
                f"{self.labels.n_queries} queries."
            )
        return _mean_ap(self.ap.copy(), self.labels.n_relevant(), skip_no_relevant,
                        return_per_query)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def relevance(query_labels, database_labels):
    """Boolean relevance matrix between queries and database items.

    Parameters
    ----------
    query_labels : array-like of shape (n_queries,) or (n_queries, n_labels)
        Either 1-D class labels (any dtype) or a 2-D 0/1 indicator matrix
        (multi-label data).
    database_labels : array-like of shape (n_database,) or (n_database, n_labels)
        Labels of the database items, of the same kind as `query_labels`
        (both 1-D, or both 2-D with the same number of columns).

    Returns
    -------
    relevant : ndarray of bool, shape (n_queries, n_database)
        With 1-D labels, ``relevant[i, j]`` is ``query_labels[i] ==
        database_labels[j]``. With indicator matrices it is True when query
        ``i`` and item ``j`` share at least one positive label, i.e.
        ``(Yq @ Ydb.T)[i, j] > 0``. The product is evaluated on 0/1 values in
        which every term is non-negative, so the ``> 0`` test is exact.

    Raises
    ------
    ValueError
        If the two label arrays are not of the same kind, if indicator
        matrices contain values other than 0 and 1, or if labels contain NaN.

    Examples
    --------
    >>> from skhash.metrics._ranking import relevance
    >>> relevance([0, 1], [0, 0, 1])
    array([[ True,  True, False],
           [False, False,  True]])
    >>> relevance([[1, 0, 1]], [[1, 0, 0], [0, 1, 0], [0, 1, 1]])
    array([[ True, False,  True]])
    """
    labels = _Labels(query_labels, database_labels)
    out = np.empty((labels.n_queries, labels.n_database), dtype=bool)
    for start, stop, full, _ in labels.iter_blocks():
        out[start:stop] = full
    return out


def rank_by_distance(distances):
    """Rank database items by ascending distance, ties broken by index.

    Parameters
    ----------
    distances : array-like of shape (n_queries, n_database)
        Distance (e.g. Hamming distance) of every query to every database
        item. NaN is not allowed; ``inf`` sorts last.

    Returns
    -------
    ranking : ndarray of int64, shape (n_queries, n_database)
        Row ``i`` holds the database indices sorted by ascending
        ``distances[i]``. Equal distances keep database order (stable sort),
        so among tied items the smaller database index comes first.

    Raises
    ------
    ValueError
        If `distances` is not a non-empty 2-D real array or contains NaN.

    Examples
    --------
    >>> from skhash.metrics._ranking import rank_by_distance
    >>> rank_by_distance([[2, 0, 2, 1], [1, 1, 0, 1]])
    array([[1, 3, 0, 2],
           [2, 0, 1, 3]])
    """
    distances = _check_distances(distances)
    if distances.dtype.kind != "b":
        small = _as_small_uint(distances, shift=True)
        if small is not None:
            distances = small
    return np.argsort(distances, axis=1, kind="stable").astype(np.int64, copy=False)


@fill_doc
def mean_average_precision(
    query_labels,
    database_labels,
    ranking,
    *,
    k=None,
    normalize="retrieved",
    skip_no_relevant=False,
    return_per_query=False,
):
    r"""Mean average precision (mAP, mAP@k) of ranked retrieval results.

    For one query with relevance ``rel_i`` (1 if the item at rank ``i`` is
    relevant, else 0) and precision ``P@i`` (fraction of relevant items among
    the first ``i``), the average precision over the top ``k`` is

    .. math::

        \mathrm{AP@k} = \frac{1}{Z} \sum_{i=1}^{k} P@i \cdot rel_i

    where the normaliser ``Z`` is chosen by `normalize`:

    * ``"retrieved"`` (default): ``Z`` = number of relevant items within the
      top ``k``; AP is 0 when there is none. This is what published
      deep-hashing code computes (e.g. ``CalcTopMap`` in the DPSH, HashNet and
      DSH code bases).
    * ``"relevant"``: ``Z`` = total number of relevant items in the whole
      database, so AP@k is bounded by recall@k.
    * ``"min"``: ``Z`` = ``min(k, total number of relevant items in the
      database)``.

    When the top ``k`` covers the whole database the three choices coincide.
    The reported value is the mean of AP over queries.

    Parameters
    ----------
    %(labels)s
    ranking : array-like of int, shape (n_queries, n_ranked)
        Row ``i`` lists database indices in ranked order for query ``i``,
        nearest first, without duplicates (e.g. from a retriever's
        ``kneighbors`` or from :func:`rank_by_distance`). The metric uses the
        order given: ties in distance must already be broken by the caller
        (:func:`rank_by_distance` breaks them by database order).
    k : int, default=None
        Cut-off, ``1 <= k <= n_ranked``. None uses all ``n_ranked`` columns;
        when ``n_ranked == n_database`` this is mAP over the whole database
        ("mAP@all").
    normalize : {"retrieved", "relevant", "min"}, default="retrieved"
        Normaliser ``Z`` of AP, see above.
    skip_no_relevant : bool, default=False
        A query with no relevant item in the whole database has AP 0 and,
        by default, counts as 0 in the mean. If True, such queries are
        excluded from the mean instead (their per-query AP is reported as
        NaN). Queries that have relevant items in the database but none in
        the top ``k`` always count (with AP 0). Queries are never dropped
        silently.
    return_per_query : bool, default=False
        Also return the AP of every query.

    Returns
    -------
    map : float
        Mean average precision.
    ap : ndarray of float64, shape (n_queries,)
        Per-query AP; only returned if `return_per_query` is True.

    Raises
    ------
    ValueError
        On invalid labels (see :func:`relevance`); if `ranking` is not 2-D,
        not integer, has a row count different from the number of queries,
        contains an index outside ``[0, n_database)`` or a duplicate index in
        a row; if `k` is out of range; if `normalize` is unknown; or if
        `skip_no_relevant` is True and no query has a relevant item.

    Notes
    -----
    Queries are processed in chunks, so memory stays bounded for large
    databases.

    Examples
    --------
    One query; the ranked items are [relevant, not, relevant, not], so
    AP = (1/1 + 2/3) / 2:

    >>> from skhash.metrics._ranking import mean_average_precision
    >>> mean_average_precision([0], [0, 1, 0, 1], [[0, 1, 2, 3]])
    0.8333333333333333

    With a cut-off the normalisations differ. Here the top 2 hold one
    relevant item (at rank 2) and the database holds 3:

    >>> for z in ["retrieved", "relevant", "min"]:
    ...     print(z, mean_average_precision([0], [0, 1, 0, 0], [[1, 0, 2, 3]],
    ...                                     k=2, normalize=z))
    retrieved 0.5
    relevant 0.16666666666666666
    min 0.25
    """
    labels = _Labels(query_labels, database_labels)
    ranking = _check_ranking(ranking, labels.n_queries, labels.n_database)
    k = None if k is None else _check_k(k, ranking.shape[1])
    scores = RankedScores(labels, map_ks=(k,), normalize=normalize).add(0, ranking)
    return scores.mean_average_precision(
        k, skip_no_relevant=skip_no_relevant, return_per_query=return_per_query
    )


@fill_doc
def tie_averaged_mean_average_precision(query_labels, database_labels, distances, *,
                                        skip_no_relevant=False, return_per_query=False):
    r"""mAP over the whole database, averaged over every order of tied items.

    :func:`mean_average_precision` scores one ranking, and a ranking by
    distance has to put items at equal distance in some order (skhash's
    puts them in database order). Codes tie a lot (a Hamming distance takes
    ``n_bits + 1`` values), so that order moves the figure, and where the
    database is stored class by class (image folders) it follows the labels.
    This metric is the *expected* AP of each query when every order of the
    items within each group of equal distance is equally likely: what a
    database in random order gives on average, computed exactly in one pass
    (McSherry & Najork, "Computing information retrieval performance
    measures efficiently in the presence of tied scores", ECIR 2008). It
    does not depend on the order of the database. Without ties it equals
    :func:`mean_average_precision` of the ranking by distance.

    For a group of :math:`g` tied items holding :math:`r` relevant ones,
    with :math:`R` relevant items ranked before it, the :math:`i`-th place
    of the group (:math:`i = 0 \ldots g - 1`, at rank :math:`p`)
    contributes :math:`\frac{r}{g} \cdot \frac{R + 1 + i (r - 1) / (g -
    1)}{p}` to :math:`\sum_p P@p \cdot rel_p`; AP divides that sum by the
    number of relevant items in the database (the three normalisations of
    :func:`mean_average_precision` coincide over the whole database).

    Parameters
    ----------
    %(labels)s
    distances : array-like of shape (n_queries, n_database)
        Distance of every query to every database item (e.g. a code space's
        ``pairwise``). Equal values are ties; NaN is not allowed.
    skip_no_relevant : bool, default=False
        As in :func:`mean_average_precision`: a query with no relevant item
        counts as AP 0 unless this is True.
    return_per_query : bool, default=False
        Also return the expected AP of every query.

    Returns
    -------
    map : float
    ap : ndarray of float64, shape (n_queries,)
        Only returned if `return_per_query` is True.

    Raises
    ------
    ValueError
        On invalid labels, distances that are not a non-empty 2-D real
        array without NaN, a shape that does not match the labels, or
        `skip_no_relevant` with no query that has a relevant item.

    Examples
    --------
    One query and four items, two of them relevant, all at the same
    distance: over the 6 equally likely placements of the two relevant items
    the mean AP is 0.6805..., while the ranking in database order gives
    (1/1 + 2/3) / 2 = 0.8333...:

    >>> from skhash.metrics import tie_averaged_mean_average_precision
    >>> round(tie_averaged_mean_average_precision([0], [0, 1, 0, 1], [[1, 1, 1, 1]]), 4)
    0.6806
    >>> tie_averaged_mean_average_precision([0], [0, 1, 0, 1], [[0, 1, 2, 3]])
    0.8333333333333333
    """
    labels = _Labels(query_labels, database_labels)
    distances = _distances_of(labels, distances)
    scores = TieAveragedScores(labels)
    for start in range(0, labels.n_queries, scores.chunk_rows()):
        scores.add(start, distances[start:start + scores.chunk_rows()])
    return scores.mean_average_precision(skip_no_relevant=skip_no_relevant,
                                         return_per_query=return_per_query)


def _scores_at_k(query_labels, database_labels, ranking, k):
    """The checked inputs of a cut-off metric, scored: ``(RankedScores, k)``."""
    labels = _Labels(query_labels, database_labels)
    ranking = _check_ranking(ranking, labels.n_queries, labels.n_database)
    k = _check_k(k, ranking.shape[1])
    return RankedScores(labels, map_ks=(), precision_ks=(k,)).add(0, ranking), k


@fill_doc
def precision_at_k(query_labels, database_labels, ranking, k):
    """Mean precision of the top ``k`` ranked items.

    For each query, precision@k = (number of relevant items in the top
    ``k``) / ``k``; the result is the mean over queries.

    %(ranked_k_parameters)s
    precision : float
        Mean precision@k.

    %(k_raises)s

    Examples
    --------
    >>> from skhash.metrics._ranking import precision_at_k
    >>> precision_at_k([0, 1], [0, 1, 0, 1], [[0, 1, 2, 3], [0, 1, 2, 3]], k=2)
    0.5
    >>> precision_at_k([0], [0, 1, 0, 1], [[0, 2, 1, 3]], k=3)
    0.6666666666666666
    """
    scores, k = _scores_at_k(query_labels, database_labels, ranking, k)
    return scores.precision_at_k(k)


@fill_doc
def recall_at_k(query_labels, database_labels, ranking, k):
    """Mean recall of the top ``k`` ranked items.

    For each query, recall@k = (number of relevant items in the top ``k``)
    / (number of relevant items in the whole database). A query with no
    relevant item in the database has recall 0. The result is the mean over
    queries.

    %(ranked_k_parameters)s
    recall : float
        Mean recall@k.

    %(k_raises)s

    Examples
    --------
    Query 0 finds 1 of its 2 relevant items in the top 2; query 1 has no
    relevant item in the database and counts 0:

    >>> from skhash.metrics._ranking import recall_at_k
    >>> recall_at_k([0, 5], [0, 1, 0, 1], [[0, 1, 2, 3], [0, 1, 2, 3]], k=2)
    0.25
    """
    scores, k = _scores_at_k(query_labels, database_labels, ranking, k)
    return scores.recall_at_k(k)


@fill_doc
def precision_within_radius(query_labels, database_labels, neighbors):
    """Mean precision of the items retrieved within a Hamming radius.

    For each query, precision = (relevant items retrieved) / (items
    retrieved). Following the hashing literature ("precision within Hamming
    radius 2"), a query whose bucket is empty has precision 0. The result
    is the mean over all queries.

    Parameters
    ----------
    %(labels)s
    neighbors : sequence of n_queries 1-D integer arrays
        ``neighbors[i]`` holds the (distinct) database indices retrieved for
        query ``i``, e.g. the items within Hamming radius ``r``, as returned
        by a ``radius_neighbors`` method (a list or a 1-D object array).

    Returns
    -------
    precision : float
        Mean precision over queries, empty buckets counting 0.

    Raises
    ------
    ValueError
        On invalid labels, if `neighbors` does not have one entry per query,
        or if an entry is not 1-D, not integer, has an index outside
        ``[0, n_database)`` or a duplicate index.

    Examples
    --------
    Query 0 retrieves 2 items, 1 relevant (precision 1/2); query 1 retrieves
    nothing (precision 0):

    >>> from skhash.metrics._ranking import precision_within_radius
    >>> precision_within_radius([0, 1], [0, 1, 1], [[0, 2], []])
    0.25
    """
    labels = _Labels(query_labels, database_labels)
    try:
        n_entries = len(neighbors)
    except TypeError:
        raise ValueError(
            "neighbors must be a sequence with one array of database indices "
            f"per query; got {type(neighbors).__name__}."
        ) from None
    if n_entries != labels.n_queries:
        raise ValueError(
            f"neighbors has {n_entries} entries but there are "
            f"{labels.n_queries} queries; they must match."
        )
    arrays = []
    for i, nb in enumerate(neighbors):
        a = np.asarray(nb)
        if a.ndim != 1:
            raise ValueError(
                f"neighbors[{i}] must be a 1-D array of database indices; got "
                f"an array with {a.ndim} dimension(s)."
            )
        if a.size == 0:
            arrays.append(np.empty(0, dtype=np.intp))
            continue
        if a.dtype.kind not in "iu":
            raise ValueError(
                f"neighbors[{i}] must contain integer database indices; got "
                f"dtype {a.dtype}."
            )
        lo, hi = a.min(), a.max()
        if lo < 0 or hi >= labels.n_database:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"neighbors[{i}] contains index {bad}, outside the database "
                f"range [0, {labels.n_database})."
            )
        a = a.astype(np.intp, copy=False)
        if np.unique(a).size != a.size:
            raise ValueError(f"neighbors[{i}] contains duplicate database indices.")
        arrays.append(a)
    sizes = np.array([a.size for a in arrays], dtype=np.int64)
    database_idx = np.concatenate(arrays)
    query_idx = np.repeat(np.arange(labels.n_queries), sizes)
    rel = labels.pairs(query_idx, database_idx)
    hits = np.bincount(query_idx[rel], minlength=labels.n_queries)
    return float(_safe_divide(hits, sizes).mean())


@fill_doc
def precision_recall_curve_at_k(query_labels, database_labels, ranking, ks=None):
    """Mean precision@k and recall@k for a series of cut-offs ``k``.

    Useful to draw precision-recall curves of ranked retrieval. For each
    cut-off the values equal :func:`precision_at_k` and :func:`recall_at_k`.

    Parameters
    ----------
    %(labels)s
    %(ranking)s
    ks : array-like of int, default=None
        Cut-offs, each in ``[1, n_ranked]``, in any order. None uses up to 20
        evenly spaced cut-offs from 1 to ``n_ranked`` (rounded, unique).

    Returns
    -------
    precision : ndarray of float64, shape (n_ks,)
        Mean precision@k for each cut-off.
    recall : ndarray of float64, shape (n_ks,)
        Mean recall@k for each cut-off (queries without relevant items
        count 0).
    ks : ndarray of int64, shape (n_ks,)
        The cut-offs.

    Raises
    ------
    ValueError
        On invalid labels or `ranking` (see :func:`mean_average_precision`)
        or if `ks` is empty, not 1-D integer, or out of range.

    Examples
    --------
    >>> from skhash.metrics._ranking import precision_recall_curve_at_k
    >>> p, r, ks = precision_recall_curve_at_k([0], [0, 1, 0, 1], [[0, 1, 2, 3]])
    >>> ks
    array([1, 2, 3, 4])
    >>> p
    array([1.        , 0.5       , 0.66666667, 0.5       ])
    >>> r
    array([0.5, 0.5, 1. , 1. ])
    """
    labels = _Labels(query_labels, database_labels)
    ranking = _check_ranking(ranking, labels.n_queries, labels.n_database)
    n_ranked = ranking.shape[1]
    if ks is None:
        ks = np.unique(np.rint(np.linspace(1, n_ranked, 20)).astype(np.int64))
    else:
        ks = np.atleast_1d(np.asarray(ks))
        if ks.ndim != 1 or ks.size == 0:
            raise ValueError("ks must be a non-empty 1-D array of cut-offs.")
        if ks.dtype.kind not in "iu":
            raise ValueError(f"ks must contain integers; got dtype {ks.dtype}.")
        if ks.min() < 1 or ks.max() > n_ranked:
            raise ValueError(
                f"ks must satisfy 1 <= k <= n_ranked = {n_ranked}; got values "
                f"from {ks.min()} to {ks.max()}."
            )
        ks = ks.astype(np.int64)
    scores = RankedScores(labels, map_ks=(), curve_ks=ks).add(0, ranking)
    return scores.precision_recall_curve()


@fill_doc
def precision_recall_by_radius(query_labels, database_labels, distances, radii=None):
    """Mean precision and recall of Hamming-ball retrieval for several radii.

    For each radius ``r`` and query, the retrieved set is the database items
    at distance ``<= r``. Precision = relevant retrieved / retrieved (0 when
    nothing is retrieved); recall = relevant retrieved / relevant in the
    database (0 when the database holds no relevant item). Both are averaged
    over all queries.

    Parameters
    ----------
    %(labels)s
    distances : array-like of shape (n_queries, n_database)
        Full matrix of (Hamming) distances, finite and non-negative.
    radii : array-like of float or int, default=None
        Radii to evaluate, in any order. None uses every integer from 0 to
        the largest distance.

    Returns
    -------
    precision : ndarray of float64, shape (n_radii,)
        Mean precision within each radius.
    recall : ndarray of float64, shape (n_radii,)
        Mean recall within each radius.
    radii : ndarray, shape (n_radii,)
        The radii.

    Raises
    ------
    ValueError
        On invalid labels, if `distances` is not 2-D, does not match the
        label lengths, contains NaN, infinite or negative values, or if
        `radii` is empty, not 1-D or contains NaN.

    Examples
    --------
    >>> from skhash.metrics._ranking import precision_recall_by_radius
    >>> p, r, radii = precision_recall_by_radius([0], [0, 1, 0], [[0, 1, 2]])
    >>> radii
    array([0, 1, 2])
    >>> p
    array([1.        , 0.5       , 0.66666667])
    >>> r
    array([0.5, 0.5, 1. ])
    """
    labels = _Labels(query_labels, database_labels)
    distances = _distances_of(labels, distances)
    if not np.isfinite(distances).all():
        raise ValueError("distances contains infinite values.")
    if distances.min() < 0:
        raise ValueError("distances must be non-negative.")
    if radii is None:
        radii = np.arange(int(np.floor(distances.max())) + 1, dtype=np.int64)
    else:
        radii = np.atleast_1d(np.asarray(radii))
        if radii.ndim != 1 or radii.size == 0:
            raise ValueError("radii must be a non-empty 1-D array.")
        if radii.dtype.kind not in _NUMERIC_KINDS:
            raise ValueError(f"radii must be real numbers; got dtype {radii.dtype}.")
        if radii.dtype.kind == "f" and np.isnan(radii).any():
            raise ValueError("radii contains NaN.")
    unique_radii, inverse = np.unique(radii, return_inverse=True)
    inverse = inverse.reshape(-1)
    n_bins = unique_radii.size + 1
    small = _as_small_uint(distances)
    if small is not None:
        # Lookup table of the bin of every possible integer distance.
        table = np.searchsorted(unique_radii, np.arange(int(small.max()) + 1))
    precision = np.zeros(unique_radii.size)
    recall = np.zeros(unique_radii.size)
    for start, stop, full, n_rel in labels.iter_blocks():
        n = stop - start
        # bin j: first radius >= d, so an item is within unique_radii[j]
        # exactly when its bin is <= j; bin n_bins-1 is beyond every radius.
        if small is not None:
            bins = table[small[start:stop]]
        else:
            bins = np.searchsorted(unique_radii, distances[start:stop], side="left")
        flat = (np.arange(n)[:, None] * n_bins + bins).ravel()
        retrieved = np.bincount(flat, minlength=n * n_bins).reshape(n, n_bins)
        hits = np.bincount(flat[full.ravel()], minlength=n * n_bins).reshape(n, n_bins)
        retrieved = np.cumsum(retrieved[:, :-1], axis=1)
        hits = np.cumsum(hits[:, :-1], axis=1)
        precision += _safe_divide(hits, retrieved).sum(axis=0)
        recall += _safe_divide(hits, n_rel[:, None]).sum(axis=0)
    n_q = labels.n_queries
    return precision[inverse] / n_q, recall[inverse] / n_q, radii
