"""Tests for skhash.metrics._ranking against hand-computed values."""

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import skhash.metrics._ranking as ranking_module
from skhash.metrics._ranking import (
    mean_average_precision,
    precision_at_k,
    precision_recall_by_radius,
    precision_recall_curve_at_k,
    precision_within_radius,
    rank_by_distance,
    recall_at_k,
    relevance,
    tie_averaged_mean_average_precision,
)

# ---------------------------------------------------------------------------
# relevance
# ---------------------------------------------------------------------------


def test_relevance_single_label():
    rel = relevance([0, 1, 2], [1, 0, 1, 3])
    expected = [
        [False, True, False, False],
        [True, False, True, False],
        [False, False, False, False],
    ]
    assert rel.dtype == bool
    assert_array_equal(rel, expected)


def test_relevance_string_labels():
    assert_array_equal(relevance(["cat", "dog"], ["dog", "cat", "cow"]),
                       [[False, True, False], [True, False, False]])


def test_relevance_int_and_string_labels_are_refused():
    # NumPy would promote 1 to "1"; labels of different types never match, so
    # every AP would silently be 0: refused (issue #11).
    with pytest.raises(ValueError, match="numbers but database_labels are strings"):
        relevance(np.array([1]), np.array(["1", "a"]))


def test_relevance_multilabel_shares_at_least_one_label():
    yq = [[1, 0, 1, 0],
          [0, 0, 0, 0]]
    ydb = [[1, 0, 0, 0],   # shares label 0 with query 0
           [0, 1, 0, 1],   # shares nothing
           [0, 0, 1, 1],   # shares label 2 with query 0
           [1, 1, 1, 1]]   # shares two labels with query 0
    expected = [[True, False, True, True],
                [False, False, False, False]]
    assert_array_equal(relevance(yq, ydb), expected)
    # bool and float 0/1 indicators give the same answer
    assert_array_equal(relevance(np.array(yq, bool), np.array(ydb, float)), expected)


def test_relevance_error_mixed_kinds():
    with pytest.raises(ValueError, match="same kind"):
        relevance([0, 1], [[1, 0], [0, 1]])


def test_relevance_error_column_mismatch():
    with pytest.raises(ValueError, match="same number of columns"):
        relevance([[1, 0]], [[1, 0, 0]])


def test_relevance_error_non_binary_indicator():
    with pytest.raises(ValueError, match="only 0 and 1"):
        relevance([[2, 0]], [[1, 0]])


def test_relevance_error_nan_labels():
    with pytest.raises(ValueError, match="NaN"):
        relevance([0.0, np.nan], [0.0, 1.0])


def test_relevance_error_three_dims():
    with pytest.raises(ValueError, match="dimension"):
        relevance(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))


def test_relevance_error_empty():
    with pytest.raises(ValueError, match="empty"):
        relevance([], [0, 1])


# ---------------------------------------------------------------------------
# rank_by_distance
# ---------------------------------------------------------------------------


def test_rank_by_distance_ties_broken_by_database_order():
    d = [[3, 1, 1, 0, 1],
         [2, 2, 2, 2, 2]]
    r = rank_by_distance(d)
    assert r.dtype == np.int64
    assert_array_equal(r, [[3, 1, 2, 4, 0], [0, 1, 2, 3, 4]])


def test_rank_by_distance_float_and_negative_distances():
    d = np.array([[0.5, -1.0, 0.5, np.inf, -1.0]])
    assert_array_equal(rank_by_distance(d), [[1, 4, 0, 2, 3]])
    d8 = np.array([[100, -100, 0, -100]], dtype=np.int8)
    assert_array_equal(rank_by_distance(d8), [[1, 3, 2, 0]])


def test_rank_by_distance_matches_stable_argsort():
    rng = np.random.default_rng(0)
    for d in [rng.integers(0, 5, (4, 50)), rng.integers(0, 300, (4, 50)),
              rng.integers(0, 70000, (4, 50)), rng.random((4, 50)).round(1)]:
        assert_array_equal(rank_by_distance(d), np.argsort(d, axis=1, kind="stable"))


def test_rank_by_distance_error_nan():
    with pytest.raises(ValueError, match="NaN"):
        rank_by_distance([[0.0, np.nan]])


