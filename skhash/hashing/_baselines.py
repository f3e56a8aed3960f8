"""Classic label-free baselines: random-projection LSH and PCA + ITQ.

Both are linear hashers without a network: a code is the sign of
``(X - mean_) @ P`` for a fitted ``(n_features, n_bits)`` projection ``P``.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .._docstrings import fill_doc
from ..base import BaseHasher
from ..codes import HammingSpace
from ..utils._params import store_init_params

__all__ = ["ITQHasher", "LSHHasher"]

_SEED_MAX = np.iinfo(np.int32).max


class _LinearHasherMixin:
    """Fit/transform surface of the linear hashers (codes ``sign((X - mean_) @ P)``).

    A class using it stores ``n_bits`` and ``random_state``, implements
    ``_fit_centered(Xc, rng)`` (learn its arrays from the centred training
    data) and ``_projection()`` (the ``(n_features, n_bits)`` matrix ``P``).
    """

    _parameter_constraints = {
        "n_bits": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def fit(self, X, y=None):
        """Learn the hash functions from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows (images flattened), at least 2.
        y : None
            Ignored: the method is label-free.

        Returns
        -------
        self : object
            The fitted hasher.
        """
        self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        rng = check_random_state(self.random_state)
        self.mean_ = X.mean(axis=0, dtype=np.float64)
        self._fit_centered(self._center(X), rng)
        self.code_space_ = HammingSpace(self.n_bits)
        return self

    def _center(self, X):
        return X - self.mean_.astype(X.dtype, copy=False)

    def transform(self, X):
        """Binary codes: bit 1 where the projection is positive.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        bits : ndarray of shape (n_samples, n_bits), uint8 in {0, 1}
        """
        check_is_fitted(self, "code_space_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        projected = self._center(X) @ self._projection().astype(X.dtype, copy=False)
        return (projected > 0).astype(np.uint8)

    # Packing, the retriever hook and the leave-one-out mAP are the deep hashers' own.
    encode = BaseHasher.encode
    _query_codes = BaseHasher._query_codes
    score = BaseHasher.score

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        # Codes are integers: float dtypes are not preserved.
        tags.transformer_tags.preserves_dtype = []
        return tags


def _random_rotation(n, rng):
    """A random ``(n, n)`` orthogonal matrix, Haar-distributed (QR of a Gaussian)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _itq_rotation(V, R, n_iter):
    """Iterative quantization: minimise ``||B - V R||_F^2`` over ``B`` and ``R``.

    ``B`` runs over the {-1, 1} codes and ``R`` over orthogonal matrices.
    Alternates ``B = sign(V R)`` and the orthogonal Procrustes solution
    ``R = S Ŝᵀ`` from the SVD ``Vᵀ B = S Ω Ŝᵀ``, starting from ``R``.

    Returns
    -------
    R : ndarray of shape (c, c)
        The last rotation.
    losses : ndarray of shape ``(n_iter_,)``
        ``||sign(V R) - V R||_F^2`` after each iteration's rotation update.
    n_iter_ : int
        Iterations run: fewer than ``n_iter`` when the codes stop changing
        (a fixed point: further iterations would repeat the last one).
    """
    B = np.where(V @ R > 0, 1.0, -1.0)
    losses = []
    for _ in range(n_iter):
        S, _omega, S_hat_t = np.linalg.svd(V.T @ B)
        R = S @ S_hat_t
        VR = V @ R
        B_new = np.where(VR > 0, 1.0, -1.0)
        losses.append(float(np.sum((B_new - VR) ** 2)))
        if np.array_equal(B_new, B):
            break
        B = B_new
    return R, np.asarray(losses), len(losses)


