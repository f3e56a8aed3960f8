"""Test helper: a fitted encoder searched through a retriever, both ways."""

import numpy as np
from sklearn.frozen import FrozenEstimator

from skhash.neighbors import KNeighborsRetriever


def assert_retriever_matches_code_space(encoder, Xq, yq, Xdb, ydb, min_map, n_neighbors=5,
                                        modes=(False, True)):
    """Symmetric and asymmetric search (each of ``modes``): the retriever's
    top-k distances are the smallest code-space distances, and its mAP exceeds
    ``min_map``."""
    for asymmetric in modes:
        r = KNeighborsRetriever(FrozenEstimator(encoder), n_neighbors=n_neighbors,
                                asymmetric=asymmetric).fit(Xdb, ydb)
        dist, _ = r.kneighbors(Xq)
        q = encoder.embed(Xq) if asymmetric else encoder.encode(Xq)
        D = encoder.code_space_.pairwise(q, r.codes_, asymmetric=asymmetric)
        np.testing.assert_allclose(dist, np.sort(D, axis=1)[:, :n_neighbors],
                                   rtol=1e-5, atol=1e-6)
        assert min_map < r.score(Xq, yq) <= 1