def test_rank_by_distance_error_not_2d():
    with pytest.raises(ValueError, match="2-D"):
        rank_by_distance([0, 1, 2])


# ---------------------------------------------------------------------------
# mean_average_precision
# ---------------------------------------------------------------------------


def test_map_single_query_hand_computed():
    # ranked: rel, non, rel, non -> AP = (1/1 + 2/3) / 2
    ap = mean_average_precision([0], [0, 1, 0, 1], [[0, 1, 2, 3]])
    assert ap == pytest.approx((1 + 2 / 3) / 2)


def test_map_two_queries_hand_computed():
    db = [0, 1, 0, 1]
    # query 0 (label 0): rel, non, rel, non -> (1 + 2/3) / 2
    # query 1 (label 1): rel, rel, non, non -> (1 + 1) / 2 = 1
    # query 1 ranking [1, 3, 0, 2] is rel rel non non
    ranking = [[0, 1, 2, 3], [1, 3, 0, 2]]
    value, per_query = mean_average_precision(
        [0, 1], db, ranking, return_per_query=True)
    assert_allclose(per_query, [(1 + 2 / 3) / 2, 1.0])
    assert value == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)


def test_map_at_k_three_normalizations_differ():
    # db labels: 0 is relevant at indices 0, 2, 3, 5 (4 relevant in db)
    db = [0, 1, 0, 0, 1, 0]
    # ranked: non(1), rel(0), non(4), rel(2), ... ; top k=3: non, rel, non
    ranking = [[1, 0, 4, 2, 3, 5]]
    sum_p = 1 / 2  # P@2 at the only hit within top 3
    kw = dict(k=3)
    assert mean_average_precision([0], db, ranking, normalize="retrieved", **kw) \
        == pytest.approx(sum_p / 1)
    assert mean_average_precision([0], db, ranking, normalize="relevant", **kw) \
        == pytest.approx(sum_p / 4)
    assert mean_average_precision([0], db, ranking, normalize="min", **kw) \
        == pytest.approx(sum_p / 3)  # min(k=3, 4 relevant)


def test_map_at_k_min_normalization_uses_total_relevant_when_smaller():
    # 2 relevant in db, k=4: Z_min = 2, Z_relevant = 2, Z_retrieved = 1
    db = [1, 0, 1, 1, 1, 0]
    ranking = [[0, 2, 1, 3]]  # non, non, rel, non
    assert mean_average_precision([0], db, ranking, k=4, normalize="min") \
        == pytest.approx((1 / 3) / 2)
    assert mean_average_precision([0], db, ranking, k=4, normalize="retrieved") \
        == pytest.approx(1 / 3)


def test_map_normalizations_coincide_over_whole_database():
    db = [0, 1, 0, 0, 1, 0]
    ranking = [[1, 0, 4, 2, 3, 5]]
    # hits at ranks 2, 4, 5, 6 -> P = 1/2, 2/4, 3/5, 4/6
    expected = (1 / 2 + 2 / 4 + 3 / 5 + 4 / 6) / 4
    for normalize in ["retrieved", "relevant", "min"]:
        assert mean_average_precision([0], db, ranking, normalize=normalize) \
            == pytest.approx(expected)


def test_map_partial_ranking_k_none_uses_all_columns():
    db = [0, 1, 0, 1, 0]
    ranking = [[1, 0]]  # non, rel -> retrieved: (1/2)/1
    assert mean_average_precision([0], db, ranking) == pytest.approx(0.5)
    assert mean_average_precision([0], db, ranking, normalize="relevant") \
        == pytest.approx(0.5 / 3)


def test_map_query_without_relevant_item():
    db = [0, 1, 0, 1]
    ranking = [[0, 1, 2, 3], [0, 1, 2, 3]]
    # query 1 has label 7: no relevant item in the database -> AP 0
    value, per_query = mean_average_precision(
        [0, 7], db, ranking, return_per_query=True)
    assert_allclose(per_query, [(1 + 2 / 3) / 2, 0.0])
    assert value == pytest.approx((1 + 2 / 3) / 4)
    # skipped: excluded from the mean, reported as NaN
    value, per_query = mean_average_precision(
        [0, 7], db, ranking, skip_no_relevant=True, return_per_query=True)
    assert value == pytest.approx((1 + 2 / 3) / 2)
    assert per_query[0] == pytest.approx((1 + 2 / 3) / 2)
    assert np.isnan(per_query[1])


