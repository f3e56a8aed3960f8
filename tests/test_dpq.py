"""DPQQuantizer: lookup tables vs brute force, straight-through, Gini terms, pipeline use."""

import numpy as np
import pytest
import torch
from _retrieval import assert_retriever_matches_code_space
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skhash.datasets import cnnh_split, load_digits
from skhash.metrics import make_retrieval_scorer
from skhash.quantization import DPQQuantizer
from skhash.quantization._dpq import DPQLoss, DPQModule, gini_batch, gini_sample


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    s = cnnh_split(y, n_queries_per_class=20, n_train=None, random_state=0)
    return X[s.query], y[s.query], X[s.database], y[s.database]


def _fast(**kw):
    params = dict(M=4, K=16, embedding_dim=64, part_hidden_units=(32,), max_epochs=10,
                  lr=3e-3, random_state=0)
    params.update(kw)
    return DPQQuantizer(**params)


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "intra_norm"])
def fitted(request, data):
    _, _, Xdb, ydb = data
    return _fast(intra_normalization=request.param).fit(Xdb, ydb)


def test_codes_and_shapes(fitted, data):
    Xq = data[0]
    codes = fitted.transform(Xq)
    assert codes.shape == (len(Xq), 4) and codes.dtype == np.uint8
    assert codes.max() < 16
    assert fitted.inverse_transform(codes).shape == (len(Xq), 4 * 16)
    assert fitted.embed(Xq).shape == (len(Xq), 64)
    assert fitted.codebooks_.shape == (4, 16, 16)


def test_symmetric_tables_are_squared_l2_between_hard_vectors(fitted, data):
    Xq, _, Xdb, _ = data
    qc, dc = fitted.transform(Xq[:20]), fitted.transform(Xdb[:50])
    hq, hd = fitted.inverse_transform(qc), fitted.inverse_transform(dc)
    brute = ((hq[:, None] - hd[None]) ** 2).sum(-1)
    np.testing.assert_allclose(fitted.code_space_.pairwise(qc, dc), brute, rtol=1e-4, atol=1e-4)


def test_asymmetric_tables_are_squared_l2_soft_vs_hard(fitted, data):
    Xq, _, Xdb, _ = data
    soft = fitted.embed(Xq[:20])
    dc = fitted.transform(Xdb[:50])
    brute = ((soft[:, None] - fitted.inverse_transform(dc)[None]) ** 2).sum(-1)
    got = fitted.code_space_.pairwise(soft, dc, asymmetric=True)
    np.testing.assert_allclose(got, brute, rtol=1e-4, atol=1e-4)


