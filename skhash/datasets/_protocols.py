"""Query / database / training splits used by retrieval evaluation protocols."""

import math
import numbers
from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state

from .._docstrings import fill_doc

__all__ = [
    "RetrievalSplit",
    "cnnh_split",
    "random_split",
    "dsh_split",
    "ssdh_split",
    "unseen_classes_split",
]


class RetrievalSplit(NamedTuple):
    """Indices of the query, database and training items of a retrieval split.

    Each field is a sorted 1-D ``int64`` array of row indices into the dataset.
    How the three sets relate depends on the protocol:

    ==============================  ==========================  ========================
    protocol                        query vs database           train vs database
    ==============================  ==========================  ========================
    :func:`cnnh_split`,             disjoint, together the      a subset of the database
    :func:`random_split`            whole dataset
    :func:`dsh_split`               the same items (each query  disjoint (train / test)
                                    is ranked against itself)
    :func:`ssdh_split`              disjoint (test / train)     the same items
    :func:`unseen_classes_split`    disjoint, other classes     disjoint classes
                                    than the training set
    ==============================  ==========================  ========================

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


@fill_doc
def cnnh_split(y, *, n_queries_per_class=100, n_train=5000, n_train_per_class=None,
               random_state=None):
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
        whole database. Ignored when ``n_train_per_class`` is set.
    n_train_per_class : int or None, default=None
        Draw this many training items from the database items of each class
        instead (a class-balanced training set: 500 per class on CIFAR-10,
        as DeepSOM states for this protocol).
    %(split_returns)s
        Named tuple ``(query, database, train)`` of sorted int64 index arrays
        into ``y``. ``query`` has ``n_classes * n_queries_per_class`` items,
        ``database`` the rest, and ``train`` is a subset of ``database``.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D or is empty, a class has ``n_queries_per_class``
        items or fewer, ``n_train`` exceeds the size of the database, or a
        class has fewer than ``n_train_per_class`` database items.

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

    if n_train_per_class is not None:
        train = _per_class_draw(y_codes, classes, database, n_train_per_class,
                                "n_train_per_class", rng)
    elif n_train is None:
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


@fill_doc
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
    %(split_returns)s
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


def _per_class_draw(y_codes, classes, pool, n_per_class, name, rng):
    """Draw ``n_per_class`` items of each class from the index array ``pool``."""
    if not _is_int(n_per_class) or n_per_class < 1:
        raise ValueError(f"{name} must be a positive integer, got {n_per_class!r}.")
    parts = []
    for k in np.unique(y_codes[pool]):
        members = pool[y_codes[pool] == k]
        if members.size < n_per_class:
            raise ValueError(
                f"{name}={n_per_class} but class {classes[k]!r} has only {members.size} "
                "items to draw from."
            )
        parts.append(rng.choice(members, size=int(n_per_class), replace=False))
    return _sorted_idx(np.concatenate(parts))


def _check_mask(is_test, name="is_test"):
    mask = np.asarray(is_test)
    if mask.ndim != 1 or mask.dtype != bool:
        raise ValueError(f"{name} must be a 1-D boolean array, got dtype {mask.dtype} and "
                         f"shape {mask.shape}.")
    if mask.all() or not mask.any():
        raise ValueError(f"{name} must mark some items as test items and some as training "
                         f"items; it marks {int(mask.sum())} of {mask.size} as test.")
    return mask


def _check_labels(y, n):
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must be a 1-D array of {n} class labels, got shape {y.shape}.")
    return y


def dsh_split(is_test):
    """The DSH protocol on a dataset's own train / test split (DPQ Table 1).

    Train on the training items; the test items are both the queries and
    the database, and each query is ranked against the whole test set,
    itself included -- as DSH's official evaluation does
    (``compute_map(-B*B', label, label)`` in ``test_map.m``). On CIFAR-10:
    50,000 training images, 10,000 queries over a 10,000-image database.

    Parameters
    ----------
    is_test : array-like of bool, shape (n_samples,)
        True for the items of the test split.

    Returns
    -------
    split : RetrievalSplit
        ``query`` and ``database`` are the same index array (the test
        items); ``train`` the other items.

    References
    ----------
    .. [1] H. Liu, R. Wang, S. Shan and X. Chen, "Deep supervised hashing
       for fast image retrieval", CVPR 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.datasets import dsh_split
    >>> split = dsh_split(np.array([False] * 5 + [True] * 3))
    >>> split.query.tolist(), split.database.tolist(), split.train.tolist()
    ([5, 6, 7], [5, 6, 7], [0, 1, 2, 3, 4])
    """
    mask = _check_mask(is_test)
    test = np.flatnonzero(mask).astype(np.int64)
    return RetrievalSplit(query=test, database=test.copy(),
                          train=np.flatnonzero(~mask).astype(np.int64))


def ssdh_split(y, is_test, *, n_queries_per_class=100, random_state=None):
    """The SSDH protocol (Yang, Lin & Chen, section 4.2) on a train / test split.

    ``n_queries_per_class`` queries per class are drawn from the test items;
    the training items are both the training set and the database. On
    CIFAR-10: 1,000 test queries, 50,000 training / database images.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    is_test : array-like of bool, shape (n_samples,)
        True for the items of the test split.
    n_queries_per_class : int, default=100
        Queries drawn from the test items of each class.
    random_state : int, RandomState instance or None, default=None
        Controls the draw of the queries.

    Returns
    -------
    split : RetrievalSplit
        ``train`` and ``database`` are the same index array (the training
        items); ``query`` a subset of the test items.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.datasets import ssdh_split
    >>> y = np.array([0, 1] * 6)
    >>> is_test = np.arange(12) >= 8
    >>> split = ssdh_split(y, is_test, n_queries_per_class=1, random_state=0)
    >>> len(split.query), split.database.tolist() == split.train.tolist()
    (2, True)
    """
    mask = _check_mask(is_test)
    y = _check_labels(y, mask.size)
    rng = check_random_state(random_state)
    classes, y_codes = np.unique(y, return_inverse=True)
    y_codes = y_codes.reshape(-1)
    query = _per_class_draw(y_codes, classes, np.flatnonzero(mask), n_queries_per_class,
                            "n_queries_per_class", rng)
    train = np.flatnonzero(~mask).astype(np.int64)
    return RetrievalSplit(query=query, database=train.copy(), train=train)


def unseen_classes_split(y, *, n_unseen_classes=3, unseen_classes=None,
                         n_queries_per_class=100, n_train_per_class=None, random_state=None):
    """Retrieval of classes never seen in training.

    The protocol of the recent analyses of supervised hashing (Sablayrolles
    et al., "How should we evaluate supervised hashing?", ICASSP 2017):
    the classes are split into seen and unseen ones; the model trains on
    items of the seen classes only; queries and database are the items of
    the unseen classes (``n_queries_per_class`` queries per unseen class, the
    rest is the database). A method that only learned to classify the seen
    classes gains nothing here: the gap to its seen-class mAP measures how
    much of that mAP is classification.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    n_unseen_classes : int, default=3
        Number of classes held out of training, drawn at random (CIFAR-10:
        train on 7 classes, search the other 3). Ignored when
        ``unseen_classes`` is given.
    unseen_classes : array-like or None, default=None
        The held-out class labels, if chosen by the caller.
    n_queries_per_class : int, default=100
        Queries drawn per unseen class.
    n_train_per_class : int or None, default=None
        Training items drawn per seen class; None: every item of the seen
        classes.
    random_state : int, RandomState instance or None, default=None
        Controls the choice of classes and all the draws.

    Returns
    -------
    split : RetrievalSplit
        ``query`` and ``database`` disjoint, both of unseen classes;
        ``train`` of seen classes only.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.datasets import unseen_classes_split
    >>> y = np.repeat(np.arange(5), 10)
    >>> split = unseen_classes_split(y, unseen_classes=[3, 4], n_queries_per_class=2)
    >>> np.unique(y[split.train]).tolist(), np.unique(y[split.query]).tolist()
    ([0, 1, 2], [3, 4])
    >>> len(split.query), len(split.database), len(split.train)
    (4, 16, 30)
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] == 0:
        raise ValueError(f"y must be a non-empty 1-D array of class labels, got shape {y.shape}.")
    rng = check_random_state(random_state)
    classes, y_codes = np.unique(y, return_inverse=True)
    y_codes = y_codes.reshape(-1)
    if unseen_classes is None:
        if not _is_int(n_unseen_classes) or not 1 <= n_unseen_classes <= len(classes) - 2:
            raise ValueError(
                f"n_unseen_classes must be an integer in [1, n_classes - 2] = "
                f"[1, {len(classes) - 2}] (training needs two seen classes), got "
                f"{n_unseen_classes!r}."
            )
        unseen = np.sort(rng.choice(len(classes), size=int(n_unseen_classes), replace=False))
    else:
        wanted = np.unique(np.asarray(unseen_classes))
        missing = np.setdiff1d(wanted, classes)
        if missing.size:
            raise ValueError(f"unseen_classes {missing.tolist()} are not labels of y.")
        unseen = np.searchsorted(classes, wanted)
        if len(classes) - unseen.size < 2 or unseen.size < 1:
            raise ValueError(
                f"unseen_classes must hold between 1 and n_classes - 2 = {len(classes) - 2} "
                f"classes, got {unseen.size}."
            )
    is_unseen = np.isin(y_codes, unseen)
    query = _per_class_draw(y_codes, classes, np.flatnonzero(is_unseen), n_queries_per_class,
                            "n_queries_per_class", rng)
    is_query = np.zeros(y.shape[0], dtype=bool)
    is_query[query] = True
    database = np.flatnonzero(is_unseen & ~is_query).astype(np.int64)
    seen = np.flatnonzero(~is_unseen)
    if n_train_per_class is None:
        train = seen.astype(np.int64)
    else:
        train = _per_class_draw(y_codes, classes, seen, n_train_per_class,
                                "n_train_per_class", rng)
    return RetrievalSplit(query=query, database=database, train=train)
