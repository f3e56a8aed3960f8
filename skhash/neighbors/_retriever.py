"""Search learned codes, in the spirit of ``sklearn.neighbors``."""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _num_samples, check_is_fitted, column_or_1d

from ..codes import drop_self, search_threads
from ..metrics._ranking import _Labels, check_class_labels
from ..metrics._scorer import ranking_scores, unwrap_encoder
from ..utils._params import store_init_params

__all__ = ["KNeighborsRetriever"]


def _check_ids(ids, n):
    """Ids as a 1-D array of ``n`` distinct int64 integers or strings."""
    ids = np.asarray(ids)
    if ids.dtype == object and all(isinstance(v, str) for v in ids.ravel()):
        ids = ids.astype(str)  # e.g. a pandas column of strings
    if ids.ndim != 1 or ids.shape[0] != n:
        raise ValueError(f"ids must be 1-D with one id per row ({n}), got shape {ids.shape}.")
    if ids.dtype.kind not in "iuU":
        raise TypeError(f"ids must be integers or strings, got dtype {ids.dtype}.")
    if ids.dtype.kind == "u" and ids.size and ids.max() > np.iinfo(np.int64).max:
        raise ValueError("integer ids must fit in int64.")
    if ids.dtype.kind in "iu":
        ids = ids.astype(np.int64)
    if len(np.unique(ids)) != n:
        values, counts = np.unique(ids, return_counts=True)
        raise ValueError(f"ids must be distinct; repeated: {values[counts > 1][:5].tolist()}.")
    return ids


def _same_id_kind(ids, index_ids, what):
    """Refuse integer ids for an index of string ids, and the other way round."""
    if (ids.dtype.kind == "U") != (index_ids.dtype.kind == "U"):
        have = "strings" if index_ids.dtype.kind == "U" else "integers"
        raise TypeError(f"{what} must be {have}, as the index's ids are; got dtype {ids.dtype}.")


def _label_group(labels):
    return "numbers" if labels.dtype.kind in "biuf" else "strings"


