"""Reliability (issue #11): whole-database metrics are streamed in query chunks.

mAP over the whole database (and precision@k, precision-recall curves) used
to hold the full (n_queries, n_database) ranking, ~21 bytes per pair: 1,000
queries over 2,000,000 items needed 15-30 GiB. Now one chunk of queries is
ranked at a time, its metrics accumulated, and the chunk freed, with the same
results and the same tie rule (distance, then database index).
"""

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator

import skhash.codes as code_spaces
from skhash.codes import HammingSpace, ProductSpace
from skhash.datasets import load_digits
from skhash.hashing import LSHHasher
from skhash.metrics import (
    _ranking,
    make_retrieval_scorer,
    mean_average_precision,
    precision_at_k,
    precision_recall_curve_at_k,
    rank_by_distance,
    recall_at_k,
)
from skhash.metrics._scorer import leave_one_out_map, ranking_scores
from skhash.neighbors import KNeighborsRetriever
from skhash.quantization import ProductQuantizer


def _tied_case(kind, seed=0, n_db=300, n_q=40):
    """Codes drawn from a small pool (many exact ties), random labels."""
    rng = np.random.default_rng(seed)
    if kind == "hamming":
        space = HammingSpace(12)
        pool = space.pack(rng.integers(0, 2, size=(10, 12), dtype=np.uint8))
    else:
        space = ProductSpace(rng.normal(size=(2, 4, 3)))
        pool = rng.integers(0, 4, size=(10, 2), dtype=np.uint8)
    X = pool[rng.integers(0, 10, size=n_db)]
    Q = pool[rng.integers(0, 10, size=n_q)]
    return space, Q, X, rng.integers(0, 5, size=n_q), rng.integers(0, 5, size=n_db)


def _self_excluded_ranking(space, X):
    """Leave-one-out ranking by brute force: each item removed from its own row."""
    D = space.pairwise(X, X).astype(np.float64)
    np.fill_diagonal(D, np.inf)
    return rank_by_distance(D)[:, :-1]


@pytest.mark.parametrize("kind", ["hamming", "product"])
@pytest.mark.parametrize("chunk_size", [1, 7, None])
def test_streamed_metrics_equal_full_ranking(kind, chunk_size):
    space, Q, X, yq, ydb = _tied_case(kind)
    chunk = len(Q) if chunk_size is None else chunk_size  # None: all queries at once
    full = rank_by_distance(space.pairwise(Q, X))
    ks = np.array([1, 5, 50, 300])
    scores = ranking_scores(space, Q, X, yq, ydb, map_ks=(None, 20), precision_ks=(10,),
                            curve_ks=ks, chunk_size=chunk)
    assert abs(scores.mean_average_precision() - mean_average_precision(yq, ydb, full)) <= 1e-12
    assert abs(scores.mean_average_precision(20)
               - mean_average_precision(yq, ydb, full, k=20)) <= 1e-12
    assert abs(scores.precision_at_k(10) - precision_at_k(yq, ydb, full, 10)) <= 1e-12
    assert abs(scores.recall_at_k(10) - recall_at_k(yq, ydb, full, 10)) <= 1e-12
    for got, ref in zip(scores.precision_recall_curve(),
                        precision_recall_curve_at_k(yq, ydb, full, ks)):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    # leave-one-out: the database against itself, each item excluded
    loo = ranking_scores(space, X, X, ydb, ydb, exclude_self=True,
                         chunk_size=len(X) if chunk_size is None else chunk_size)
    ref = mean_average_precision(ydb, ydb, _self_excluded_ranking(space, X))
    assert abs(loo.mean_average_precision() - ref) <= 1e-12


def test_streamed_multilabel_equals_full_ranking():
    space, Q, X, yq, ydb = _tied_case("hamming", seed=3)
    rng = np.random.default_rng(3)
    Yq, Ydb = rng.integers(0, 2, size=(len(Q), 4)), rng.integers(0, 2, size=(len(X), 4))
    full = rank_by_distance(space.pairwise(Q, X))
    for chunk in (1, 7, len(Q)):
        got = ranking_scores(space, Q, X, Yq, Ydb, chunk_size=chunk).mean_average_precision()
        assert abs(got - mean_average_precision(Yq, Ydb, full)) <= 1e-12


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:100], y[:100], X[100:700], y[100:700]


@pytest.mark.parametrize("make_encoder", [
    lambda X: LSHHasher(n_bits=16, random_state=0).fit(X),
    lambda X: ProductQuantizer(M=4, K=16, random_state=0).fit(X),
], ids=["hamming", "product"])
def test_whole_database_scores_rank_in_bounded_chunks(monkeypatch, digits, make_encoder):
    Xq, yq, Xdb, ydb = digits
    encoder = make_encoder(Xdb)
    retriever = KNeighborsRetriever(FrozenEstimator(encoder)).fit(Xdb, ydb)
    space, codes = retriever.code_space_, retriever.codes_
    ref_score = mean_average_precision(
        yq, ydb, rank_by_distance(space.pairwise(encoder.encode(Xq), codes)))
    ref_loo = mean_average_precision(ydb, ydb, _self_excluded_ranking(space, codes))

    rows = []
    real = _ranking.rank_by_distance

    def recording(distances):
        rows.append(np.shape(distances)[0])
        return real(distances)

    chunk = 3
    monkeypatch.setattr(_ranking, "rank_by_distance", recording)
    monkeypatch.setattr(code_spaces, "_RANK_CHUNK_ELEMENTS", chunk * len(Xdb))
    assert code_spaces.rank_chunk_rows(len(Xdb)) == chunk

    assert abs(retriever.score(Xq, yq) - ref_score) <= 1e-12
    assert max(rows) <= chunk and sum(rows) == len(Xq)
    rows.clear()
    assert abs(make_retrieval_scorer("map")(retriever, Xq, yq) - ref_score) <= 1e-12
    assert max(rows) <= chunk and sum(rows) == len(Xq)
    rows.clear()
    assert abs(leave_one_out_map(encoder, Xdb, ydb) - ref_loo) <= 1e-12
    assert max(rows) <= chunk and sum(rows) == len(Xdb)
    rows.clear()
    assert abs(make_retrieval_scorer("map")(encoder, Xdb, ydb) - ref_loo) <= 1e-12
    assert max(rows) <= chunk and sum(rows) == len(Xdb)


def test_default_chunk_is_memory_bounded():
    # ~2**23 (query, item) pairs per chunk, at least one query
    assert code_spaces.rank_chunk_rows(2_000_000) == 4
    assert code_spaces.rank_chunk_rows(100_000_000) == 1
    assert code_spaces.rank_chunk_rows(1_000) == 512
