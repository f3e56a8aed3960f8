"""``skhash.dask``: lazy encoding of dask arrays and an exact sharded search."""

import numpy as np
import pytest

from skhash import ITQHasher, ProductQuantizer
from skhash.datasets import load_digits

da = pytest.importorskip("dask.array", reason='dask is optional: pip install "dask[array]"')
skdask = pytest.importorskip("skhash.dask")

X, Y = load_digits(return_X_y=True)
X_DB, X_Q = X[200:], X[:200]


@pytest.fixture(scope="module")
def encoders():
    return {"hamming": ITQHasher(n_bits=12, random_state=0).fit(X_DB),  # 12 bits: many ties
            "product": ProductQuantizer(4, 16, random_state=0).fit(X_DB)}


@pytest.mark.parametrize("kind, method", [("hamming", "encode"), ("hamming", "transform"),
                                          ("product", "encode"), ("product", "embed")])
def test_encode_declares_the_output_chunks_and_dtype(encoders, kind, method):
    encoder = encoders[kind]
    lazy = da.from_array(X_DB, chunks=(300, 20))  # column blocks too: joined first
    out = skdask.encode(encoder, lazy, method=method)
    want = getattr(encoder, method)(X_DB)
    assert out.dtype == want.dtype
    assert out.chunks == (lazy.chunks[0], (want.shape[1],))  # not the input's 64 columns
    got = out.compute(scheduler="threads")
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_plain_map_blocks_gets_the_width_wrong(encoders):
    """Why skhash.dask.encode exists: map_blocks assumes the input's chunks."""
    lazy = da.from_array(X_DB, chunks=(300, 64))
    naive = lazy.map_blocks(encoders["hamming"].encode, meta=np.empty((0, 0), np.uint8))
    assert naive.shape[1] == 64 != encoders["hamming"].encode(X_DB[:1]).shape[1]


def test_encode_errors(encoders):
    with pytest.raises(ValueError, match="method must be"):
        skdask.encode(encoders["hamming"], da.from_array(X_DB), method="predict")
    with pytest.raises(ValueError, match="no 'embed'"):
        skdask.encode(encoders["hamming"], da.from_array(X_DB), method="embed")


@pytest.mark.parametrize("kind, asymmetric", [("hamming", False), ("product", False),
                                              ("product", True)])
@pytest.mark.parametrize("k", [1, 25])
def test_sharded_search_equals_the_single_process_answer(encoders, kind, asymmetric, k):
    encoder = encoders[kind]
    space = encoder.code_space_
    database = encoder.encode(X_DB)
    queries = encoder.embed(X_Q) if asymmetric else encoder.encode(X_Q)
    want = space.kneighbors(queries, database, k, asymmetric=asymmetric)
    shards = da.from_array(database, chunks=(137, -1))  # shards of unequal size
    import dask

    with dask.config.set(scheduler="threads"):
        got = skdask.kneighbors(encoder, queries, shards, k, asymmetric=asymmetric)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.fixture
def restored_environ():
    """distributed's LocalCluster leaves OMP_NUM_THREADS=1 and more in os.environ,
    which every later subprocess would inherit: put the environment back."""
    import os

    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_encode_and_search_on_a_two_worker_cluster(encoders, restored_environ):
    distributed = pytest.importorskip("distributed")
    encoder = encoders["hamming"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        codes = skdask.encode(encoder, da.from_array(X_DB, chunks=(400, -1))).persist()
        np.testing.assert_array_equal(codes.compute(), encoder.encode(X_DB))
        got = skdask.kneighbors(encoder, encoder.encode(X_Q), codes, 10)
    want = encoder.code_space_.kneighbors(encoder.encode(X_Q), encoder.encode(X_DB), 10)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_empty_and_unknown_chunks(encoders):
    import dask

    encoder = encoders["hamming"]
    codes = encoder.encode(X_DB)
    want = encoder.code_space_.kneighbors(encoder.encode(X_Q), codes, 4)
    with_empty = da.from_array(codes, chunks=((0, 1000, len(codes) - 1000), (2,)))
    unknown = da.from_array(codes, chunks=(300, -1))
    unknown = unknown[da.from_array(np.ones(len(codes), bool), chunks=300)]  # nan chunks
    with dask.config.set(scheduler="threads"):
        for database in (with_empty, unknown):
            got = skdask.kneighbors(encoder, encoder.encode(X_Q), database, 4)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
        rows = da.from_array(X_DB, chunks=((0, 500, len(X_DB) - 500), (64,)))
        np.testing.assert_array_equal(skdask.encode(encoder, rows).compute(), codes)
