"""Display objects for retrieval curves, in the style of scikit-learn's
:class:`sklearn.metrics.PrecisionRecallDisplay`.

Each display holds the values it draws (computed by the metric functions of
:mod:`skhash.metrics`, so the plotted values are theirs), is built by
``from_estimator`` (a fitted encoder, or a Pipeline ending in one) or
``from_predictions`` (precomputed rankings, distances or values), and draws
with ``plot(ax=...)``, keeping ``ax_``, ``figure_`` and ``line_``. Several
estimators go on one axes by passing the same ``ax``. matplotlib is an
optional dependency: drawing without it raises an ``ImportError`` that says
how to install it.
"""

import numpy as np

from .._docstrings import fill_doc
from ._ranking import (
    mean_average_precision,
    precision_recall_by_radius,
    precision_recall_curve_at_k,
    precision_within_radius,
)
from ._scorer import ranking_scores, unwrap_encoder

__all__ = ["RetrievalPrecisionRecallDisplay", "PrecisionAtKDisplay", "CodeLengthDisplay"]


def _axes(ax):
    if ax is not None:
        return ax
    from ..plotting import _pyplot

    return _pyplot().subplots()[1]


def _codes(estimator, X_query, X_db, asymmetric):
    """The encoder in ``estimator``, its code space, the query and database codes."""
    encoder, Xq = unwrap_encoder(estimator, X_query)
    _, Xd = unwrap_encoder(estimator, X_db)
    if not hasattr(encoder, "code_space_"):
        raise TypeError(f"{type(encoder).__name__} is not a fitted skhash encoder "
                        "(it has no code_space_).")
    return (encoder, encoder.code_space_, encoder._query_codes(Xq, asymmetric=asymmetric),
            encoder.encode(Xd))


def _name(estimator, name):
    if name is not None:
        return name
    encoder, _ = unwrap_encoder(estimator)
    return type(encoder).__name__


class _Display:
    """Shared drawing: one line on ``ax`` (a new figure when None)."""

    _xlabel = _ylabel = ""

    def _draw(self, x, y, ax, name, kwargs):
        ax = _axes(ax)
        name = self.name if name is None else name
        (self.line_,) = ax.plot(x, y, **({"label": name} if name else {}), **kwargs)
        ax.set_xlabel(self._xlabel)
        ax.set_ylabel(self._ylabel)
        if name:
            ax.legend(loc="best")
        self.ax_, self.figure_ = ax, ax.figure
        return self