def test_map_skip_keeps_queries_with_no_hit_in_top_k():
    # query 1 has relevant items in the db but none in its top 1: counts 0
    db = [0, 1]
    ranking = [[0, 1], [0, 1]]
    value = mean_average_precision([0, 1], db, ranking, k=1, skip_no_relevant=True)
    assert value == pytest.approx(0.5)


def test_map_error_all_queries_skipped():
    with pytest.raises(ValueError, match="No query has a relevant item"):
        mean_average_precision([5, 6], [0, 1], [[0, 1], [1, 0]],
                               skip_no_relevant=True)


def test_map_multilabel_hand_computed():
    yq = [[1, 0, 1]]
    ydb = [[0, 1, 0],   # non
           [1, 1, 0],   # rel
           [0, 0, 1],   # rel
           [0, 1, 0]]   # non
    # ranking 0, 1, 3, 2: non, rel, non, rel -> (1/2 + 2/4) / 2
    assert mean_average_precision(yq, ydb, [[0, 1, 3, 2]]) \
        == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_map_with_rank_by_distance_ties():
    db = [1, 0, 0]
    d = [[1, 1, 1]]  # all tied -> database order: non, rel, rel
    r = rank_by_distance(d)
    assert mean_average_precision([0], db, r) == pytest.approx((1 / 2 + 2 / 3) / 2)


def _reference_ap(rel_row, n_relevant_total, k, normalize):
    """Slow, literal implementation of AP@k for one query."""
    hits = 0
    sum_precision = 0.0
    for i in range(k):
        if rel_row[i]:
            hits += 1
            sum_precision += hits / (i + 1)
    if normalize == "retrieved":
        z = hits
    elif normalize == "relevant":
        z = n_relevant_total
    else:
        z = min(k, n_relevant_total)
    return sum_precision / z if z > 0 else 0.0


def _reference_map(yq, ydb, ranking, k, normalize, skip):
    aps = []
    for i in range(len(yq)):
        if np.ndim(yq) == 1:
            is_rel = [ydb[j] == yq[i] for j in range(len(ydb))]
        else:
            is_rel = [any(a and b for a, b in zip(yq[i], ydb[j]))
                      for j in range(len(ydb))]
        n_rel = sum(is_rel)
        if skip and n_rel == 0:
            continue
        rel_row = [is_rel[j] for j in ranking[i]]
        aps.append(_reference_ap(rel_row, n_rel, k, normalize))
    return sum(aps) / len(aps)


@pytest.mark.parametrize("multilabel", [False, True])
def test_map_random_against_reference(multilabel, monkeypatch):
    # small chunks so that the chunked code path runs several chunks
    monkeypatch.setattr(ranking_module, "_CHUNK_ELEMENTS", 100)
    rng = np.random.default_rng(42)
    for trial in range(15):
        n_q, n_db = rng.integers(1, 12), rng.integers(1, 40)
        n_ranked = rng.integers(1, n_db + 1)
        if multilabel:
            yq = (rng.random((n_q, 4)) < 0.3).astype(int)
            ydb = (rng.random((n_db, 4)) < 0.3).astype(int)
        else:
            yq = rng.integers(0, 5, n_q)
            ydb = rng.integers(0, 4, n_db)  # label 4 never in the database
        ranking = np.array([rng.permutation(n_db)[:n_ranked] for _ in range(n_q)])
        k = None if trial % 3 == 0 else int(rng.integers(1, n_ranked + 1))
        k_eff = n_ranked if k is None else k
        for normalize in ["retrieved", "relevant", "min"]:
            expected = _reference_map(yq.tolist(), ydb.tolist(), ranking.tolist(),
                                      k_eff, normalize, skip=False)
            got = mean_average_precision(yq, ydb, ranking, k=k, normalize=normalize)
            assert got == pytest.approx(expected, abs=1e-12)
            try:
                expected = _reference_map(yq.tolist(), ydb.tolist(),
                                          ranking.tolist(), k_eff, normalize,
                                          skip=True)
            except ZeroDivisionError:
                with pytest.raises(ValueError):
                    mean_average_precision(yq, ydb, ranking, k=k,
                                           normalize=normalize,
                                           skip_no_relevant=True)
                continue
            got = mean_average_precision(yq, ydb, ranking, k=k, normalize=normalize,
                                         skip_no_relevant=True)
            assert got == pytest.approx(expected, abs=1e-12)


