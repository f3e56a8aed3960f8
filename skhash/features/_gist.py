"""The GIST descriptor (Oliva & Torralba), as the hashing literature computes it."""

import numbers

import numpy as np
from scipy import fft as sfft
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._params import store_init_params

__all__ = ["GIST", "gabor_bank"]

_CHUNK = 256  # images per FFT batch (memory: a few MiB per batch and filter)


def gabor_bank(orientations_per_scale, shape):
    """Transfer functions of the GIST Gabor bank: ``(n_filters, H, W)`` float64.

    As ``createGabor`` of the authors' MATLAB code: for scale ``i`` (highest
    frequency first) and orientation ``j`` of ``o`` at that scale, a Gaussian
    in log-free polar frequency coordinates,
    ``exp(-10 * 0.35 * (f / W / (0.3 / 1.85**i) - 1)**2 - 2 * (16 o**2 / 32**2) * pi * t**2)``
    with ``t`` the angle offset by ``pi j / o`` (wrapped to ``[-pi, pi]``),
    laid out as ``fft2`` orders frequencies. Orientation 0 passes frequencies
    along the horizontal axis: vertical stripes.
    """
    H, W = shape
    # frequencies as fftshift lays them out (MATLAB's -n/2 : n/2 - 1 for even n)
    fx, fy = np.meshgrid(np.arange(W) - W // 2, np.arange(H) - H // 2)
    fr = np.fft.fftshift(np.sqrt(fx ** 2.0 + fy ** 2.0))
    theta = np.fft.fftshift(np.arctan2(fy, fx))
    filters = []
    for i, o in enumerate(orientations_per_scale):
        for j in range(o):
            t = theta + np.pi / o * j
            t = t + 2 * np.pi * (t < -np.pi) - 2 * np.pi * (t > np.pi)
            filters.append(np.exp(-10 * 0.35 * (fr / W / (0.3 / 1.85 ** i) - 1) ** 2
                                  - 2 * (16.0 * o ** 2 / 32 ** 2) * np.pi * t ** 2))
    return np.stack(filters)


def _block_edges(size, n_blocks):
    """Block boundaries as MATLAB's ``fix(linspace(0, size, n + 1))``; a block
    of an image smaller than ``n_blocks`` pixels keeps at least one pixel."""
    edges = np.fix(np.linspace(0, size, n_blocks + 1)).astype(int)
    starts = np.minimum(edges[:-1], size - 1)
    return starts, np.maximum(edges[1:], starts + 1)


class GIST(TransformerMixin, BaseEstimator):
    """GIST descriptors of images (Oliva & Torralba's spatial envelope).

    The descriptor as hashing papers compute it on CIFAR-10 (the authors'
    ``LMgist``): each image, as it is (no resizing), is converted to grey
    (mean of the channels), scaled to [0, 255], prefiltered (log, whitening
    and local contrast normalisation at ``prefilter_cycles`` cycles per
    image), filtered in the frequency domain by a bank of Gabor filters
    (``orientations_per_scale``: 4 scales x 8 orientations by default), and
    the magnitude of each filter's response is averaged over an
    ``n_blocks x n_blocks`` grid: 32 x 16 = 512 values. Images are padded
    symmetrically by ``boundary_extension`` pixels before filtering, as in
    the original code. Stateless: ``fit`` only checks the input.

    Parameters
    ----------
    image_shape : tuple (C, H, W) or (H, W) or None, default=None
        How each row of ``X`` is an image (channel-first). None: square
        grey images when the number of features is a square (``H = W``),
        square colour images when it is three times a square, else rows as
        ``1 x n_features`` strips.
    orientations_per_scale : tuple of int, default=(8, 8, 8, 8)
        Orientations of the Gabor filters at each scale, highest frequency
        first.
    n_blocks : int, default=4
        The response magnitudes are averaged over ``n_blocks x n_blocks``
        blocks.
    prefilter_cycles : float, default=4
        Cut-off of the prefilter's Gaussian, in cycles per image.
    boundary_extension : int, default=32
        Symmetric padding (pixels) before the Gabor filtering.

    Attributes
    ----------
    image_shape_ : tuple (C, H, W)
        The image shape used.
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    A. Oliva and A. Torralba, "Modeling the shape of the scene: a holistic
    representation of the spatial envelope", IJCV 2001. The order of the
    values is the MATLAB code's: filter by filter (scales, then
    orientations), and within a filter the blocks column by column. An image
    with a single grey level has no structure: its descriptor is all zeros
    (the MATLAB code divides by zero there). For images smaller than
    ``n_blocks`` pixels on a side, neighbouring blocks share pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.features import GIST
    >>> x = np.arange(32)
    >>> vertical = np.tile(np.sin(2 * np.pi * x / 8), (32, 1))  # stripes across x
    >>> g = GIST().fit_transform(vertical.reshape(1, -1))
    >>> g.shape
    (1, 512)
    >>> energy = g.reshape(4, 8, 16).sum(axis=(0, 2))  # per orientation
    >>> int(np.argmax(energy))  # orientation 0: vertical stripes
    0
    """

    _parameter_constraints = {
        "image_shape": [tuple, list, None],
        "orientations_per_scale": [tuple, list],
        "n_blocks": [Interval(numbers.Integral, 1, None, closed="left")],
        "prefilter_cycles": [Interval(numbers.Real, 0, None, closed="neither")],
        "boundary_extension": [Interval(numbers.Integral, 0, None, closed="left")],
    }

    def __init__(self, image_shape=None, *, orientations_per_scale=(8, 8, 8, 8), n_blocks=4,
                 prefilter_cycles=4, boundary_extension=32):
        store_init_params(self, locals())

    def _resolve_shape(self, n_features):
        shape = self.image_shape
        if shape is None:
            side = int(round(np.sqrt(n_features)))
            colour = int(round(np.sqrt(n_features / 3)))
            if side * side == n_features:
                return (1, side, side)
            if 3 * colour * colour == n_features:
                return (3, colour, colour)
            return (1, 1, n_features)
        shape = tuple(int(v) for v in shape)
        if len(shape) == 2:
            shape = (1,) + shape
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"image_shape must be (C, H, W) or (H, W), got {self.image_shape!r}.")
        if int(np.prod(shape)) != n_features:
            raise ValueError(f"image_shape={self.image_shape!r} holds {int(np.prod(shape))} "
                             f"values, but X has {n_features} features per row.")
        return shape

    def fit(self, X, y=None):
        """Check ``X`` and the parameters (the descriptor learns nothing).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images as rows (see ``image_shape``).
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self._validate_params()
        orientations = tuple(self.orientations_per_scale)
        if not orientations or any(isinstance(o, bool) or not isinstance(o, numbers.Integral)
                                   or o < 1 for o in orientations):
            raise ValueError("orientations_per_scale must be positive integers, one per scale; "
                             f"got {self.orientations_per_scale!r}.")
        X = validate_data(self, X, dtype=np.float64, reset=True)
        self.image_shape_ = self._resolve_shape(X.shape[1])
        return self

    def transform(self, X):
        """GIST descriptors: ``(n_samples, n_filters * n_blocks**2)`` float32."""
        check_is_fitted(self, "image_shape_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        C, H, W = self.image_shape_
        be = int(self.boundary_extension)
        bank = gabor_bank(tuple(self.orientations_per_scale),
                          (H + 2 * be, W + 2 * be)).astype(np.float32)  # once per call
        prefilter = self._prefilter_transfer(H, W)
        out = np.empty((X.shape[0], bank.shape[0] * self.n_blocks ** 2), dtype=np.float32)
        for s in range(0, X.shape[0], _CHUNK):
            images = X[s:s + _CHUNK].reshape(-1, C, H, W).mean(axis=1)
            out[s:s + _CHUNK] = self._describe(self._prefilter(images, prefilter), bank, be)
        return out

    # -------------------------------------------------------------- stages
    def _prefilter_transfer(self, H, W):
        w = 5
        n = max(H + 2 * w, W + 2 * w)
        n += n % 2
        s1 = float(self.prefilter_cycles) / np.sqrt(np.log(2))
        fx, fy = np.meshgrid(np.arange(n) - n // 2, np.arange(n) - n // 2)
        return np.fft.fftshift(np.exp(-(fx ** 2 + fy ** 2) / s1 ** 2))

    @staticmethod
    def _prefilter(images, gf):
        """Scale to [0, 255], log, whiten and normalise local contrast (``prefilt``)."""
        low = images.min(axis=(1, 2), keepdims=True)
        images = images - low
        high = images.max(axis=(1, 2), keepdims=True)
        images = 255.0 * images / np.where(high > 0, high, 1.0)  # flat images stay 0
        w = 5
        n_img, H, W = images.shape
        img = np.pad(np.log(images + 1.0), ((0, 0), (w, w), (w, w)), mode="symmetric")
        sn, sm = img.shape[1:]
        n = gf.shape[0]
        img = np.pad(img, ((0, 0), (0, n - sn), (0, n - sm)), mode="symmetric")
        out = img - np.real(sfft.ifft2(sfft.fft2(img) * gf))
        local = np.sqrt(np.abs(sfft.ifft2(sfft.fft2(out ** 2) * gf)))
        out = out / (0.2 + local)
        return out[:, w:sn - w, w:sm - w]

    def _describe(self, images, bank, be):
        """Mean response magnitude of each filter over each block (``gistGabor``)."""
        n_img, H, W = images.shape
        padded = np.pad(images, ((0, 0), (be, be), (be, be)), mode="symmetric")
        spectrum = sfft.fft2(padded.astype(np.float32))
        rows, row_end = _block_edges(H, self.n_blocks)
        cols, col_end = _block_edges(W, self.n_blocks)
        nb = self.n_blocks
        out = np.empty((n_img, bank.shape[0], nb * nb), dtype=np.float32)
        for f in range(bank.shape[0]):
            response = np.abs(sfft.ifft2(spectrum * bank[f]))
            response = response[:, be:be + H, be:be + W]
            for xx in range(nb):  # column-major, as MATLAB's reshape
                for yy in range(nb):
                    out[:, f, xx + nb * yy] = response[:, rows[xx]:row_end[xx],
                                                       cols[yy]:col_end[yy]].mean(axis=(1, 2))
        return out.reshape(n_img, -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.transformer_tags.preserves_dtype = []
        return tags
