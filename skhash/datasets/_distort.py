"""Distorted copies of an image dataset (synthetic datasets for transfer checks)."""

import numpy as np
from scipy import ndimage
from sklearn.utils import check_random_state

__all__ = ["distort_images"]

_KINDS = ("invert", "jitter")


def distort_images(X, input_shape, kind, *, max_shift=3, max_rotation=15.0, random_state=None):
    """A distorted copy of images with values in [0, 1].

    A new dataset of the same format that no default was tuned on: methods
    whose defaults were chosen on the original images can be checked on it.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Flattened images, values in [0, 1] (as :func:`load_mnist` gives).
    input_shape : tuple of int
        ``(channels, height, width)`` of one image; ``n_features`` must be
        their product.
    kind : {"invert", "jitter"}
        ``"invert"``: ``1 - x`` (white background, dark strokes).
        ``"jitter"``: each image rotated by a random angle in
        ``[-max_rotation, max_rotation]`` degrees about its centre, then
        shifted by a random whole number of pixels in ``[-max_shift,
        max_shift]`` along each axis (bilinear interpolation, zeros filled
        in, values clipped to [0, 1]).
    max_shift : int, default=3
        Largest shift in pixels (``"jitter"``).
    max_rotation : float, default=15.0
        Largest rotation in degrees (``"jitter"``).
    random_state : int, RandomState instance or None, default=None
        Seeds the angles and shifts (``"jitter"``).

    Returns
    -------
    X_distorted : ndarray of shape (n_samples, n_features), float32

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.datasets import distort_images
    >>> X = np.zeros((1, 16), dtype=np.float32); X[0, 5] = 1.0
    >>> distort_images(X, (1, 4, 4), "invert")[0, :6]
    array([1., 1., 1., 1., 1., 0.], dtype=float32)
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, _KINDS))}, got {kind!r}.")
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}.")
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or int(np.prod(shape)) != X.shape[1]:
        raise ValueError(f"input_shape {tuple(input_shape)} (channels, height, width) does not "
                         f"match the {X.shape[1]} features of X.")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values; distort_images expects values in "
                         "[0, 1].")
    if X.size and (X.min() < 0 or X.max() > 1):
        raise ValueError("distort_images expects values in [0, 1] (scale the images first), "
                         f"got values from {X.min()} to {X.max()}.")
    if kind == "invert":
        return 1.0 - X
    if not isinstance(max_shift, (int, np.integer)) or isinstance(max_shift, bool):
        raise ValueError(f"max_shift must be a whole number of pixels, got {max_shift!r}.")
    if max_shift < 0 or max_rotation < 0:
        raise ValueError(f"max_shift and max_rotation must be >= 0, got {max_shift} and "
                         f"{max_rotation}.")
    rng = check_random_state(random_state)
    n = len(X)
    angles = rng.uniform(-max_rotation, max_rotation, n)
    shifts = rng.randint(-max_shift, max_shift + 1, size=(n, 2))
    images = X.reshape((n, *shape))
    out = np.empty_like(images)
    for i in range(n):
        for c in range(shape[0]):
            rotated = ndimage.rotate(images[i, c], angles[i], reshape=False, order=1,
                                     mode="constant", cval=0.0)
            out[i, c] = ndimage.shift(rotated, shifts[i], order=0, mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0).reshape(n, X.shape[1])
