"""Scorers ``scorer(estimator, X, y)`` for ``GridSearchCV(scoring=...)``.

* For a retriever (or a Pipeline ending in one) the queries ``X`` are
  searched in the indexed database and judged against the database labels.
* For a bare encoder (or a Pipeline ending in one) each row of ``X`` is a
  query against all the *other* rows of ``X`` (leave-one-out).
"""

import numpy as np
from sklearn.pipeline import Pipeline

from ._ranking import (
    RankedScores,
    TieAveragedScores,
    _Labels,
    mean_average_precision,
    precision_at_k,
    precision_within_radius,
)

__all__ = ["RetrievalScorer", "make_retrieval_scorer", "map_scorer", "leave_one_out_map"]

def _unfrozen(estimator):
    if type(estimator).__name__ == "FrozenEstimator" and hasattr(estimator, "estimator"):
        return estimator.estimator
    return estimator


def unwrap_encoder(estimator, X=None):
    """The skhash encoder inside ``estimator``, and ``X`` as it sees it.

    Unwraps a ``FrozenEstimator`` and a ``Pipeline`` (in either nesting),
    applying the Pipeline's leading steps to ``X`` when ``X`` is given.
    """
    estimator = _unfrozen(estimator)
    if isinstance(estimator, Pipeline):
        if X is not None and len(estimator) > 1:
            X = estimator[:-1].transform(X)
        estimator = _unfrozen(estimator[-1])
    return estimator, X


def ranking_scores(space, queries, database, query_labels, database_labels, *,
                   map_ks=(None,), precision_ks=(), curve_ks=None, asymmetric=False,
                   exclude_self=False, chunk_size=None, also_normalize=()):
    """Ranked metrics of the queries over the whole database, streamed.

    Ranks one chunk of queries against the whole database (see
    :meth:`skhash.codes.CodeSpace.rank`), accumulates its metrics, frees it: the full
    ``(n_queries, n_database)`` ranking never exists. The labels are
    validated before any search. Returns a
    :class:`~skhash.metrics._ranking.RankedScores` to read mAP (at each of
    ``map_ks``), precision@k / recall@k (``precision_ks``) and the
    precision-recall curve (``curve_ks``) from; values equal those of the
    metrics on the full ranking. ``query_labels`` may be the ``_Labels``
    of both (already validated); ``database_labels`` is then ignored.
    """
    if isinstance(query_labels, _Labels):
        labels = query_labels
    else:
        labels = _Labels(query_labels, database_labels)
    if labels.n_queries != queries.shape[0] or labels.n_database != database.shape[0]:
        raise ValueError(
            f"{labels.n_queries} query labels and {labels.n_database} database labels "
            f"for {queries.shape[0]} queries and {database.shape[0]} database items."
        )
    n_total = space._n_ranked(database, exclude_self)
    for k in [k for k in map_ks if k is not None] + list(precision_ks):
        if not 1 <= k <= n_total:
            raise ValueError(f"k={k} must lie in [1, {n_total}] (the ranked items).")
    scores = RankedScores(labels, map_ks=map_ks, precision_ks=precision_ks, curve_ks=curve_ks,
                          also_normalize=also_normalize)
    for start, ranking in space.rank(queries, database, asymmetric=asymmetric,
                                     exclude_self=exclude_self, chunk_size=chunk_size):
        scores.add(start, ranking)
    return scores


def tie_averaged_scores(space, queries, database, query_labels, database_labels, *,
                        asymmetric=False):
    """The queries' tie-averaged mAP over the whole database, streamed.

    :func:`~skhash.metrics.tie_averaged_mean_average_precision` of the code
    space's distances (``space.pairwise``), one block of queries at a time.
    Returns a :class:`~skhash.metrics._ranking.TieAveragedScores` to read
    the mAP from.
    """
    labels = _Labels(query_labels, database_labels)
    if labels.n_queries != queries.shape[0] or labels.n_database != database.shape[0]:
        raise ValueError(
            f"{labels.n_queries} query labels and {labels.n_database} database labels "
            f"for {queries.shape[0]} queries and {database.shape[0]} database items."
        )
    scores = TieAveragedScores(labels)
    step = scores.chunk_rows()
    for start in range(0, queries.shape[0], step):
        scores.add(start, space.pairwise(queries[start:start + step], database,
                                         asymmetric=asymmetric))
    return scores


