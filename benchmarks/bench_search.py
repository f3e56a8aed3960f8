"""Hamming top-k search speed: skhash's default search path vs faiss.

Default workload (the foundation issue's): 1,000 queries, top-100, over
1,000,000 random 64-bit codes, on 1 and 2 threads. Reports nanoseconds per
database code per query for skhash (``HammingSpace.kneighbors``, the path
``KNeighborsRetriever`` uses) and for faiss ``IndexBinaryFlat`` (if faiss-cpu is
installed: ``pip install -e ".[benchmarks]"``), checks that both return the same
distances, and prints the peak resident memory growth of the skhash search.

    python benchmarks/bench_search.py [--n-database 1000000] [--n-queries 1000]
                                      [--k 100] [--n-bits 64] [--repeat 3]
"""

import argparse
import platform
import resource
import time

import numpy as np

from skhash.codes import HammingSpace, search_threads


def _best_of(fn, repeat):
    best = np.inf
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-database", type=int, default=1_000_000)
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--n-bits", type=int, default=64)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    space = HammingSpace(args.n_bits)
    db = rng.integers(0, 256, size=(args.n_database, space.n_bytes), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(args.n_queries, space.n_bytes), dtype=np.uint8)
    work = args.n_database * args.n_queries

    try:
        import faiss
    except ImportError:  # pragma: no cover - optional dependency
        faiss = None

    cpu = platform.processor() or platform.machine()
    print(f"# {args.n_queries} queries, top-{args.k}, {args.n_database:,} random "
          f"{args.n_bits}-bit codes; best of {args.repeat}; {cpu}")
    space.kneighbors(queries[:2], db[:1000], 10)  # compile (cached after the first run)
    rss0 = _peak_rss_mb()
    rows = []
    for threads in args.threads:
        with search_threads(threads):
            t_ours, (d_ours, i_ours) = _best_of(
                lambda: space.kneighbors(queries, db, args.k), args.repeat)
        row = {"threads": threads, "skhash": 1e9 * t_ours / work}
        if faiss is not None and args.n_bits % 8 == 0:
            faiss.omp_set_num_threads(threads)
            index = faiss.IndexBinaryFlat(args.n_bits)
            index.add(db)
            t_faiss, (d_faiss, _) = _best_of(
                lambda index=index: index.search(queries, args.k), args.repeat)
            row["faiss"] = 1e9 * t_faiss / work
            row["same_distances"] = bool(np.array_equal(d_ours, d_faiss))
        rows.append(row)
    rss = _peak_rss_mb() - rss0

    print("| threads | skhash ns/code/query | faiss IndexBinaryFlat ns/code/query "
          "| skhash / faiss | same distances |")
    print("|---|---|---|---|---|")
    for r in rows:
        if "faiss" in r:
            print(f"| {r['threads']} | {r['skhash']:.3f} | {r['faiss']:.3f} | "
                  f"{r['skhash'] / r['faiss']:.2f}x | {r['same_distances']} |")
        else:
            print(f"| {r['threads']} | {r['skhash']:.3f} | not measured (faiss not installed) "
                  "| - | - |")
    results_mb = 2 * 8 * args.n_queries * args.k / 2**20
    print(f"# peak RSS growth during the searches: {rss:.1f} MiB "
          f"(database {db.nbytes / 2**20:.1f} MiB, results {results_mb:.1f} MiB)")


if __name__ == "__main__":
    main()
