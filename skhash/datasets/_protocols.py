"""Query / database / training splits used by retrieval evaluation protocols."""

import math
import numbers
from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["RetrievalSplit", "cnnh_split", "random_split"]


class RetrievalSplit(NamedTuple):
    """Indices of the query, database and training items of a retrieval split.

    Each field is a sorted 1-D ``int64`` array of row indices into the dataset.
    Queries and database are disjoint and together cover the dataset; the
    training items are a subset of the database.

    Attributes
    ----------
    query : ndarray of shape (n_queries,), dtype int64
        Items used as queries.
    database : ndarray of shape (n_database,), dtype int64
        Items that are searched (the retrieval set).
    train : ndarray of shape (n_train,), dtype int64
        Items used to fit the model (drawn from the database).

    Examples
    --------
    >>> from skhash.datasets import random_split
    >>> query, database, train = random_split(10, n_queries=2, random_state=0)
    >>> len(query), len(database), len(train)
    (2, 8, 8)
    """

    query: np.ndarray
    database: np.ndarray
    train: np.ndarray


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_float(value):
    return isinstance(value, numbers.Real) and not _is_int(value) and not isinstance(value, bool)


def _resolve_count(value, total, name, *, allow_fraction, rounding, allow_all):
    """Turn a count / fraction parameter into a number of items out of ``total``.

    ``allow_all`` means ``value == total`` is allowed (otherwise at least one
    item must be left over). ``rounding`` is applied to fractions.
    """
    limit = total if allow_all else total - 1
    if _is_int(value):
        count = int(value)
        if count < 1:
            raise ValueError(f"{name} must be at least 1, got {count}.")
    elif allow_fraction and _is_float(value):
        if not 0.0 < value < 1.0:
            raise ValueError(
                f"{name} as a fraction must be in the open interval (0, 1), got {value}."
            )
        count = int(rounding(value * total))
        if count < 1:
            raise ValueError(
                f"{name}={value} selects no item out of {total}; use a larger fraction."
            )
    else:
        kinds = "an integer or a float in (0, 1)" if allow_fraction else "an integer"
        raise ValueError(f"{name} must be {kinds}, got {value!r}.")
    if count > limit:
        raise ValueError(
            f"{name}={value} asks for {count} items but only {limit} are "
            f"available out of {total}."
        )
    return count


def _sorted_idx(idx):
    return np.sort(np.asarray(idx, dtype=np.int64))


