"""Product quantization (Jégou, Douze & Schmid): k-means per subspace, no network."""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from ..codes import ProductSpace
from ..utils._params import store_init_params

__all__ = ["ProductQuantizer", "fit_codebooks", "resolve_product_size"]


def resolve_product_size(M, K, n_bits, owner):
    """The number of parts ``M``: given, or ``n_bits / log2(K)`` when ``n_bits`` is set.

    Raises a ``ValueError`` naming the problem when ``n_bits`` cannot be met
    with ``K`` codewords per part, or contradicts an explicit ``M``.
    """
    if n_bits is None:
        return int(M)
    log_k = np.log2(K)
    if not float(log_k).is_integer():
        raise ValueError(
            f"{owner}: n_bits={n_bits} needs K to be a power of 2 (a part stores log2(K) "
            f"bits), got K={K}."
        )
    if n_bits % int(log_k):
        raise ValueError(
            f"{owner}: n_bits={n_bits} cannot be met with K={K}: a code has M * log2(K) = "
            f"M * {int(log_k)} bits, so n_bits must be a multiple of {int(log_k)}."
        )
    return n_bits // int(log_k)


def fit_codebooks(Z, M, K, *, init=None, max_iter=100, n_init=1, random_state=None):
    """k-means (scikit-learn's ``KMeans``) in each of ``M`` subspaces of ``Z``.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, M * d)
        Vectors split into ``M`` consecutive sub-vectors of ``d`` values.
    M, K : int
        Number of subspaces and of codewords per subspace.
    init : ndarray of shape (M, K, d) or None
        Warm start: the previous codebooks (one k-means run from them);
        None runs k-means++ ``n_init`` times.
    max_iter, n_init : int
        Passed to ``KMeans``.
    random_state : int, RandomState instance or None

    Returns
    -------
    codebooks : ndarray of shape (M, K, d), float32
    codes : ndarray of shape (n_samples, M), int64
        The k-means assignments.
    n_iter : int
        The most k-means iterations any subspace ran.
    """
    rng = check_random_state(random_state)
    Z = np.asarray(Z, dtype=np.float32)
    n, width = Z.shape
    d = width // M
    # k-means runs in float32: a squared distance (up to d * (2 max|z|)^2) must fit
    peak = float(np.abs(Z).max()) if Z.size else 0.0
    if 4.0 * d * peak * peak >= float(np.finfo(np.float32).max):
        raise ValueError(
            f"Values up to {peak:.3g} make squared distances overflow float32 in k-means "
            f"(subspaces of {d} values), so the codebooks would be arbitrary. Scale the "
            "data down (e.g. with StandardScaler) before fitting."
        )
    codebooks = np.empty((M, K, d), dtype=np.float32)
    codes = np.empty((n, M), dtype=np.int64)
    n_iter = 0
    for m in range(M):
        sub = np.ascontiguousarray(Z[:, m * d:(m + 1) * d])
        km = KMeans(
            n_clusters=K,
            init="k-means++" if init is None else np.asarray(init[m], dtype=np.float32),
            n_init=n_init if init is None else 1,
            max_iter=max_iter,
            random_state=rng.randint(np.iinfo(np.int32).max),
        )
        with warnings.catch_warnings():
            # duplicate points leave some codewords unused: harmless for search
            warnings.simplefilter("ignore", ConvergenceWarning)
            codes[:, m] = km.fit_predict(sub)
        codebooks[m] = km.cluster_centers_
        n_iter = max(n_iter, int(km.n_iter_))
    return codebooks, codes, n_iter