@fill_doc
class RetrievalPrecisionRecallDisplay(_Display):
    """Precision against recall of ranked retrieval (top ``k`` for many ``k``)
    or of hash lookup (every item within radius ``r``, for each ``r``).

    Parameters
    ----------
    precision, recall : ndarray of shape (n_points,)
        Mean precision and recall over the queries at each point.
    cutoffs : ndarray of shape (n_points,), default=None
        The cut-offs ``k`` (ranking) or radii ``r`` (lookup) of the points.
    by : {"ranking", "radius"}, default="ranking"
        What the points vary.
    mean_average_precision : float, default=None
        mAP over the whole ranking, shown in the legend when given.
    %(display_name_attributes)s

    Examples
    --------
    >>> from skhash.metrics import RetrievalPrecisionRecallDisplay
    >>> d = RetrievalPrecisionRecallDisplay.from_predictions(
    ...     [0], [0, 1, 0, 1], ranking=[[0, 1, 2, 3]], plot=False)
    >>> d.precision, d.recall
    (array([1.        , 0.5       , 0.66666667, 0.5       ]), array([0.5, 0.5, 1. , 1. ]))
    """

    _xlabel, _ylabel = "Recall", "Precision"

    def __init__(self, precision, recall, *, cutoffs=None, by="ranking",
                 mean_average_precision=None, name=None):
        if by not in ("ranking", "radius"):
            raise ValueError(f"by must be 'ranking' or 'radius', got {by!r}.")
        self.precision = np.asarray(precision, dtype=float)
        self.recall = np.asarray(recall, dtype=float)
        if self.precision.shape != self.recall.shape or self.precision.ndim != 1:
            raise ValueError("precision and recall must be 1-D arrays of the same length.")
        self.cutoffs = cutoffs
        self.by = by
        self.mean_average_precision = mean_average_precision
        self.name = name

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw the curve on ``ax`` (a new figure when None); ``kwargs`` go to
        ``ax.plot``. Returns the display."""
        name = self.name if name is None else name
        if name is not None and self.mean_average_precision is not None:
            name = f"{name} (mAP = {self.mean_average_precision:.3f})"
        if self.by == "radius":
            kwargs.setdefault("marker", "o")
        return self._draw(self.recall, self.precision, ax, name, kwargs)

    @classmethod
    def from_predictions(cls, y_query, y_database, *, ranking=None, distances=None,
                         cutoffs=None, name=None, ax=None, plot=True, **kwargs):
        """From a ranking (``ranking``: database indices per query, nearest
        first; points at the cut-offs ``k``) or from the full distance matrix
        (``distances``: points at the radii), through
        :func:`~skhash.metrics.precision_recall_curve_at_k` or
        :func:`~skhash.metrics.precision_recall_by_radius`."""
        if (ranking is None) == (distances is None):
            raise ValueError("give exactly one of ranking (ranked retrieval) or distances "
                             "(hash lookup by radius).")
        if ranking is not None:
            p, r, cuts = precision_recall_curve_at_k(y_query, y_database, ranking, ks=cutoffs)
            m_ap = mean_average_precision(y_query, y_database, ranking)
            display = cls(p, r, cutoffs=cuts, by="ranking", mean_average_precision=m_ap,
                          name=name)
        else:
            p, r, cuts = precision_recall_by_radius(y_query, y_database, distances,
                                                    radii=cutoffs)
            display = cls(p, r, cutoffs=cuts, by="radius", name=name)
        return display.plot(ax=ax, **kwargs) if plot else display

    @classmethod
    def from_estimator(cls, estimator, X_query, y_query, X_database, y_database, *,
                       by="ranking", cutoffs=None, asymmetric=False, name=None, ax=None,
                       plot=True, **kwargs):
        """Encode the queries and the database with a fitted encoder (or a
        Pipeline ending in one) and draw its curve. ``by="ranking"`` ranks the
        whole database (streamed, never held); ``by="radius"`` needs binary
        codes (Hamming radii)."""
        _, space, q, db = _codes(estimator, X_query, X_database, asymmetric)
        name = _name(estimator, name)
        if by == "radius":
            if space.kind != "hamming":
                raise ValueError("by='radius' is hash lookup in Hamming space; these are "
                                 f"{space.kind} codes: use by='ranking'.")
            return cls.from_predictions(y_query, y_database, distances=space.pairwise(q, db),
                                        cutoffs=cutoffs, name=name, ax=ax, plot=plot, **kwargs)
        if by != "ranking":
            raise ValueError(f"by must be 'ranking' or 'radius', got {by!r}.")
        n = db.shape[0]
        cuts = (np.unique(np.rint(np.linspace(1, n, 20)).astype(np.int64)) if cutoffs is None
                else np.asarray(cutoffs, dtype=np.int64))
        scores = ranking_scores(space, q, db, y_query, y_database, map_ks=(None,),
                                curve_ks=cuts, asymmetric=asymmetric)
        p, r, cuts = scores.precision_recall_curve()
        display = cls(p, r, cutoffs=cuts, by="ranking",
                      mean_average_precision=scores.mean_average_precision(), name=name)
        return display.plot(ax=ax, **kwargs) if plot else display


@fill_doc
class PrecisionAtKDisplay(_Display):
    """Mean precision@k against the cut-off ``k``.

    Parameters
    ----------
    ks : ndarray of shape (n_points,)
        The cut-offs.
    precision : ndarray of shape (n_points,)
        Mean precision@k at each cut-off (:func:`~skhash.metrics.precision_at_k`).
    %(display_name_attributes)s
    """

    _xlabel, _ylabel = "Number of retrieved items k", "Precision@k"

    def __init__(self, ks, precision, *, name=None):
        self.ks = np.asarray(ks)
        self.precision = np.asarray(precision, dtype=float)
        if self.ks.shape != self.precision.shape or self.ks.ndim != 1:
            raise ValueError("ks and precision must be 1-D arrays of the same length.")
        self.name = name

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw precision@k on ``ax`` (a new figure when None). Returns the display."""
        return self._draw(self.ks, self.precision, ax, name, kwargs)

    @classmethod
    def from_predictions(cls, y_query, y_database, ranking, *, ks=None, name=None, ax=None,
                         plot=True, **kwargs):
        """From a ranking (database indices per query, nearest first)."""
        p, _, ks = precision_recall_curve_at_k(y_query, y_database, ranking, ks=ks)
        display = cls(ks, p, name=name)
        return display.plot(ax=ax, **kwargs) if plot else display

    @classmethod
    def from_estimator(cls, estimator, X_query, y_query, X_database, y_database, *,
                       ks=None, asymmetric=False, name=None, ax=None, plot=True, **kwargs):
        """Encode with a fitted encoder (or a Pipeline ending in one); the
        ranking of the whole database is streamed."""
        display = RetrievalPrecisionRecallDisplay.from_estimator(
            estimator, X_query, y_query, X_database, y_database, cutoffs=ks,
            asymmetric=asymmetric, name=name, plot=False)
        display = cls(display.cutoffs, display.precision, name=display.name)
        return display.plot(ax=ax, **kwargs) if plot else display