def cnnh_split(y, *, n_queries_per_class=100, n_train=5000, random_state=None):
    """Split a labelled dataset with the CNNH retrieval protocol.

    The protocol of Xia et al. (2014), used by CNNH, CNNBH, SSDH, DPQ and
    DeepSOM on MNIST and CIFAR-10: ``n_queries_per_class`` queries are drawn
    uniformly at random from each class; the database is every other item;
    the training set is ``n_train`` items drawn uniformly at random from the
    database.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels (any hashable, sortable values).
    n_queries_per_class : int, default=100
        Number of queries drawn from each class. Every class must have more
        items than this, so that it is also represented in the database.
    n_train : int or None, default=5000
        Number of training items drawn from the database. None means the
        whole database.
    random_state : int, RandomState instance or None, default=None
        Controls all the sampling; pass an int for reproducible splits.

    Returns
    -------
    split : RetrievalSplit
        Named tuple ``(query, database, train)`` of sorted int64 index arrays
        into ``y``. ``query`` has ``n_classes * n_queries_per_class`` items,
        ``database`` the rest, and ``train`` is a subset of ``database``.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D or is empty, a class has ``n_queries_per_class``
        items or fewer, or ``n_train`` exceeds the size of the database.

    See Also
    --------
    random_split : Label-free random split.

    References
    ----------
    .. [1] R. Xia, Y. Pan, H. Lai, C. Liu and S. Yan, "Supervised hashing for
       image retrieval via image representation learning", AAAI 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.datasets import cnnh_split
    >>> y = np.repeat([0, 1, 2], 10)
    >>> split = cnnh_split(y, n_queries_per_class=2, n_train=5, random_state=0)
    >>> len(split.query), len(split.database), len(split.train)
    (6, 24, 5)
    >>> np.bincount(y[split.query]).tolist()
    [2, 2, 2]
    >>> bool(np.isin(split.train, split.database).all())
    True
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"y must be a 1-D array of class labels, got an array of shape {y.shape}."
        )
    if y.shape[0] == 0:
        raise ValueError("y is empty.")
    if not _is_int(n_queries_per_class) or n_queries_per_class < 1:
        raise ValueError(
            f"n_queries_per_class must be a positive integer, got {n_queries_per_class!r}."
        )
    n_q = int(n_queries_per_class)
    rng = check_random_state(random_state)

    classes, y_codes = np.unique(y, return_inverse=True)
    y_codes = y_codes.reshape(-1)
    counts = np.bincount(y_codes, minlength=len(classes))
    too_small = np.flatnonzero(counts <= n_q)
    if too_small.size:
        detail = ", ".join(f"{classes[k]!r} ({counts[k]} items)" for k in too_small[:5])
        more = f" and {too_small.size - 5} more" if too_small.size > 5 else ""
        raise ValueError(
            f"n_queries_per_class={n_q} requires every class to have more than {n_q} "
            f"items, but these classes do not: {detail}{more}."
        )

    query_parts = []
    for k in range(len(classes)):
        members = np.flatnonzero(y_codes == k)
        query_parts.append(rng.choice(members, size=n_q, replace=False))
    query = _sorted_idx(np.concatenate(query_parts))

    is_query = np.zeros(y.shape[0], dtype=bool)
    is_query[query] = True
    database = np.flatnonzero(~is_query).astype(np.int64)

    if n_train is None:
        train = database.copy()
    else:
        if not _is_int(n_train) or n_train < 1:
            raise ValueError(f"n_train must be a positive integer or None, got {n_train!r}.")
        if n_train > database.size:
            raise ValueError(
                f"n_train={n_train} is larger than the database ({database.size} "
                f"items = {y.shape[0]} samples - {query.size} queries)."
            )
        train = _sorted_idx(rng.choice(database, size=int(n_train), replace=False))
    return RetrievalSplit(query=query, database=database, train=train)


def random_split(n_samples, *, n_queries, n_train=None, random_state=None):
    """Split ``n_samples`` items at random into queries, database and training set.

    Queries are drawn uniformly at random without replacement; the database is
    every other item; the training set is drawn uniformly at random from the
    database.

    Parameters
    ----------
    n_samples : int
        Number of items in the dataset (at least 2).
    n_queries : int or float
        Number of queries, or a fraction in (0, 1) of ``n_samples`` (rounded
        up, as ``test_size`` in :func:`sklearn.model_selection.train_test_split`).
        At least one item must be left for the database.
    n_train : int, float or None, default=None
        Number of training items drawn from the database, or a fraction in
        (0, 1) of the database size (rounded down). None means the whole
        database.
    random_state : int, RandomState instance or None, default=None
        Controls all the sampling; pass an int for reproducible splits.

    Returns
    -------
    split : RetrievalSplit
        Named tuple ``(query, database, train)`` of sorted int64 index arrays
        into ``range(n_samples)``.

    Raises
    ------
    ValueError
        If ``n_samples`` is not an integer >= 2, or ``n_queries`` / ``n_train``
        is not a valid count or fraction, or asks for more items than exist.

    See Also
    --------
    cnnh_split : Class-stratified split of the CNNH protocol.

    Examples
    --------
    >>> from skhash.datasets import random_split
    >>> split = random_split(100, n_queries=0.1, n_train=50, random_state=0)
    >>> len(split.query), len(split.database), len(split.train)
    (10, 90, 50)
    >>> sorted(set(split.query) | set(split.database)) == list(range(100))
    True
    """
    if not _is_int(n_samples) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}.")
    n_samples = int(n_samples)
    n_q = _resolve_count(
        n_queries, n_samples, "n_queries",
        allow_fraction=True, rounding=math.ceil, allow_all=False,
    )
    rng = check_random_state(random_state)
    perm = rng.permutation(n_samples)
    query = _sorted_idx(perm[:n_q])
    database = _sorted_idx(perm[n_q:])
    if n_train is None:
        train = database.copy()
    else:
        n_t = _resolve_count(
            n_train, database.size, "n_train",
            allow_fraction=True, rounding=math.floor, allow_all=True,
        )
        train = _sorted_idx(rng.choice(database, size=n_t, replace=False))
    return RetrievalSplit(query=query, database=database, train=train)
