"""Choose CIFAR-10 training settings on a validation split of the CNNH training set.

The CNNH protocol's 5,000 training images (500 per class, seed 0) are split
again, 4,500 to train and 500 to validate (the last 500 of a permutation
drawn with ``--split-seed``); the queries are never used. For each setting a
``CNNBHHasher`` is fitted on the 4,500 and judged on the 500: the accuracy
of ``predict`` and the mAP of their codes against the 4,500 training codes.
The CNNBH docs page's recipe tables (optimizer / schedule, then
``max_epochs`` 30 / 60 / 100) come from this selection.

    python benchmarks/validate_cifar_recipe.py --data-home ../shared/data/cifar10-jpeg \\
        --params '{"max_epochs": 60}' '{"max_epochs": 100}'

Prints one JSON line per setting.
"""

import argparse
import json
import time

import numpy as np

from skhash.datasets import cnnh_split, load_cifar10
from skhash.hashing import CNNBHHasher
from skhash.metrics import mean_average_precision


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", required=True, help="CIFAR-10 folder (image folders)")
    parser.add_argument("--params", nargs="+", default=["{}"],
                        help="JSON dicts of CNNBHHasher parameters, one setting each")
    parser.add_argument("--n-bits", type=int, default=48)
    parser.add_argument("--split-seed", type=int, default=1)
    parser.add_argument("--n-validation", type=int, default=500)
    args = parser.parse_args(argv)

    data = load_cifar10(args.data_home)
    X, y = data.data, data.target
    split = cnnh_split(y, n_queries_per_class=100, n_train_per_class=500, random_state=0)
    order = np.random.RandomState(args.split_seed).permutation(split.train)
    train, valid = order[:-args.n_validation], order[-args.n_validation:]
    for text in args.params:
        params = {"n_bits": args.n_bits, "input_shape": (3, 32, 32), "random_state": 0,
                  **json.loads(text)}
        start = time.perf_counter()
        hasher = CNNBHHasher(**params).fit(X[train], y[train])
        fit_s = time.perf_counter() - start
        accuracy = float(np.mean(hasher.predict(X[valid]) == y[valid]))
        space = hasher.code_space_
        ranking = space.ranked(hasher.encode(X[valid]), hasher.encode(X[train]))
        print(json.dumps({"params": params, "fit_s": round(fit_s, 1), "max_epochs_":
                          hasher.max_epochs_, "val_accuracy": accuracy,
                          "val_map_vs_train": mean_average_precision(y[valid], y[train],
                                                                     ranking)}), flush=True)


if __name__ == "__main__":
    main()
