"""Training reliability of the deep estimators (issue #11): divergence stops
with a clear error, Ctrl-C ends training early with a usable model, a failed
or interrupted refit never leaves a half-fitted estimator, bad layer widths
are named, and codes do not depend on the batch an item is encoded in."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import check_methods_subset_invariance
from skorch.callbacks import Callback

from skhash.base import TrainingDivergedError
from skhash.datasets import load_digits
from skhash.hashing import CNNBHHasher, SSDHHasher
from skhash.quantization import (
    DeepQuanHasher,
    DeepSOMQuantizer,
    DPQQuantizer,
    SelfOrganizingMap,
    _deepquan,
)
from skhash.quantization._pq import fit_codebooks

SOM_FIT = SelfOrganizingMap.fit


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300].astype(np.float32), y[:300]


def _cnnbh(**kw):
    return CNNBHHasher(**{**dict(n_bits=8, hidden_units=(32,), max_epochs=4, batch_size=64,
                                 random_state=0), **kw})


def _ssdh(**kw):
    return SSDHHasher(**{**dict(n_bits=8, hidden_units=(32,), max_epochs=4, batch_size=64,
                                random_state=0), **kw})


def _dpq(**kw):
    return DPQQuantizer(**{**dict(M=2, K=8, embedding_dim=16, part_hidden_units=(),
                                  hidden_units=(32,), max_epochs=4, batch_size=64,
                                  random_state=0), **kw})


def _dq(**kw):
    # min_stability=0: always fine-tune, whatever the tiny code's stability
    return DeepQuanHasher(**{**dict(M=2, K=8, hidden_units=(32,), pretrain_epochs=3,
                                    max_epochs=3, batch_size=64, kmeans_max_iter=5,
                                    min_stability=0.0, random_state=0), **kw})


def _dsom(**kw):
    return DeepSOMQuantizer(**{**dict(map_shape=(4, 4), n_alternations=2, alternation_epochs=1,
                                      max_epochs=3, som_n_iter=200, hidden_units=(32,),
                                      batch_size=64, random_state=0), **kw})


class InterruptAt(Callback):
    """Ctrl-C at the end of training batch ``batch`` of epoch ``epoch`` (both
    1-based; epochs counted over the net's whole history, all phases)."""

    def __init__(self, epoch, batch=1):
        self.epoch = epoch
        self.batch = batch

    def on_batch_end(self, net, training=False, **kwargs):
        batches = net.history[-1, "batches"]
        if (training and len(net.history) == self.epoch
                and sum("train_loss" in b for b in batches) == self.batch):
            raise KeyboardInterrupt


class CorruptBeforeValidation(Callback):
    """Set the first weight of the module to NaN before the validation of epoch
    ``epoch``: only the validation loss can see it."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training and len(net.history) == self.epoch:
            with torch.no_grad():
                next(net.module_.parameters()).fill_(float("nan"))


class CorruptAt(Callback):
    """At the start of epoch ``epoch`` (or, with ``at_end``, at its end: after its
    last batch), set the first weight of the module to ``value``."""

    def __init__(self, epoch, value=float("nan"), at_end=False):
        self.epoch = epoch
        self.value = value
        self.at_end = at_end

    def _corrupt(self, net):
        if len(net.history) == self.epoch:
            with torch.no_grad():
                next(net.module_.parameters()).fill_(self.value)

    def on_epoch_begin(self, net, **kwargs):
        if not self.at_end:
            self._corrupt(net)

    def on_epoch_end(self, net, **kwargs):
        if self.at_end:
            self._corrupt(net)


def _som_spy(monkeypatch, raise_on=()):
    """Record the features of every SOM fit; Ctrl-C in the calls numbered
    ``raise_on`` (1-based; "all": every call)."""
    calls = []

    def fit(som, Z, y=None):
        calls.append(np.array(Z))
        if raise_on == "all" or len(calls) in raise_on:
            raise KeyboardInterrupt
        return SOM_FIT(som, Z, y)

    monkeypatch.setattr(SelfOrganizingMap, "fit", fit)
    return calls


def _kmeans_spy(monkeypatch, raise_on=()):
    """Record (Z, init, codebooks) of every k-means of DeepQuan; Ctrl-C in the
    calls numbered ``raise_on`` (1-based; "all": every call). The gate's
    stability measure (its own k-means) is replaced by a constant 1.0."""
    calls = []
    monkeypatch.setattr(DeepQuanHasher, "_code_stability", lambda self, Z: 1.0)

    def spy(Z, M, K, **kw):
        calls.append({"Z": np.array(Z), "init": kw["init"]})
        if raise_on == "all" or len(calls) in raise_on:
            raise KeyboardInterrupt
        out = fit_codebooks(Z, M, K, **kw)
        calls[-1]["codebooks"] = out[0]
        return out

    monkeypatch.setattr(_deepquan, "fit_codebooks", spy)
    return calls


def _fit(est, *args):
    """``est.fit(*args)``, failing the test (not stopping pytest) if Ctrl-C escapes."""
    try:
        return est.fit(*args)
    except KeyboardInterrupt:
        pytest.fail("the KeyboardInterrupt escaped fit instead of ending training early")


def _assert_usable(est, X, y):
    codes = est.transform(X)
    assert codes.shape[0] == X.shape[0]
    assert est.encode(X).shape[0] == X.shape[0]
    assert 0.0 <= est.score(X, y) <= 1.0
    assert est.interrupted_
    assert est.history_[-1]["interrupted"] is True
    return codes


def _assert_som_matches_network(q, X, som_calls):
    """The SOM of ``q`` was fitted last, on the final network's features of X."""
    np.testing.assert_array_equal(som_calls[-1], q.embed(X))
    np.testing.assert_array_equal(q.codebooks_[0], q.som_.codebooks_[0])
    np.testing.assert_array_equal(q.net_.module_.codewords.numpy(), q.som_.codebooks_[0])


def _assert_kmeans_matches_network(dq, X, kmeans_calls):
    """The codebooks of ``dq`` come from a k-means on the final network's codes of X."""
    np.testing.assert_allclose(kmeans_calls[-1]["Z"], dq.embed(X), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(dq.codebooks_, kmeans_calls[-1]["codebooks"])


# ---------------------------------------------------------------- divergence
@pytest.mark.parametrize("make", [_cnnbh, _dpq, _dq, _dsom],
                         ids=["CNNBH", "DPQ", "DeepQuan", "DeepSOM"])
def test_divergence_is_a_clear_error_and_leaves_no_model(make, digits):
    X, y = digits
    est = make(optimizer="sgd", lr=1e6, max_epochs=2)
    with pytest.raises(TrainingDivergedError, match=r"epoch 1, batch \d+.*smaller lr") as info:
        est.fit(X, y)
    assert isinstance(info.value, FloatingPointError) and isinstance(info.value, ValueError)
    assert "lr=1e+06" in str(info.value)
    assert not hasattr(est, "net_")
    with pytest.raises(NotFittedError):
        est.transform(X)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_finite_loss_that_blows_up_is_divergence(optimizer, digits):
    """SSDH's sigmoid layer saturates at lr=1e6: the loss stays finite but grows a million-fold."""
    X, y = digits
    est = _ssdh(optimizer=optimizer, lr=1e6, max_epochs=2)
    message = r"epoch 1, batch \d+: the training loss rose to .* from .* first batch"
    with pytest.raises(TrainingDivergedError, match=message):
        est.fit(X, y)
    assert not hasattr(est, "net_")


def test_a_learning_run_is_not_called_diverged(digits):
    """The blow-up rule leaves ordinary training (loss falling from its first batch) alone."""
    X, y = digits
    est = _ssdh(max_epochs=3).fit(X, y)
    assert est.history_[-1, "train_loss"] < est.history_[0, "batches"][0]["train_loss"]


def test_divergence_names_the_phase_of_a_multi_phase_schedule(digits):
    X, y = digits
    # DeepQuan: fine-tuning only (no pre-training), then a diverging fine-tuning round
    with pytest.raises(TrainingDivergedError, match=r"fine-tuning, round 1 of 1"):
        _dq(optimizer="sgd", lr=1e6, pretrain_epochs=0, max_epochs=1).fit(X)
    with pytest.raises(TrainingDivergedError, match=r"epoch 3, batch 1 \(fine-tuning, round 2"):
        _dq(pretrain_epochs=1, callbacks=[CorruptAt(3)]).fit(X)
    # DeepSOM: pre-training is fine, the second alternation round diverges
    with pytest.raises(TrainingDivergedError, match=r"epoch 5, batch 1 \(alternation 2 of 2\)"):
        _dsom(callbacks=[CorruptAt(5)]).fit(X, y)


def test_non_finite_weights_after_a_phase_are_caught(digits):
    """A weight going NaN after the last batch of a phase: no loss sees it."""
    X, y = digits
    with pytest.raises(TrainingDivergedError,
                       match=r"epoch 3 \(pre-training\): the module's weight .* holds NaN"):
        _dsom(callbacks=[CorruptAt(3, at_end=True)]).fit(X, y)
    with pytest.raises(TrainingDivergedError, match=r"weight .* holds NaN"):
        _cnnbh(callbacks=[CorruptAt(4, at_end=True)]).fit(X, y)


def test_non_finite_features_before_som_or_kmeans_are_caught(digits):
    """Finite but huge weights: the features overflow before the SOM / k-means."""
    X, y = digits
    with pytest.raises(TrainingDivergedError, match="before the SOM training"):
        _dsom(callbacks=[CorruptAt(3, value=3e38, at_end=True)]).fit(X, y)
    with pytest.raises(TrainingDivergedError, match="before k-means"):
        _dq(callbacks=[CorruptAt(3, value=3e38, at_end=True)]).fit(X)


def test_diverging_refit_keeps_the_previous_model(digits):
    X, y = digits
    est = _cnnbh().fit(X, y)
    codes, net = est.transform(X), est.net_
    est.set_params(optimizer="sgd", lr=1e6)
    with pytest.raises(TrainingDivergedError):
        est.fit(X, y)
    assert est.net_ is net and not est.interrupted_
    np.testing.assert_array_equal(est.transform(X), codes)


def test_validation_loss_is_checked(digits):
    X, y = digits
    with pytest.raises(TrainingDivergedError, match=r"epoch 2, batch 1: the validation loss"):
        _cnnbh(validation_fraction=0.2, callbacks=[CorruptBeforeValidation(2)]).fit(X, y)


# ---------------------------------------------------------------- Ctrl-C
@pytest.mark.parametrize("make", [_cnnbh, _ssdh, _dpq], ids=["CNNBH", "SSDH", "DPQ"])
def test_interrupt_ends_training_with_a_usable_model(make, digits):
    X, y = digits
    est = _fit(make(callbacks=[InterruptAt(epoch=2, batch=2)]), X, y)
    assert len(est.history_) == 2
    _assert_usable(est, X, y)
    assert len(est.predict(X)) == len(X)
    full = _fit(make(), X, y)
    assert not full.interrupted_ and len(full.history_) == 4
    assert "interrupted" not in full.history_[-1]


def test_deepsom_interrupt_in_pretraining_skips_the_alternations(digits, monkeypatch):
    X, y = digits
    som_calls = _som_spy(monkeypatch)
    q = _fit(_dsom(callbacks=[InterruptAt(epoch=2)]), X, y)
    assert len(q.history_) == 2  # no third pre-training epoch, no alternation
    assert len(som_calls) == 1  # the SOM, on the pre-trained network
    _assert_usable(q, X, y)
    _assert_som_matches_network(q, X, som_calls)


def test_deepsom_interrupt_in_an_alternation_refits_the_som(digits, monkeypatch):
    X, y = digits
    som_calls = _som_spy(monkeypatch)
    q = _fit(_dsom(callbacks=[InterruptAt(epoch=4)]), X, y)  # alternation 1
    assert len(q.history_) == 4
    assert len(som_calls) == 2  # after pre-training; then on the network as interrupted
    _assert_usable(q, X, y)
    _assert_som_matches_network(q, X, som_calls)


def test_deepsom_interrupt_in_the_som_phase(digits, monkeypatch):
    X, y = digits
    # Ctrl-C in the SOM retrained after alternation 1: alternation 2 is skipped
    som_calls = _som_spy(monkeypatch, raise_on=(2,))
    q = _fit(_dsom(), X, y)
    assert len(q.history_) == 3 + 1
    assert len(som_calls) == 3  # first SOM, the interrupted one, the one that completes
    _assert_usable(q, X, y)
    _assert_som_matches_network(q, X, som_calls)


def test_deepquan_interrupt_in_pretraining_skips_fine_tuning(digits, monkeypatch):
    X, y = digits
    calls = _kmeans_spy(monkeypatch)
    dq = _fit(_dq(callbacks=[InterruptAt(epoch=2)]), X)
    assert len(dq.history_) == 2
    assert len(calls) == 1 and calls[0]["init"] is None  # only the final k-means
    _assert_usable(dq, X, y)
    _assert_kmeans_matches_network(dq, X, calls)


def test_deepquan_interrupt_in_fine_tuning(digits, monkeypatch):
    X, y = digits
    calls = _kmeans_spy(monkeypatch)
    dq = _fit(_dq(callbacks=[InterruptAt(epoch=4)]), X)  # fine-tuning round 1
    assert len(dq.history_) == 4
    assert len(calls) == 2  # after pre-training; the final one, warm-started from it
    np.testing.assert_array_equal(calls[1]["init"], calls[0]["codebooks"])
    _assert_usable(dq, X, y)
    _assert_kmeans_matches_network(dq, X, calls)


def test_deepquan_interrupt_in_kmeans(digits, monkeypatch):
    X, y = digits
    calls = _kmeans_spy(monkeypatch, raise_on=(1,))  # the k-means after pre-training
    dq = _fit(_dq(), X)
    assert len(dq.history_) == 3  # no fine-tuning
    assert len(calls) == 2 and calls[1]["init"] is None
    _assert_usable(dq, X, y)
    _assert_kmeans_matches_network(dq, X, calls)


def test_deepquan_interrupt_in_the_stability_measure(digits, monkeypatch):
    X, y = digits

    def interrupted(self, Z):
        raise KeyboardInterrupt

    monkeypatch.setattr(DeepQuanHasher, "_code_stability", interrupted)
    dq = _fit(_dq(), X)
    assert len(dq.history_) == 3  # no fine-tuning
    assert dq.code_stability_ is None and not dq.fine_tuned_
    _assert_usable(dq, X, y)


def test_interrupted_refit_replaces_the_whole_state(digits, monkeypatch):
    X, y = digits
    q = _fit(_dsom(), X, y)
    old = dict(vars(q))
    som_calls = _som_spy(monkeypatch)
    _fit(q.set_params(random_state=1, callbacks=[InterruptAt(epoch=2)]), X, y)
    assert q.net_ is not old["net_"] and q.som_ is not old["som_"]
    assert len(q.history_) == 2 and len(som_calls) == 1
    assert q.interrupted_
    _assert_som_matches_network(q, X, som_calls)
    assert not np.array_equal(q.codebooks_, old["codebooks_"])


@pytest.mark.parametrize("refit", [False, True], ids=["first_fit", "refit"])
def test_ctrl_c_in_the_final_steps_leaves_the_previous_state(refit, digits, monkeypatch):
    """A second Ctrl-C (in the SOM / k-means that would make the state
    consistent) stops fit, and the estimator is exactly as before."""
    X, y = digits
    q, dq = _dsom(), _dq()
    if refit:
        q.fit(X, y).set_params(random_state=1)
        dq.fit(X).set_params(random_state=1)
    before = {id(est): dict(vars(est)) for est in (q, dq)}
    codes = [est.transform(X) for est in (q, dq)] if refit else None
    _som_spy(monkeypatch, raise_on="all")
    _kmeans_spy(monkeypatch, raise_on="all")
    with pytest.raises(KeyboardInterrupt):
        q.fit(X, y)
    with pytest.raises(KeyboardInterrupt):
        dq.fit(X)
    for i, est in enumerate((q, dq)):
        state = before[id(est)]
        assert vars(est).keys() == state.keys()
        assert all(vars(est)[k] is v for k, v in state.items())
        if refit:
            np.testing.assert_array_equal(est.transform(X), codes[i])
        else:
            with pytest.raises(NotFittedError):
                est.transform(X)


# ---------------------------------------------------------------- layer widths
@pytest.mark.parametrize(
    "make, param",
    [(_cnnbh, "hidden_units"), (_ssdh, "hidden_units"), (_dpq, "hidden_units"),
     (_dsom, "hidden_units"), (_dpq, "part_hidden_units"),
     (_dq, "hidden_units")],
)
@pytest.mark.parametrize("value, error", [((0,), ValueError), ((16, -5), ValueError),
                                          (("a",), TypeError), ((8.5,), TypeError),
                                          ((True,), TypeError)])
def test_bad_layer_widths_name_the_parameter(make, param, value, error, digits):
    X, y = digits
    with pytest.raises(error, match=param):
        make(**{param: value}).fit(X, y)


def test_empty_layer_widths_are_allowed(digits):
    X, y = digits
    _dpq(part_hidden_units=(), hidden_units=(), max_epochs=1).fit(X, y)


# ---------------------------------------------------------------- batch invariance
@pytest.mark.parametrize(
    "estimator",
    [DeepSOMQuantizer(random_state=0), CNNBHHasher(random_state=0), SSDHHasher(random_state=0),
     DPQQuantizer(random_state=0), DeepQuanHasher(K=8, pretrain_epochs=2, max_epochs=2,
                                                   random_state=0)],
    ids=lambda est: type(est).__name__,
)
def test_methods_subset_invariance_with_default_parameters(estimator):
    check_methods_subset_invariance(type(estimator).__name__, clone(estimator))


def test_deepsom_code_is_a_function_of_the_item_alone(digits):
    """Exact ties between two codewords go to the lower node, whatever the batch."""
    X, y = digits
    q = _dsom(n_alternations=0).fit(X, y)
    codes = q.transform(X)[:, 0].astype(int)
    a, b = np.unique(codes)[:2]  # two nodes in use, a < b: node a becomes a copy of node b
    q.codebooks_[0][a] = q.codebooks_[0][b]
    q.net_.module_.set_codewords(q.codebooks_[0])
    tied = np.flatnonzero(codes == b)  # these rows now tie between a and b
    batch = q.transform(X)[:, 0]
    alone = np.array([q.transform(X[i:i + 1])[0, 0] for i in tied])
    np.testing.assert_array_equal(batch[tied], alone)
    assert (batch[tied] == a).all()
