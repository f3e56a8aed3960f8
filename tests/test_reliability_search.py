"""Reliability (issue #11): searches from several Python threads at once.

numba's workqueue threading layer (chosen so that numba's idle threads do not
slow PyTorch down) aborts the whole interpreter when two threads enter
parallel kernels at once. The searches run in a subprocess, so that an abort
fails this test instead of killing pytest.
"""

import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent(
    """
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from sklearn.frozen import FrozenEstimator

    from skhash.codes import HammingSpace, ProductSpace
    from skhash.datasets import load_digits
    from skhash.hashing import LSHHasher
    from skhash.neighbors import KNeighborsRetriever
    from skhash.quantization import ProductQuantizer

    rng = np.random.default_rng(0)
    hamming = HammingSpace(64)
    Xh = rng.integers(0, 256, size=(20000, 8), dtype=np.uint8)
    Qh = rng.integers(0, 256, size=(200, 8), dtype=np.uint8)
    product = ProductSpace(rng.normal(size=(8, 16, 2)))
    Xp = rng.integers(0, 16, size=(20000, 8), dtype=np.uint8)
    Qp = rng.integers(0, 16, size=(200, 8), dtype=np.uint8)
    Qv = rng.normal(size=(200, 16)).astype(np.float32)

    X, y = load_digits(return_X_y=True)
    lsh = KNeighborsRetriever(LSHHasher(n_bits=32, random_state=0)).fit(X, y)
    pq = ProductQuantizer(M=4, K=16, random_state=0).fit(X)
    pq_sym = KNeighborsRetriever(FrozenEstimator(pq), n_neighbors=5).fit(X, y)
    pq_asym = KNeighborsRetriever(FrozenEstimator(pq), asymmetric=True).fit(X, y)

    searches = [
        lambda: hamming.kneighbors(Qh, Xh, 10),
        lambda: hamming.pairwise(Qh[:50], Xh),
        lambda: hamming.radius_neighbors(Qh[:50], Xh, 20)[1],
        lambda: product.kneighbors(Qp, Xp, 10),
        lambda: product.kneighbors(Qv, Xp, 10, asymmetric=True),
        lambda: product.pairwise(Qp[:50], Xp),
        lambda: lsh.kneighbors(X[:300]),
        lambda: lsh.radius_neighbors(X[:100], radius=4)[1],
        lambda: pq_sym.kneighbors(X[:300]),
        lambda: pq_asym.kneighbors(X[:300]),
    ]
    tasks = [searches[i % len(searches)] for i in range(20)]

    def same(a, b):
        if isinstance(a, tuple):
            return all(same(u, v) for u, v in zip(a, b))
        if a.dtype == object:
            return all(np.array_equal(u, v) for u, v in zip(a, b))
        return np.array_equal(a, b)

    expected = [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            got = list(pool.map(lambda task: task(), tasks))
            assert all(same(g, e) for g, e in zip(got, expected))
    print("CONCURRENT-OK")
    """
)


def test_concurrent_searches_are_safe_and_equal_sequential():
    result = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "CONCURRENT-OK" in result.stdout
