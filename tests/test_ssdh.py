"""SSDHHasher: loss terms, gradients, single- and multi-label training, bad input."""

import joblib
import numpy as np
import pytest
import torch

from skhash.datasets import load_digits, make_multilabel_digits
from skhash.hashing import SSDHHasher
from skhash.hashing._ssdh import SSDHLoss, balance_term, binarization_term, max_margin_loss

LATENT = torch.tensor([[0.2, 0.9], [0.6, 0.5]])
OUTPUTS = torch.tensor([[1.2, 0.3, 0.5], [-0.1, 0.8, 2.0]])
TARGETS = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]])


@pytest.mark.parametrize("p, e2, e3", [(2, 0.065, 0.0025), (1, 0.2, 0.05)])
def test_binarization_and_balance_by_hand(p, e2, e3):
    # |a - .5|^p = [.09, .16, .01, 0] (p=2) or [.3, .4, .1, 0] (p=1), mean over all
    assert binarization_term(LATENT, p).item() == pytest.approx(e2)
    # per-code means .55 and .55 -> |.05|^p
    assert balance_term(LATENT, p).item() == pytest.approx(e3)


@pytest.mark.parametrize("p, expected", [(2, 0.0325), (1, 0.125)])
def test_max_margin_by_hand(p, expected):
    # sample 1: positive 1.2 >= 1 -> 0; negative 0.3 > 0 -> .5*.3^p; missing -> 0
    # sample 2: negative -0.1 -> 0; positive 0.8 -> .5*.2^p; positive 2.0 -> 0
    assert max_margin_loss(OUTPUTS, TARGETS, p).item() == pytest.approx(expected)


def test_missing_labels_contribute_nothing():
    known = max_margin_loss(OUTPUTS[:, :2], TARGETS[:, :2], 2)
    assert max_margin_loss(OUTPUTS, TARGETS, 2).item() == pytest.approx(known.item())


def test_total_loss_combines_terms():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1])
    loss = SSDHLoss(alpha=2.0, beta=3.0, gamma=5.0, p=2)((logits, LATENT), y)
    e1 = torch.nn.functional.cross_entropy(logits, y).item()
    assert loss.item() == pytest.approx(2 * e1 - 3 * 0.065 + 5 * 0.0025)