def test_hard_representation_is_the_decoded_code(fitted, data):
    Xq = data[0][:30]
    with torch.no_grad():
        out = fitted.net_.forward(Xq)
    np.testing.assert_allclose(out[3].numpy(), fitted.inverse_transform(fitted.transform(Xq)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[2].numpy(), fitted.embed(Xq), rtol=1e-5, atol=1e-6)


def test_lut_classifier_equals_classifier_on_hard_vectors(fitted, data):
    Xq = data[0]
    codes = fitted.transform(Xq)
    hard = torch.from_numpy(fitted.inverse_transform(codes))
    with torch.no_grad():
        ref = fitted.net_.module_.classifier(hard).numpy()
    np.testing.assert_allclose(fitted.decision_function(Xq), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(fitted.predict(Xq), fitted.classes_[ref.argmax(1)])
    np.testing.assert_array_equal(fitted.predict_from_codes(codes), fitted.predict(Xq))


def test_learns(fitted, data):
    Xq, yq, _, _ = data
    assert np.mean(fitted.predict(Xq) == yq) > 0.8
    assert fitted.score(Xq, yq) > 0.6


def test_straight_through_gradient_reaches_p():
    torch.manual_seed(0)
    from skhash.nn import MLPBackbone

    module = DPQModule(MLPBackbone(5, (8,)), embedding_dim=8, M=2, K=4, codeword_dim=3,
                       part_hidden_units=(), n_classes=3)
    x = torch.randn(6, 5)
    _, logits_hard, _, hard, p = module(x)
    # the hard vectors are exact codewords ...
    C = module.codebooks().detach()
    idx = p.argmax(-1)
    expected = torch.cat([C[m][idx[:, m]] for m in range(2)], dim=1)
    torch.testing.assert_close(hard.detach(), expected)
    # ... yet a loss on them back-propagates to the assignment MLPs through p
    torch.nn.functional.cross_entropy(logits_hard, torch.tensor([0, 1, 2, 0, 1, 2])).backward()
    for part in module.parts:
        assert part[-1].weight.grad is not None and part[-1].weight.grad.abs().sum() > 0


def test_gini_terms_by_hand():
    p = torch.tensor([[[0.5, 0.5], [1.0, 0.0]],
                      [[1.0, 0.0], [0.0, 1.0]]])  # (n=2, M=2, K=2)
    # part 0: batch mean [.75, .25] -> .625; part 1: [.5, .5] -> .5; mean over parts
    assert gini_batch(p).item() == pytest.approx(0.5625)
    # -sum_k p^2 per (sample, part): -.5, -1, -1, -1 -> mean -.875
    assert gini_sample(p).item() == pytest.approx(-0.875)


def test_loss_combines_terms_and_learns_centers():
    torch.manual_seed(0)
    loss = DPQLoss(3, 4, softmax_soft=1, softmax_hard=2, joint_central=0.5, gini_batch=3,
                   gini_sample=4)
    p = torch.softmax(torch.randn(5, 2, 3), -1)
    out = (torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 4), torch.randn(5, 4), p)
    y = torch.tensor([0, 1, 2, 0, 1])
    t = loss.terms(out, y)
    expected = t["softmax_soft"] + 2 * t["softmax_hard"] + 0.5 * t["joint_central"] \
        + 3 * t["gini_batch"] + 4 * t["gini_sample"]
    total = loss(out, y)
    assert total.item() == pytest.approx(expected.item())
    central = ((out[2] ** 2).sum(1) + (out[3] ** 2).sum(1)).mean()  # centers start at 0
    assert t["joint_central"].item() == pytest.approx(central.item())
    total.backward()
    assert loss.centers.grad.abs().sum() > 0


def test_retriever_symmetric_and_asymmetric(fitted, data):
    assert_retriever_matches_code_space(fitted, *data, min_map=0.5)


def test_mission_pipeline_and_gridsearch(data):
    Xq, yq, Xdb, ydb = data
    pipe = Pipeline([("scale", StandardScaler()), ("q", DPQQuantizer(M=4, K=64))])
    pipe.fit(Xdb, ydb)
    assert pipe.transform(Xq).shape == (len(Xq), 4)
    assert np.mean(pipe.predict(Xq) == yq) > 0.8
    pipe.set_params(q__max_epochs=2, q__embedding_dim=64)
    grid = GridSearchCV(pipe, {"q__M": [2, 4], "q__K": [16, 64]},
                        scoring=make_retrieval_scorer("map"), cv=2).fit(Xdb, ydb)
    assert len(grid.cv_results_["mean_test_score"]) == 4
    assert 0 < grid.best_score_ <= 1
    asym = make_retrieval_scorer("map", asymmetric=True)(grid.best_estimator_, Xq, yq)
    assert 0 < asym <= 1


def test_discards_units_when_m_does_not_divide_embedding(data):
    _, _, Xdb, ydb = data
    q = _fast(M=6, K=4, max_epochs=1).fit(Xdb[:200], ydb[:200])
    assert q.net_.module_.part_width == 64 // 6
    assert q.transform(Xdb[:3]).shape == (3, 6)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(K=1), "'K'"),
        (dict(M=0), "'M'"),
        (dict(M=65), "M=65 parts"),
        (dict(joint_central=-1.0), "'joint_central'"),
    ],
)
def test_bad_parameters(data, params, match):
    _, _, Xdb, ydb = data
    with pytest.raises(ValueError, match=match):
        _fast(max_epochs=1, **params).fit(Xdb[:100], ydb[:100])


def test_inverse_transform_rejects_out_of_range_codes(fitted):
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        fitted.inverse_transform(np.array([[0, 1, 2, 16]]))
    with pytest.raises(ValueError, match="shape"):
        fitted.inverse_transform(np.array([[0, 1]]))


def test_asymmetric_needs_continuous_queries(fitted, data):
    codes = fitted.transform(data[0][:3])
    with pytest.raises(ValueError, match="continuous"):
        fitted.code_space_.kneighbors(codes, codes, 1, asymmetric=True)


