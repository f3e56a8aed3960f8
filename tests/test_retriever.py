"""KNeighborsRetriever end to end, scorers, persistence."""

import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skhash.datasets import cnnh_split, load_digits
from skhash.hashing import CNNBHHasher
from skhash.metrics import make_retrieval_scorer, mean_average_precision, rank_by_distance
from skhash.neighbors import KNeighborsRetriever


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    split = cnnh_split(y, n_queries_per_class=20, n_train=None, random_state=0)
    return X[split.query], y[split.query], X[split.database], y[split.database]


@pytest.fixture(scope="module")
def retriever(data):
    _, _, Xdb, ydb = data
    hasher = CNNBHHasher(n_bits=24, input_shape=(1, 8, 8), max_epochs=12, lr=3e-3,
                         random_state=0)
    return KNeighborsRetriever(hasher, n_neighbors=7).fit(Xdb, ydb)


def test_kneighbors_matches_brute_force(retriever, data):
    Xq, _, Xdb, _ = data
    dist, ind = retriever.kneighbors(Xq)
    assert dist.shape == ind.shape == (len(Xq), 7)
    bits_q = retriever.encoder_.transform(Xq)
    bits_db = retriever.encoder_.transform(Xdb)
    D = (bits_q[:, None, :] != bits_db[None]).sum(-1)
    order = rank_by_distance(D)[:, :7]
    np.testing.assert_array_equal(ind, order)
    np.testing.assert_array_equal(dist, np.take_along_axis(D, order, 1))
    ind_only = retriever.kneighbors(Xq[:5], n_neighbors=3, return_distance=False)
    np.testing.assert_array_equal(ind_only, ind[:5, :3])


def test_kneighbors_on_database_excludes_self(retriever):
    dist, ind = retriever.kneighbors(n_neighbors=4)
    assert ind.shape == (retriever.n_samples_fit_, 4)
    assert not (ind == np.arange(len(ind))[:, None]).any()
    assert (np.diff(dist, axis=1) >= 0).all()


def test_radius_neighbors_hamming(retriever, data):
    Xq, _, Xdb, _ = data
    dist, ind = retriever.radius_neighbors(Xq[:10], radius=2)
    bits_q = retriever.encoder_.transform(Xq[:10])
    bits_db = retriever.encoder_.transform(Xdb)
    D = (bits_q[:, None, :] != bits_db[None]).sum(-1)
    for q in range(10):
        assert set(ind[q]) == set(np.flatnonzero(D[q] <= 2))
        assert (dist[q] <= 2).all()
    own = retriever.radius_neighbors(radius=0, return_distance=False)
    assert all(q not in own[q] for q in range(len(own)))


def test_predict_and_score(retriever, data):
    Xq, yq, _, _ = data
    proba = retriever.predict_proba(Xq)
    assert proba.shape == (len(Xq), 10)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    acc = np.mean(retriever.predict(Xq) == yq)
    assert acc > 0.8
    score = retriever.score(Xq, yq)
    # score = mAP over the whole database, Hamming ranking, ties by index
    codes_q = retriever.encoder_.encode(Xq)
    D = retriever.code_space_.pairwise(codes_q, retriever.codes_)
    ref = mean_average_precision(yq, retriever.classes_[retriever._y], rank_by_distance(D))
    assert score == pytest.approx(ref)
    assert 0.6 < score <= 1.0


def test_distance_weights_vote(retriever, data):
    from sklearn.base import clone

    Xq, yq, Xdb, ydb = data
    r = clone(retriever).set_params(weights="distance").fit(Xdb, ydb)
    assert np.mean(r.predict(Xq) == yq) > 0.8


def test_frozen_prefit_encoder_is_not_refitted(retriever, data):
    Xq, yq, Xdb, ydb = data
    encoder = retriever.encoder_
    frozen = KNeighborsRetriever(FrozenEstimator(encoder), n_neighbors=7).fit(Xdb[:200], ydb[:200])
    assert frozen.encoder_.estimator is encoder
    np.testing.assert_array_equal(frozen.codes_, retriever.codes_[:200])


def test_pipeline_encoder(data):
    Xq, yq, Xdb, ydb = data
    pipe = Pipeline([("scale", StandardScaler()),
                     ("hash", CNNBHHasher(n_bits=16, max_epochs=2, random_state=0))])
    r = KNeighborsRetriever(pipe, n_neighbors=3).fit(Xdb, ydb)
    assert r.kneighbors(Xq[:4])[1].shape == (4, 3)


