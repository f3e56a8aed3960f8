"""Search time and memory against database size: skhash (in memory and on disk) vs faiss.

For N = 10^4 ... 10^8 random codes (64-bit binary codes, and 8 x 256 product
codes with asymmetric queries), times a top-k search of a batch of queries
(encoded beforehand, for both libraries) and reports milliseconds per query
and the peak resident memory of a fresh process doing only that search
(each point runs in its own subprocess, so one point's memory does not
hide another's; on Linux the peak is reset once the encoder is fitted, so it
is the process's baseline -- Python, torch, numba -- plus the database and
the search, not the encoder's training). Databases of at least
``--disk-from`` codes are written to a ``.npy`` file first and searched from
a read-only memmap through ``KNeighborsRetriever.fit_codes`` (the chunked,
out-of-core path); smaller ones are searched in memory. faiss
(``IndexBinaryFlat`` / ``IndexPQ`` with the same codebooks) is timed in
memory where it fits (``--faiss-up-to``).

    python benchmarks/bench_scale.py [--sizes 1e4 1e5 1e6 1e7 1e8] [--queries 100]
                                     [--k 100] [--threads 2] [--tmp DIR]
                                     [--output scale.json]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def _peak_rss_mb():
    """Peak resident memory since :func:`_reset_peak` (Linux: VmHWM), MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:  # not Linux: the peak of the whole process
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak():
    """Start the peak over from the current resident memory (Linux), so that
    fitting the encoder does not count: the peak is the search's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _rss_parts_mb():
    """Current anonymous and file-backed resident memory (Linux), MiB."""
    parts = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssFile:")):
                    key, value = line.split(":")
                    parts[key] = int(value.split()[0]) / 1024.0
    except OSError:  # not Linux
        pass
    return parts.get("RssAnon"), parts.get("RssFile")


def _database_file(path, kind, n, seed):
    """Random codes written to ``path`` in chunks (never all in memory)."""
    width = 8
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, width))
    step = 1 << 22
    for s in range(0, n, step):
        e = min(n, s + step)
        out[s:e] = rng.integers(0, 256, size=(e - s, width), dtype=np.uint8)
    out.flush()
    del out


def _point(args):
    """One measurement, in this process: prints a JSON line."""
    from sklearn.frozen import FrozenEstimator

    from skhash import ITQHasher, KNeighborsRetriever, ProductQuantizer
    from skhash.codes import search_threads

    rng = np.random.default_rng(args.seed + 1)
    n, kind = int(args.n), args.kind
    rss0 = _peak_rss_mb()
    if kind == "hamming":
        encoder = ITQHasher(n_bits=64, random_state=0).fit(rng.standard_normal((200, 64)))
        queries_x = rng.standard_normal((args.queries, 64))
    else:
        encoder = ProductQuantizer(8, 256, random_state=0).fit(rng.standard_normal((2000, 64)))
        queries_x = rng.standard_normal((args.queries, 64)).astype(np.float32)
    retriever = KNeighborsRetriever(FrozenEstimator(encoder), n_neighbors=args.k,
                                    asymmetric=kind == "product")
    import gc

    gc.collect()
    _reset_peak()
    rss0 = _peak_rss_mb()
    if args.library == "faiss":
        return _faiss_point(args, retriever, queries_x, rss0)
    if args.path:
        retriever.fit_codes(args.path)
    else:
        codes = np.random.default_rng(args.seed).integers(0, 256, size=(n, 8), dtype=np.uint8)
        retriever.fit_codes(codes)
    # the search alone (the queries encoded first, as for faiss): the path
    # retriever.kneighbors takes, CodeSpace.search over the (memmapped) codes
    space, asymmetric = retriever.code_space_, retriever.asymmetric
    queries = retriever._queries(queries_x)
    space.search(queries[:2], retriever.codes_[:1000], 10, asymmetric=asymmetric)  # compile
    with search_threads(args.threads):
        t0 = time.perf_counter()
        dist, _ = space.search(queries, retriever.codes_, args.k, asymmetric=asymmetric)
        seconds = time.perf_counter() - t0
    anon, file_backed = _rss_parts_mb()
    row = {"library": "skhash", "kind": kind, "n": n, "on_disk": bool(args.path),
           "ms_per_query": 1e3 * seconds / args.queries,
           "peak_rss_mb": _peak_rss_mb(), "rss_growth_mb": _peak_rss_mb() - rss0,
           "rss_anon_mb_after": anon, "rss_file_mb_after": file_backed}
    if args.faiss:
        import faiss

        faiss.omp_set_num_threads(args.threads)
        index = retriever.to_faiss()
        fqueries = retriever.faiss_queries(queries_x)
        t0 = time.perf_counter()
        fdist, _ = index.search(fqueries, args.k)
        row["faiss_ms_per_query"] = 1e3 * (time.perf_counter() - t0) / args.queries
        row["same_distances"] = bool(np.allclose(fdist, dist, rtol=1e-5, atol=1e-4))
    print(json.dumps(row), flush=True)


def _faiss_point(args, retriever, queries_x, rss0):
    """faiss alone in this process: the index built a chunk of codes at a time
    (random codes as skhash's, not the same draw), then the timed search."""
    import faiss

    from skhash.neighbors._faiss import retriever_to_faiss

    rng = np.random.default_rng(args.seed)
    n, step = int(args.n), 1 << 20
    retriever.fit_codes(rng.integers(0, 256, size=(min(n, step), 8), dtype=np.uint8))
    space = retriever.code_space_
    index = retriever_to_faiss(space, retriever.codes_)
    for s in range(step, n, step):
        chunk = rng.integers(0, 256, size=(min(n, s + step) - s, 8), dtype=np.uint8)
        if space.kind == "hamming":
            index.add(chunk)
        else:  # 8-bit product codes: the packed bit string is the bytes themselves
            index.add_sa_codes(chunk)
    queries = retriever.faiss_queries(queries_x)
    faiss.omp_set_num_threads(args.threads)
    index.search(queries[:2], 10)
    t0 = time.perf_counter()
    index.search(queries, args.k)
    seconds = time.perf_counter() - t0
    anon, file_backed = _rss_parts_mb()
    print(json.dumps({"library": "faiss", "kind": args.kind, "n": n, "on_disk": False,
                      "ms_per_query": 1e3 * seconds / args.queries,
                      "peak_rss_mb": _peak_rss_mb(), "rss_growth_mb": _peak_rss_mb() - rss0,
                      "rss_anon_mb_after": anon, "rss_file_mb_after": file_backed}),
          flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5, 1e6, 1e7, 1e8])
    parser.add_argument("--kinds", nargs="+", default=["hamming", "product"])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--disk-from", type=float, default=1e7)
    parser.add_argument("--faiss-up-to", type=float, default=1e7)
    parser.add_argument("--tmp", default=None, help="folder of the database files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None)
    # internal: one point in a subprocess
    parser.add_argument("--point", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--path", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--faiss", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--library", default="skhash", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.point:
        return _point(args)

    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        print("| codes | N | where | skhash ms/query | peak RSS MiB | of it file-backed MiB "
              "| faiss ms/query | same |")
        print("|---|---|---|---|---|---|---|---|", flush=True)
        for kind in args.kinds:
            for size in args.sizes:
                n = int(size)
                cmd = [sys.executable, __file__, "--point", "--n", str(n), "--kind", kind,
                       "--queries", str(args.queries), "--k", str(args.k),
                       "--threads", str(args.threads), "--seed", str(args.seed)]
                if n >= args.disk_from:
                    path = os.path.join(tmp, f"{kind}_{n}.npy")
                    _database_file(path, kind, n, args.seed)
                    cmd += ["--path", path]
                if n <= args.faiss_up_to:
                    cmd.append("--faiss")
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(row)
                faiss_ms = row.get("faiss_ms_per_query")
                print(f"| {kind} | {n:.0e} | {'disk' if row['on_disk'] else 'memory'} | "
                      f"{row['ms_per_query']:.3f} | {row['peak_rss_mb']:.0f} | "
                      f"{row['rss_file_mb_after'] or 0:.0f} | "
                      f"{'-' if faiss_ms is None else f'{faiss_ms:.3f}'} | "
                      f"{row.get('same_distances', '-')} |", flush=True)
                if n >= args.disk_from:
                    os.remove(path)
                if n <= args.faiss_up_to:  # faiss's own time and memory, its own process
                    cmd = [c for c in cmd if c != "--faiss"] + ["--library", "faiss"]
                    if "--path" in cmd:
                        del cmd[cmd.index("--path"):cmd.index("--path") + 2]
                    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                    print(f"| {kind} | {n:.0e} | faiss, memory | {rows[-1]['ms_per_query']:.3f}"
                          f" | {rows[-1]['peak_rss_mb']:.0f} | | | |", flush=True)
    if args.output:
        from skhash._report import environment, save_results

        save_results(args.output, rows, environment(
            argv=["python", "benchmarks/bench_scale.py"] + list(sys.argv[1:] if argv is None
                                                             else argv),
            threads=args.threads))


if __name__ == "__main__":
    main()
