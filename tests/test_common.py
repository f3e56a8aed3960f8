"""Checks every public estimator passes, found by discovery (fast settings).

scikit-learn's conformance suite (known failures would be listed in
``EXPECTED_FAILED_CHECKS``, one reason each: there are none), then skhash's
own common checks: the caller's torch RNG untouched, answers identical in a
fresh process, retriever search equal to the code space's distances,
determinism under a seed, 4-D image input, and a GPU-trained model loaded on
a CPU-only machine. Fast settings per estimator are in ``tests/_estimators.py``.
"""

import copy
import pickle

import numpy as np
import pytest
import torch
from _estimators import INIT_PARAMS, estimator_ids, make
from _persistence import assert_same_in_fresh_process
from _retrieval import assert_retriever_matches_code_space
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhash.datasets import load_digits
from skhash.utils import all_estimators

# estimator class name -> {check name: reason}
EXPECTED_FAILED_CHECKS = {}

IDS = estimator_ids()
_CODERS = {name for name, _ in all_estimators(["hasher", "quantizer"])}
ENCODERS = [i for i in IDS if i.split("[")[0] in _CODERS]
# methods whose answers a fitted estimator must give again after a round trip
METHODS = ("transform", "encode", "embed", "predict", "kneighbors")


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:160], y[:160], X[160:200], y[160:200]


@pytest.fixture(scope="module")
def fitted(digits):
    """Every test variant, fitted once on 160 digits (shared: do not modify)."""
    X, y = digits[:2]
    return {i: make(i).fit(X, y) for i in IDS}


def test_every_public_estimator_has_test_settings():
    names = {name for name, _ in all_estimators()}
    assert names - set(INIT_PARAMS) == set(), "add fast settings to tests/_estimators.py"
    assert set(INIT_PARAMS) - names == set(), "settings for an estimator that is not public"


@parametrize_with_checks([make(i) for i in IDS], expected_failed_checks=_expected_failed_checks)
def test_sklearn_conformance(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator_id", IDS)
def test_global_torch_rng_is_untouched(estimator_id, digits):
    """fit and inference leave the caller's global torch RNG as they found it."""
    X, y = digits[0][:60], digits[1][:60]
    estimator = make(estimator_id)
    torch.manual_seed(12345)
    state = torch.get_rng_state()
    estimator.fit(X, y)
    assert torch.equal(torch.get_rng_state(), state), "fit changed the global torch RNG"
    for name in METHODS:
        if hasattr(estimator, name):
            getattr(estimator, name)(X[:7])
    if hasattr(estimator, "score"):
        estimator.score(X, y)
    assert torch.equal(torch.get_rng_state(), state), "inference changed the global torch RNG"


@pytest.mark.parametrize("estimator_id", IDS)
def test_same_answers_in_a_fresh_process(estimator_id, fitted, digits, tmp_path):
    est = fitted[estimator_id]
    methods = [name for name in METHODS if hasattr(est, name)]
    assert_same_in_fresh_process(est, digits[2], tmp_path, methods)


@pytest.mark.parametrize("estimator_id", ENCODERS)
def test_retriever_matches_code_space(estimator_id, fitted, digits):
    """Searched through a retriever (both ways for product codes), the top-k distances
    are the code space's smallest."""
    est = fitted[estimator_id]
    Xdb, ydb, Xq, yq = digits
    assert_retriever_matches_code_space(
        est, Xq, yq, Xdb, ydb, min_map=0.0,
        modes=(False, True) if est.code_space_.kind == "product" else (False,))


@pytest.mark.parametrize("estimator_id", IDS)
def test_fit_is_deterministic_under_a_seed(estimator_id, fitted, digits):
    X, y, Q, _ = digits
    again = make(estimator_id).fit(X, y)
    for name in METHODS:
        if hasattr(again, name):
            for a, b in zip(np.atleast_1d(getattr(again, name)(Q)),
                            np.atleast_1d(getattr(fitted[estimator_id], name)(Q)), strict=True):
                np.testing.assert_array_equal(a, b, err_msg=name)


IMAGE_ESTIMATORS = [i for i in ENCODERS if "input_shape" in make(i).get_params()]


@pytest.mark.parametrize("estimator_id", IMAGE_ESTIMATORS)
def test_four_d_image_input_is_the_flat_rows(estimator_id, digits):
    """An image estimator takes (n, C, H, W) arrays as its flattened rows."""
    X, y, Q, _ = digits
    est = make(estimator_id).set_params(input_shape=(1, 8, 8), max_epochs=1)
    flat = clone(est).fit(X, y)
    cube = clone(est).fit(X.reshape(-1, 1, 8, 8), y)
    for name in ("transform", "encode", "embed", "predict"):
        if hasattr(flat, name):
            np.testing.assert_array_equal(getattr(cube, name)(Q.reshape(-1, 1, 8, 8)),
                                          getattr(flat, name)(Q), err_msg=name)


DEEP = [i for i in ENCODERS if hasattr(make(i), "_build_module")]


@pytest.mark.parametrize("estimator_id", DEEP)
def test_gpu_pickled_model_loads_on_a_cpu_only_machine(estimator_id, fitted, digits,
                                                       monkeypatch):
    """A model pickled from a GPU run (its net on "cuda") loads and answers on a CPU."""
    Q = digits[2]
    est = copy.deepcopy(fitted[estimator_id])
    est.net_.device = "cuda"  # as if trained on a GPU (the tensors are on the CPU here)
    blob = pickle.dumps(est)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="(?i)cuda"):
        loaded = pickle.loads(blob)
    assert all(p.device.type == "cpu" for p in loaded.net_.module_.parameters())
    np.testing.assert_array_equal(loaded.transform(Q), fitted[estimator_id].transform(Q))


@pytest.mark.parametrize("estimator_id", DEEP)
def test_fitted_network_is_left_in_inference_mode(estimator_id, fitted, digits):
    """After fit, ``net_.module_`` is in eval mode: calling it twice gives the same
    output (no dropout, no augmentation), as transform does."""
    est = fitted[estimator_id]
    module = est.net_.module_
    assert not any(m.training for m in module.modules())
    X = torch.from_numpy(np.asarray(digits[2], dtype=np.float32))
    with torch.no_grad():
        first, second = module(X), module(X)
    first = first if isinstance(first, tuple) else (first,)
    second = second if isinstance(second, tuple) else (second,)
    for a, b in zip(first, second):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
