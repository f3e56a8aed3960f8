"""The retrieval protocols of the papers' CIFAR-10 benchmarks (sizes, balance, overlaps)."""

import numpy as np
import pytest

from skhash.datasets import cnnh_split, dsh_split, ssdh_split, unseen_classes_split

# a CIFAR-like layout: 10 classes, a training split then a test split
Y_TRAIN = np.repeat(np.arange(10), 50)
Y_TEST = np.repeat(np.arange(10), 10)
Y = np.concatenate([Y_TRAIN, Y_TEST])
IS_TEST = np.arange(Y.size) >= Y_TRAIN.size


def test_cnnh_split_per_class_training_set():
    split = cnnh_split(Y, n_queries_per_class=5, n_train_per_class=20, random_state=0)
    assert np.bincount(Y[split.query]).tolist() == [5] * 10
    assert np.bincount(Y[split.train]).tolist() == [20] * 10
    assert np.isin(split.train, split.database).all()
    assert not np.isin(split.query, split.database).any()
    assert len(split.query) + len(split.database) == Y.size
    # queries come from all items, train and test alike
    again = cnnh_split(Y, n_queries_per_class=5, n_train_per_class=20, random_state=0)
    assert all(np.array_equal(a, b) for a, b in zip(split, again))


def test_cnnh_split_per_class_too_many():
    with pytest.raises(ValueError, match="n_train_per_class=60 but class"):
        cnnh_split(Y, n_queries_per_class=5, n_train_per_class=60, random_state=0)


def test_dsh_split_queries_are_the_database():
    split = dsh_split(IS_TEST)
    assert np.array_equal(split.query, split.database)
    assert np.array_equal(split.query, np.flatnonzero(IS_TEST))
    assert np.array_equal(split.train, np.flatnonzero(~IS_TEST))
    assert not np.isin(split.train, split.database).any()


def test_ssdh_split_train_is_the_database():
    split = ssdh_split(Y, IS_TEST, n_queries_per_class=3, random_state=0)
    assert np.array_equal(split.train, split.database)
    assert np.array_equal(split.train, np.flatnonzero(~IS_TEST))
    assert IS_TEST[split.query].all()
    assert np.bincount(Y[split.query]).tolist() == [3] * 10


def test_unseen_classes_split():
    split = unseen_classes_split(Y, n_queries_per_class=4, n_train_per_class=10, random_state=0)
    seen = np.unique(Y[split.train])
    unseen = np.unique(Y[split.query])
    assert len(seen) == 7 and len(unseen) == 3
    assert not np.isin(seen, unseen).any()
    assert np.array_equal(np.unique(Y[split.database]), unseen)
    assert np.bincount(Y[split.train], minlength=10)[seen].tolist() == [10] * 7
    assert not np.isin(split.query, split.database).any()
    # every unseen item is a query or in the database
    assert len(split.query) + len(split.database) == np.isin(Y, unseen).sum()
    other = unseen_classes_split(Y, random_state=1, n_queries_per_class=4)
    assert len(other.train) == np.isin(Y, np.unique(Y[other.train])).sum()  # all seen items


def test_unseen_classes_given_and_errors():
    split = unseen_classes_split(Y, unseen_classes=[0, 9], n_queries_per_class=2)
    assert np.unique(Y[split.query]).tolist() == [0, 9]
    with pytest.raises(ValueError, match="not labels of y"):
        unseen_classes_split(Y, unseen_classes=[11])
    with pytest.raises(ValueError, match="n_unseen_classes"):
        unseen_classes_split(Y, n_unseen_classes=9)


@pytest.mark.parametrize("bad", [np.zeros(5), np.ones(5, dtype=bool), np.zeros(5, dtype=bool)])
def test_split_masks_are_checked(bad):
    with pytest.raises(ValueError, match="is_test"):
        dsh_split(bad)
