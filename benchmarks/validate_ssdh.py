"""Model selection for SSDHHasher on CIFAR-10, on a validation split of the training images.

The SSDH protocol's shape, inside CIFAR-10's training split (the test images are
never read): ``--n-per-class`` training images per class are the training set and
the database, as under the SSDH protocol, and ``--queries-per-class`` other training
images per class are the validation queries. For each configuration: the
validation mAP@all, mAP@100, precision within Hamming radius 2 and the accuracy of
``predict`` on the queries. A configuration with ``"method": "cnnbh"`` fits
:class:`~skhash.hashing.CNNBHHasher` instead (the reference SSDH must reach under
the same protocol).

    python benchmarks/validate_ssdh.py --data-home ../shared/data/cifar10-jpeg \\
        '{}' '{"method": "cnnbh"}' '{"beta": 0.1, "gamma": 0.1}' --output ssdh_val.json

Each argument is a JSON dict of estimator parameters over the defaults for colour
photos (``n_bits=48``, ``input_shape=(3, 32, 32)``, ``random_state=0``).
"""

import argparse
import json
import time

import numpy as np

from skhash._benchmark import evaluate
from skhash._report import environment, save_results
from skhash.datasets import load_cifar10
from skhash.hashing import CNNBHHasher, SSDHHasher

ESTIMATORS = {"ssdh": SSDHHasher, "cnnbh": CNNBHHasher}


def validation_split(y, n_per_class, n_queries_per_class, seed):
    """``(train, queries)`` indices: per class, ``n_per_class`` training images
    and ``n_queries_per_class`` other ones as validation queries."""
    rng = np.random.RandomState(seed)
    train, queries = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < n_per_class + n_queries_per_class:
            raise ValueError(f"class {c} has {len(idx)} images, fewer than "
                             f"{n_per_class} + {n_queries_per_class}")
        train += list(idx[:n_per_class])
        queries += list(idx[n_per_class:n_per_class + n_queries_per_class])
    return np.array(train), np.array(queries)


def parse_config(text):
    """``(estimator class, name, params)`` of one JSON configuration."""
    params = json.loads(text)
    if not isinstance(params, dict):
        raise ValueError(f"a configuration is a JSON object of parameters, got {text!r}")
    name = params.pop("method", "ssdh")
    if name not in ESTIMATORS:
        raise ValueError(f"unknown method {name!r} in {text!r}: one of {sorted(ESTIMATORS)}")
    return ESTIMATORS[name], name, params


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", required=True, help="the CIFAR-10 folder")
    parser.add_argument("--n-per-class", type=int, default=500,
                        help="training images (and database) per class")
    parser.add_argument("--queries-per-class", type=int, default=100)
    parser.add_argument("--n-bits", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0, help="seed of the split")
    parser.add_argument("--output", help="also write the rows as JSON (skhash report)")
    parser.add_argument("configs", nargs="*", default=["{}"],
                        help="JSON dicts of estimator parameters")
    args = parser.parse_args(argv)
    configs = [parse_config(text) for text in args.configs]  # bad ones fail before any fit
    X, y = load_cifar10(args.data_home, subset="train", return_X_y=True)
    train, queries = validation_split(y, args.n_per_class, args.queries_per_class, args.seed)
    print(f"# training images = database {len(train)}, validation queries {len(queries)}, "
          "from the training split only")
    rows = []
    for text, (estimator, name, params) in zip(args.configs, configs):
        params = {"n_bits": args.n_bits, "input_shape": (3, 32, 32), "random_state": 0,
                  **params}
        t0 = time.perf_counter()
        model = estimator(**params).fit(X[train], y[train])
        fit_s = time.perf_counter() - t0
        figures = evaluate(model, X[queries], y[queries], X[train], y[train], k=100)
        k = min(100, len(train))
        rows.append({"method": name, "n_bits": model.n_bits, "search": "hamming",
                     **figures, "fit_s": fit_s, "note": text})
        print(f"{text:<50} validation mAP {figures['mAP@all']:.4f} mAP@{k} "
              f"{figures[f'mAP@{k}']:.4f} P@r2 {figures['P@r2']:.4f} accuracy "
              f"{figures['accuracy']:.3f} epochs {model.max_epochs_} fit {fit_s:.0f} s",
              flush=True)
        if args.output:
            save_results(args.output, rows, environment())


if __name__ == "__main__":
    main()
