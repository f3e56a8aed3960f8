"""Database codes on disk: encode a collection larger than memory into a ``.npy`` file."""

import os

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..metrics._scorer import unwrap_encoder

__all__ = ["encode_to_file"]


def encode_to_file(encoder, X, path, *, chunk_rows=65536, overwrite=False):
    """Encode ``X`` with a fitted encoder into a ``.npy`` file, a chunk at a time.

    The codes go straight to disk (:func:`numpy.lib.format.open_memmap`), so
    memory holds one chunk of rows and its codes whatever the size of ``X``
    (itself possibly a :class:`numpy.memmap`, or anything that slices into
    arrays). Index the file with :meth:`KNeighborsRetriever.fit_codes
    <skhash.neighbors.KNeighborsRetriever.fit_codes>`: the search then reads
    it in chunks too.

    Parameters
    ----------
    encoder : estimator
        A fitted skhash encoder (or a ``Pipeline`` ending in one).
    X : array-like of shape (n_samples, n_features)
        The rows to encode; sliced ``chunk_rows`` at a time.
    path : str or path-like
        The ``.npy`` file to write.
    chunk_rows : int, default=65536
        Rows encoded at a time.
    overwrite : bool, default=False
        Replace an existing file (otherwise a ``FileExistsError``).

    Returns
    -------
    codes : numpy.memmap
        The codes, opened read-only from ``path``: ``(n_samples, n_bytes)``
        packed bits or ``(n_samples, M)`` product codes, as ``encode`` gives.
    """
    final, _ = unwrap_encoder(encoder)
    check_is_fitted(final, "code_space_")
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)) \
            or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}.")
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
    n = int(X.shape[0])
    if n < 1:
        raise ValueError("X has no rows to encode.")
    def encode(rows):
        inner, rows = unwrap_encoder(encoder, np.asarray(rows))
        return np.asarray(inner.encode(rows))

    first = encode(X[:min(chunk_rows, n)])
    out = np.lib.format.open_memmap(path, mode="w+", dtype=first.dtype,
                                    shape=(n,) + first.shape[1:])
    out[:first.shape[0]] = first
    for start in range(first.shape[0], n, chunk_rows):
        out[start:start + chunk_rows] = encode(X[start:start + chunk_rows])
    out.flush()
    del out
    return np.load(path, mmap_mode="r")
