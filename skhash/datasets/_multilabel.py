"""A multi-label variant of digit datasets (MNIST, sklearn's digits)."""

import numpy as np

__all__ = ["make_multilabel_digits"]

_ATTRIBUTES = {
    "even": lambda d: d % 2 == 0,
    "ge5": lambda d: d >= 5,
    "prime": lambda d: np.isin(d, (2, 3, 5, 7)),
    "round": lambda d: np.isin(d, (0, 6, 8, 9)),  # digits drawn with a closed loop
}


def make_multilabel_digits(y, *, attributes=("even", "ge5"), include_digit=True):
    """Turn digit labels 0-9 into a multi-label 0/1 indicator matrix.

    Each image carries its digit (one column per digit, when
    ``include_digit``) plus derived attributes, so that two images are
    relevant to each other when they share at least one label -- the
    relevance used on multi-label sets such as NUS-WIDE. With the default
    attributes, a 0 and a 2 are relevant (both "even"), a 6 and a 7 too
    (both "ge5"), but a 1 and a 3 are not.

    Parameters
    ----------
    y : array-like of int, shape (n_samples,)
        Digit labels in 0..9.
    attributes : sequence of str, default=("even", "ge5")
        Derived labels, from "even", "ge5" (digit >= 5), "prime",
        "round" (0, 6, 8, 9).
    include_digit : bool, default=True
        Also include the ten one-hot digit columns.

    Returns
    -------
    Y : ndarray of int8, shape (n_samples, n_labels)
        The indicator matrix.
    label_names : list of str
        Name of each column.

    Examples
    --------
    >>> from skhash.datasets import make_multilabel_digits
    >>> Y, names = make_multilabel_digits([0, 7], include_digit=False)
    >>> names
    ['even', 'ge5']
    >>> Y
    array([[1, 0],
           [0, 1]], dtype=int8)
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D digit labels, got shape {y.shape}.")
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 9):
        raise ValueError("y must hold integer digit labels in 0..9.")
    unknown = [a for a in attributes if a not in _ATTRIBUTES]
    if unknown:
        raise ValueError(f"unknown attributes {unknown}; choose from {sorted(_ATTRIBUTES)}.")
    columns, names = [], []
    if include_digit:
        columns += [y == d for d in range(10)]
        names += [str(d) for d in range(10)]
    columns += [_ATTRIBUTES[a](y) for a in attributes]
    names += list(attributes)
    if not columns:
        raise ValueError("no labels requested: set include_digit or give attributes.")
    return np.stack(columns, axis=1).astype(np.int8), names