def test_map_chunking_does_not_change_result(monkeypatch):
    rng = np.random.default_rng(3)
    yq, ydb = rng.integers(0, 3, 30), rng.integers(0, 3, 50)
    ranking = rank_by_distance(rng.integers(0, 8, (30, 50)))
    full = mean_average_precision(yq, ydb, ranking, return_per_query=True)[1]
    monkeypatch.setattr(ranking_module, "_CHUNK_ELEMENTS", 1)
    chunked = mean_average_precision(yq, ydb, ranking, return_per_query=True)[1]
    assert_array_equal(full, chunked)



# ---------------------------------------------------------------------------
# tie-averaged mAP
# ---------------------------------------------------------------------------


def _ap_over_every_tie_order(yq, ydb, distances):
    """Per-query mean AP over every order of the database that keeps the
    distance order (all permutations of the items, ties broken by them)."""
    out = []
    for i in range(distances.shape[0]):
        aps = []
        for perm in itertools.permutations(range(distances.shape[1])):
            order = sorted(range(distances.shape[1]), key=lambda j: (distances[i, j], perm[j]))
            aps.append(mean_average_precision(yq[i:i + 1], ydb, [order]))
        out.append(np.mean(aps))
    return np.array(out)


@pytest.mark.parametrize("multilabel", [False, True])
def test_tie_averaged_map_is_the_mean_over_every_order_of_ties(multilabel):
    rng = np.random.default_rng(0)
    for _ in range(4):
        if multilabel:
            yq, ydb = rng.integers(0, 2, (3, 3)), rng.integers(0, 2, (6, 3))
        else:
            yq, ydb = rng.integers(0, 3, 3), rng.integers(0, 3, 6)
        distances = rng.integers(0, 3, (3, 6))
        got = tie_averaged_mean_average_precision(yq, ydb, distances, return_per_query=True)[1]
        assert_allclose(got, _ap_over_every_tie_order(yq, ydb, distances), atol=1e-12)


def test_tie_averaged_map_hand_computed():
    # all four tied, two relevant: places 1..4 hold a relevant item with
    # probability 1/2 each; (1/2)(1 + i/3)/(i+1) summed over i = 0..3, over 2
    expected = (0.5 + 0.5 * (4 / 3) / 2 + 0.5 * (5 / 3) / 3 + 0.5 * 2 / 4) / 2
    got = tie_averaged_mean_average_precision([0], [0, 1, 0, 1], [[1.5, 1.5, 1.5, 1.5]])
    assert got == pytest.approx(expected, abs=1e-12)
    assert got != pytest.approx(mean_average_precision([0], [0, 1, 0, 1], [[0, 1, 2, 3]]))


def test_tie_averaged_map_without_ties_is_map_of_the_ranking():
    rng = np.random.default_rng(1)
    yq, ydb = rng.integers(0, 4, 20), rng.integers(0, 4, 40)
    distances = np.stack([rng.permutation(40) for _ in range(20)]).astype(float) / 7
    want = mean_average_precision(yq, ydb, rank_by_distance(distances), return_per_query=True)
    got = tie_averaged_mean_average_precision(yq, ydb, distances, return_per_query=True)
    assert got[0] == pytest.approx(want[0], abs=1e-12)
    assert_allclose(got[1], want[1], atol=1e-12)