def _padded_columns(n_features, M):
    """Where each feature goes when ``M`` subspaces of unequal width are zero-padded.

    None when ``M`` divides ``n_features`` (no padding). Otherwise the
    features are split as :func:`numpy.array_split` splits them (widths
    differing by one) and subspace ``m`` occupies columns
    ``m * w ... m * w + width_m - 1`` of a ``M * w`` wide layout,
    ``w = ceil(n_features / M)``; the columns left over stay zero.
    """
    if n_features % M == 0:
        return None
    width = -(-n_features // M)
    widths = [len(part) for part in np.array_split(np.arange(n_features), M)]
    return np.concatenate([m * width + np.arange(w) for m, w in enumerate(widths)])


class LabelFreeQuantizerMixin:
    """Search surface shared by the network-free quantizers (PQ, the SOM).

    The class sets ``code_space_`` in ``fit`` and provides ``transform`` and
    ``embed``; this mixin adds ``encode``, ``inverse_transform``, the
    retriever hook ``_query_codes``, the leave-one-out mAP ``score`` and the
    tags (no target needed; integer codes do not preserve float dtypes).
    """

    def encode(self, X):
        """The codes stored in an index (same as ``transform``)."""
        return self.transform(X)

    def inverse_transform(self, codes):
        """Reconstruct vectors from codes: the concatenated codewords."""
        check_is_fitted(self, "code_space_")
        return self.code_space_.decode(codes)

    def _query_codes(self, X, asymmetric=False):
        return self.embed(X) if asymmetric else self.encode(X)

    def score(self, X, y):
        """Retrieval mAP of ``X`` against itself, leave-one-out (labels only judge)."""
        from ..metrics._scorer import leave_one_out_map

        return leave_one_out_map(self, X, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = []
        return tags


class ProductQuantizer(LabelFreeQuantizerMixin, TransformerMixin, BaseEstimator):
    """Product quantization of the input vectors (PQ): k-means per subspace.

    The ``n_features`` columns are split into ``M`` consecutive subspaces of
    ``n_features / M`` values; each gets ``K`` codewords from k-means
    (scikit-learn's :class:`~sklearn.cluster.KMeans`). A code is the index of
    the nearest codeword in each subspace: ``M * log2(K)`` bits. No network
    and no labels: the classic baseline of learned quantization.

    Parameters
    ----------
    M : int, default=2
        Number of subspaces (sub-codes), at most ``n_features``. When it
        does not divide ``n_features`` the subspaces differ in width by one
        column (as :func:`numpy.array_split` splits): the narrower ones are
        stored with one zero column appended (in the data and in every
        codeword), which leaves every distance as it is.
    K : int, default=256
        Codewords per subspace; at most the number of training samples.
    n_bits : int or None, default=None
        Code length; when given, sets ``M = n_bits / log2(K)`` (an error if
        that is not a whole number); it then overrides ``M``.
    max_iter : int, default=100
        k-means iterations.
    n_init : int, default=1
        k-means++ restarts per subspace.
    random_state : int, RandomState instance or None, default=None
        Seeds the k-means initialisations.

    Attributes
    ----------
    codebooks_ : ndarray of shape (M, K, ceil(n_features / M))
        The codewords (with the zero padding column of the narrower
        subspaces when ``M`` does not divide ``n_features``).
    code_space_ : ProductSpace
        How codes compare (symmetric and asymmetric lookup tables).
    n_iter_ : int
        The most k-means iterations run in any subspace.
    n_features_in_ : int

    See Also
    --------
    DeepQuanHasher : the same quantization on a learned autoencoder code.

    Notes
    -----
    H. Jégou, M. Douze and C. Schmid, "Product quantization for nearest
    neighbor search", IEEE TPAMI 2011. ``embed`` returns the input itself
    (the query of asymmetric search).

    Examples
    --------
    >>> from skhash.datasets import load_digits
    >>> from skhash.quantization import ProductQuantizer
    >>> X = load_digits().data
    >>> pq = ProductQuantizer(M=4, K=16, random_state=0).fit(X)
    >>> pq.transform(X[:2]).shape
    (2, 4)
    >>> pq.inverse_transform(pq.transform(X[:2])).shape
    (2, 64)
    """

    _parameter_constraints = {
        "M": [Interval(numbers.Integral, 1, None, closed="left")],
        "K": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_bits": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, M=2, K=256, *, n_bits=None, max_iter=100, n_init=1, random_state=None):
        store_init_params(self, locals())

    def fit(self, X, y=None):
        """Learn the codebooks from ``X`` (``y`` is ignored)."""
        self._validate_params()
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=2)
        M = resolve_product_size(self.M, self.K, self.n_bits, type(self).__name__)
        if M > X.shape[1]:
            raise ValueError(
                f"M={M} subspaces need at least one feature each, got n_features="
                f"{X.shape[1]}. Choose M <= {X.shape[1]}."
            )
        self._columns_ = _padded_columns(X.shape[1], M)
        self._padded_width_ = -(-X.shape[1] // M) * M
        if self.K > X.shape[0]:
            raise ValueError(
                f"K={self.K} codewords per subspace need at least {self.K} training samples, "
                f"got {X.shape[0]}."
            )
        self.codebooks_, _, self.n_iter_ = fit_codebooks(
            self._pad(X), M, self.K, max_iter=self.max_iter, n_init=self.n_init,
            random_state=self.random_state,
        )
        self.code_space_ = ProductSpace(self.codebooks_)
        return self

    def transform(self, X):
        """Product codes ``(n_samples, M)``, uint8 when ``K <= 256``."""
        return self.code_space_.encode(self.embed(X))

    def embed(self, X):
        """Continuous query vectors for asymmetric search: ``X`` itself (float32).

        With the zero padding columns of the narrower subspaces when ``M``
        does not divide ``n_features`` (see ``M``).
        """
        check_is_fitted(self, "code_space_")
        return self._pad(validate_data(self, X, dtype=np.float32, reset=False))

    def inverse_transform(self, codes):
        """Reconstruct vectors from codes: the concatenated codewords, ``n_features`` wide."""
        check_is_fitted(self, "code_space_")
        padded = self.code_space_.decode(codes)
        columns = getattr(self, "_columns_", None)
        return padded if columns is None else padded[:, columns]

    def _pad(self, X):
        """``X`` laid out in ``M`` subspaces of equal width (zero columns added)."""
        columns = getattr(self, "_columns_", None)
        if columns is None:
            return X
        padded = np.zeros((X.shape[0], self._padded_width_), dtype=X.dtype)
        padded[:, columns] = X
        return padded