_CODE_LENGTH_METRICS = {"map": "mAP", "precision_within_radius": "Precision within radius"}


@fill_doc
class CodeLengthDisplay(_Display):
    """A retrieval figure against code length: mAP, or precision within
    Hamming radius ``r``, for one method at several lengths.

    Parameters
    ----------
    n_bits : ndarray of shape (n_points,)
        Code lengths (bits; a product code's ``M * log2(K)``).
    values : ndarray of shape (n_points,)
        The metric at each length.
    metric : {"map", "precision_within_radius"}, default="map"
    k : int, default=None
        mAP's cut-off (None: the whole ranking).
    radius : int, default=2
        The radius of ``"precision_within_radius"``.
    %(display_name_attributes)s
    """

    _xlabel = "Code length (bits)"

    def __init__(self, n_bits, values, *, metric="map", k=None, radius=2, name=None):
        if metric not in _CODE_LENGTH_METRICS:
            raise ValueError(f"metric must be one of {sorted(_CODE_LENGTH_METRICS)}, "
                             f"got {metric!r}.")
        self.n_bits = np.asarray(n_bits, dtype=float)
        self.values = np.asarray(values, dtype=float)
        if self.n_bits.shape != self.values.shape or self.n_bits.ndim != 1:
            raise ValueError("n_bits and values must be 1-D arrays of the same length.")
        self.metric, self.k, self.radius, self.name = metric, k, radius, name

    @property
    def _ylabel(self):
        if self.metric == "map":
            return "mAP" if self.k is None else f"mAP@{self.k}"
        return f"Precision within Hamming radius {self.radius}"

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw the figure by code length on ``ax`` (a new figure when None)."""
        kwargs.setdefault("marker", "o")
        order = np.argsort(self.n_bits, kind="stable")
        return self._draw(self.n_bits[order], self.values[order], ax, name, kwargs)

    @classmethod
    def from_predictions(cls, n_bits, values, *, metric="map", k=None, radius=2, name=None,
                         ax=None, plot=True, **kwargs):
        """From precomputed values (e.g. a benchmark's results)."""
        display = cls(n_bits, values, metric=metric, k=k, radius=radius, name=name)
        return display.plot(ax=ax, **kwargs) if plot else display

    @classmethod
    def from_estimators(cls, estimators, X_query, y_query, X_database, y_database, *,
                        metric="map", k=None, radius=2, asymmetric=False, name=None, ax=None,
                        plot=True, **kwargs):
        """Evaluate fitted encoders of one method at several code lengths."""
        if metric not in _CODE_LENGTH_METRICS:
            raise ValueError(f"metric must be one of {sorted(_CODE_LENGTH_METRICS)}, "
                             f"got {metric!r}.")
        estimators = list(estimators)
        if not estimators:
            raise ValueError("estimators is empty.")
        n_bits, values = [], []
        for estimator in estimators:
            _, space, q, db = _codes(estimator, X_query, X_database, asymmetric)
            n_bits.append(float(getattr(space, "information_bits", space.n_bits)))
            if metric == "map":
                scores = ranking_scores(space, q, db, y_query, y_database, map_ks=(k,),
                                        asymmetric=asymmetric)
                values.append(scores.mean_average_precision(k))
            else:
                if space.kind != "hamming":
                    raise ValueError("precision within a radius is for binary codes; "
                                     f"{type(unwrap_encoder(estimator)[0]).__name__} gives "
                                     f"{space.kind} codes.")
                _, ind = space.radius_neighbors(q, db, radius)
                values.append(precision_within_radius(y_query, y_database, ind))
        display = cls(n_bits, values, metric=metric, k=k, radius=radius,
                      name=_name(estimators[0], name))
        return display.plot(ax=ax, **kwargs) if plot else display