def test_tie_averaged_map_does_not_depend_on_the_database_order():
    """The index-order mAP of a class-sorted, heavily tied database moves when the
    database is permuted; the tie-averaged one does not, and it lies near the mean
    of the index-order mAP over many random orders."""
    rng = np.random.default_rng(2)
    ydb = np.repeat(np.arange(4), 30)
    yq = rng.integers(0, 4, 25)
    distances = rng.integers(0, 4, (25, 120)) + 2 * (yq[:, None] != ydb[None, :])
    tied = tie_averaged_mean_average_precision(yq, ydb, distances)
    shuffled = []
    for _ in range(200):
        order = rng.permutation(120)
        d = distances[:, order]
        assert tie_averaged_mean_average_precision(yq, ydb[order], d) == pytest.approx(
            tied, abs=1e-12)
        shuffled.append(mean_average_precision(yq, ydb[order], rank_by_distance(d)))
    stored = mean_average_precision(yq, ydb, rank_by_distance(distances))
    assert abs(stored - tied) > 5 * np.std(shuffled) / np.sqrt(len(shuffled))
    assert np.mean(shuffled) == pytest.approx(tied, abs=3 * np.std(shuffled) / np.sqrt(200))


def test_tie_averaged_map_query_without_relevant_item():
    d = [[0, 0, 1], [1, 0, 0]]
    value, ap = tie_averaged_mean_average_precision([0, 7], [0, 1, 0], d,
                                                    return_per_query=True)
    assert ap[1] == 0 and value == pytest.approx(ap[0] / 2)
    skipped, ap = tie_averaged_mean_average_precision([0, 7], [0, 1, 0], d,
                                                      skip_no_relevant=True,
                                                      return_per_query=True)
    assert np.isnan(ap[1]) and skipped == pytest.approx(ap[0])
    with pytest.raises(ValueError, match="No query has a relevant item"):
        tie_averaged_mean_average_precision([7], [0, 1, 0], [[0, 0, 1]],
                                            skip_no_relevant=True)


def test_tie_averaged_map_chunking_does_not_change_result(monkeypatch):
    rng = np.random.default_rng(3)
    yq, ydb = rng.integers(0, 3, 30), rng.integers(0, 3, 50)
    distances = rng.integers(0, 5, (30, 50))
    full = tie_averaged_mean_average_precision(yq, ydb, distances, return_per_query=True)[1]
    monkeypatch.setattr(ranking_module, "_CHUNK_ELEMENTS", 1)
    chunked = tie_averaged_mean_average_precision(yq, ydb, distances,
                                                  return_per_query=True)[1]
    assert_array_equal(full, chunked)


@pytest.mark.parametrize("distances, match", [
    ([[0, 1, 2]], "shape \\(1, 3\\) but the labels give \\(2, 3\\)"),
    ([[0, np.nan, 1], [0, 1, 2]], "contains NaN"),
    ([0, 1, 2], "2-D array"),
    ([["a", "b", "c"], ["a", "b", "c"]], "real numbers"),
])
def test_tie_averaged_map_bad_distances(distances, match):
    with pytest.raises(ValueError, match=match):
        tie_averaged_mean_average_precision([0, 1], [0, 1, 0], distances)


def test_map_error_ranking_not_2d():
    with pytest.raises(ValueError, match="2-D"):
        mean_average_precision([0], [0, 1], [0, 1])


def test_map_error_ranking_not_integer():
    with pytest.raises(ValueError, match="integer"):
        mean_average_precision([0], [0, 1], [[0.0, 1.0]])


def test_map_error_ranking_row_count():
    with pytest.raises(ValueError, match="rows"):
        mean_average_precision([0, 1], [0, 1], [[0, 1]])


def test_map_error_ranking_index_out_of_range():
    with pytest.raises(ValueError, match="outside"):
        mean_average_precision([0], [0, 1], [[0, 2]])


def test_map_error_ranking_negative_index():
    with pytest.raises(ValueError, match="outside"):
        mean_average_precision([0], [0, 1], [[-1, 0]])


def test_map_error_ranking_duplicates():
    with pytest.raises(ValueError, match="row 1 contains duplicate"):
        mean_average_precision([0, 0], [0, 1, 2], [[0, 1], [2, 2]])


def test_map_error_ranking_too_many_columns():
    with pytest.raises(ValueError, match="columns"):
        mean_average_precision([0], [0, 1], [[0, 1, 0]])


@pytest.mark.parametrize("k", [0, 5, -1, 1.5, True])
def test_map_error_bad_k(k):
    with pytest.raises(ValueError, match="k must"):
        mean_average_precision([0], [0, 1, 0], [[0, 1, 2]], k=k)