def leave_one_out_map(encoder, X, y, *, k=None, asymmetric=False):
    """mAP of each row of ``X`` against the other rows, through ``encoder``'s codes."""
    encoder, X = unwrap_encoder(encoder, X)
    y = np.asarray(y)
    if y.shape[0] != np.shape(X)[0]:
        raise ValueError(f"X has {np.shape(X)[0]} rows but y has {y.shape[0]} labels.")
    labels = _Labels(y, y)  # bad labels fail before the search
    codes = encoder.encode(X)
    queries = encoder._query_codes(X, asymmetric=asymmetric) if asymmetric else codes
    if k is None:
        return ranking_scores(encoder.code_space_, queries, codes, labels, None,
                              asymmetric=asymmetric, exclude_self=True).mean_average_precision()
    ranking = encoder.code_space_.ranked(queries, codes, k, asymmetric=asymmetric,
                                         exclude_self=True)
    return mean_average_precision(y, y, ranking)


class RetrievalScorer:
    """Callable ``scorer(estimator, X, y)`` computing a retrieval metric.

    Parameters
    ----------
    metric : {"map", "precision_at_k", "precision_within_radius"}
    k : int or None
        Cut-off (mAP@k when given; required for precision_at_k).
    radius : int
        Hamming radius for ``"precision_within_radius"``.
    asymmetric : bool
        Search product codes with continuous queries.
    """

    _METRICS = ("map", "precision_at_k", "precision_within_radius")

    def __init__(self, metric="map", *, k=None, radius=2, asymmetric=False):
        if metric not in self._METRICS:
            raise ValueError(f"metric must be one of {self._METRICS}, got {metric!r}.")
        if metric == "precision_at_k" and k is None:
            raise ValueError("metric='precision_at_k' needs k.")
        self.metric = metric
        self.k = k
        self.radius = radius
        self.asymmetric = asymmetric

    def __repr__(self):
        return (f"make_retrieval_scorer({self.metric!r}, k={self.k}, radius={self.radius}, "
                f"asymmetric={self.asymmetric})")

    def __call__(self, estimator, X, y):
        estimator, X = unwrap_encoder(estimator, X)
        y = np.asarray(y)
        if hasattr(estimator, "_database_for_scoring"):
            space, queries, database, y_db = estimator._database_for_scoring(
                X, asymmetric=self.asymmetric
            )
            exclude_self = False
        else:
            database = estimator.encode(X)
            queries = (estimator._query_codes(X, asymmetric=True)
                       if self.asymmetric else database)
            space, y_db, exclude_self = estimator.code_space_, y, True
        labels = _Labels(y, y_db)
        if self.metric == "map" and self.k is None:
            return ranking_scores(space, queries, database, labels, None,
                                  asymmetric=self.asymmetric,
                                  exclude_self=exclude_self).mean_average_precision()
        if self.metric == "precision_within_radius":
            _, ind = space.radius_neighbors(queries, database, self.radius)
            if exclude_self:
                for q in range(len(ind)):
                    ind[q] = ind[q][ind[q] != q]
            return precision_within_radius(y, y_db, ind)
        ranking = space.ranked(queries, database, self.k, asymmetric=self.asymmetric,
                               exclude_self=exclude_self)
        if self.metric == "map":
            return mean_average_precision(y, y_db, ranking)
        return precision_at_k(y, y_db, ranking, self.k)


def make_retrieval_scorer(metric="map", *, k=None, radius=2, asymmetric=False):
    """Make a scorer for ``GridSearchCV(scoring=...)`` / ``cross_val_score``.

    For an encoder, the scorer encodes the validation fold and searches it
    with every row as a query against the others (leave-one-out, through the
    encoder's code space); for a fitted retriever, the fold's rows are
    queries against its indexed database. It returns the metric over those
    queries: model selection on a split of the training data, never on the
    query set.

    Parameters
    ----------
    metric : {"map", "precision_at_k", "precision_within_radius"}, default="map"
        The retrieval metric (see :mod:`skhash.metrics`).
    k : int, default=None
        Cut-off: mAP@k when given with ``"map"`` (None: mAP over the whole
        ranking); required for ``"precision_at_k"``.
    radius : int, default=2
        Hamming radius of ``"precision_within_radius"``.
    asymmetric : bool, default=False
        Search product codes with the continuous queries (``embed``).

    Returns
    -------
    scorer : RetrievalScorer
        A callable ``scorer(estimator, X, y)``; greater is better.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from skhash import CNNBHHasher
    >>> from skhash.metrics import make_retrieval_scorer
    >>> scorer = make_retrieval_scorer("map", k=50)
    >>> from skhash.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = CNNBHHasher(n_bits=16, max_epochs=2, random_state=0)
    >>> cross_val_score(hasher, X[:600], y[:600], cv=2, scoring=scorer).shape
    (2,)
    """
    return RetrievalScorer(metric, k=k, radius=radius, asymmetric=asymmetric)


map_scorer = make_retrieval_scorer("map")
