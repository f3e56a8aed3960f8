"""Model selection for DeepQuanHasher on a validation split of the training data.

The data are what ``skhash benchmark`` would train the label-free methods on
(the database of the CNNH split, seed 0: the benchmark's test queries are
never read): ``--n-validation`` of its rows are held out as validation
queries, the others (or ``--n-train`` of them) train each configuration
without labels and are the database the validation queries search. For each
configuration: the validation mAP@all (symmetric and asymmetric search), and
plain PQ on the same input (``pq`` as a configuration) for the gain.

    python benchmarks/validate_deepquan.py --dataset mnist --data-home ../shared/data/mnist \
        '{}' '{"normalize": false, "margin": 10.0, "eta": 5.28}' pq

    python benchmarks/validate_deepquan.py --dataset cifar10 --features gist \
        --data-home ../shared/data/cifar10-jpeg --n-train 10000 '{}' pq

Each configuration is ``pq`` or a JSON dict of DeepQuanHasher parameters over
the defaults (``--codes``, default 2x256: 16 bits). ``--distort`` makes the
synthetic datasets of ``skhash benchmark`` (inverted contrast, random
rotations and shifts); ``--features gist`` uses the cached GIST descriptors.
"""

import argparse
import json
import time

import numpy as np

from skhash._benchmark import _load, _split, build_parser, evaluate, gate_columns
from skhash._report import environment, save_results
from skhash.quantization import DeepQuanHasher, ProductQuantizer


def validation_split(database, n_validation, n_train, seed):
    """``(train, validation)`` rows of the database, disjoint, drawn at random."""
    perm = np.random.RandomState(seed + 1).permutation(database)
    if n_validation >= len(perm):
        raise SystemExit(f"--n-validation {n_validation} leaves no training rows "
                         f"({len(perm)} in the database).")
    val, rest = perm[:n_validation], perm[n_validation:]
    return (rest if n_train is None else rest[:n_train]), val


def load_validation_split(args):
    """``(X, y, train, val)``: the data of ``skhash benchmark`` for ``args``
    (dataset, data_home, features, distort, seed) as rows, and the validation
    split of its database (``args.n_validation`` queries, default 1,000, 300 on
    the digits; ``args.n_train`` training rows)."""
    bench = ["benchmark", "--dataset", args.dataset, "--features", args.features,
             "--seed", str(args.seed)]
    bench += ["--data-home", args.data_home] if args.data_home else []
    bench += ["--distort", args.distort] if args.distort else []
    bargs = build_parser().parse_args(bench)
    X, y, _, is_test = _load(bargs)
    X = X.reshape(len(X), -1)
    database = np.asarray(_split(bargs, y, is_test).database)
    n_val = args.n_validation
    if n_val is None:
        n_val = 300 if args.dataset == "digits" else 1000
    if n_val < 1:
        raise SystemExit(f"--n-validation must be at least 1, got {n_val}.")
    return (X, y, *validation_split(database, n_val, args.n_train, args.seed))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["digits", "mnist", "cifar10"], default="mnist")
    parser.add_argument("--data-home", help="the dataset's folder (mnist, cifar10)")
    parser.add_argument("--features", choices=["pixels", "gist"], default="pixels")
    parser.add_argument("--distort", choices=["invert", "jitter"], default=None)
    parser.add_argument("--codes", default="2x256", metavar="MxK")
    parser.add_argument("--n-validation", type=int, default=None,
                        help="validation queries (default: 1,000; 300 on digits)")
    parser.add_argument("--n-train", type=int, default=None,
                        help="training rows (default: all the others)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override max_epochs and pretrain_epochs")
    parser.add_argument("--input-scale", type=float, default=1.0,
                        help="multiply every input value by this factor first (a study of the "
                             "input's scale; PQ's rankings do not change)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the splits")
    parser.add_argument("--output", help="also write the rows as JSON (skhash report)")
    parser.add_argument("configs", nargs="*", default=["{}"],
                        help="'pq', or JSON dicts of DeepQuanHasher parameters")
    args = parser.parse_args(argv)
    X, y, train, val = load_validation_split(args)
    if args.input_scale != 1:
        X = X * np.float32(args.input_scale)
    M, K = (int(v) for v in args.codes.lower().split("x"))
    dataset = args.dataset + (f"-{args.features}" if args.features != "pixels" else "") + (
        f"-{args.distort}" if args.distort else "") + (
        f" x{args.input_scale:g}" if args.input_scale != 1 else "")
    print(f"# {dataset}: training rows {len(train)} (no labels), validation queries {len(val)}"
          " (never the benchmark's queries)", flush=True)
    rows = []
    for text in args.configs:
        if text == "pq":
            model, label = ProductQuantizer(M=M, K=K, random_state=0), "pq"
        else:
            params = {"M": M, "K": K, "random_state": 0, **json.loads(text)}
            if args.epochs is not None:
                params.setdefault("max_epochs", args.epochs)
                params.setdefault("pretrain_epochs", args.epochs)
            model, label = DeepQuanHasher(**params), "deepquan"
        t0 = time.perf_counter()
        model.fit(X[train])
        fit_s = time.perf_counter() - t0
        found = {}
        for search in ("sym", "asym"):
            figures = evaluate(model, X[val], y[val], X[train], y[train],
                               asymmetric=search == "asym")
            found[search] = figures["mAP@all"]
            row = {"method": label, "dataset": dataset, "code": f"M={M},K={K}",
                   "search": search, "mAP@all": figures["mAP@all"], "fit_s": fit_s,
                   "note": "" if text == "pq" else text}
            rows.append({**row, **gate_columns(model)})  # the fine-tuning's gate
        gate = gate_columns(model)
        print(f"{text:<55} validation mAP sym {found['sym']:.4f} asym {found['asym']:.4f} "
              f"fit {fit_s:.0f} s" + (f" code stability {gate['code_stability']:.3f}"
                                      if gate else ""), flush=True)
        if args.output:
            save_results(args.output, rows, environment(
                argv=None if argv is None else ["benchmarks/validate_deepquan.py", *argv]))


if __name__ == "__main__":
    main()