def test_map_error_bad_normalize():
    with pytest.raises(ValueError, match="normalize"):
        mean_average_precision([0], [0, 1], [[0, 1]], normalize="all")


def test_map_error_label_kinds():
    with pytest.raises(ValueError, match="same kind"):
        mean_average_precision([[1, 0]], [0, 1], [[0, 1]])


# ---------------------------------------------------------------------------
# precision@k, recall@k
# ---------------------------------------------------------------------------


def test_precision_at_k_hand_computed():
    db = [0, 1, 0, 1, 0]
    ranking = [[0, 1, 2, 3, 4],   # label 0: rel non rel non rel
               [0, 2, 1, 4, 3]]   # label 1: non non rel non rel
    assert precision_at_k([0, 1], db, ranking, k=1) == pytest.approx((1 + 0) / 2)
    assert precision_at_k([0, 1], db, ranking, k=3) == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert precision_at_k([0, 1], db, ranking, k=5) == pytest.approx((3 / 5 + 2 / 5) / 2)


def test_recall_at_k_hand_computed():
    db = [0, 1, 0, 1, 0]
    ranking = [[0, 1, 2, 3, 4],   # label 0 (3 relevant): rel non rel non rel
               [0, 2, 1, 4, 3],   # label 1 (2 relevant): non non rel non rel
               [0, 1, 2, 3, 4]]   # label 9: nothing relevant -> recall 0
    assert recall_at_k([0, 1, 9], db, ranking, k=1) == pytest.approx((1 / 3) / 3)
    assert recall_at_k([0, 1, 9], db, ranking, k=3) == pytest.approx((2 / 3 + 1 / 2) / 3)
    assert recall_at_k([0, 1, 9], db, ranking, k=5) == pytest.approx(2 / 3)


def test_precision_recall_at_k_multilabel():
    yq = [[1, 1, 0]]
    ydb = [[0, 0, 1], [0, 1, 1], [1, 0, 0], [0, 0, 1]]  # relevant: 1, 2
    ranking = [[0, 1, 3, 2]]  # non rel non rel
    assert precision_at_k(yq, ydb, ranking, k=2) == pytest.approx(0.5)
    assert recall_at_k(yq, ydb, ranking, k=2) == pytest.approx(0.5)
    assert recall_at_k(yq, ydb, ranking, k=4) == pytest.approx(1.0)


def test_precision_at_k_error_k_too_large():
    with pytest.raises(ValueError, match="k must"):
        precision_at_k([0], [0, 1], [[0, 1]], k=3)


def test_recall_at_k_error_k_zero():
    with pytest.raises(ValueError, match="k must"):
        recall_at_k([0], [0, 1], [[0, 1]], k=0)


# ---------------------------------------------------------------------------
# precision within radius
# ---------------------------------------------------------------------------


def test_precision_within_radius_empty_bucket_counts_zero():
    db = [0, 1, 0, 1]
    neighbors = [np.array([0, 1, 2]),        # label 0: 2 of 3 relevant
                 np.array([], dtype=np.int64),  # empty bucket -> 0
                 np.array([3])]              # label 1: 1 of 1
    assert precision_within_radius([0, 0, 1], db, neighbors) \
        == pytest.approx((2 / 3 + 0 + 1) / 3)


def test_precision_within_radius_object_array_and_lists():
    neighbors = np.empty(2, dtype=object)
    neighbors[0] = np.array([1, 0])
    neighbors[1] = np.array([], dtype=np.intp)
    assert precision_within_radius([1, 1], [0, 1], neighbors) == pytest.approx(0.25)
    assert precision_within_radius([1, 1], [0, 1], [[1, 0], []]) == pytest.approx(0.25)


def test_precision_within_radius_multilabel():
    yq = [[1, 0], [0, 1]]
    ydb = [[1, 1], [1, 0], [0, 0]]
    # q0 retrieves 0, 1, 2 -> 2/3; q1 retrieves 1, 2 -> 0
    assert precision_within_radius(yq, ydb, [[0, 1, 2], [1, 2]]) \
        == pytest.approx((2 / 3) / 2)


