"""Display objects: the plotted values are the metric functions' output."""

import doctest

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skhash import ITQHasher, LSHHasher, ProductQuantizer  # noqa: E402
from skhash.metrics import (  # noqa: E402
    CodeLengthDisplay,
    PrecisionAtKDisplay,
    RetrievalPrecisionRecallDisplay,
    _plot,
    mean_average_precision,
    precision_at_k,
    precision_recall_by_radius,
    precision_recall_curve_at_k,
    precision_within_radius,
)


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    return X[:200], y[:200], X[200:900], y[200:900]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _line(display):
    return display.line_.get_xdata(), display.line_.get_ydata()


def test_pr_display_from_estimator_equals_the_metrics(data, tmp_path):
    Xq, yq, Xd, yd = data
    itq = make_pipeline(StandardScaler(), ITQHasher(n_bits=16, random_state=0)).fit(Xd)
    codes_q, codes_d = itq.transform(Xq), itq.transform(Xd)
    hasher = itq[-1]
    dist = hasher.code_space_.pairwise(hasher.encode(itq[0].transform(Xq)),
                                       hasher.encode(itq[0].transform(Xd)))
    ranking = np.argsort(dist, axis=1, kind="stable")
    ks = np.array([1, 10, 50, 200, 700])
    display = RetrievalPrecisionRecallDisplay.from_estimator(itq, Xq, yq, Xd, yd, cutoffs=ks)
    p, r, _ = precision_recall_curve_at_k(yq, yd, ranking, ks=ks)
    x, y = _line(display)
    np.testing.assert_allclose(y, p)
    np.testing.assert_allclose(x, r)
    assert display.mean_average_precision == pytest.approx(
        mean_average_precision(yq, yd, ranking))
    assert "ITQHasher (mAP = " in display.ax_.get_legend().get_texts()[0].get_text()
    assert display.figure_ is display.ax_.figure
    # by radius: Hamming lookup
    by_r = RetrievalPrecisionRecallDisplay.from_estimator(itq, Xq, yq, Xd, yd, by="radius",
                                                          ax=display.ax_)
    p_r, r_r, radii = precision_recall_by_radius(yq, yd, dist)
    np.testing.assert_allclose(by_r.line_.get_ydata(), p_r)
    np.testing.assert_allclose(by_r.cutoffs, radii)
    assert by_r.ax_ is display.ax_ and len(display.ax_.lines) == 2  # one axes, two curves
    display.figure_.savefig(tmp_path / "pr.png")
    assert (tmp_path / "pr.png").stat().st_size > 0
    assert codes_q.shape[1] == codes_d.shape[1] == 16


def test_pr_display_from_predictions_and_errors():
    ranking = [[0, 1, 2, 3], [1, 0, 3, 2]]
    d = RetrievalPrecisionRecallDisplay.from_predictions([0, 1], [0, 1, 0, 1], ranking=ranking)
    p, r, ks = precision_recall_curve_at_k([0, 1], [0, 1, 0, 1], ranking)
    np.testing.assert_allclose(_line(d)[1], p)
    np.testing.assert_array_equal(d.cutoffs, ks)
    with pytest.raises(ValueError, match="exactly one of ranking"):
        RetrievalPrecisionRecallDisplay.from_predictions([0], [0, 1], plot=False)
    with pytest.raises(ValueError, match="same length"):
        RetrievalPrecisionRecallDisplay([1, 0.5], [0.5])
    pq = ProductQuantizer(M=2, K=4, random_state=0).fit(np.random.default_rng(0).random((50, 4)))
    with pytest.raises(ValueError, match="by='radius' is hash lookup"):
        RetrievalPrecisionRecallDisplay.from_estimator(
            pq, np.zeros((2, 4)), [0, 1], np.zeros((3, 4)), [0, 1, 0], by="radius")
    with pytest.raises(TypeError, match="not a fitted skhash encoder"):
        RetrievalPrecisionRecallDisplay.from_estimator(
            StandardScaler().fit(np.zeros((2, 4))), np.zeros((2, 4)), [0, 1],
            np.zeros((3, 4)), [0, 1, 0])


def test_precision_at_k_display(data):
    Xq, yq, Xd, yd = data
    pq = ProductQuantizer(M=4, K=16, random_state=0).fit(Xd)
    ks = np.array([1, 5, 25, 100])
    sym = PrecisionAtKDisplay.from_estimator(pq, Xq, yq, Xd, yd, ks=ks, name="sym")
    asym = PrecisionAtKDisplay.from_estimator(pq, Xq, yq, Xd, yd, ks=ks, asymmetric=True,
                                              name="asym", ax=sym.ax_)
    space = pq.code_space_
    for display, asymmetric in ((sym, False), (asym, True)):
        q = pq.embed(Xq) if asymmetric else pq.encode(Xq)
        dist = space.pairwise(q, pq.encode(Xd), asymmetric=asymmetric)
        ranking = np.argsort(dist, axis=1, kind="stable")
        expected = [precision_at_k(yq, yd, ranking, k) for k in ks]
        np.testing.assert_allclose(display.line_.get_ydata(), expected)
        np.testing.assert_array_equal(display.line_.get_xdata(), ks)
        pred = PrecisionAtKDisplay.from_predictions(yq, yd, ranking, ks=ks, plot=False)
        np.testing.assert_allclose(pred.precision, expected)
    assert [t.get_text() for t in sym.ax_.get_legend().get_texts()] == ["sym", "asym"]
    assert sym.ax_.get_ylabel() == "Precision@k"


@pytest.mark.parametrize("metric", ["map", "precision_within_radius"])
def test_code_length_display(data, metric):
    Xq, yq, Xd, yd = data
    _, ax = plt.subplots()
    for cls in (ITQHasher, LSHHasher):  # two methods on one axes
        encoders = [cls(n_bits=b, random_state=0).fit(Xd) for b in (8, 16, 4)]
        display = CodeLengthDisplay.from_estimators(encoders, Xq, yq, Xd, yd, metric=metric,
                                                    ax=ax)
        expected = []
        for e in encoders:
            dist = e.code_space_.pairwise(e.encode(Xq), e.encode(Xd))
            if metric == "map":
                expected.append(mean_average_precision(
                    yq, yd, np.argsort(dist, axis=1, kind="stable")))
            else:
                expected.append(precision_within_radius(
                    yq, yd, [np.flatnonzero(row <= 2) for row in dist]))
        np.testing.assert_allclose(display.values, expected)
        x, y = _line(display)
        np.testing.assert_array_equal(x, [4, 8, 16])  # drawn in order of length
        np.testing.assert_allclose(y, np.array(expected)[[2, 0, 1]])
    assert len(ax.lines) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ITQHasher", "LSHHasher"]
    d = CodeLengthDisplay.from_predictions([12, 24], [0.5, 0.6], k=100, name="paper")
    assert d.ax_.get_ylabel() == "mAP@100"
    with pytest.raises(ValueError, match="metric must be one of"):
        CodeLengthDisplay([1], [1], metric="auc")


def test_display_docstring_examples():
    result = doctest.testmod(_plot, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_a_clear_error_without_matplotlib(monkeypatch):
    import skhash.plotting as plotting

    def missing():
        raise ImportError("skhash.plotting needs matplotlib, an optional dependency")

    monkeypatch.setattr(plotting, "_pyplot", missing)
    display = PrecisionAtKDisplay([1, 2], [1.0, 0.5])
    with pytest.raises(ImportError, match="needs matplotlib"):
        display.plot()
