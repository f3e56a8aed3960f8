"""Fast settings for every public estimator, found by discovery.

``INIT_PARAMS`` maps each estimator's class name to its test variants
(variant name -> constructor parameters; a parameter given as a function of
no arguments, such as an encoder factory, is called afresh for each
instance). ``tests/test_common.py`` fails when a public estimator has no
entry, so a new estimator gets the conformance suite and skhash's common
checks by adding one line here.
"""

from skhash.hashing import CNNBHHasher
from skhash.quantization import DPQQuantizer
from skhash.utils import all_estimators

FAST = dict(max_epochs=2, hidden_units=(8,), batch_size=32, random_state=0)


def _dpq():
    return DPQQuantizer(M=2, K=4, embedding_dim=8, part_hidden_units=(), **FAST)


def _cnnbh():
    return CNNBHHasher(n_bits=8, **FAST)


INIT_PARAMS = {
    "CNNBHHasher": {"": dict(n_bits=8, **FAST)},
    "SSDHHasher": {"": dict(n_bits=8, **FAST)},
    "ITQHasher": {"": dict(n_bits=2, n_iter=5, random_state=0)},
    "LSHHasher": {"": dict(n_bits=3, random_state=0)},
    "DPQQuantizer": {"": dict(M=2, K=4, embedding_dim=8, part_hidden_units=(), **FAST)},
    "DeepQuanHasher": {"": dict(M=1, K=3, code_dim=2, hidden_units=(8,), pretrain_epochs=1,
                                max_epochs=2, batch_size=32, kmeans_max_iter=5,
                                min_stability=0.0, random_state=0)},
    "ProductQuantizer": {"": dict(M=1, K=3, max_iter=10, random_state=0)},
    "DeepSOMQuantizer": {"": dict(map_shape=(2, 3), n_alternations=1, som_n_iter=50,
                                  **FAST)},
    "SelfOrganizingMap": {"": dict(map_shape=(2, 3), n_iter=100, random_state=0)},
    "GIST": {"": dict(orientations_per_scale=(2, 2), n_blocks=2, boundary_extension=4)},
    "KNeighborsRetriever": {
        "hamming": dict(encoder=_cnnbh, n_neighbors=3),
        "asymmetric": dict(encoder=_dpq, n_neighbors=3, asymmetric=True),
    },
}


def _build(cls, params):
    return cls(**{k: v() if callable(v) and not isinstance(v, type) else v
                  for k, v in params.items()})


def estimator_ids():
    """``"Name"`` or ``"Name[variant]"`` of every test variant of every public estimator."""
    return [name + (f"[{variant}]" if variant else "")
            for name, _ in all_estimators() for variant in INIT_PARAMS.get(name, {})]


def make(estimator_id):
    """A fresh, unfitted instance of the test variant ``estimator_id``."""
    name, _, variant = estimator_id.partition("[")
    cls = dict(all_estimators())[name]
    return _build(cls, INIT_PARAMS[name][variant.rstrip("]")])


def instances(kind=None):
    """Fresh instances of every test variant (of estimators of ``kind``)."""
    names = {name for name, _ in all_estimators(kind)}
    return [make(i) for i in estimator_ids() if i.partition("[")[0] in names]
