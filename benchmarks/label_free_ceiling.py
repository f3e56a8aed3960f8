"""How far any label-free representation lifts retrieval above plain PQ.

On the validation split of ``validate_deepquan.py`` (the benchmark's queries
are never read), exact float search in label-free representations of the
input, each fitted on the training rows only: Euclidean, centred cosine,
PCA-64 then unit rows, and a diffusion over the k-nearest-neighbour graph of
the training rows (centred cosine, k=30, alpha=0.9, 30 iterations: a
transductive ranking, not a code). PQ (16 bits) on the raw and the
centred-cosine input beside them. No row is a hash code except the PQ rows:
the float rows bound what a 16-bit code of that representation could reach.

    python benchmarks/label_free_ceiling.py --dataset cifar10 --features gist \
        --data-home ../shared/data/cifar10-jpeg --n-train 10000 --output ceiling.json
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import PCA

from skhash._benchmark import evaluate
from skhash._report import environment, save_results
from skhash.metrics import mean_average_precision
from skhash.quantization import ProductQuantizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validate_deepquan import load_validation_split  # noqa: E402  (the same split)


def unit_rows(A):
    return A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)


def _ranking(scores):
    return np.argsort(-scores, axis=1, kind="stable")


def diffusion_scores(train, queries, k=30, alpha=0.9, n_iter=30):
    """Scores of every training row for each query after ``n_iter`` steps of
    ``F <- alpha S F + Y`` on the mutual k-NN graph of the training rows
    (``train`` and ``queries`` have unit rows; weights are cosines cubed)."""
    k = min(k, len(train) - 1)
    sim = train @ train.T
    np.fill_diagonal(sim, -np.inf)
    nn = np.argpartition(-sim, k, axis=1)[:, :k]
    w = np.maximum(np.take_along_axis(sim, nn, 1), 0) ** 3
    rows = np.repeat(np.arange(len(train)), k)
    W = sp.csr_matrix((w.ravel(), (rows, nn.ravel())), shape=(len(train),) * 2)
    W = W.minimum(W.T)
    d = 1 / np.sqrt(np.asarray(W.sum(axis=1)).ravel() + 1e-12)
    S = sp.diags(d) @ W @ sp.diags(d)
    q = queries @ train.T
    qn = np.argpartition(-q, k, axis=1)[:, :k]
    Y = np.zeros_like(q)
    np.put_along_axis(Y, qn, np.maximum(np.take_along_axis(q, qn, 1), 0) ** 3, 1)
    F = Y.T.copy()
    for _ in range(n_iter):
        F = alpha * (S @ F) + Y.T
    return F.T + 1e-6 * q  # ties (no graph path) broken by the cosine


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["digits", "mnist", "cifar10"], default="digits")
    parser.add_argument("--data-home")
    parser.add_argument("--features", choices=["pixels", "gist"], default="pixels")
    parser.add_argument("--distort", choices=["invert", "jitter"], default=None)
    parser.add_argument("--codes", default="2x256", metavar="MxK")
    parser.add_argument("--n-validation", type=int, default=None)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output")
    args = parser.parse_args(argv)
    X, y, train, val = load_validation_split(args)
    X = X.astype(np.float32)
    Xt, Xv, yt, yv = X[train], X[val], y[train], y[val]
    M, K = (int(v) for v in args.codes.lower().split("x"))
    dataset = args.dataset + (f"-{args.features}" if args.features != "pixels" else "") + (
        f"-{args.distort}" if args.distort else "")
    mean = Xt.mean(axis=0)
    Ct, Cv = unit_rows(Xt - mean), unit_rows(Xv - mean)
    pca = PCA(min(64, Xt.shape[1]), random_state=0).fit(Xt)
    code = f"M={M},K={K}"
    rows = []

    def add(method, search, value, t0, note):
        rows.append({"method": method, "dataset": dataset, "code": code if method == "pq" else
                     "float", "search": search, "mAP@all": value,
                     "fit_s": time.perf_counter() - t0, "note": note})
        print(f"{method:<8} {search:<12} {note:<40} validation mAP {value:.4f}", flush=True)

    for name, (Dt, Dv) in {"raw": (Xt, Xv), "centred cosine": (Ct, Cv)}.items():
        t0 = time.perf_counter()
        pq = ProductQuantizer(M=M, K=K, random_state=0).fit(Dt)
        add("pq", "sym", evaluate(pq, Dv, yv, Dt, yt)["mAP@all"], t0, name)
    exact = {"Euclidean": lambda: 2 * Xv @ Xt.T - (Xt ** 2).sum(1)[None],
             "centred cosine": lambda: Cv @ Ct.T,
             "PCA-64, unit rows": lambda: unit_rows(pca.transform(Xv)) @ unit_rows(
                 pca.transform(Xt)).T,
             "k-NN diffusion (k=30, alpha=0.9)": lambda: diffusion_scores(Ct, Cv)}
    for name, scores in exact.items():
        t0 = time.perf_counter()
        add("exact", "float", mean_average_precision(yv, yt, _ranking(scores())), t0, name)
    if args.output:
        save_results(args.output, rows, environment(
            argv=None if argv is None else ["benchmarks/label_free_ceiling.py", *argv]))


if __name__ == "__main__":
    main()
