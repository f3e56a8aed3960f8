"""Model selection for DeepQuanHasher on a validation split of the training data.

The MNIST database of the CNNH split (seed 0) is what DeepQuan trains on; this
script holds 1,000 of its images out as validation queries, trains on the other
8,000 without labels, and prints the validation mAP of each configuration. The
split's 1,000 test queries are never used.

    python benchmarks/validate_deepquan.py --data-home ../shared/data/mnist \
        '{}' '{"normalize": false, "margin": 10.0, "eta": 78.4}' '{"eta": 80.0}'

Each argument is a JSON dict of DeepQuanHasher parameters over the defaults
(M=2, K=256: 16 bits).
"""

import argparse
import json
import time

import numpy as np

from skhash.datasets import cnnh_split, load_mnist
from skhash.neighbors import KNeighborsRetriever
from skhash.quantization import DeepQuanHasher


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", required=True, help="directory of the MNIST IDX files")
    parser.add_argument("--n-validation", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="seed of the CNNH split")
    parser.add_argument("configs", nargs="*", default=["{}"],
                        help="JSON dicts of DeepQuanHasher parameters")
    args = parser.parse_args(argv)
    data = load_mnist(args.data_home)
    X, y = data.data, data.target
    database = np.asarray(
        cnnh_split(y, n_queries_per_class=100, n_train=5000, random_state=args.seed).database
    )
    perm = np.random.RandomState(args.seed + 1).permutation(len(database))
    val, rest = database[perm[:args.n_validation]], database[perm[args.n_validation:]]
    print(f"# training rows {len(rest)} (no labels), validation queries {len(val)}")
    for text in args.configs:
        params = {"M": 2, "K": 256, "random_state": 0, **json.loads(text)}
        t0 = time.perf_counter()
        model = DeepQuanHasher(**params).fit(X[rest])
        fit_s = time.perf_counter() - t0
        score = KNeighborsRetriever(model).fit(X[rest], y[rest]).score(X[val], y[val])
        print(f"{text:<55} validation mAP {score:.4f}  fit {fit_s:.0f} s", flush=True)


if __name__ == "__main__":
    main()
