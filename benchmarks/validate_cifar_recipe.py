"""Choose CIFAR-10 training settings on a validation split of the CNNH training set.

The CNNH protocol's 5,000 training images (500 per class, seed 0) are split
again, 4,500 to train and 500 to validate (the last 500 of a permutation
drawn with ``--split-seed``); the queries are never used. For each setting a
``CNNBHHasher`` (or, with ``--method deepsom``, a ``DeepSOMQuantizer``) is
fitted on the 4,500 and judged on the 500: the accuracy of ``predict`` and the
mAP of their codes against the 4,500 training codes (for DeepSOM symmetric and
asymmetric, each also tie-averaged), and against each other
(``val_map_vs_valid``: each validation row ranks the other 499, itself left
out -- a database the network never saw, as most of the CNNH database is at
test time). The CNNBH docs page's recipe tables
(optimizer / schedule, then ``max_epochs`` 30 / 60 / 100) come from this
selection.

    python benchmarks/validate_cifar_recipe.py --data-home ../shared/data/cifar10-jpeg \\
        --params '{"max_epochs": 60}' '{"max_epochs": 100}'
    python benchmarks/validate_cifar_recipe.py --data-home ../shared/data/cifar10-jpeg \\
        --method deepsom --params '{"n_alternations": 0}' \\
        --som-seeds 10 11 12 13 14 15 16 17 --som-params '{}' '{"initial_radius": 65}'

``--som-seeds`` (DeepSOM): after each fit, a SOM is trained again on the fitted
network's training features once per seed, with the fitted SOM's settings and
each of ``--som-params`` on top: how much the symmetric validation mAP moves
with the SOM's seed alone, the network held fixed (one JSON line per setting,
with the mean and standard deviation over the seeds).

Prints one JSON line per setting.
"""

import argparse
import json
import time

import numpy as np

from skhash.datasets import cnnh_split, load_cifar10
from skhash.hashing import CNNBHHasher
from skhash.metrics import mean_average_precision
from skhash.metrics._scorer import leave_one_out_map, tie_averaged_scores
from skhash.quantization import DeepSOMQuantizer, SelfOrganizingMap

# the estimator of each --method and its code-size parameter
METHODS = {"cnnbh": (CNNBHHasher, lambda args: {"n_bits": args.n_bits}),
           "deepsom": (DeepSOMQuantizer, lambda args: {"map_shape": tuple(args.map_shape)})}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", required=True, help="CIFAR-10 folder (image folders)")
    parser.add_argument("--params", nargs="+", default=["{}"],
                        help="JSON dicts of the --method estimator's parameters, one setting each")
    parser.add_argument("--method", choices=sorted(METHODS), default="cnnbh")
    parser.add_argument("--n-bits", type=int, default=48, help="cnnbh: code length")
    parser.add_argument("--map-shape", type=int, nargs=2, default=(75, 75),
                        metavar=("ROWS", "COLS"), help="deepsom: the SOM grid")
    parser.add_argument("--som-seeds", type=int, nargs="+", default=(),
                        help="deepsom: retrain the SOM with each of these seeds (network fixed)")
    parser.add_argument("--som-params", nargs="+", default=["{}"],
                        help="deepsom, with --som-seeds: JSON dicts of SelfOrganizingMap "
                             "parameters over the fitted SOM's, one setting each")
    parser.add_argument("--split-seed", type=int, default=1)
    parser.add_argument("--n-validation", type=int, default=500)
    args = parser.parse_args(argv)

    data = load_cifar10(args.data_home)
    X, y = data.data, data.target
    split = cnnh_split(y, n_queries_per_class=100, n_train_per_class=500, random_state=0)
    order = np.random.RandomState(args.split_seed).permutation(split.train)
    train, valid = order[:-args.n_validation], order[-args.n_validation:]
    estimator, code_size = METHODS[args.method]
    for text in args.params:
        params = {**code_size(args), "input_shape": (3, 32, 32), "random_state": 0,
                  **json.loads(text)}
        start = time.perf_counter()
        model = estimator(**params).fit(X[train], y[train])
        fit_s = time.perf_counter() - start
        result = {"method": args.method, "params": params, "fit_s": round(fit_s, 1),
                  "max_epochs_": model.max_epochs_,
                  "val_accuracy": float(np.mean(model.predict(X[valid]) == y[valid]))}
        result.update(_validation_maps(model, X[valid], y[valid], X[train], y[train]))
        print(json.dumps(result), flush=True)
        if args.method == "deepsom" and args.som_seeds:
            for som_text in args.som_params:
                print(json.dumps({"params": params, **som_seed_spread(
                    model, X[valid], y[valid], X[train], y[train], args.som_seeds,
                    json.loads(som_text))}), flush=True)


def som_seed_spread(model, X_valid, y_valid, X_train, y_train, seeds, som_params):
    """Symmetric validation mAP of SOMs trained again on ``model``'s training
    features, one per seed (the fitted SOM's settings, ``som_params`` over them,
    ``init="random"``): the network fixed, only the SOM's draw changes."""
    Z_train, Z_valid = model._embed(X_train), model._embed(X_valid)
    settings = {**model.som_.get_params(), "init": "random", **som_params}
    maps, unseen = [], []
    for seed in seeds:
        som = SelfOrganizingMap(**{**settings, "random_state": seed}).fit(Z_train)
        codes = som.transform(Z_valid)
        ranking = som.code_space_.ranked(codes, som.transform(Z_train))
        maps.append(mean_average_precision(y_valid, y_train, ranking))
        unseen.append(mean_average_precision(y_valid, y_valid, som.code_space_.ranked(
            codes, codes, exclude_self=True)))
    return {"som_params": som_params, "som_seeds": list(seeds), "val_map_by_seed": maps,
            "val_map_mean": float(np.mean(maps)), "val_map_sd": float(np.std(maps)),
            "val_map_vs_valid_by_seed": unseen,
            "val_map_vs_valid_mean": float(np.mean(unseen)),
            "val_map_vs_valid_sd": float(np.std(unseen))}


def _validation_maps(model, X_valid, y_valid, X_train, y_train):
    """mAP of the validation rows against the training rows' codes (index order and
    tie-averaged) and against each other (left out of their own rankings); for
    product codes the asymmetric search too."""
    space, db = model.code_space_, model.encode(X_train)
    out = {}
    modes = {"": False, "_asym": True} if space.kind == "product" else {"": False}
    for suffix, asymmetric in modes.items():
        queries = model._query_codes(X_valid, asymmetric=asymmetric)
        ranking = space.ranked(queries, db, asymmetric=asymmetric)
        out[f"val_map_vs_train{suffix}"] = mean_average_precision(y_valid, y_train, ranking)
        out[f"val_map_tie_averaged{suffix}"] = tie_averaged_scores(
            space, queries, db, y_valid, y_train,
            asymmetric=asymmetric).mean_average_precision()
        out[f"val_map_vs_valid{suffix}"] = leave_one_out_map(model, X_valid, y_valid,
                                                             asymmetric=asymmetric)
    return out


if __name__ == "__main__":
    main()
