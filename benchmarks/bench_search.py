"""Top-k search speed: skhash's default search paths vs faiss.

``--mode hamming`` (the default): binary codes against ``IndexBinaryFlat``.
``--mode pq``: product codes (``--codes 4x256 8x256 8x64 2x64 16x16``), symmetric
and asymmetric, against ``faiss.IndexPQ`` holding the same codebooks and the
same codes (ADC; SDC with ``search_type=ST_SDC`` where K = 256, the only size
faiss's SDC takes; ``IndexPQFastScan`` where K = 16), checking that the exact
distances agree. The asymmetric ratio is against faiss's fastest path for the
row (fast scan for K = 16, whose distances are approximate).

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
import sys
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
    parser.add_argument("--mode", choices=["hamming", "pq"], default="hamming")
    parser.add_argument("--codes", nargs="+", default=["4x256", "8x256", "8x64", "2x64", "16x16"],
                        metavar="MxK", help="pq mode: product-code sizes")
    parser.add_argument("--subdim", type=int, default=8,
                        help="pq mode: dimension of each sub-vector")
    parser.add_argument("--output", metavar="FILE.json",
                        help="also write the rows and what produced them (command, CPU, "
                             "versions) as JSON, for skhash report")
    args = parser.parse_args(argv)
    args.argv = ["python", "benchmarks/bench_search.py",
                 *(sys.argv[1:] if argv is None else argv)]
    if args.mode == "pq":
        return pq_main(args)

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
        row = {"bench": "hamming", "n_bits": args.n_bits, "threads": threads,
               "skhash": 1e9 * t_ours / work}
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
    _save(args, rows, peak_rss_growth_mb=rss)


def _save(args, rows, **extra):
    """``--output``: the rows and what produced them (:mod:`skhash._report`)."""
    if not args.output:
        return
    from skhash._report import environment, save_results

    meta = {**environment(argv=args.argv), **extra,
            "workload": {"n_database": args.n_database, "n_queries": args.n_queries,
                         "k": args.k, "repeat": args.repeat, "seed": args.seed}}
    save_results(args.output, rows, meta)


def pq_main(args):
    """Product codes: symmetric and asymmetric top-k, skhash vs faiss IndexPQ."""
    import faiss

    from skhash.codes import ProductSpace

    rng = np.random.default_rng(args.seed)
    work = args.n_database * args.n_queries
    cpu = platform.processor() or platform.machine()
    print(f"# {args.n_queries} queries, top-{args.k}, {args.n_database:,} random product "
          f"codes, sub-vectors of {args.subdim}; best of {args.repeat}; {cpu}")
    print("| M x K | threads | skhash sym | faiss SDC | sym ratio | skhash asym | faiss ADC "
          "| faiss fast scan | asym ratio | same distances |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for spec in args.codes:
        M, K = (int(v) for v in spec.lower().split("x"))
        rows += _pq_case(args, M, K, rng, work, faiss, ProductSpace)
    _save(args, rows)


def _pq_case(args, M, K, rng, work, faiss, ProductSpace):
    """One M x K row per thread count (printed, and returned as dicts)."""
    rows = []
    nbits = K.bit_length() - 1
    codebooks = rng.standard_normal((M, K, args.subdim)).astype(np.float32)
    space = ProductSpace(codebooks)
    db = rng.integers(0, K, size=(args.n_database, M)).astype(space.code_dtype)
    queries = rng.standard_normal((args.n_queries, M * args.subdim)).astype(np.float32)
    qcodes = space.encode(queries)
    index = faiss.IndexPQ(M * args.subdim, M, nbits)
    faiss.copy_array_to_vector(codebooks.ravel(), index.pq.centroids)
    index.is_trained = True
    index.add_sa_codes(faiss.pack_bitstrings(db.astype(np.int32), nbits))
    space.kneighbors(qcodes[:2], db[:1000], 10)  # compile
    space.kneighbors(queries[:2], db[:1000], 10, asymmetric=True)
    for threads in args.threads:
        faiss.omp_set_num_threads(threads)
        with search_threads(threads):
            t_sym, (d_sym, _) = _best_of(
                lambda: space.kneighbors(qcodes, db, args.k), args.repeat)
            t_asym, (d_asym, _) = _best_of(
                lambda: space.kneighbors(queries, db, args.k, asymmetric=True), args.repeat)
        index.search_type = faiss.IndexPQ.ST_PQ
        t_adc, (d_adc, _) = _best_of(lambda: index.search(queries, args.k), args.repeat)
        same = np.allclose(d_asym, d_adc, rtol=1e-5, atol=1e-4)
        row = {"bench": "pq", "code": f"{M}x{K}", "threads": threads,
               "sym": 1e9 * t_sym / work, "asym": 1e9 * t_asym / work,
               "faiss_adc": 1e9 * t_adc / work}
        sdc = "-"
        ratio_sym = "-"
        if nbits == 8:
            index.search_type = faiss.IndexPQ.ST_SDC
            index.pq.compute_sdc_table()
            t_sdc, (d_sdc, _) = _best_of(lambda: index.search(queries, args.k), args.repeat)
            same = same and np.allclose(d_sym, d_sdc, rtol=1e-5, atol=1e-4)
            sdc = f"{1e9 * t_sdc / work:.2f}"
            row["faiss_sdc"] = 1e9 * t_sdc / work
            ratio_sym = f"{t_sym / t_sdc:.2f}x"
        fast = "-"
        t_best = t_adc
        if nbits == 4:  # faiss's 4-bit path (approximate distances: not compared)
            fs_index = faiss.IndexPQFastScan(index)
            fs_index.search(queries[:2], args.k)
            t_fs, _ = _best_of(lambda ix=fs_index: ix.search(queries, args.k), args.repeat)
            fast = f"{1e9 * t_fs / work:.2f}"
            row["faiss_fast_scan"] = 1e9 * t_fs / work
            t_best = min(t_adc, t_fs)
        print(f"| {M}x{K} | {threads} | {1e9 * t_sym / work:.2f} | {sdc} | {ratio_sym} | "
              f"{1e9 * t_asym / work:.2f} | {1e9 * t_adc / work:.2f} | {fast} | "
              f"{t_asym / t_best:.2f}x | {same} |", flush=True)
        rows.append({**row, "same_distances": bool(same)})
    return rows


if __name__ == "__main__":
    main()
