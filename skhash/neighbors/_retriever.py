"""Search learned codes, in the spirit of ``sklearn.neighbors``."""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..codes import drop_self, search_threads
from ..metrics._ranking import _Labels, check_class_labels
from ..metrics._scorer import ranking_scores, unwrap_encoder
from ..utils._params import store_init_params

__all__ = ["KNeighborsRetriever"]


def _check_ids(ids, n):
    """Ids as a 1-D array of ``n`` distinct integers or strings."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.shape[0] != n:
        raise ValueError(f"ids must be 1-D with one id per row ({n}), got shape {ids.shape}.")
    if ids.dtype.kind not in "iuU":
        raise TypeError(f"ids must be integers or strings, got dtype {ids.dtype}.")
    if len(np.unique(ids)) != n:
        values, counts = np.unique(ids, return_counts=True)
        raise ValueError(f"ids must be distinct; repeated: {values[counts > 1][:5].tolist()}.")
    return ids


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
    codes into memory.

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
        if y is not None:
            self._check_fit_labels(y)  # before any training
        if ids is not None:
            _check_ids(ids, len(X))  # before any training
        self.encoder_ = clone(self.encoder)
        # y positionally, None included: FrozenEstimator.fit(X, y) has no
        # default for y, and every scikit-learn estimator accepts fit(X, None)
        self.encoder_.fit(X, y)
        self._set_code_space()
        self.codes_ = self._encode(X, query=False)
        self._index(y, ids)
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
        if isinstance(codes, (str, os.PathLike)):
            codes = np.load(os.fspath(codes), mmap_mode="r")
        self.encoder_ = self.encoder
        self._set_code_space()
        if not isinstance(codes, np.memmap):
            codes = np.asarray(codes)
        self.code_space_.check_codes(codes, "codes")
        self.codes_ = codes
        self._index(y, ids)
        return self

    def _index(self, y, ids):
        """Set the database attributes that go with ``codes_``."""
        self.n_samples_fit_ = self.codes_.shape[0]
        self.n_features_in_ = self.encoder_.n_features_in_
        if hasattr(self.encoder_, "feature_names_in_"):
            self.feature_names_in_ = self.encoder_.feature_names_in_
        self.ids_ = (np.arange(self.n_samples_fit_, dtype=np.int64) if ids is None
                     else _check_ids(ids, self.n_samples_fit_))
        self._set_labels(y)

    def _set_code_space(self):
        final, _ = unwrap_encoder(self.encoder_)
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
        self.code_space_ = space

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
        if ids is None:
            if self.ids_.dtype.kind not in "iu":
                raise ValueError("this index has the caller's string ids: add needs ids "
                                 "for the new items.")
            start = int(self.ids_.max()) + 1 if len(self.ids_) else 0
            ids = np.arange(start, start + n_new, dtype=self.ids_.dtype)
        else:
            ids = _check_ids(ids, n_new)
            taken = np.isin(ids, self.ids_)
            if taken.any():
                raise ValueError(f"ids already in the index: {ids[taken][:5].tolist()}.")
        labels = None
        if has_labels:
            new_y, multilabel = self._check_fit_labels(y)
            if new_y.shape[0] != n_new:
                raise ValueError(f"y has {new_y.shape[0]} labels for {n_new} new rows.")
            if multilabel != self._multilabel:
                raise ValueError("y must be of the kind the index holds ("
                                 + ("0/1 indicator matrix" if self._multilabel
                                    else "class labels") + ").")
            labels = np.concatenate([self._database_labels(), new_y])
        self.codes_ = np.concatenate([np.asarray(self.codes_), codes])
        self.n_samples_fit_ = self.codes_.shape[0]
        self.ids_ = np.concatenate([self.ids_, ids])
        self._set_labels(labels)
        return self

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
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids to remove must be distinct.")
        drop = np.isin(self.ids_, ids)
        missing = ids[~np.isin(ids, self.ids_)]
        if len(missing):
            raise KeyError(f"ids not in the index: {missing[:5].tolist()}.")
        if drop.all():
            raise ValueError("remove would empty the index; fit a new one instead.")
        keep = ~drop
        labels = None if self._y is None else self._database_labels()[keep]
        self.codes_ = np.asarray(self.codes_)[keep]
        self.n_samples_fit_ = self.codes_.shape[0]
        self.ids_ = self.ids_[keep]
        self._set_labels(labels)
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

    def _set_labels(self, y):
        self._y = None
        self._multilabel = False
        if y is None:
            return
        y, self._multilabel = self._check_fit_labels(y)
        if y.shape[0] != self.n_samples_fit_:
            raise ValueError(f"y has {y.shape[0]} labels for {self.n_samples_fit_} database rows.")
        if self._multilabel:
            self.classes_ = np.arange(y.shape[1])
            self._y = y.astype(np.int8)
        else:
            self.classes_, self._y = np.unique(y, return_inverse=True)

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
        if return_ids:
            ind = self.ids_[ind]
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

