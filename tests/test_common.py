"""scikit-learn's conformance suite on every public estimator (fast settings).

Known failures are listed in ``EXPECTED_FAILED_CHECKS``, one reason each.
"""

import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhash.datasets import load_digits
from skhash.hashing import CNNBHHasher, ITQHasher, LSHHasher, SSDHHasher
from skhash.neighbors import KNeighborsRetriever
from skhash.quantization import (
    DeepQuanHasher,
    DeepSOMQuantizer,
    DPQQuantizer,
    ProductQuantizer,
    SelfOrganizingMap,
)

FAST = dict(max_epochs=2, hidden_units=(8,), batch_size=32, random_state=0)


def _estimators():
    yield CNNBHHasher(n_bits=8, **FAST)
    yield SSDHHasher(n_bits=8, **FAST)
    yield DPQQuantizer(M=2, K=4, embedding_dim=8, part_hidden_units=(), **FAST)
    yield KNeighborsRetriever(
        DPQQuantizer(M=2, K=4, embedding_dim=8, part_hidden_units=(), **FAST), n_neighbors=3,
        asymmetric=True,
    )
    yield KNeighborsRetriever(CNNBHHasher(n_bits=8, **FAST), n_neighbors=3)
    yield ProductQuantizer(M=1, K=3, max_iter=10, random_state=0)
    yield DeepQuanHasher(M=1, K=3, code_dim=2, hidden_layer_sizes=(8,), pretrain_epochs=1,
                         max_epochs=2, batch_size=32, kmeans_iter=5, random_state=0)
    yield DeepSOMQuantizer(map_shape=(2, 3), n_alternations=1, som_iterations=50, **FAST)
    yield SelfOrganizingMap((2, 3), n_iterations=100, random_state=0)
    yield ITQHasher(n_bits=2, n_iter=5, random_state=0)
    yield LSHHasher(n_bits=3, random_state=0)


# estimator class name -> {check name: reason}
EXPECTED_FAILED_CHECKS = {}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(list(_estimators()), expected_failed_checks=_expected_failed_checks)
def test_sklearn_conformance(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", list(_estimators()), ids=lambda est: type(est).__name__)
def test_global_torch_rng_is_untouched(estimator):
    """fit and inference leave the caller's global torch RNG as they found it."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:60], y[:60]
    torch.manual_seed(12345)
    state = torch.get_rng_state()
    estimator.fit(X, y)
    assert torch.equal(torch.get_rng_state(), state), "fit changed the global torch RNG"
    for name in ("transform", "encode", "embed", "predict", "kneighbors"):
        if hasattr(estimator, name):
            getattr(estimator, name)(X[:7])
    estimator.score(X, y)
    assert torch.equal(torch.get_rng_state(), state), "inference changed the global torch RNG"