class KNeighborsRetriever(BaseEstimator):
    """Index the codes of a database and search them exactly.

    A meta-estimator around a skhash encoder (a hasher or a quantizer, or a
    ``Pipeline`` ending in one). ``fit(X_db, y_db)`` fits a clone of the
    encoder on the database and indexes the database codes; pass a
    ``sklearn.frozen.FrozenEstimator`` to use an already fitted encoder
    as is. Searches go through the encoder's code space: Hamming distance
    for binary codes; symmetric or asymmetric lookup tables for product
    codes. Results are exact, sorted by distance, ties broken by database
    index.

    Parameters
    ----------
    encoder : estimator
        A skhash encoder (exposes ``encode`` and ``code_space_`` once fitted).
    n_neighbors : int, default=10
        Default number of neighbours for ``kneighbors`` and ``predict``.
    radius : int, default=2
        Default Hamming radius of ``radius_neighbors``.
    asymmetric : bool, default=False
        Product codes only: compare continuous query embeddings against the
        database codes (asymmetric distance) instead of query codes.
    weights : {"uniform", "distance"}, default="uniform"
        Neighbour vote in ``predict``/``predict_proba``. "distance" weighs
        by ``1 / distance``; neighbours at distance 0, if any, take the vote.
    n_jobs : int or None, default=None
        Threads of the search kernels (None: all cores numba was started
        with; -1: all).

    Attributes
    ----------
    encoder_ : estimator
        The fitted encoder.
    codes_ : ndarray or numpy.memmap
        Database codes (packed bits, or ``(n, M)`` product codes); a
        read-only memmap when indexed from a file with :meth:`fit_codes`.
    ids_ : ndarray of shape (n_database,)
        The caller's id of each database item (integers or strings; by
        default the positions ``0 .. n - 1`` at ``fit``, continued by
        :meth:`add`). ``kneighbors(..., return_ids=True)`` returns them.
    code_space_ : HammingSpace or ProductSpace
        The encoder's code space.
    classes_ : ndarray
        Class labels of the database (single-label ``y``), or label columns
        (indicator ``y``).
    n_samples_fit_ : int
        Database size.
    n_features_in_ : int
        Number of features of the encoder's input.

    Notes
    -----
    **An index that grows and one larger than memory.** :meth:`add`
    encodes new items and appends their codes (the existing ones are never
    re-encoded), :meth:`remove` deletes items by id; both keep ``ids_`` and
    the labels in step, and give the index a fit on the whole collection
    would give (with a frozen encoder). :meth:`fit_codes` indexes codes
    computed beforehand -- an array, a :class:`numpy.memmap` or the path of
    a ``.npy`` file written by :func:`encode_to_file` -- with an already
    fitted encoder; ``kneighbors`` scans the database
    :data:`skhash.codes.DATABASE_CHUNK_ROWS` codes at a time (see
    :meth:`skhash.codes.CodeSpace.search`), so memory holds one chunk, not
    the database. ``add`` and ``remove`` on a memmapped index bring its
    codes into memory; ``radius_neighbors`` and ``kneighbors(X=None)``
    read it in chunks, as ``kneighbors`` does. Integer ids that ``add``
    assigns are never ones an item had before (removed items' ids are not
    reused).

    Examples
    --------
    >>> from skhash.datasets import load_digits
    >>> from skhash.hashing import CNNBHHasher
    >>> from skhash.neighbors import KNeighborsRetriever
    >>> X, y = load_digits(return_X_y=True)
    >>> retriever = KNeighborsRetriever(
    ...     CNNBHHasher(n_bits=16, max_epochs=2, random_state=0), n_neighbors=5
    ... ).fit(X[100:], y[100:])
    >>> dist, ind = retriever.kneighbors(X[:3])
    >>> ind.shape
    (3, 5)
    >>> retriever.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        "encoder": [HasMethods(["fit", "transform"])],
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "radius": [Interval(numbers.Integral, 0, None, closed="left")],
        "asymmetric": ["boolean"],
        "weights": [StrOptions({"uniform", "distance"})],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(self, encoder, *, n_neighbors=10, radius=2, asymmetric=False,
                 weights="uniform", n_jobs=None):
        store_init_params(self, locals())

    # --------------------------------------------------------------- helpers
    def _encode(self, X, *, query):
        """Codes of X (or continuous queries for asymmetric search)."""
        encoder, X = unwrap_encoder(self.encoder_, X)
        if query and self.asymmetric:
            return encoder._query_codes(X, asymmetric=True)
        return encoder.encode(X)

    def _queries(self, X):
        check_is_fitted(self, "codes_")
        return self._encode(X, query=True)

    def _check_labels(self):
        if self._y is None:
            raise ValueError(
                "this retriever was fitted without y: predict, predict_proba and score "
                "need the database labels; call fit(X, y)."
            )

    # ------------------------------------------------------------------- fit
    def fit(self, X, y=None, *, ids=None):
        """Fit the encoder on the database (unless frozen) and index its codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The database.
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Database labels: class labels, or a 0/1 indicator matrix for
            multi-label data. Needed by ``predict`` and ``score``.
        ids : array-like of shape (n_samples,), default=None
            The caller's id of each item (distinct integers or strings: file
            names, database keys), returned by ``kneighbors(...,
            return_ids=True)`` and used by :meth:`remove`. None: the
            positions ``0 .. n_samples - 1``.

        Returns
        -------
        self : object
        """
        self._validate_params()
        n = _num_samples(X)
        labels = self._label_state(y, n)  # before any training
        ids = None if ids is None else _check_ids(ids, n)
        encoder = clone(self.encoder)
        # y positionally, None included: FrozenEstimator.fit(X, y) has no
        # default for y, and every scikit-learn estimator accepts fit(X, None)
        encoder.fit(X, y)
        space = self._code_space_of(encoder)
        self.encoder_, self.code_space_ = encoder, space
        self._set_index(self._encode(X, query=False), labels, ids)
        return self

    def fit_codes(self, codes, y=None, *, ids=None):
        """Index database codes computed beforehand, with an already fitted encoder.

        Nothing is trained or encoded: ``encoder`` must be fitted (e.g. a
        ``FrozenEstimator`` or the encoder that wrote the codes) and is used
        as it is, for the queries.

        Parameters
        ----------
        codes : array-like, numpy.memmap, str or path-like
            The database codes as the encoder's ``encode`` gives them, or
            the path of a ``.npy`` file of them (opened as a read-only
            memmap: see :func:`encode_to_file`). A memmap stays on disk;
            searches read it in chunks.
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Database labels (see :meth:`fit`).
        ids : array-like of shape (n_samples,), default=None
            The caller's ids (see :meth:`fit`).

        Returns
        -------
        self : object
        """
        import os

        self._validate_params()
        final, _ = unwrap_encoder(self.encoder)
        check_is_fitted(final, "code_space_")
        space = self._code_space_of(self.encoder)
        if isinstance(codes, (str, os.PathLike)):
            codes = np.load(os.fspath(codes), mmap_mode="r")
        if isinstance(codes, np.memmap):
            if codes.dtype != space.code_dtype:
                raise TypeError(
                    f"memmapped codes must be of dtype {space.code_dtype} (as encode writes "
                    f"them, e.g. with encode_to_file), got {codes.dtype}: converting would "
                    "copy the whole file into memory.")
            space.check_codes(codes, "codes")
        else:
            codes = space.check_codes(codes, "codes")
        n = codes.shape[0]
        labels = self._label_state(y, n)
        ids = None if ids is None else _check_ids(ids, n)
        self.encoder_, self.code_space_ = self.encoder, space
        self._set_index(codes, labels, ids)
        return self

    def _set_index(self, codes, labels, ids, *, next_id=None):
        """Assign the database and what goes with it (all validated before)."""
        self.codes_ = codes
        self.n_samples_fit_ = codes.shape[0]
        self.n_features_in_ = self.encoder_.n_features_in_
        if hasattr(self.encoder_, "feature_names_in_"):
            self.feature_names_in_ = self.encoder_.feature_names_in_
        self._ids = ids  # None: the ids are the positions (no array of n int64 kept)
        self._y, self._multilabel, classes = labels
        if classes is not None:
            self.classes_ = classes
        elif hasattr(self, "classes_"):
            del self.classes_
        # integer ids that add() gives next: never one an item had before
        if next_id is None:
            if ids is None:
                next_id = codes.shape[0]
            else:
                next_id = int(ids.max()) + 1 if ids.dtype.kind in "iu" and len(ids) else 0
        self._next_id = next_id

    @property
    def ids_(self):
        """The id of each database item (see the class docstring)."""
        check_is_fitted(self, "codes_")
        ids = getattr(self, "_ids", None)
        return np.arange(self.n_samples_fit_, dtype=np.int64) if ids is None else ids

    def _code_space_of(self, encoder):
        final, _ = unwrap_encoder(encoder)
        space = getattr(final, "code_space_", None)
        if space is None:
            raise TypeError(
                f"encoder {type(final).__name__} is not a skhash encoder: it has no "
                "code_space_ after fitting."
            )
        if self.asymmetric and space.kind != "product":
            raise ValueError(
                "asymmetric=True needs an encoder with product codes (a quantizer); "
                f"{type(final).__name__} produces binary codes."
            )
        return space

    # ------------------------------------------------------- index updates
    def add(self, X, y=None, ids=None):
        """Encode ``X`` and append it to the index (the existing codes stay).

        The result equals a fit on the whole collection with the same
        (frozen) encoder: codes, labels, ids and searches.

        Parameters
        ----------
        X : array-like of shape (n_new, n_features)
            The new items.
        y : array-like of shape (n_new,) or (n_new, n_labels), default=None
            Their labels: required when the index has labels, refused when
            it has none.
        ids : array-like of shape (n_new,), default=None
            Their ids, distinct from the index's. None continues integer ids
            (``max(ids_) + 1, ...``); an index with string ids needs them.

        Returns
        -------
        self : object
        """
        check_is_fitted(self, "codes_")
        has_labels = self._y is not None
        if has_labels != (y is not None):
            raise ValueError("this index has labels: add needs y for the new items."
                             if has_labels else
                             "this index was fitted without y: add takes no labels.")
        codes = self._encode(X, query=False)
        n_new = codes.shape[0]
        next_id = getattr(self, "_next_id", 0)
        index_ids = getattr(self, "_ids", None)
        positions = index_ids is None and next_id == self.n_samples_fit_
        if ids is None:
            if index_ids is not None and index_ids.dtype.kind == "U":
                raise ValueError("this index has the caller's string ids: add needs ids "
                                 "for the new items.")
            top = (self.n_samples_fit_ if index_ids is None
                   else int(index_ids.max()) + 1 if len(index_ids) else 0)
            start = max(next_id, top)
            ids = np.arange(start, start + n_new, dtype=np.int64)
        else:
            positions = False
            ids = _check_ids(ids, n_new)
            _same_id_kind(ids, self.ids_, "ids")
            taken = np.isin(ids, self.ids_)
            if taken.any():
                raise ValueError(f"ids already in the index: {ids[taken][:5].tolist()}.")
        labels = (None, False, None)
        if has_labels:
            labels = self._label_state(self._added_labels(y, n_new), self.n_samples_fit_ + n_new)
        if ids.dtype.kind in "iu":
            next_id = max(next_id, int(ids.max()) + 1)
        # everything is checked: only now does the index change (ids that
        # continue the positions stay implicit)
        self._set_index(np.concatenate([np.asarray(self.codes_), codes]), labels,
                        None if positions else np.concatenate([self.ids_, ids]),
                        next_id=next_id)
        return self

    def _added_labels(self, y, n_new):
        """The database labels with ``y`` appended, of the kind the index holds."""
        new_y, multilabel = self._check_fit_labels(y)
        if new_y.shape[0] != n_new:
            raise ValueError(f"y has {new_y.shape[0]} labels for {n_new} new rows.")
        if multilabel != self._multilabel:
            raise ValueError("y must be of the kind the index holds ("
                             + ("0/1 indicator matrix" if self._multilabel
                                else "class labels") + ").")
        old = self._database_labels()
        if multilabel:
            if new_y.shape[1] != old.shape[1]:
                raise ValueError(f"y has {new_y.shape[1]} label columns; the index has "
                                 f"{old.shape[1]}.")
            return np.concatenate([old, new_y.astype(old.dtype)])
        if _label_group(new_y) != _label_group(old):
            raise ValueError(f"y holds {_label_group(new_y)}, but the index's labels are "
                             f"{_label_group(old)}.")
        if old.dtype.kind in "biu" and new_y.dtype.kind == "f":
            if not np.array_equal(new_y, np.round(new_y)):
                raise ValueError("y holds fractional labels, but the index's labels are "
                                 "integers.")
            new_y = new_y.astype(old.dtype)
        return np.concatenate([old, new_y])

    def remove(self, ids):
        """Delete the items with these ids from the index.

        The result equals a fit without them (same frozen encoder); the
        other items keep their ids (their positions close up).

        Parameters
        ----------
        ids : array-like
            Ids present in ``ids_`` (each once).

        Returns
        -------
        self : object
        """
        check_is_fitted(self, "codes_")
        ids = np.asarray(ids).ravel()
        if ids.dtype == object and all(isinstance(v, str) for v in ids):
            ids = ids.astype(str)
        _same_id_kind(ids, self.ids_, "ids to remove")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids to remove must be distinct.")
        drop = np.isin(self.ids_, ids)
        if drop.sum() != len(ids):
            missing = ids[~np.isin(ids, self.ids_)]
            raise KeyError(f"ids not in the index: {missing[:5].tolist()}.")
        if drop.all():
            raise ValueError("remove would empty the index; fit a new one instead.")
        keep = ~drop
        n_keep = int(keep.sum())
        labels = (None, False, None) if self._y is None else self._label_state(
            self._database_labels()[keep], n_keep)
        self._set_index(np.asarray(self.codes_)[keep], labels, self.ids_[keep],
                        next_id=getattr(self, "_next_id", None))
        return self

    @staticmethod
    def _check_fit_labels(y):
        """Database labels: a 0/1 indicator matrix, or 1-D class labels (no
        NaN, not continuous, of one type). Returns ``(y, multilabel)``."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            if type_of_target(y) != "multilabel-indicator":
                raise ValueError("a 2-D y must be a 0/1 label indicator matrix.")
            return y, True
        y = column_or_1d(y, warn=True)
        check_class_labels(y, "y")
        return y, False

    def _label_state(self, y, n):
        """Validated database labels for ``n`` rows, as ``(encoded y or None,
        multilabel, classes or None)``; assigns nothing."""
        if y is None:
            return None, False, None
        y, multilabel = self._check_fit_labels(y)
        if y.shape[0] != n:
            raise ValueError(f"y has {y.shape[0]} labels for {n} database rows.")
        if multilabel:
            return y.astype(np.int8), True, np.arange(y.shape[1])
        classes, y_enc = np.unique(y, return_inverse=True)
        return y_enc, False, classes

    # ---------------------------------------------------------------- search
    def kneighbors(self, X=None, n_neighbors=None, return_distance=True, *, return_ids=False):
        """Find the nearest database items of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features) or None
            Queries. None means the database itself, each item excluded from
            its own neighbours.
        n_neighbors : int, default=self.n_neighbors
        return_distance : bool, default=True
        return_ids : bool, default=False
            Return the items' ids (``ids_``: the caller's ids given to
            ``fit``, ``fit_codes`` or ``add``) instead of their positions.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Distances (int32 Hamming, or float32 squared L2 for product
            codes), ascending. Only when ``return_distance=True``.
        neigh_ind : ndarray of int64, shape (n_queries, n_neighbors)
            Database positions, ties broken by position (with
            ``return_ids=True``: their ids, of ``ids_``'s dtype).
        """
        check_is_fitted(self, "codes_")
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"n_neighbors must be a positive integer, got {k!r}.")
        limit = self.n_samples_fit_ - (1 if X is None else 0)
        if k > limit:
            raise ValueError(
                f"n_neighbors={k} is larger than the database ({limit} items"
                f"{' besides the query itself' if X is None else ''})."
            )
        with search_threads(self.n_jobs):
            if X is None:
                queries = self._database_queries()
                dist, ind = self.code_space_.search(
                    queries, self.codes_, k + 1, asymmetric=self.asymmetric
                )
                dist, ind = drop_self(dist, ind)
            else:
                dist, ind = self.code_space_.search(
                    self._queries(X), self.codes_, k, asymmetric=self.asymmetric
                )
        if return_ids and getattr(self, "_ids", None) is not None:
            ind = self._ids[ind]  # (default ids are the positions themselves)
        return (dist, ind) if return_distance else ind

    def _database_queries(self):
        if self.asymmetric:
            raise ValueError(
                "kneighbors(X=None) with asymmetric=True needs the database's continuous "
                "embeddings, which are not stored; pass the database rows as X."
            )
        return self.codes_

    def radius_neighbors(self, X=None, radius=None, return_distance=True):
        """Database items within a Hamming radius of each query (binary codes).

        Returns object arrays of per-query distances and indices, sorted by
        distance then index, as ``sklearn.neighbors`` does. ``X=None``
        queries the database itself, excluding each item from its own
        result.
        """
        check_is_fitted(self, "codes_")
        radius = self.radius if radius is None else radius
        if self.code_space_.kind != "hamming":
            raise ValueError(
                "radius_neighbors is a Hamming-radius lookup and needs binary codes; "
                "use kneighbors for product codes."
            )
        queries = self.codes_ if X is None else self._queries(X)
        with search_threads(self.n_jobs):
            dist, ind = self.code_space_.radius_neighbors(queries, self.codes_, radius)
        if X is None:
            for q in range(len(ind)):
                keep = ind[q] != q
                dist[q], ind[q] = dist[q][keep], ind[q][keep]
        return (dist, ind) if return_distance else ind

    # ----------------------------------------------------------------- faiss
    def to_faiss(self, *, fast_scan=False):
        """The faiss index that gives this retriever's answers.

        It holds the retriever's own codes and the encoder's codebooks
        (nothing is re-trained or re-encoded): ``IndexBinaryFlat`` for
        binary codes; ``IndexPQ`` (codes added with ``add_sa_codes``) for
        product codes with ``K`` a power of two, or ``IndexPQFastScan`` with
        ``fast_scan=True`` and ``K = 16`` (faiss's 8-bit tables: approximate
        distances); for ``K`` not a power of two (DeepSOM's 400 nodes) an
        exact ``IndexFlatL2`` over the decoded codewords, ``4 * n * M * d``
        bytes. Search it with :meth:`faiss_queries`: its ``search(queries,
        k)`` then returns the distances of :meth:`kneighbors` (float
        distances to float32 rounding; faiss may order tied items
        differently). Labels are database positions, as ``kneighbors``'
        indices.

        Parameters
        ----------
        fast_scan : bool, default=False
            Export 4-bit product codes (``K = 16``) as ``IndexPQFastScan``.

        Returns
        -------
        index : faiss.Index or faiss.IndexBinary

        Raises
        ------
        ImportError
            When faiss is not installed (``pip install faiss-cpu``).
        ValueError
            When ``fast_scan=True`` and the codes are not 4-bit product codes.
        """
        from ._faiss import retriever_to_faiss

        check_is_fitted(self, "codes_")
        return retriever_to_faiss(self.code_space_, self.codes_, fast_scan=fast_scan)

    def faiss_queries(self, X):
        """The query array to search the index of :meth:`to_faiss` with.

        The packed query codes for binary codes; for product codes the query
        embeddings (asymmetric retriever) or the codewords of the query
        codes (symmetric: distances to them are the symmetric distances).
        """
        queries = self._queries(X)
        if self.code_space_.kind == "product" and not self.asymmetric:
            return self.code_space_.decode(queries)
        return np.ascontiguousarray(queries)

    # ------------------------------------------------------- classification
    def predict_proba(self, X):
        """Neighbour-vote probabilities.

        Single-label: ``(n_queries, n_classes)`` share of the (weighted)
        vote per class, columns in ``classes_`` order. Multi-label: share of
        neighbours carrying each label, ``(n_queries, n_labels)``.
        """
        check_is_fitted(self, "codes_")
        self._check_labels()
        k = min(self.n_neighbors, self.n_samples_fit_)
        dist, ind = self.kneighbors(X, n_neighbors=k)
        w = self._vote_weights(dist)
        if self._multilabel:
            votes = np.einsum("qk,qkl->ql", w, self._y[ind].astype(np.float64))
        else:
            votes = np.zeros((ind.shape[0], len(self.classes_)))
            rows = np.repeat(np.arange(ind.shape[0]), ind.shape[1])
            np.add.at(votes, (rows, self._y[ind].ravel()), w.ravel())
        return votes / w.sum(axis=1, keepdims=True)

    def _vote_weights(self, dist):
        dist = np.asarray(dist, dtype=np.float64)
        if self.weights == "uniform":
            return np.ones_like(dist)
        with np.errstate(divide="ignore"):
            w = 1.0 / dist
        zero = dist == 0
        rows = zero.any(axis=1)
        w[rows] = zero[rows].astype(np.float64)
        return w

    def predict(self, X):
        """Label(s) by neighbour vote (ties: the first class in ``classes_``)."""
        proba = self.predict_proba(X)
        if self._multilabel:
            return (proba >= 0.5).astype(np.int64)
        return self.classes_[np.argmax(proba, axis=1)]

    # ---------------------------------------------------------------- score
    def _database_for_scoring(self, X, *, asymmetric=False):
        check_is_fitted(self, "codes_")
        self._check_labels()
        if asymmetric and not self.asymmetric:
            raise ValueError("asymmetric scoring needs a retriever built with asymmetric=True.")
        return self.code_space_, self._queries(X), self.codes_, self._database_labels()

    def _database_labels(self):
        return self._y if self._multilabel else self.classes_[self._y]

    def score(self, X, y):
        """mAP of the queries ``X`` (labels ``y``) against the indexed database.

        The whole database is ranked for each query (mAP@all, ties by
        database index); relevance is "same label", or "shares at least one
        label" for indicator matrices. See
        :func:`skhash.metrics.mean_average_precision`. Queries are ranked a
        chunk at a time, so memory stays bounded (about 256 MiB of
        rankings) however many queries and database items there are.

        Raises a ``ValueError`` before searching if ``y`` contains NaN, is
        continuous, or is of another type than the database labels.
        """
        check_is_fitted(self, "codes_")
        self._check_labels()
        y = np.asarray(y)
        labels = _Labels(y, self._database_labels())  # bad labels fail before the search
        space, queries, codes, _ = self._database_for_scoring(X, asymmetric=self.asymmetric)
        with search_threads(self.n_jobs):
            scores = ranking_scores(space, queries, codes, labels, None,
                                    asymmetric=self.asymmetric)
        return scores.mean_average_precision()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        encoder_tags = get_tags(self.encoder)
        tags.input_tags = encoder_tags.input_tags
        tags.target_tags.required = encoder_tags.target_tags.required
        return tags