def test_precision_within_radius_error_length():
    with pytest.raises(ValueError, match="entries"):
        precision_within_radius([0, 1], [0, 1], [[0]])


def test_precision_within_radius_error_index_range():
    with pytest.raises(ValueError, match="outside"):
        precision_within_radius([0], [0, 1], [[0, 2]])


def test_precision_within_radius_error_not_integer():
    with pytest.raises(ValueError, match="integer"):
        precision_within_radius([0], [0, 1], [[0.5]])


def test_precision_within_radius_error_duplicates():
    with pytest.raises(ValueError, match="duplicate"):
        precision_within_radius([0], [0, 1], [[1, 1]])


# ---------------------------------------------------------------------------
# curves
# ---------------------------------------------------------------------------


def test_precision_recall_curve_at_k_hand_computed():
    db = [0, 1, 0, 1]
    ranking = [[0, 1, 2, 3],   # label 0: rel non rel non (2 relevant)
               [1, 0, 2, 3]]   # label 1: rel non non rel (2 relevant)
    p, r, ks = precision_recall_curve_at_k([0, 1], db, ranking, ks=[1, 2, 4])
    assert_array_equal(ks, [1, 2, 4])
    assert_allclose(p, [1.0, 0.5, 0.5])
    assert_allclose(r, [0.5, 0.5, 1.0])
    for i, k in enumerate(ks):
        assert p[i] == pytest.approx(precision_at_k([0, 1], db, ranking, k))
        assert r[i] == pytest.approx(recall_at_k([0, 1], db, ranking, k))


def test_precision_recall_curve_at_k_default_ks():
    db = np.arange(100) % 2
    ranking = np.arange(100)[None, :]
    p, r, ks = precision_recall_curve_at_k([0], db, ranking)
    assert ks.dtype == np.int64
    assert ks[0] == 1 and ks[-1] == 100 and len(ks) == 20
    assert np.all(np.diff(ks) > 0)
    _, _, ks_small = precision_recall_curve_at_k([0], [0, 1, 0], [[0, 1, 2]])
    assert_array_equal(ks_small, [1, 2, 3])


def test_precision_recall_curve_at_k_error_ks_out_of_range():
    with pytest.raises(ValueError, match="ks must"):
        precision_recall_curve_at_k([0], [0, 1], [[0, 1]], ks=[0, 2])


def test_precision_recall_by_radius_hand_computed():
    db = [0, 1, 0, 1]
    distances = [[0, 1, 2, 2],     # label 0, relevant: 0, 2
                 [3, 3, 3, 3]]     # label 1, relevant: 1, 3
    p, r, radii = precision_recall_by_radius([0, 1], db, distances)
    assert_array_equal(radii, [0, 1, 2, 3])
    # r=0: q0 gets {0} -> p 1, r 1/2; q1 empty -> p 0, r 0
    # r=1: q0 gets {0,1} -> p 1/2, r 1/2; q1 empty
    # r=2: q0 gets all -> p 1/2, r 1; q1 empty
    # r=3: q0 all -> 1/2, 1; q1 all -> 1/2, 1
    assert_allclose(p, [0.5, 0.25, 0.25, 0.5])
    assert_allclose(r, [0.25, 0.25, 0.5, 1.0])


def test_precision_recall_by_radius_custom_radii_and_no_relevant():
    db = [0, 1, 0]
    distances = [[0.5, 1.0, 1.5], [0.0, 0.0, 0.0]]
    # query 1 has label 9: precision 0 when retrieving, recall 0
    p, r, radii = precision_recall_by_radius([0, 9], db, distances, radii=[1.5, 0.7])
    assert_array_equal(radii, [1.5, 0.7])
    assert_allclose(p, [(2 / 3) / 2, (1 / 1) / 2])
    assert_allclose(r, [1.0 / 2, 0.5 / 2])


def test_precision_recall_by_radius_matches_within_radius():
    rng = np.random.default_rng(7)
    yq, ydb = rng.integers(0, 3, 6), rng.integers(0, 3, 20)
    d = rng.integers(0, 9, (6, 20))
    p, r, radii = precision_recall_by_radius(yq, ydb, d)
    for i, rad in enumerate(radii):
        nb = [np.flatnonzero(row <= rad) for row in d]
        assert p[i] == pytest.approx(precision_within_radius(yq, ydb, nb))


