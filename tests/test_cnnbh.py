"""CNNBHHasher: behaviour, determinism, bad input, persistence."""

import subprocess
import sys

import joblib
import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skhash.datasets import load_digits
from skhash.hashing import CNNBHHasher


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X, y


def _fast(**kw):
    params = dict(n_bits=16, max_epochs=3, random_state=0)
    params.update(kw)
    return CNNBHHasher(**params)


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    return _fast(input_shape=(1, 8, 8), max_epochs=15, lr=3e-3).fit(X[:1000], y[:1000])


def test_codes_shapes_and_values(fitted, digits):
    X, _ = digits
    bits = fitted.transform(X[:10])
    assert bits.shape == (10, 16) and bits.dtype == np.uint8
    assert set(np.unique(bits)) <= {0, 1}
    packed = fitted.encode(X[:10])
    assert packed.shape == (10, 2) and packed.dtype == np.uint8
    np.testing.assert_array_equal(np.unpackbits(packed, axis=1, count=16), bits)


def test_hash_is_sign_of_knob_layer(fitted, digits):
    X, _ = digits
    with torch.no_grad():
        fitted.net_.module_.eval()
        knob = fitted.net_.module_.latent(fitted.net_.module_.backbone(torch.from_numpy(X[:20])))
    np.testing.assert_array_equal(fitted.transform(X[:20]), (knob.numpy() > 0).astype(np.uint8))


def test_uses_cnn_backbone_for_images(fitted):
    assert any(isinstance(m, torch.nn.Conv2d) for m in fitted.net_.module_.modules())
    assert fitted.net_.history[-1, "epoch"] == 15


def test_learns_something(fitted, digits):
    X, y = digits
    acc = np.mean(fitted.predict(X[1000:]) == y[1000:])
    assert acc > 0.8
    assert fitted.score(X[1000:], y[1000:]) > 0.6
    proba = fitted.predict_proba(X[1000:1010])
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)