def test_multilabel_database_vote(data, retriever):
    Xq, yq, Xdb, ydb = data
    from sklearn.frozen import FrozenEstimator

    Y = np.stack([ydb % 2 == 0, ydb >= 5, ydb == 3], axis=1).astype(int)
    r = KNeighborsRetriever(FrozenEstimator(retriever.encoder_), n_neighbors=5).fit(Xdb, Y)
    proba = r.predict_proba(Xq)
    assert proba.shape == (len(Xq), 3)
    pred = r.predict(Xq)
    assert set(np.unique(pred)) <= {0, 1}
    Yq = np.stack([yq % 2 == 0, yq >= 5, yq == 3], axis=1).astype(int)
    assert 0 < r.score(Xq, Yq) <= 1


def test_gridsearch_with_retrieval_scorer(data):
    Xq, yq, Xdb, ydb = data
    grid = GridSearchCV(
        CNNBHHasher(max_epochs=2, random_state=0),
        {"n_bits": [8, 16]},
        scoring=make_retrieval_scorer("map", k=20),
        cv=2,
    ).fit(Xdb[:400], ydb[:400])
    assert grid.best_params_["n_bits"] in (8, 16)
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    r = GridSearchCV(
        KNeighborsRetriever(CNNBHHasher(max_epochs=2, random_state=0), n_neighbors=3),
        {"n_neighbors": [1, 3]},
        scoring=make_retrieval_scorer("precision_within_radius", radius=2),
        cv=2,
    ).fit(Xdb[:400], ydb[:400])
    assert 0 <= r.best_score_ <= 1


def test_scorer_leave_one_out_excludes_self(retriever, data):
    _, _, Xdb, ydb = data
    encoder = retriever.encoder_
    scorer = make_retrieval_scorer("precision_at_k", k=1)
    # with the item itself excluded, P@1 is the 1-NN label agreement, not 1.0
    p1 = scorer(encoder, Xdb, ydb)
    ind = retriever.kneighbors(n_neighbors=1, return_distance=False)
    assert p1 == pytest.approx(np.mean(ydb[ind[:, 0]] == ydb))
    assert encoder.score(Xdb, ydb) == pytest.approx(make_retrieval_scorer()(encoder, Xdb, ydb))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda r, X: r.kneighbors(X, n_neighbors=10_000), "larger than the database"),
        (lambda r, X: r.kneighbors(X, n_neighbors=0), "positive integer"),
        (lambda r, X: r.kneighbors(X[:, :10]), "features"),
        (lambda r, X: r.kneighbors(np.full_like(X, np.nan)), "NaN"),
    ],
)
def test_bad_search_input(retriever, data, call, match):
    with pytest.raises(ValueError, match=match):
        call(retriever, data[0])


def test_search_before_fit_and_without_labels(data):
    from sklearn.exceptions import NotFittedError

    Xq, yq, Xdb, ydb = data
    r = KNeighborsRetriever(CNNBHHasher(max_epochs=1, random_state=0))
    with pytest.raises(NotFittedError):
        r.kneighbors(Xq)
    with pytest.raises(ValueError, match="requires y"):
        r.fit(Xdb)


def test_asymmetric_needs_product_codes(data):
    _, _, Xdb, ydb = data
    with pytest.raises(ValueError, match="product codes"):
        KNeighborsRetriever(CNNBHHasher(max_epochs=1, random_state=0),
                            asymmetric=True).fit(Xdb[:100], ydb[:100])


def test_joblib_round_trip_in_fresh_process(retriever, data, tmp_path):
    Xq = data[0]
    joblib.dump(retriever, tmp_path / "r.joblib")
    np.save(tmp_path / "Xq.npy", Xq)
    code = (
        "import joblib, numpy as np;"
        f"r = joblib.load(r'{tmp_path / 'r.joblib'}');"
        f"d, i = r.kneighbors(np.load(r'{tmp_path / 'Xq.npy'}'));"
        f"np.save(r'{tmp_path / 'i.npy'}', i); np.save(r'{tmp_path / 'd.npy'}', d)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    d, i = retriever.kneighbors(Xq)
    np.testing.assert_array_equal(np.load(tmp_path / "i.npy"), i)
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), d)