def test_precision_recall_by_radius_error_shape():
    with pytest.raises(ValueError, match="shape"):
        precision_recall_by_radius([0], [0, 1], [[0, 1, 2]])


def test_precision_recall_by_radius_error_nan():
    with pytest.raises(ValueError, match="NaN"):
        precision_recall_by_radius([0], [0, 1], [[0.0, np.nan]])


def test_precision_recall_by_radius_error_negative():
    with pytest.raises(ValueError, match="non-negative"):
        precision_recall_by_radius([0], [0, 1], [[0, -1]])


def test_precision_recall_by_radius_error_nan_radii():
    with pytest.raises(ValueError, match="radii"):
        precision_recall_by_radius([0], [0, 1], [[0, 1]], radii=[np.nan])


# ---------------------------------------------------------------------------
# label validation (issue #11)
# ---------------------------------------------------------------------------

_RANKING = [[0, 1, 2], [2, 1, 0]]


@pytest.mark.parametrize("metric", [
    lambda yq, ydb: mean_average_precision(yq, ydb, _RANKING),
    lambda yq, ydb: mean_average_precision(yq, ydb, _RANKING, k=2),
    lambda yq, ydb: precision_at_k(yq, ydb, _RANKING, 2),
    lambda yq, ydb: recall_at_k(yq, ydb, _RANKING, 2),
    lambda yq, ydb: precision_recall_curve_at_k(yq, ydb, _RANKING),
    lambda yq, ydb: precision_within_radius(yq, ydb, [[0], [1, 2]]),
    lambda yq, ydb: precision_recall_by_radius(yq, ydb, [[0, 1, 2], [2, 1, 0]]),
    relevance,
], ids=["map", "map@k", "precision@k", "recall@k", "pr_curve", "precision_radius",
        "pr_radius", "relevance"])
def test_metrics_refuse_bad_labels(metric):
    # continuous values would each be a class of their own
    with pytest.raises(ValueError, match="continuous"):
        metric([0.5, 1.25], [0.5, 1.25, 2.0])
    with pytest.raises(ValueError, match="continuous"):
        metric(np.array([0, 1], dtype=object), np.array([0, 0.5, 1], dtype=object))
    # int query labels vs str database labels: nothing would ever be relevant
    with pytest.raises(ValueError, match="numbers but database_labels are strings"):
        metric([0, 1], ["0", "1", "1"])
    with pytest.raises(ValueError, match="mixes labels of different types"):
        metric(np.array([0, "a"], dtype=object), np.array([0, 1, "a"], dtype=object))
    with pytest.raises(ValueError, match="NaN"):
        metric(np.array([0, np.nan], dtype=object), [0, 1, 1])
    with pytest.raises(ValueError, match="infinity"):
        metric([0.0, np.inf], [0, 1, 1])
    # integral floats, bools and objects of one type are class labels
    metric([0.0, 1.0], [0, 1, 1])
    metric(np.array([True, False]), [1, 0, 0])
    metric(np.array(["a", "b"], dtype=object), np.array(["a", "b", "b"]))


def test_ranked_scores_accumulate_several_normalisations_from_one_ranking():
    from skhash.metrics._ranking import RankedScores, _Labels

    rng = np.random.RandomState(0)
    yq, ydb = rng.randint(0, 3, 20), rng.randint(0, 3, 50)
    ranking = np.argsort(rng.rand(20, 50), axis=1)
    scores = RankedScores(_Labels(yq, ydb), map_ks=(None, 10),
                          also_normalize=("relevant", "min")).add(0, ranking)
    for z in ("retrieved", "relevant", "min"):
        for k in (None, 10):
            assert scores.mean_average_precision(k, normalize=z) == mean_average_precision(
                yq, ydb, ranking, k=k, normalize=z)
    plain = RankedScores(_Labels(yq, ydb), map_ks=(10,)).add(0, ranking)
    with pytest.raises(ValueError, match="also_normalize"):
        plain.mean_average_precision(10, normalize="min")
    with pytest.raises(ValueError, match="normalize must be one of"):
        RankedScores(_Labels(yq, ydb), also_normalize=("average",))
