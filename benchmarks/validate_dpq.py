"""Model selection for DPQQuantizer on CIFAR-10, on a validation split of the training images.

From the 50,000 CIFAR-10 training images (the test images are never read), 500 per
class train the model and 500 other images per class are the validation set, its
own queries and database (as the DSH protocol ranks the test images). For each
configuration: the validation mAP@all, symmetric and asymmetric, and the
classifier's validation accuracy.

    python benchmarks/validate_dpq.py --data-home ../shared/data/cifar10-jpeg \
        '{}' '{"backbone": "cifar_cnn"}' '{"joint_central": 0.5}' --epochs 20

Each argument is a JSON dict of DPQQuantizer parameters over the defaults for
colour photos (M=4, K=64, input_shape=(3, 32, 32), random_state=0).
"""

import argparse
import json
import time

import numpy as np

from skhash._benchmark import evaluate
from skhash._report import environment, save_results
from skhash.datasets import load_cifar10
from skhash.quantization import DPQQuantizer


def _epochs(text):
    """``--epochs``: a positive number of epochs, or "auto" (the estimator's own)."""
    if text == "auto":
        return text
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"--epochs must be >= 1 or 'auto', got {text}")
    return value


def validation_split(y, n_per_class, seed):
    """``(train, validation)`` indices: ``n_per_class`` of each class in each."""
    rng = np.random.RandomState(seed)
    train, val = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        train += list(idx[:n_per_class])
        val += list(idx[n_per_class:2 * n_per_class])
    return np.array(train), np.array(val)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", required=True, help="the CIFAR-10 folder")
    parser.add_argument("--n-per-class", type=int, default=500)
    parser.add_argument("--epochs", type=_epochs, default=20,
                        help='max_epochs of every run: a number or "auto"')
    parser.add_argument("--seed", type=int, default=0, help="seed of the split")
    parser.add_argument("--output", help="also write the rows as JSON (skhash report)")
    parser.add_argument("configs", nargs="*", default=["{}"],
                        help="JSON dicts of DPQQuantizer parameters")
    args = parser.parse_args(argv)
    X, y = load_cifar10(args.data_home, subset="train", return_X_y=True)
    train, val = validation_split(y, args.n_per_class, args.seed)
    print(f"# training images {len(train)}, validation images {len(val)} (queries and "
          "database), from the training split only")
    rows = []
    for text in args.configs:
        params = {"M": 4, "K": 64, "input_shape": (3, 32, 32), "random_state": 0,
                  "max_epochs": args.epochs, **json.loads(text)}
        t0 = time.perf_counter()
        model = DPQQuantizer(**params).fit(X[train], y[train])
        fit_s = time.perf_counter() - t0
        found = {}
        for search in ("sym", "asym"):
            figures = evaluate(model, X[val], y[val], X[val], y[val],
                               asymmetric=search == "asym")
            found[search] = figures["mAP@all"]
            rows.append({"method": "dpq", "code": f"M={model.M},K={model.K}",
                         "search": search, "mAP@all": figures["mAP@all"],
                         "accuracy": figures["accuracy"], "fit_s": fit_s, "note": text})
        print(f"{text:<50} validation mAP sym {found['sym']:.4f} asym {found['asym']:.4f} "
              f"accuracy {rows[-1]['accuracy']:.3f} epochs {model.max_epochs_} "
              f"fit {fit_s:.0f} s", flush=True)
        if args.output:
            save_results(args.output, rows, environment())


if __name__ == "__main__":
    main()