def test_string_labels(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    h = _fast(max_epochs=1).fit(X[:200], names[y[:200]])
    assert set(h.predict(X[:20])) <= set(names)


def test_repeatable_and_global_rng_untouched(digits):
    X, y = digits
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = _fast().fit(X[:300], y[:300]).transform(X[300:400])
    assert torch.equal(torch.get_rng_state(), state)
    b = _fast().fit(X[:300], y[:300]).transform(X[300:400])
    c = _fast(random_state=1).fit(X[:300], y[:300]).transform(X[300:400])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_validation_split_and_early_stopping(digits):
    X, y = digits
    h = _fast(validation_fraction=0.2, early_stopping=True, n_iter_no_change=2,
              max_epochs=30, lr=0.05).fit(X[:400], y[:400])
    hist = h.history_
    assert "valid_loss" in hist[0]
    # early stopping may stop before max_epochs; the best epoch is restored
    assert len(hist) <= 30


class _CountEpochs(Callback):
    def initialize(self):
        self.epochs_seen_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_seen_ += 1
        net.history.record("seen", self.epochs_seen_)


def test_callbacks_are_cloned_per_fit(digits):
    X, y = digits
    cb = _CountEpochs()
    h = _fast(max_epochs=2, callbacks=[cb]).fit(X[:200], y[:200])
    assert h.history_[-1, "seen"] == 2
    assert not hasattr(cb, "epochs_seen_")  # the user's instance was not used
    h.fit(X[:200], y[:200])
    assert h.history_[-1, "seen"] == 2  # a fresh copy per fit


def test_verbose_prints_progress(digits, capsys):
    X, y = digits
    _fast(max_epochs=2, verbose=1).fit(X[:200], y[:200])
    out = capsys.readouterr()
    assert "train_loss" in out.out


def test_batch_of_one_is_dropped(digits):
    X, y = digits
    # 33 samples, batch 32: a last batch of one would be dropped
    h = _fast(max_epochs=1, batch_size=32).fit(X[:33], y[:33])
    assert h.history_[-1, "batches", -1, "train_batch_size"] == 32


@pytest.mark.parametrize(
    "params, X_kind, error, match",
    [
        (dict(), "nan", ValueError, "NaN"),
        (dict(), "inf", ValueError, "infinity"),
        (dict(), "1d", ValueError, "2D array"),
        (dict(input_shape=(1, 7, 7)), "ok", ValueError, "input_shape"),
        (dict(input_shape=(0, 8, 8)), "ok", ValueError, "input_shape"),
        (dict(input_shape="square"), "ok", Exception, "input_shape"),
        (dict(n_bits=0), "ok", ValueError, "n_bits"),
        (dict(device="cuda"), "ok", ValueError, "CUDA is not available"),
        (dict(device="tpu"), "ok", ValueError, "device"),
        (dict(early_stopping=True), "ok", ValueError, "validation_fraction"),
        (dict(optimizer="rmsprop"), "ok", ValueError, "optimizer"),
    ],
)
def test_bad_input_at_fit(digits, params, X_kind, error, match, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = digits
    X = X[:50].copy()
    if X_kind == "nan":
        X[3, 4] = np.nan
    elif X_kind == "inf":
        X[3, 4] = np.inf
    elif X_kind == "1d":
        X = X[:, 0]
    with pytest.raises(error, match=match):
        _fast(**params).fit(X, y[:50])


def test_single_class_is_rejected(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="at least 2 classes"):
        _fast().fit(X[:20], np.zeros(20))


def test_wrong_width_and_unfitted(fitted, digits):
    from sklearn.exceptions import NotFittedError

    X, _ = digits
    with pytest.raises(ValueError, match="features"):
        fitted.transform(X[:5, :60])
    with pytest.raises(NotFittedError):
        _fast().transform(X[:5])


def test_joblib_round_trip_in_fresh_process(fitted, digits, tmp_path):
    X, _ = digits
    path = tmp_path / "hasher.joblib"
    joblib.dump(fitted, path)
    np.save(tmp_path / "X.npy", X[:50])
    code = (
        "import joblib, numpy as np, sys;"
        f"h = joblib.load(r'{path}');"
        f"X = np.load(r'{tmp_path / 'X.npy'}');"
        f"np.save(r'{tmp_path / 'codes.npy'}', h.encode(X));"
        f"np.save(r'{tmp_path / 'pred.npy'}', h.predict(X))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "codes.npy"), fitted.encode(X[:50]))
    np.testing.assert_array_equal(np.load(tmp_path / "pred.npy"), fitted.predict(X[:50]))


def test_mlp_backbone_for_vectors(digits):
    X, y = digits
    h = _fast(max_epochs=1, hidden_units=(32, 16)).fit(X[:100], y[:100])
    assert not any(isinstance(m, torch.nn.Conv2d) for m in h.net_.module_.modules())
    assert h.net_.module_.backbone.out_features == 16


def test_four_dimensional_image_input(digits):
    X, y = digits
    images = X[:120].reshape(-1, 1, 8, 8)
    h = _fast(max_epochs=1).fit(images, y[:120])
    assert any(isinstance(m, torch.nn.Conv2d) for m in h.net_.module_.modules())
    np.testing.assert_array_equal(h.transform(images), h.transform(X[:120]))
    with pytest.raises(ValueError, match="images of shape"):
        h.transform(X[:4].reshape(-1, 1, 4, 16))
    with pytest.raises(ValueError, match="expects input_shape"):
        _fast(max_epochs=1, input_shape=(1, 4, 16)).fit(images, y[:120])


# ------------------------------------------------------- colour photos: the CIFAR recipe
def _colour_images(n=24, seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1], n // 2)
    X = rng.rand(n, 3 * 32 * 32).astype(np.float32) * 0.5
    X[y == 1, :1024] += 0.5  # class 1 is redder
    return X, y


def test_colour_defaults_recipe():
    """On 32x32x3 input "auto" means crops + flips, the one-cycle schedule peaking at 2e-3,
    weight decay 5e-4, and Table 2's dropout on the paper network; transform stays
    deterministic (augmentation is training-only)."""
    from skhash.nn import RandomShift

    X, y = _colour_images()
    hasher = CNNBHHasher(n_bits=12, input_shape=(3, 32, 32), max_epochs=3, batch_size=8,
                         backbone="cnnbh_cifar", random_state=0).fit(X, y)
    module = hasher.net_.module_
    assert isinstance(module.augment, RandomShift)
    assert module.augment.max_shift == 4 and module.augment.flip
    assert module.dropout.p == 0.2  # Table 2 at 12 bits
    lrs = [b["event_lr"] for epoch in hasher.history_ for b in epoch["batches"]]
    assert len(lrs) == 3 * 3  # stepped per batch, 3 batches of 8 per epoch
    peak = int(np.argmax(lrs))
    assert max(lrs) == pytest.approx(2e-3, rel=0.05) and 0 < peak < len(lrs) - 1
    assert lrs[0] < max(lrs) and lrs[-1] < lrs[0]  # warm-up, then annealing
    assert hasher.net_.optimizer_.param_groups[0]["weight_decay"] == 5e-4
    assert np.array_equal(hasher.transform(X), hasher.transform(X))


@pytest.mark.parametrize("steps, expected", [(6, 3), (100, 4), (1, 2)])
def test_auto_epochs_are_a_step_budget_on_colour_photos(monkeypatch, steps, expected):
    """max_epochs="auto" on colour photos: ceil(steps / batches per epoch) epochs,
    at least the default, at most the cap (the class attributes, shrunk here)."""
    monkeypatch.setattr(CNNBHHasher, "_default_epochs", 2)
    monkeypatch.setattr(CNNBHHasher, "_colour_max_epochs", 4)
    monkeypatch.setattr(CNNBHHasher, "_colour_steps", steps)
    X, y = _colour_images(16)
    hasher = CNNBHHasher(n_bits=8, input_shape=(3, 32, 32), batch_size=8, random_state=0,
                         backbone="cnnbh_cifar").fit(X, y)
    assert hasher.max_epochs_ == expected and len(hasher.history_) == expected
    # the one-cycle schedule spans exactly those epochs: it ends near zero
    lrs = [b["event_lr"] for epoch in hasher.history_ for b in epoch["batches"]]
    assert len(lrs) == 2 * expected and lrs[-1] < 0.01 * max(lrs)
    # grey images: the default, whatever the step budget
    Xg, yg = load_digits(return_X_y=True)
    grey = CNNBHHasher(n_bits=8, input_shape=(1, 8, 8), random_state=0).fit(Xg[:64], yg[:64])
    assert grey.max_epochs_ == 2
    # an explicit max_epochs is used as given
    explicit = CNNBHHasher(n_bits=8, input_shape=(3, 32, 32), batch_size=8, max_epochs=1,
                           backbone="cnnbh_cifar", random_state=0).fit(X, y)
    assert explicit.max_epochs_ == 1 and len(explicit.history_) == 1


def test_grey_defaults_unchanged():
    """Grey images keep the MNIST recipe: the paper's 32C5-MP2-32C5-MP2 network, no
    augmentation, constant lr, dropout 0.5."""
    X, y = load_digits(return_X_y=True)
    hasher = CNNBHHasher(n_bits=8, input_shape=(1, 8, 8), max_epochs=2, random_state=0)
    hasher.fit(X[:200], y[:200])
    module = hasher.net_.module_
    convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(32, (5, 5)), (32, (5, 5))]
    assert module.augment is None and module.dropout.p == 0.5
    assert "event_lr" not in hasher.history_[-1]["batches"][0]
    group = hasher.net_.optimizer_.param_groups[0]
    assert group["lr"] == 1e-3 and group["weight_decay"] == 0.0
