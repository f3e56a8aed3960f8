"""The self-organizing map (Kohonen): vector quantization on a 2-D grid of nodes.

A reusable estimator of its own, and the quantizer of
:class:`~skhash.quantization.DeepSOMQuantizer`.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..codes import ProductSpace
from ..utils._params import store_init_params
from ._pq import LabelFreeQuantizerMixin

__all__ = [
    "SelfOrganizingMap",
    "check_map_shape",
    "decay_schedule",
    "grid_coordinates",
    "som_step",
]


def check_map_shape(map_shape, owner="SelfOrganizingMap"):
    """Validate ``map_shape`` = (rows, cols) of positive integers; return it as a tuple."""
    try:
        shape = tuple(map_shape)
    except TypeError:
        raise TypeError(
            f"{owner}: map_shape must be a pair (rows, cols), got {map_shape!r}."
        ) from None
    if len(shape) != 2 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in shape
    ):
        raise ValueError(
            f"{owner}: map_shape must be a pair (rows, cols) of integers, got {map_shape!r}."
        )
    if min(shape) < 1:
        raise ValueError(
            f"{owner}: each side of map_shape must be >= 1, got {map_shape!r}."
        )
    return int(shape[0]), int(shape[1])


def grid_coordinates(map_shape):
    """``(rows * cols, 2)`` float coordinates (row, col) of the nodes, row-major.

    Node ``i`` sits at row ``i // cols``, column ``i % cols``.
    """
    rows, cols = map_shape
    r, c = np.divmod(np.arange(rows * cols), cols)
    return np.stack([r, c], axis=1).astype(np.float64)


def decay_schedule(initial, final, n_steps):
    """Exponential decay from ``initial`` (step 0) to ``final`` (last step).

    Step ``t`` of ``T`` gets ``initial * (final / initial) ** (t / (T - 1))``;
    a single step gets ``initial``.

    Examples
    --------
    >>> decay_schedule(4.0, 1.0, 3)
    array([4., 2., 1.])
    """
    if n_steps == 1:
        return np.array([float(initial)])
    frac = np.arange(n_steps) / (n_steps - 1)
    return float(initial) * (float(final) / float(initial)) ** frac


def _normalize_rows(A):
    norms = np.linalg.norm(A, axis=-1, keepdims=True)
    return A / np.maximum(norms, 1e-12)


def _winners(X, codebook, metric):
    """Best-matching node of each row of ``X``: nearest (euclidean) or max inner product."""
    if metric == "cosine":
        return np.argmax(_normalize_rows(X) @ codebook.T, axis=1)
    d2 = (codebook * codebook).sum(1)[None, :] - 2.0 * X @ codebook.T
    return np.argmin(d2, axis=1)


def som_step(codebook, grid, x, radius, learning_rate, *, neighborhood="gaussian",
             metric="euclidean"):
    """One online SOM update of ``codebook`` (in place) with the sample ``x``.

    The winner ``c`` is the node nearest to ``x`` (``metric="euclidean"``) or
    with the largest inner product (``"cosine"``: ``x`` is L2-normalised and
    codewords are kept unit-norm). Every node ``i`` moves towards ``x``:

    ``w_i <- w_i + learning_rate * h_ci * (x - w_i)``,

    with ``h_ci = exp(-||r_i - r_c||^2 / (2 radius^2))`` (gaussian) or
    ``1 if ||r_i - r_c|| <= radius else 0`` (bubble), ``r`` the grid
    coordinates. With ``"cosine"`` the moved codewords are renormalised.

    Returns
    -------
    winner : int
        Index of the best-matching node.
    """
    x = np.asarray(x, dtype=codebook.dtype)
    if metric == "cosine":
        x = _normalize_rows(x)
    winner = int(_winners(x[None, :], codebook, metric)[0])
    d2 = ((grid - grid[winner]) ** 2).sum(1)
    if neighborhood == "gaussian":
        h = np.exp(-d2 / (2.0 * radius * radius))
    else:
        h = (d2 <= radius * radius).astype(codebook.dtype)
    codebook += (learning_rate * h)[:, None] * (x[None, :] - codebook)
    if metric == "cosine":
        codebook[:] = _normalize_rows(codebook)
    return winner


class SelfOrganizingMap(LabelFreeQuantizerMixin, TransformerMixin, BaseEstimator):
    """Self-organizing map (SOM): codewords on a 2-D grid, trained by Kohonen's rule.

    ``rows * cols`` nodes sit on a rectangular grid; each holds a codeword
    of the input's dimension. Training draws ``n_iter`` samples at
    random; for each, the best-matching node (the winner) and its grid
    neighbours move towards the sample (see :func:`som_step`), with a
    neighbourhood radius and a learning rate that decay exponentially from
    their initial to their final values. Neighbouring nodes end up with
    similar codewords, so the map is a vector quantizer whose codes keep
    the topology of the data.

    ``transform`` gives each row's winning node, ``(n, 1)`` (a product code
    with ``M = 1``: uint8 up to 256 nodes, uint16 above);
    ``inverse_transform`` gives the codewords. The fitted ``code_space_``
    (:class:`skhash.codes.ProductSpace` with ``M = 1``) compares codes by
    the squared distance between their codewords, so the map can be
    searched by :class:`skhash.neighbors.KNeighborsRetriever`.

    Parameters
    ----------
    map_shape : tuple (rows, cols), default=(10, 10)
        Grid size; each side >= 1.
    n_iter : int, default=5000
        Online updates (one random training sample each).
    initial_radius : float > 0 or "auto", default="auto"
        Neighbourhood radius (in grid units) at the first update; "auto" is
        half the longer side of the map (at least 1).
    final_radius : float > 0, default=0.5
        Radius at the last update.
    learning_rate : float in (0, 1], default=0.5
        Learning rate at the first update.
    final_learning_rate : float in (0, 1], default=0.01
        Learning rate at the last update.
    neighborhood : {"gaussian", "bubble"}, default="gaussian"
        Neighbourhood function ``h``: ``exp(-d^2 / (2 radius^2))``, or 1
        within ``radius`` and 0 outside (``d``: grid distance to the winner).
    metric : {"euclidean", "cosine"}, default="euclidean"
        "euclidean": the winner is the nearest codeword. "cosine": inputs
        are L2-normalised, codewords are kept unit-norm and the winner is
        the largest inner product (DeepSOM's inner-product SOM layer).
    init : {"random", "pca"} or ndarray of shape (rows * cols, n_features), \
            default="random"
        "random": codewords are training samples drawn at random; "pca":
        a regular grid on the plane of the two leading principal
        components; an array: these codewords (a warm start).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and the order of the samples.

    Attributes
    ----------
    codebooks_ : ndarray of shape (1, rows * cols, n_features), float32
        Codeword of each node (row-major over the grid), as the single
        codebook of a product code (the attribute every skhash quantizer
        has: ``codebooks_[0]`` is the map).
    grid_ : ndarray of shape (rows * cols, 2)
        Grid coordinates (row, col) of each node.
    map_shape_ : tuple (rows, cols)
    code_space_ : skhash.codes.ProductSpace
        ``ProductSpace(codebooks_)``: how two codes compare.
    n_features_in_ : int

    See Also
    --------
    DeepSOMQuantizer : a CNN trained with a SOM on its features.

    Notes
    -----
    T. Kohonen, "Self-organized formation of topologically correct feature
    maps", Biological Cybernetics 43, 1982; the online algorithm of his
    *Self-Organizing Maps* (Springer). The exponential decay of radius and
    learning rate is one of the classic schedules.

    Examples
    --------
    >>> from skhash.datasets import load_digits
    >>> from skhash.quantization import SelfOrganizingMap
    >>> X = load_digits().data
    >>> som = SelfOrganizingMap((6, 6), n_iter=2000, random_state=0).fit(X)
    >>> codes = som.transform(X[:3])
    >>> codes.shape, codes.dtype
    ((3, 1), dtype('uint8'))
    >>> som.inverse_transform(codes).shape
    (3, 64)
    """

    _parameter_constraints = {
        "map_shape": [tuple, list],
        "n_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "initial_radius": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="neither")],
        "final_radius": [Interval(numbers.Real, 0, None, closed="neither")],
        "learning_rate": [Interval(numbers.Real, 0, 1, closed="right")],
        "final_learning_rate": [Interval(numbers.Real, 0, 1, closed="right")],
        "neighborhood": [StrOptions({"gaussian", "bubble"})],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "init": [StrOptions({"random", "pca"}), "array-like"],
        "random_state": ["random_state"],
    }

    def __init__(self, map_shape=(10, 10), *, n_iter=5000, initial_radius="auto",
                 final_radius=0.5, learning_rate=0.5, final_learning_rate=0.01,
                 neighborhood="gaussian", metric="euclidean", init="random",
                 random_state=None):
        store_init_params(self, locals())

    # ---------------------------------------------------------------- fitting
    def _initial_radius(self, map_shape):
        if self.initial_radius == "auto":
            return max(1.0, max(map_shape) / 2.0)
        return float(self.initial_radius)

    def _init_codebook(self, X, n_nodes, map_shape, rng):
        if not isinstance(self.init, str):
            init = np.asarray(self.init, dtype=np.float64)
            if init.shape != (n_nodes, X.shape[1]):
                raise ValueError(
                    f"init must have shape (n_nodes, n_features) = ({n_nodes}, {X.shape[1]}), "
                    f"got {init.shape}."
                )
            if not np.isfinite(init).all():
                raise ValueError("init contains NaN or infinity.")
            return init.copy()
        if self.init == "random":
            return X[rng.choice(X.shape[0], n_nodes, replace=X.shape[0] < n_nodes)].copy()
        # "pca": a regular grid spanning +-1 standard deviation of the two
        # leading principal components, centred on the mean
        mean = X.mean(0)
        _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
        axes = np.zeros((2, X.shape[1]))
        k = min(2, vt.shape[0])
        axes[:k] = vt[:k] * (s[:k, None] / np.sqrt(X.shape[0]))
        rows, cols = map_shape
        a = np.linspace(-1, 1, rows) if rows > 1 else np.zeros(1)
        b = np.linspace(-1, 1, cols) if cols > 1 else np.zeros(1)
        A, B = np.meshgrid(a, b, indexing="ij")
        return mean + A.reshape(-1, 1) * axes[0] + B.reshape(-1, 1) * axes[1]

    def fit(self, X, y=None):
        """Train the map on ``X`` (``y`` is ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : object
        """
        self._validate_params()
        map_shape = check_map_shape(self.map_shape, type(self).__name__)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        X = X.astype(np.float64)
        if self.metric == "cosine":
            X = _normalize_rows(X)
        rng = check_random_state(self.random_state)
        n_nodes = map_shape[0] * map_shape[1]
        codebook = self._init_codebook(X, n_nodes, map_shape, rng)
        if self.metric == "cosine":
            codebook = _normalize_rows(codebook)
        grid = grid_coordinates(map_shape)
        T = int(self.n_iter)
        radii = decay_schedule(self._initial_radius(map_shape), self.final_radius, T)
        rates = decay_schedule(self.learning_rate, self.final_learning_rate, T)
        order = rng.randint(X.shape[0], size=T)
        for t in range(T):
            som_step(codebook, grid, X[order[t]], radii[t], rates[t],
                     neighborhood=self.neighborhood, metric=self.metric)
        self.map_shape_ = map_shape
        self.grid_ = grid
        self.codebooks_ = codebook.astype(np.float32)[None]
        self.code_space_ = ProductSpace(self.codebooks_)
        return self

    # -------------------------------------------------------------- inference
    def _check(self, X):
        check_is_fitted(self, "codebooks_")
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    def transform(self, X):
        """Winning node of each row: ``(n_samples, 1)`` integer codes.

        The winner is computed in float64 (relative to the codewords' mean
        for ``metric="euclidean"``, so neither huge values nor a large
        common offset cancel the distances), ties to the smallest node, a
        few thousand rows at a time: a row's code does not depend on the
        rows transformed with it.
        """
        X = self._check(X)
        C = self.codebooks_[0].astype(np.float64)
        if self.metric == "euclidean":
            center = C.mean(0)
            C = C - center
        winners = np.empty(X.shape[0], dtype=np.intp)
        for s in range(0, X.shape[0], 4096):
            Z = X[s:s + 4096].astype(np.float64)
            Z = Z - center if self.metric == "euclidean" else Z
            winners[s:s + 4096] = _winners(Z, C, self.metric)
        return winners[:, None].astype(self.code_space_.code_dtype)

    def embed(self, X):
        """Continuous query vectors for asymmetric search (L2-normalised with "cosine")."""
        X = self._check(X).astype(np.float32)
        return _normalize_rows(X) if self.metric == "cosine" else X

    def response_map(self, X):
        """Each node's response to each row, on the grid: ``(n, rows, cols)``.

        The inner product with the unit codewords for ``metric="cosine"``
        (DeepSOM's map ``U``); minus the Euclidean distance otherwise. The
        winner is the largest response either way.
        """
        Z = self.embed(X)
        if self.metric == "cosine":
            U = Z @ self.codebooks_[0].T
        else:
            C = self.codebooks_[0]
            d2 = (Z * Z).sum(1)[:, None] + (C * C).sum(1)[None, :] - 2.0 * Z @ C.T
            U = -np.sqrt(np.maximum(d2, 0.0))
        return U.reshape(Z.shape[0], *self.map_shape_)

    def node_positions(self, codes):
        """Grid coordinates (row, col) of codes ``(n, 1)``: ``(n, 2)`` integers."""
        codes = self.code_space_.check_codes(codes)
        return self.grid_[codes[:, 0].astype(np.intp)].astype(np.intp)

    def quantization_error(self, X):
        """Mean distance between the rows of ``X`` (normalised with "cosine")
        and their winners' codewords."""
        Z = self.embed(X)
        return float(np.linalg.norm(Z - self.inverse_transform(self.transform(X)), axis=1).mean())

    def topographic_error(self, X):
        """Share of rows whose two best-matching nodes are not grid neighbours
        (8-neighbourhood); 0 for a map of one node."""
        Z = self.embed(X)
        if self.codebooks_[0].shape[0] < 2:
            return 0.0
        if self.metric == "cosine":
            score = -(Z @ self.codebooks_[0].T)
        else:
            C = self.codebooks_[0]
            score = (C * C).sum(1)[None, :] - 2.0 * Z @ C.T
        best2 = np.argsort(score, axis=1, kind="stable")[:, :2]
        gap = np.abs(self.grid_[best2[:, 0]] - self.grid_[best2[:, 1]]).max(1)
        return float(np.mean(gap > 1))