def test_gridsearch_over_pipeline_with_scorer(data):
    _, _, Xdb, ydb = data
    pipe = Pipeline([("scale", StandardScaler()),
                     ("h", CNNBHHasher(max_epochs=1, random_state=0))])
    grid = GridSearchCV(pipe, {"h__n_bits": [4, 8]}, scoring=make_retrieval_scorer("map"),
                        cv=2).fit(Xdb[:300], ydb[:300])
    assert set(grid.cv_results_["param_h__n_bits"]) == {4, 8}
    assert 0 < grid.best_score_ <= 1


# ---------------------------------------------------------------------------
# issue #11: labels, prefit encoders without labels
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pq_retriever(data):
    from skhash.quantization import ProductQuantizer

    _, _, Xdb, ydb = data
    pq = ProductQuantizer(M=4, K=16, random_state=0).fit(Xdb)
    return KNeighborsRetriever(FrozenEstimator(pq), n_neighbors=5).fit(Xdb, ydb)


def test_fit_refuses_bad_labels(pq_retriever, data):
    _, _, Xdb, ydb = data
    r = KNeighborsRetriever(pq_retriever.encoder)
    with_nan = ydb.astype(float)
    with_nan[3] = np.nan
    with pytest.raises(ValueError, match="y contains NaN"):
        r.fit(Xdb, with_nan)  # was: a class `nan`
    continuous = np.random.default_rng(0).normal(size=len(ydb))
    with pytest.raises(ValueError, match="continuous"):
        r.fit(Xdb, continuous)  # was: one class per distinct value
    mixed = ydb.astype(object)
    mixed[ydb > 4] = [str(v) for v in ydb[ydb > 4]]
    with pytest.raises(ValueError, match="mixes labels"):
        r.fit(Xdb, mixed)
    # integral floats and strings are class labels
    assert r.fit(Xdb, ydb.astype(float)).classes_.tolist() == list(range(10))
    assert r.fit(Xdb, ydb.astype(str)).predict(Xdb[:2]).dtype.kind == "U"


def test_score_refuses_bad_labels(pq_retriever, data):
    Xq, yq, _, _ = data
    with pytest.raises(ValueError, match="strings but database_labels are numbers"):
        pq_retriever.score(Xq, yq.astype(str))  # was: mAP 0.0 silently
    with pytest.raises(ValueError, match="continuous"):
        pq_retriever.score(Xq, yq + 0.5)
    with pytest.raises(ValueError, match="NaN"):
        pq_retriever.score(Xq, np.full(len(Xq), np.nan))
    with pytest.raises(ValueError, match="query labels"):
        pq_retriever.score(Xq, yq[:-1])
    assert 0 < pq_retriever.score(Xq, yq.astype(float)) <= 1


def test_prefit_encoder_without_labels(data):
    from skhash.quantization import ProductQuantizer

    Xq, _, Xdb, _ = data
    pq = ProductQuantizer(M=4, K=16, random_state=0).fit(Xdb)
    # was: TypeError: FrozenEstimator.fit() missing 1 required positional argument: 'y'
    r = KNeighborsRetriever(FrozenEstimator(pq), n_neighbors=3).fit(Xdb)
    np.testing.assert_array_equal(r.codes_, pq.transform(Xdb))
    assert r.kneighbors(Xq[:4])[1].shape == (4, 3)
    with pytest.raises(ValueError, match="without y"):
        r.score(Xq, np.zeros(len(Xq)))
    scaler = StandardScaler().fit(Xdb)
    pq_scaled = ProductQuantizer(M=4, K=16, random_state=0).fit(scaler.transform(Xdb))
    pipe = Pipeline([("scale", FrozenEstimator(scaler)), ("pq", FrozenEstimator(pq_scaled))])
    r = KNeighborsRetriever(pipe, n_neighbors=3).fit(Xdb)
    np.testing.assert_array_equal(r.codes_, pq_scaled.transform(scaler.transform(Xdb)))
    frozen_pipe = KNeighborsRetriever(FrozenEstimator(Pipeline([("scale", scaler),
                                                                 ("pq", pq_scaled)]))).fit(Xdb)
    np.testing.assert_array_equal(frozen_pipe.codes_, r.codes_)