def _descend(loss_fn, z, steps=20, lr=0.5):
    z = z.clone().requires_grad_(True)
    opt = torch.optim.SGD([z], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(torch.sigmoid(z)).backward()
        opt.step()
    return torch.sigmoid(z).detach()


def test_binarization_gradient_pushes_away_from_half():
    z = torch.tensor([[0.2, -0.3, 0.1, -0.05]])
    loss = SSDHLoss(alpha=0, beta=1, gamma=0)
    a = _descend(lambda a: -binarization_term(a), z)
    before = (torch.sigmoid(z) - 0.5).abs()
    assert ((a - 0.5).abs() > before).all()
    # the full criterion with only beta gives the same direction
    a2 = _descend(lambda a: loss.forward((torch.zeros(1, 2), a), torch.tensor([0])), z)
    assert ((a2 - 0.5).abs() > before).all()


def test_balance_gradient_moves_codes_to_half_ones():
    z = torch.tensor([[2.0, 1.5, 1.0, 2.5]])  # mean activation ~0.85
    loss = SSDHLoss(alpha=0, beta=0, gamma=1)
    a = _descend(lambda a: loss.forward((torch.zeros(1, 2), a), torch.tensor([0])), z, lr=5.0)
    assert abs(a.mean().item() - 0.5) < abs(torch.sigmoid(z).mean().item() - 0.5)


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def _fast(**kw):
    params = dict(n_bits=16, max_epochs=3, random_state=0)
    params.update(kw)
    return SSDHHasher(**params)


def test_single_label_fit_codes_and_predict(digits):
    X, y = digits
    h = _fast(input_shape=(1, 8, 8), max_epochs=12, lr=3e-3).fit(X[:1000], y[:1000])
    assert not h.multilabel_
    bits = h.transform(X[1000:])
    assert bits.dtype == np.uint8 and set(np.unique(bits)) <= {0, 1}
    with torch.no_grad():
        latent = h.net_.module_(torch.from_numpy(X[1000:1010]))[1].numpy()
    np.testing.assert_array_equal(h.transform(X[1000:1010]), (latent > 0.5).astype(np.uint8))
    assert np.mean(h.predict(X[1000:]) == y[1000:]) > 0.8
    assert h.score(X[1000:], y[1000:]) > 0.6
    assert "train_loss" in h.history_[-1]


def test_multilabel_trains_max_margin_and_scores_shared_labels(digits):
    X, y = digits
    Y, names = make_multilabel_digits(y)
    h = _fast(max_epochs=10, lr=3e-3).fit(X[:1000], Y[:1000])
    assert h.multilabel_ and h.net_.criterion_.multilabel
    np.testing.assert_array_equal(h.classes_, np.arange(len(names)))
    pred = h.predict(X[1000:])
    assert pred.shape == (len(X) - 1000, len(names)) and set(np.unique(pred)) <= {0, 1}
    # label-wise accuracy well above chance
    assert np.mean(pred == Y[1000:]) > 0.85
    score = h.score(X[1000:], Y[1000:])
    # relevance = shares a label: a multi-label score differs from the digit-only one
    assert 0.5 < score <= 1 and score != pytest.approx(h.score(X[1000:], y[1000:]))
    with pytest.raises(AttributeError, match="multi-label"):
        h.predict_proba(X[:3])


def test_multilabel_with_missing_labels(digits):
    X, y = digits
    Y, _ = make_multilabel_digits(y[:400])
    Y = Y.astype(int)
    rng = np.random.default_rng(0)
    Y[rng.random(Y.shape) < 0.2] = -1
    Y[np.arange(10), np.arange(10)] = 1  # keep every column positive somewhere
    h = _fast(max_epochs=2).fit(X[:400], Y)
    assert h.multilabel_
    assert np.isfinite(h.history_[-1, "train_loss"])


def test_repeatable_codes(digits):
    X, y = digits
    a = _fast().fit(X[:300], y[:300]).encode(X[300:400])
    b = _fast().fit(X[:300], y[:300]).encode(X[300:400])
    np.testing.assert_array_equal(a, b)


def test_joblib_round_trip(digits, tmp_path):
    X, y = digits
    h = _fast().fit(X[:300], y[:300])
    joblib.dump(h, tmp_path / "h.joblib")
    h2 = joblib.load(tmp_path / "h.joblib")
    np.testing.assert_array_equal(h2.encode(X[:50]), h.encode(X[:50]))
    np.testing.assert_array_equal(h2.predict(X[:50]), h.predict(X[:50]))


@pytest.mark.parametrize(
    "params, target, error, match",
    [
        (dict(), "values", ValueError, "only 0, 1"),
        (dict(), "never_positive", ValueError, "never positive"),
        (dict(p=3), "ok", ValueError, "'p'"),
        (dict(alpha=-1.0), "ok", ValueError, "'alpha'"),
        (dict(beta=-0.5), "ok", ValueError, "'beta'"),
        (dict(gamma=-2), "ok", ValueError, "'gamma'"),
        (dict(gamma="paper"), "ok", ValueError, "'gamma'"),
        (dict(n_bits=0), "ok", ValueError, "'n_bits'"),
        (dict(missing_label=1), "multi", ValueError, "missing_label"),
        (dict(), "one_class", ValueError, "at least 2 classes"),
    ],
)
def test_bad_input(digits, params, target, error, match):
    X, y = digits
    X, y = X[:60], y[:60]
    if target == "values":
        Y, _ = make_multilabel_digits(y)
        Y = Y.astype(int)
        Y[0, 0] = 2
        y = Y
    elif target == "never_positive":
        Y, _ = make_multilabel_digits(y)
        Y[:, 3] = 0
        y = Y
    elif target == "multi":
        y, _ = make_multilabel_digits(y)
    elif target == "one_class":
        y = np.zeros(60, dtype=int)
    with pytest.raises(error, match=match):
        _fast(**params).fit(X, y)


def test_make_multilabel_digits():
    Y, names = make_multilabel_digits(np.array([1, 3, 6]), attributes=("even", "ge5", "round"))
    assert names[-3:] == ["even", "ge5", "round"]
    np.testing.assert_array_equal(Y[:, -3:], [[0, 0, 0], [0, 0, 0], [1, 1, 1]])
    np.testing.assert_array_equal(Y[:, :10].argmax(1), [1, 3, 6])
    with pytest.raises(ValueError, match="unknown attributes"):
        make_multilabel_digits([1], attributes=("odd",))
    with pytest.raises(ValueError, match="0..9"):
        make_multilabel_digits([12])


@pytest.mark.parametrize(
    "input_shape, params, expected",
    [
        ((3, 32, 32), {}, (0.0, 0.0)),          # colour photos: classification alone
        ((3, 32, 32), dict(beta=0.5), (0.5, 0.0)),
        ((1, 32, 32), {}, (1.0, 1.0)),          # grey images keep the paper's weights
        (None, {}, (1.0, 1.0)),                 # vectors too
    ],
)
def test_auto_loss_weights_by_input(input_shape, params, expected):
    rng = np.random.RandomState(0)
    n_features = 64 if input_shape is None else int(np.prod(input_shape))
    X = rng.rand(16, n_features).astype(np.float32)
    y = np.arange(16) % 2
    h = SSDHHasher(n_bits=4, input_shape=input_shape, max_epochs=1, batch_size=8,
                   random_state=0, **params).fit(X, y)
    criterion = h.net_.criterion_
    assert (criterion.beta, criterion.gamma) == expected
    assert h.get_params()["beta"] == params.get("beta", "auto")