@fill_doc
class ITQHasher(_LinearHasherMixin, TransformerMixin, BaseEstimator):
    """PCA followed by Iterative Quantization (PCA-ITQ): a learned rotation of PCA.

    The data are centred and projected on their ``n_bits`` leading principal
    directions; an orthogonal rotation of that projection is then learned so
    that its signs (the codes) lose as little as possible:
    ``min ||B - V R||_F^2`` over codes ``B`` in {-1, 1} and orthogonal ``R``,
    where ``V`` is the PCA projection. No labels and no network.

    Parameters
    ----------
    n_bits : int, default=32
        Code length: the number of principal components kept. At most
        ``min(n_samples, n_features)`` of the training data.
    n_iter : int, default=50
        Iterations of the alternating minimisation (the paper's 50). The fit
        stops sooner only at a fixed point (codes unchanged by an
        iteration), where the remaining iterations would change nothing.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial random rotation (and a randomized PCA solver, when
        scikit-learn picks one for large data).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Training mean, subtracted before projecting.
    components_ : ndarray of shape (n_bits, n_features)
        Principal directions (rows, unit length), largest variance first.
    rotation_ : ndarray of shape (n_bits, n_bits)
        The learned orthogonal rotation ``R``.
    quantization_loss_ : ndarray of shape ``(n_iter_,)``
        ``||B - V R||_F^2`` on the training data after each iteration
        (non-increasing).
    n_iter_ : int
        Iterations run.
    %(hamming_attributes)s

    See Also
    --------
    LSHHasher : random projections, the data-independent baseline.
    skhash.quantization.ProductQuantizer : the label-free quantization baseline.
    skhash.neighbors.KNeighborsRetriever : index and search the codes.

    Notes
    -----
    Y. Gong and S. Lazebnik, "Iterative Quantization: A Procrustean Approach
    to Learning Binary Codes", CVPR 2011; Y. Gong, S. Lazebnik, A. Gordo and
    F. Perronnin, TPAMI 2013. Implemented: the unsupervised PCA-ITQ.
    PCA is scikit-learn's :class:`~sklearn.decomposition.PCA` (no
    whitening) on the centred data, ``V = (X - mean_) @ components_.T``.
    The rotation starts from a random orthogonal matrix and alternates
    ``B = sign(V R)`` with the orthogonal Procrustes solution: for the SVD
    ``Vᵀ B = S Ω Ŝᵀ``, ``R = S Ŝᵀ``. The code of ``x`` is bit 1 where
    ``(x - mean_) @ components_.T @ rotation_`` is positive. The CCA-ITQ
    (supervised) variant is not implemented.

    Examples
    --------
    >>> from skhash.datasets import load_digits
    >>> from skhash.hashing import ITQHasher, LSHHasher
    >>> X, y = load_digits(return_X_y=True)
    >>> itq = ITQHasher(n_bits=16, random_state=0).fit(X)
    >>> itq.transform(X[:2]).shape
    (2, 16)
    >>> itq.encode(X[:2]).shape
    (2, 2)
    >>> lsh = LSHHasher(n_bits=16, random_state=0).fit(X)
    >>> bool(itq.score(X, y) > lsh.score(X, y))
    True
    """

    _parameter_constraints = {
        **_LinearHasherMixin._parameter_constraints,
        "n_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, n_bits=32, *, n_iter=50, random_state=None):
        store_init_params(self, locals())

    def _fit_centered(self, Xc, rng):
        n_samples, n_features = Xc.shape
        if self.n_bits > min(n_samples, n_features):
            raise ValueError(
                f"ITQHasher keeps n_bits={self.n_bits} principal components, so n_bits must "
                f"be <= min(n_samples, n_features); got n_samples={n_samples} and "
                f"n_features={n_features}."
            )
        pca = PCA(n_components=self.n_bits, random_state=rng.randint(_SEED_MAX)).fit(Xc)
        self.components_ = pca.components_.astype(np.float64)
        V = (Xc @ self.components_.T.astype(Xc.dtype)).astype(np.float64)
        self.rotation_, self.quantization_loss_, self.n_iter_ = _itq_rotation(
            V, _random_rotation(self.n_bits, rng), self.n_iter
        )

    def _projection(self):
        return self.components_.T @ self.rotation_


@fill_doc
class LSHHasher(_LinearHasherMixin, TransformerMixin, BaseEstimator):
    """Locality-sensitive hashing by random projections (sign-random-projection LSH).

    Each bit is the sign of the centred data's projection on a random
    Gaussian direction: ``sign((X - mean_) @ projections_)``. Nothing is
    learned but the mean: the data-independent baseline of learned hashing.

    Parameters
    ----------
    n_bits : int, default=32
        Code length: the number of random projections (any number, also more
        than ``n_features``).
    random_state : int, RandomState instance or None, default=None
        Seeds the random projections.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Training mean, subtracted before projecting.
    projections_ : ndarray of shape (n_features, n_bits)
        The random directions, i.i.d. standard normal entries.
    %(hamming_attributes)s

    See Also
    --------
    ITQHasher : PCA and a learned rotation, the learned linear baseline.
    skhash.neighbors.KNeighborsRetriever : index and search the codes.

    Notes
    -----
    M. S. Charikar, "Similarity estimation techniques from rounding
    algorithms", STOC 2002: for a Gaussian direction ``w``, two vectors get
    different bits ``sign(w · x)`` with probability ``angle / pi``, so the
    Hamming distance estimates the angle. As in the hashing literature
    (e.g. the LSH baseline of Gong & Lazebnik's ITQ paper) the data are
    centred with the training mean first; bit 1 where the projection is
    positive. Gaussian projections are not normalised (the sign ignores
    the scale).

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.hashing import LSHHasher
    >>> X = np.random.RandomState(0).randn(100, 20)
    >>> lsh = LSHHasher(n_bits=8, random_state=0).fit(X)
    >>> lsh.projections_.shape
    (20, 8)
    >>> bits = lsh.transform(X)  # the signs of the centred projections
    >>> bool((bits == ((X - lsh.mean_) @ lsh.projections_ > 0)).all())
    True
    >>> lsh.encode(X).shape  # packed, 8 bits to a byte
    (100, 1)
    """

    def __init__(self, n_bits=32, *, random_state=None):
        store_init_params(self, locals())

    def _fit_centered(self, Xc, rng):
        self.projections_ = rng.standard_normal((Xc.shape[1], self.n_bits))

    def _projection(self):
        return self.projections_
