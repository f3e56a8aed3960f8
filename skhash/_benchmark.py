"""The main job: train methods at chosen code sizes and print retrieval figures.

Run ``skhash benchmark --help`` (or ``python -m skhash benchmark``).
"""

import argparse
import csv
import json
import os
import re
import sys
import time

import numpy as np
from skorch.callbacks import Callback

from ._report import environment
from .datasets import (
    cnnh_split,
    distort_images,
    dsh_split,
    load_cifar10,
    load_digits,
    load_mnist,
    make_multilabel_digits,
    random_split,
    ssdh_split,
    unseen_classes_split,
)
from .metrics import precision_within_radius
from .metrics._scorer import ranking_scores, tie_averaged_scores

__all__ = ["METHODS", "run_benchmark", "main"]


def _deep_params(seed, args, epoch_params=("max_epochs",), **params):
    """Parameters every deep estimator of a run gets, plus the method's own.

    ``--epochs`` overrides each of ``epoch_params``.
    """
    params.update(random_state=seed, device=args.device, verbose=int(args.verbose))
    if args.epochs is not None:
        params.update(dict.fromkeys(epoch_params, args.epochs))
    return params


class Method:
    """A method of the benchmark: how to build it, and how the run treats it.

    ``factory(size, input_shape, seed, args, **overrides)`` returns the
    unfitted estimator; ``size`` is a code length (``code="bits"``), an
    ``(M, K)`` product-code size (``"product"``) or a :class:`MapShape`
    (``"map"``). ``supervised=False`` methods train on the whole database
    without labels under the CNNH and random protocols; ``multilabel``
    ones accept ``--multilabel``.
    """

    def __init__(self, factory, *, code="bits", supervised=True, multilabel=False):
        self.factory, self.code = factory, code
        self.supervised, self.multilabel = supervised, multilabel


# name -> Method; a method is added to the benchmark by one register() call
METHODS = {}


def register(name, *, code="bits", supervised=True, multilabel=False):
    """Decorator: add an estimator factory to the benchmark as method ``name``."""
    def add(factory):
        METHODS[name] = Method(factory, code=code, supervised=supervised,
                               multilabel=multilabel)
        return factory
    return add


@register("cnnbh")
def _cnnbh(n_bits, input_shape, seed, args, **overrides):
    from .hashing import CNNBHHasher

    params = _deep_params(seed, args, n_bits=n_bits, input_shape=input_shape)
    return CNNBHHasher(**{**params, **overrides})


@register("ssdh", multilabel=True)
def _ssdh(n_bits, input_shape, seed, args, **overrides):
    from .hashing import SSDHHasher

    params = _deep_params(seed, args, n_bits=n_bits, input_shape=input_shape)
    return SSDHHasher(**{**params, **overrides})


@register("dpq", code="product")
def _dpq(size, input_shape, seed, args, **overrides):
    from .quantization import DPQQuantizer

    M, K = size
    params = _deep_params(seed, args, M=M, K=K, input_shape=input_shape)
    return DPQQuantizer(**{**params, **overrides})


@register("deepquan", code="product", supervised=False)
def _deepquan(size, input_shape, seed, args, **overrides):
    from .quantization import DeepQuanHasher

    M, K = size
    # --epochs caps both phases: pre-training and fine-tuning
    params = _deep_params(seed, args, ("max_epochs", "pretrain_epochs"), M=M, K=K)
    return DeepQuanHasher(**{**params, **overrides})


@register("pq", code="product", supervised=False)
def _pq(size, input_shape, seed, args, **overrides):
    from .quantization import ProductQuantizer

    M, K = size
    return ProductQuantizer(**{"M": M, "K": K, "random_state": seed, **overrides})


@register("itq", supervised=False)
def _itq(n_bits, input_shape, seed, args, **overrides):
    from .hashing import ITQHasher

    return ITQHasher(**{"n_bits": n_bits, "random_state": seed, **overrides})


@register("lsh", supervised=False)
def _lsh(n_bits, input_shape, seed, args, **overrides):
    from .hashing import LSHHasher

    return LSHHasher(**{"n_bits": n_bits, "random_state": seed, **overrides})


@register("deepsom", code="map")
def _deepsom(size, input_shape, seed, args, **overrides):
    from .quantization import DeepSOMQuantizer

    params = _deep_params(seed, args, map_shape=tuple(size), input_shape=input_shape)
    if args.alternations is not None:
        params["n_alternations"] = args.alternations
    return DeepSOMQuantizer(**{**params, **overrides})


# The papers' figures (mAP over the whole database), printed beside ours:
# (dataset, protocol, method, code, search) -> mAP; code None = any code size.
PAPER_FIGURES = {
    **{("mnist", "cnnh", "cnnbh", f"{b} bits", "hamming"): v
       for b, v in zip((12, 24, 32, 48), (0.946, 0.952, 0.953, 0.939))},
    **{("cifar10", "cnnh", "cnnbh", f"{b} bits", "hamming"): v
       for b, v in zip((12, 24, 32, 48), (0.532, 0.564, 0.610, 0.617))},
    # CNNBH's Table 1 (on GIST features there, pixels here)
    **{("cifar10", "cnnh", "lsh", f"{b} bits", "hamming"): v
       for b, v in zip((12, 24, 32, 48), (0.121, 0.126, 0.120, 0.120))},
    # DPQ's Table 1, K = 64: 12 / 24 / 36 / 48 bits
    **{("cifar10", "dsh", "dpq", f"M={m},K=64", "sym"): v
       for m, v in zip((2, 4, 6, 8), (0.6831, 0.6865, 0.6830, 0.6876))},
    **{("cifar10", "dsh", "dpq", f"M={m},K=64", "asym"): v
       for m, v in zip((2, 4, 6, 8), (0.6730, 0.6919, 0.6951, 0.6932))},
    # DeepSOM's Table 1 (75 x 75 map on CNN-F; 24-bit rows of the others)
    ("cifar10", "cnnh", "deepsom[full]", None, "sym"): 0.622,
    ("cifar10", "cnnh", "deepsom", None, "sym"): 0.622,
    ("cifar10", "cnnh", "deepsom[zero]", None, "sym"): 0.505,
    # SSDH's Table (48 bits, ImageNet-pretrained AlexNet)
    ("cifar10", "ssdh", "ssdh", "48 bits", "hamming"): 0.9145,
}


# Figures the papers give under another metric: (dataset, protocol, features,
# method, bits) -> (metric, value). DeepQuan's Table 1, CIFAR-10-GIST: MAP@1000,
# normalisation not stated (1,000 queries; the other 59,000 are training set
# and database: our CNNH protocol, where label-free methods train on the database).
PAPER_FIGURES_OTHER = {
    **{("cifar10", "cnnh", "gist", "itq", b): ("MAP@1000", v)
       for b, v in zip((16, 32, 64), (0.1567, 0.1567, 0.1664))},
    **{("cifar10", "cnnh", "gist", "deepquan", b): ("MAP@1000", v)
       for b, v in zip((16, 32, 64), (0.1819, 0.1820, 0.1874))},
}


def network_name(encoder):
    """The network a fitted deep image estimator trained, by its backbone
    name ("auto" resolved for its input), or None for vectors and methods
    without a backbone."""
    from .nn._backbones import resolve_backbone_name

    if "backbone" not in encoder.get_params() or getattr(encoder, "_input_shape", None) is None:
        return None
    name = encoder.backbone
    if not isinstance(name, str):
        return type(name).__name__
    return resolve_backbone_name(name, encoder._input_shape, encoder._colour_backbone,
                                 getattr(encoder, "_grey_backbone", "small_cnn"))


def paper_figure(dataset, protocol, method, code, search):
    """The paper's mAP for this row, or None."""
    for key in ((dataset, protocol, method, code, search),
                (dataset, protocol, method, None, search)):
        if key in PAPER_FIGURES:
            return PAPER_FIGURES[key]
    return None

# --dpq-ablation: name -> loss weights set to zero
DPQ_ABLATIONS = {
    "full": {},
    "no_central": {"joint_central": 0.0},
    "no_gini_batch": {"gini_batch": 0.0},
    "no_gini_sample": {"gini_sample": 0.0},
}

# --deepquan-variants: the paper's baselines (Table 3) and loss ablation (Table 4)
# (the loss ablations and "tuned" always fine-tune: min_stability 0)
DEEPQUAN_VARIANTS = {
    "full": {},
    "tuned": {"min_stability": 0.0},
    "dae_pq": {"quantization_loss": None},
    "triplet_only": {"eta": 0.0, "min_stability": 0.0},
    "quadratic_only": {"quantization_loss": "quadratic", "eta": 0.0, "min_stability": 0.0},
    "quadratic": {"quantization_loss": "quadratic", "min_stability": 0.0},
}

# --deepsom-variants: full DeepSOM, and DeepSOM-0 (pre-training + SOM only)
DEEPSOM_VARIANTS = {
    "full": {},
    "zero": {"n_alternations": 0},
}


class MapShape(tuple):
    """A SOM grid ``(rows, cols)``: DeepSOM's code size (``rows * cols`` nodes)."""


def _map_shapes(args):
    shapes = []
    for text in args.map_shape:
        try:
            rows, cols = (int(v) for v in text.lower().split("x"))
        except ValueError:
            raise SystemExit(
                f"--map-shape takes ROWSxCOLS sizes such as 20x20, got {text!r}") from None
        shapes.append(MapShape((rows, cols)))
    return shapes


def _sizes(method, args):
    code = METHODS[method].code
    if code == "map":
        return _map_shapes(args)
    if code == "bits":
        return args.bits
    sizes = []
    for text in args.codes:
        try:
            M, K = (int(v) for v in text.lower().split("x"))
        except ValueError:
            raise SystemExit(f"--codes takes MxK sizes such as 8x64, got {text!r}") from None
        sizes.append((M, K))
    return sizes


def _size_label(size):
    if isinstance(size, MapShape):
        return f"map={size[0]}x{size[1]}"
    return f"M={size[0]},K={size[1]}" if isinstance(size, tuple) else f"{size} bits"
def _variants(method, args):
    """(label, overrides) for each configuration of a method in this run."""
    if method == "dpq" and args.dpq_ablation:
        return [(f"dpq[{name}]", DPQ_ABLATIONS[name]) for name in args.dpq_ablation]
    if method == "deepsom" and args.deepsom_variants:
        return [(f"deepsom[{name}]", DEEPSOM_VARIANTS[name])
                for name in args.deepsom_variants]
    if method == "deepquan" and args.deepquan_variants:
        return [(f"deepquan[{name}]", DEEPQUAN_VARIANTS[name])
                for name in args.deepquan_variants]
    if method == "ssdh" and (args.ablation or args.p):
        weights = args.ablation or ["1,1,1"]
        variants = []
        for triple in weights:
            try:
                alpha, beta, gamma = (float(v) for v in triple.split(","))
            except ValueError:
                raise SystemExit(
                    f"--ablation takes alpha,beta,gamma triples, got {triple!r}"
                ) from None
            for p in args.p or [2]:
                label = f"ssdh[a={alpha:g},b={beta:g},g={gamma:g},p={p}]"
                variants.append((label, dict(alpha=alpha, beta=beta, gamma=gamma, p=p)))
        return variants
    return [(method, {})]


def _load(args):
    """``(X, y, input_shape, is_test)``; ``is_test`` None without a train / test split.

    With ``--features gist`` the rows are the images' GIST descriptors
    (vectors: ``input_shape`` None), cached in skhash's cache folder.
    """
    X, y, input_shape, is_test = _load_pixels(args)
    if getattr(args, "features", "pixels") == "gist":
        X, input_shape = _gist_features(args, X, input_shape), None
    return X, y, input_shape, is_test


def _gist_features(args, X, input_shape):
    """GIST of every image, computed once per dataset and kept in the cache folder."""
    import hashlib

    from .datasets._images import _default_cache_dir
    from .features import GIST

    digest = hashlib.sha256()
    digest.update(repr((args.dataset, X.shape, input_shape)).encode())
    digest.update(np.ascontiguousarray(X[:: max(1, len(X) // 512)]).tobytes())
    path = os.path.join(_default_cache_dir(), "gist", f"{digest.hexdigest()[:20]}.npy")
    if os.path.exists(path):
        return np.load(path)
    t0 = time.perf_counter()
    features = GIST(image_shape=input_shape).fit_transform(X)
    print(f"# GIST of {len(X)} images in {time.perf_counter() - t0:.1f} s (cached: {path})",
          file=sys.stderr, flush=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path + ".tmp.npy", features)
    os.replace(path + ".tmp.npy", path)
    return features


def _load_pixels(args):
    if args.dataset == "digits":
        data = load_digits()
    elif args.dataset == "mnist":
        if not args.data_home:
            raise SystemExit("--dataset mnist needs --data-home DIR holding the MNIST IDX files.")
        data = load_mnist(args.data_home, subset=args.subset)
    elif args.dataset == "cifar10":
        if not args.data_home:
            raise SystemExit("--dataset cifar10 needs --data-home DIR holding CIFAR-10 (image "
                             "folders train/ and test/, or the python batches).")
        train = load_cifar10(args.data_home, subset="train")
        test = load_cifar10(args.data_home, subset="test")
        X = np.concatenate([train.data, test.data])
        y = np.concatenate([train.target, test.target])
        is_test = np.arange(len(y)) >= len(train.target)
        return _distorted(args, X, train.input_shape), y, train.input_shape, is_test
    else:  # pragma: no cover - argparse restricts the choices
        raise SystemExit(f"unknown dataset {args.dataset}")
    return _distorted(args, data.data, data.input_shape), data.target, data.input_shape, None


def _distorted(args, X, input_shape):
    """``--distort``: a synthetic dataset made from the images (seeded by ``--seed``)."""
    kind = getattr(args, "distort", None)
    return X if kind is None else distort_images(X, input_shape, kind, random_state=args.seed)


def _targets(args, y):
    """Training / relevance labels: digit classes, or the multi-label variant."""
    if not args.multilabel:
        return y
    unsupported = sorted(m for m in args.methods if not METHODS[m].multilabel)
    if unsupported:
        raise SystemExit(f"--multilabel: {', '.join(unsupported)} cannot train on label sets.")
    Y, _ = make_multilabel_digits(y)
    return Y


def _split(args, y, is_test):
    qpc = args.queries_per_class
    qpc = (30 if args.dataset == "digits" else 100) if qpc is None else qpc
    per_class = args.n_train_per_class
    if args.protocol in ("dsh", "ssdh") and is_test is None:
        raise SystemExit(f"--protocol {args.protocol} needs a dataset with its own train / test "
                         f"split (cifar10); {args.dataset} here has none.")
    if args.protocol == "cnnh":
        n_train = args.n_train
        if args.dataset == "cifar10" and n_train is None and per_class is None:
            per_class = 500  # 5,000 training images, 500 per class (DeepSOM's statement)
        elif args.dataset != "digits":
            n_train = 5000 if n_train is None else n_train
        return cnnh_split(y, n_queries_per_class=qpc, n_train=n_train,
                          n_train_per_class=per_class, random_state=args.seed)
    if args.protocol == "dsh":
        return dsh_split(is_test)
    if args.protocol == "ssdh":
        return ssdh_split(y, is_test, n_queries_per_class=qpc, random_state=args.seed)
    if args.protocol == "unseen":
        if per_class is None and args.dataset != "digits":
            per_class = 500
        return unseen_classes_split(y, n_unseen_classes=args.unseen_classes,
                                    n_queries_per_class=qpc, n_train_per_class=per_class,
                                    random_state=args.seed)
    return random_split(len(y), n_queries=args.n_queries, n_train=args.n_train,
                        random_state=args.seed)


def gate_columns(encoder):
    """DeepQuan's fine-tuning gate as row columns (``code_stability``,
    ``fine_tuned``); empty for other encoders and where it was not measured."""
    stability = getattr(encoder, "code_stability_", None)
    if stability is None:
        return {}
    return {"code_stability": stability, "fine_tuned": bool(encoder.fine_tuned_)}


def evaluate(encoder, X_query, y_query, X_db, y_db, k=100, radius=2, asymmetric=False,
             also_normalize=(), tie_seed=None, tie_averaged=True):
    """Retrieval figures of a fitted encoder: queries against the database.

    ``asymmetric`` compares continuous query embeddings with the database's
    product codes (quantizers only). ``also_normalize``: mAP@k under other
    normalisations too (columns ``mAP@k/relevant``, ``mAP@k/min``; see
    :func:`skhash.metrics.mean_average_precision`). ``tie_seed``: also
    ``mAP@all/shuffled``, the mAP@all of the same codes with the database
    rows in a random order drawn from this seed. Ties are broken by database
    index, so where the database is stored class by class (image folders)
    the order among tied items follows the labels; the shuffled figure is
    what a database in random order (the original CIFAR-10 batches, MNIST)
    gives, and the difference between the two says how much the figure owes
    to that order. ``mAP@all/tie-averaged`` is the expectation of that
    figure over every order of the tied items, exact and independent of the
    stored order (:func:`skhash.metrics.tie_averaged_mean_average_precision`);
    ``tie_averaged=False`` leaves it out (the per-epoch curve).
    """
    space = encoder.code_space_
    t0 = time.perf_counter()
    db_codes = encoder.encode(X_db)
    encode_s = time.perf_counter() - t0
    q_codes = encoder._query_codes(X_query, asymmetric=asymmetric)
    k = min(k, len(y_db))
    # streamed: one chunk of queries' ranking at a time (as the retriever's score)
    scores = ranking_scores(space, q_codes, db_codes, y_query, y_db, map_ks=(None, k),
                            precision_ks=(k,), asymmetric=asymmetric,
                            also_normalize=also_normalize)
    row = {
        "mAP@all": scores.mean_average_precision(),
        f"mAP@{k}": scores.mean_average_precision(k),
        **{f"mAP@{k}/{z}": scores.mean_average_precision(k, normalize=z)
           for z in also_normalize if z != "retrieved"},
        f"P@{k}": scores.precision_at_k(k),
        "encode_us_per_item": 1e6 * encode_s / len(X_db),
    }
    if tie_averaged:
        row["mAP@all/tie-averaged"] = tie_averaged_scores(
            space, q_codes, db_codes, y_query, y_db,
            asymmetric=asymmetric).mean_average_precision()
    if tie_seed is not None:
        order = np.random.RandomState(tie_seed).permutation(len(y_db))
        row["mAP@all/shuffled"] = ranking_scores(
            space, q_codes, db_codes[order], y_query, np.asarray(y_db)[order],
            asymmetric=asymmetric).mean_average_precision()
    if space.kind == "hamming":
        _, ind = space.radius_neighbors(q_codes, db_codes, radius)
        row[f"P@r{radius}"] = precision_within_radius(y_query, y_db, ind)
    if hasattr(encoder, "predict") and (
            np.ndim(y_query) != 1 or np.isin(y_query, encoder.classes_).all()):
        # per-label accuracy for label sets; none where the queries' classes were
        # never trained on (the unseen-classes protocol: it would be 0 by design)
        row["accuracy"] = float(np.mean(encoder.predict(X_query) == y_query))
    return row


class _EpochCurve(Callback):
    """A skorch callback: the queries' mAP@all after every training epoch.

    A learning curve for the report (``--curve``), not model selection:
    nothing is chosen on it. It refreshes the encoder's fitted arrays from
    the network of the moment (``_after_fit``), then ranks the database as
    :func:`evaluate` does. Deep copies (the estimators copy callbacks at
    fit) share this object, so the curve and the arrays are not copied.
    """

    def __init__(self, encoder, X_query, y_query, X_db, y_db):
        self.encoder = encoder
        self.data = (X_query, y_query, X_db, y_db)
        self.points = []

    def __deepcopy__(self, memo):
        return self

    def get_params(self, deep=True):
        return {}

    def on_epoch_end(self, net, **kwargs):
        encoder = self.encoder
        encoder._after_fit(None, None)
        point = {"epoch": len(net.history)}
        modes = [False, True] if encoder.code_space_.kind == "product" else [False]
        for asymmetric in modes:
            row = evaluate(encoder, *self.data, asymmetric=asymmetric, tie_averaged=False)
            point["asym" if asymmetric else "sym"] = row["mAP@all"]
        self.points.append(point)


def _with_curve(encoder, data):
    """Attach an :class:`_EpochCurve` to a deep encoder; None for the others."""
    if "callbacks" not in encoder.get_params():
        return None
    curve = _EpochCurve(encoder, *data)
    encoder.set_params(callbacks=[*(encoder.callbacks or []), ("epoch_curve", curve)])
    return curve


def run_benchmark(args, out=None, progress=None):
    out = sys.stdout if out is None else out
    progress = sys.stderr if progress is None else progress
    X, y, input_shape, is_test = _load(args)
    split = _split(args, y, is_test)
    y = _targets(args, y)
    # label-free methods train on the database where the protocol's training
    # set is a labelled subset of it (CNNH, random)
    on_database = ({m for m, method in METHODS.items() if not method.supervised}
                   if args.protocol in ("cnnh", "random") else set())
    features = getattr(args, "features", "pixels")
    distort = getattr(args, "distort", None)
    print(f"# dataset={args.dataset}{' features=gist' if features == 'gist' else ''}"
          f"{f' distort={distort}' if distort else ''} "
          f"n={len(y)} protocol={args.protocol} "
          f"queries={len(split.query)} database={len(split.database)} "
          f"train={len(split.train)}"
          f"{' (label-free methods: the database)' if set(args.methods) & on_database else ''}"
          f" seed={args.seed}"
          f"{' labels=multi-label (digit, even, >=5)' if args.multilabel else ''}", file=out)
    rows = []
    runs = [(m, label, overrides, size) for m in args.methods
            for label, overrides in _variants(m, args) for size in _sizes(m, args)]
    for i, (method, label, overrides, size) in enumerate(runs, 1):
        code = _size_label(size)
        train = split.database if method in on_database else split.train
        print(f"[{i}/{len(runs)}] {label} {code}: training on {len(train)} images"
              f"{' (database, no labels)' if method in on_database else ''} ...",
              file=progress, flush=True)
        encoder = METHODS[method].factory(size, input_shape, args.seed, args, **overrides)
        if getattr(args, "backbone", None) and "backbone" in encoder.get_params():
            encoder.set_params(backbone=args.backbone)
        curve = None
        if args.curve:
            curve = _with_curve(encoder, (X[split.query], y[split.query], X[split.database],
                                          y[split.database]))
        loaded = _load_model(encoder, args, i, label, code)
        if loaded is None:
            t0 = time.perf_counter()
            encoder.fit(X[train], y[train])
            fit_s = time.perf_counter() - t0
            model = _save_model(encoder, args, i, label, code)
        else:  # --load-models: scored again, not trained (no fit time)
            encoder, model, fit_s = loaded, _model_path(args.load_models, i, label, code), None
        modes = [False, True] if encoder.code_space_.kind == "product" else [False]
        for asymmetric in modes:
            row = {"method": label, "code": code,
                   "n_bits": round(float(getattr(encoder.code_space_, "information_bits",
                                                 encoder.code_space_.n_bits)), 2),
                   "search": ("asym" if asymmetric else "sym")
                   if encoder.code_space_.kind == "product" else "hamming"}
            if fit_s is not None:
                row["fit_s"] = fit_s
            network = network_name(encoder)
            if network is not None:
                row["network"] = network
            if model is not None:
                row["model"] = model
            row.update(gate_columns(encoder))
            row.update(evaluate(encoder, X[split.query], y[split.query], X[split.database],
                                y[split.database], k=args.k, asymmetric=asymmetric,
                                also_normalize=tuple(getattr(args, "map_normalize", ()) or ()),
                                tie_seed=args.seed))
            if curve is not None:
                row["curve"] = [{"epoch": p["epoch"], "mAP@all": p[row["search"] if
                                 row["search"] in p else "sym"]} for p in curve.points]
            # a distorted dataset is not the papers': no published figure beside it
            paper = (None if distort else
                     paper_figure(args.dataset, args.protocol, label, code, row["search"]))
            if paper is not None:
                row["paper_mAP"] = paper
            other = PAPER_FIGURES_OTHER.get((args.dataset, args.protocol, getattr(
                args, "features", "pixels"), label, int(round(row["n_bits"]))))
            if other is not None and not distort:
                row[f"paper_{other[0]}"] = other[1]
            rows.append(row)
            print(f"[{i}/{len(runs)}] {label} {code} {row['search']}: "
                  f"mAP@all={row['mAP@all']:.4f} "
                  f"(tie-averaged {row['mAP@all/tie-averaged']:.4f})"
                  f"{f' (paper {paper:.4f})' if paper is not None else ''}"
                  f"{' (loaded)' if fit_s is None else f' fit {fit_s:.1f} s'}",
                  file=progress, flush=True)
        if args.output:  # after every fit: a long run stopped half-way keeps its rows
            _write_json(args, rows, complete=i == len(runs))
    _print_table(rows, out)
    return rows


def _run_meta(args):
    """What produced the results: :func:`skhash._report.environment` (command,
    versions, CPU, date) plus torch's device and threads, seed, data, protocol."""
    import torch

    argv = getattr(args, "argv", None)
    meta = environment(argv=None if argv is None else ["skhash", *argv],
                       threads=torch.get_num_threads(), device=args.device)
    meta.update(seed=args.seed, dataset=args.dataset, protocol=args.protocol,
                features=getattr(args, "features", "pixels"))
    if getattr(args, "distort", None):
        meta["distort"] = args.distort
    return meta


def _csv_rows(rows, meta):
    """The rows flattened for CSV: every figure, then the run's description."""
    flat_meta = {k: v for k, v in meta.items() if k != "versions"}
    flat_meta.update({f"{name}_version": v for name, v in meta["versions"].items()})
    out = []
    for row in rows:
        row = dict(row)
        if "curve" in row:  # one column: epoch:mAP pairs
            row["curve"] = " ".join(f"{p['epoch']}:{p['mAP@all']:.4f}" for p in row["curve"])
        out.append({**row, **flat_meta})
    return out


def _save_model(encoder, args, i, label, code):
    """``--save-models``: the fitted encoder saved with :func:`skhash.save` in
    one directory per fit (run number, method and code size in its name), so
    that it can be scored again without training; returns the path (None
    without the option)."""
    folder = getattr(args, "save_models", None)
    if not folder:
        return None
    from ._persistence import save

    path = _model_path(folder, i, label, code)
    save(encoder, path, overwrite=True)
    return path


def _model_path(folder, i, label, code):
    """Where ``--save-models`` puts fit ``i`` and ``--load-models`` looks for it."""
    return os.path.join(folder, re.sub(r"[^\w.=-]+", "_", f"{i:02d}-{label}-{code}"))


# parameters that may differ between the run that saved a model and the one scoring it
_LOAD_IGNORED_PARAMS = frozenset({"verbose", "device", "callbacks"})


def _load_model(encoder, args, i, label, code):
    """``--load-models``: fit ``i`` as a model saved by ``--save-models`` with the
    same command (None without the option). Refuses, naming it, a missing
    directory and a model that is not the one this command would train: another
    class, or other parameters."""
    folder = getattr(args, "load_models", None)
    if not folder:
        return None
    from ._persistence import load

    path = _model_path(folder, i, label, code)
    if not os.path.isdir(path):
        raise SystemExit(f"--load-models: no saved model {path} for run {i} ({label} "
                         f"{code}); save it with --save-models and the same command")
    model = load(path, device=getattr(args, "device", None))
    if type(model) is not type(encoder):
        raise SystemExit(f"--load-models: {path} holds a {type(model).__name__}, but run {i} "
                         f"trains a {type(encoder).__name__}")
    want, got = encoder.get_params(deep=False), model.get_params(deep=False)
    differ = sorted(k for k in want.keys() | got.keys() if k not in _LOAD_IGNORED_PARAMS
                    and repr(want.get(k)) != repr(got.get(k)))
    if differ:
        raise SystemExit(f"--load-models: {path} was trained with other parameters than run "
                         f"{i}: " + ", ".join(f"{k}={got.get(k)!r} (this run: {want.get(k)!r})"
                                              for k in differ))
    return model


def _write_json(args, rows, complete):
    """Write the rows so far to ``args.output`` (atomically: a temporary file
    renamed): JSON, or CSV where the name ends in ``.csv``."""
    tmp = f"{args.output}.tmp"
    meta = _run_meta(args)
    with open(tmp, "w", newline="") as fh:
        if args.output.lower().endswith(".csv"):
            flat = _csv_rows(rows, meta)
            columns = list(dict.fromkeys(key for row in flat for key in row))
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(flat)
        else:
            json.dump({"meta": meta, "args": {k: v for k, v in vars(args).items()
                                              if k != "argv"},
                       "complete": complete, "results": rows}, fh, indent=2)
    os.replace(tmp, args.output)


def _print_table(rows, out):
    if not rows:
        return
    cols = []
    for row in rows:
        cols += [c for c in row if c not in cols and c not in ("curve", "model")]
    fmt = {c: (lambda v: f"{v:.4f}") for c in cols}
    fmt.update({"method": str, "code": str, "network": str, "search": str,
                "n_bits": lambda v: f"{v:g}",
                "fit_s": lambda v: f"{v:.1f}", "fine_tuned": lambda v: "yes" if v else "no",
                "encode_us_per_item": lambda v: f"{v:.1f}"})
    cells = [[fmt[c](r[c]) if c in r else "-" for c in cols] for r in rows]
    widths = [max(len(c), *(len(r[j]) for r in cells)) for j, c in enumerate(cols)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |", file=out)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)
    for r in cells:
        print("| " + " | ".join(v.rjust(w) for v, w in zip(r, widths)) + " |", file=out)


def build_parser():
    parser = argparse.ArgumentParser(prog="skhash", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("benchmark", help="train methods and print a retrieval table")
    b.add_argument("--dataset", choices=["digits", "mnist", "cifar10"], default="digits")
    b.add_argument("--data-home", help="directory of the dataset files (MNIST IDX files; "
                                       "CIFAR-10 image folders or python batches)")
    b.add_argument("--subset", default="test", choices=["test", "train", "all"],
                   help="MNIST subset to read (default: test, the 10k images)")
    b.add_argument("--methods", nargs="+", default=["cnnbh"], choices=sorted(METHODS))
    b.add_argument("--bits", nargs="+", type=int, default=[12, 24, 32, 48],
                   help="code lengths of the hashers (cnnbh, ssdh, itq, lsh)")
    b.add_argument("--codes", nargs="+", default=["8x64"], metavar="MxK",
                   help="product-code sizes of the quantizers, M parts of K codewords "
                        "(default 8x64: 48 bits)")
    # the variants a method can compare (one option per method)
    variants = [
        ("--dpq-ablation", DPQ_ABLATIONS, "DPQ: loss variants to compare (full, no_central, "
         "no_gini_batch, no_gini_sample)"),
        ("--deepquan-variants", DEEPQUAN_VARIANTS, "DeepQuan: variants to compare (full = the "
         "defaults; tuned = fine-tuned whatever the code's k-means stability; dae_pq "
         "= PQ on the pre-trained autoencoder code; triplet_only and quadratic_only = eta 0 "
         "with the weighted triplet or the quadratic PQ loss; quadratic = quadratic + "
         "reconstruction). Label-free methods (deepquan, pq, itq, lsh) train on the whole "
         "database without labels under the cnnh and random protocols"),
        ("--deepsom-variants", DEEPSOM_VARIANTS, "DeepSOM: variants to compare (full; zero = "
         "DeepSOM-0, pre-training and SOM only)"),
    ]
    for option, choices, text in variants:
        b.add_argument(option, nargs="+", choices=sorted(choices), help=text)
    b.add_argument("--map-shape", nargs="+", default=["20x20"], metavar="ROWSxCOLS",
                   help="DeepSOM: SOM grid sizes (default 20x20: 400 nodes, log2(400) = 8.6 "
                        "bits)")
    b.add_argument("--alternations", type=int, default=None,
                   help="DeepSOM: override n_alternations (rounds of network / SOM training)")
    b.add_argument("--protocol", choices=["cnnh", "dsh", "ssdh", "unseen", "random"],
                   default="cnnh",
                   help="cnnh: 100 queries per class, the rest is the database, 5,000 training "
                        "images from it; dsh: train on the training split, the test split is "
                        "queries and database; ssdh: 100 test queries per class, the training "
                        "split is training set and database; unseen: train on 7 classes, "
                        "search the other 3; random (see the docs)")
    b.add_argument("--queries-per-class", type=int, default=None,
                   help="cnnh, ssdh, unseen protocols: queries per class (default 100; 30 on "
                        "digits)")
    b.add_argument("--n-train", type=int, default=None,
                   help="training images drawn from the database (default 5000 on MNIST, "
                        "the whole database on digits)")
    b.add_argument("--n-train-per-class", type=int, default=None,
                   help="cnnh / unseen protocols: training images per class instead (default "
                        "500 with cnnh on cifar10, and with unseen except on digits)")
    b.add_argument("--unseen-classes", type=int, default=3,
                   help="unseen protocol: classes held out of training (default 3)")
    b.add_argument("--n-queries", type=float, default=0.1, help="random protocol: queries")
    b.add_argument("--k", type=int, default=100, help="cut-off of mAP@k and precision@k")
    b.add_argument("--map-normalize", nargs="+", choices=["retrieved", "relevant", "min"],
                   default=(), help="mAP@k normalised these ways too (columns mAP@k/relevant, "
                                    "mAP@k/min; the default column divides by the relevant "
                                    "items retrieved)")
    b.add_argument("--features", choices=["pixels", "gist"], default="pixels",
                   help="what the methods see: the pixels, or each image's 512-value GIST "
                        "descriptor (skhash.features.GIST; computed once, then cached)")
    b.add_argument("--distort", choices=["invert", "jitter"], default=None,
                   help="a synthetic dataset made from the images, before everything else: "
                        "inverted contrast, or each image rotated (up to 15 degrees) and "
                        "shifted (up to 3 pixels) at random (skhash.datasets.distort_images)")
    b.add_argument("--backbone", default=None,
                   help="the deep image methods' network (their backbone parameter, e.g. dsh "
                        "or cifar_cnn; see skhash.nn.BACKBONES) instead of their default; the "
                        "rows' network column says which one each trained")
    b.add_argument("--epochs", type=int, default=None,
                   help="override max_epochs (DeepQuan: pretrain_epochs too)")
    b.add_argument("--multilabel", action="store_true",
                   help="train and judge on the multi-label variant (digit, even, >=5): "
                        "relevant = shares a label")
    b.add_argument("--ablation", nargs="+", metavar="A,B,G",
                   help="SSDH: loss weights alpha,beta,gamma to compare, e.g. 1,0,0 1,1,0 1,1,1")
    b.add_argument("--p", nargs="+", type=int, choices=[1, 2],
                   help="SSDH: exponent(s) p of the loss terms (default 2)")
    b.add_argument("--curve", action="store_true",
                   help="also record the queries' mAP@all after every epoch (deep methods; "
                        "written to --output, not printed in the table; fit_s then includes "
                        "the per-epoch evaluations)")
    b.add_argument("--save-models", metavar="DIR",
                   help="save every fitted model under DIR (skhash.save, one directory per "
                        "fit, named by run number, method and code size; the rows' model "
                        "field gives it), to score it again without training; not with "
                        "--curve")
    b.add_argument("--load-models", metavar="DIR",
                   help="score the models that --save-models DIR saved with the same command "
                        "instead of training them (new metrics on old fits; rows have no "
                        "fit_s); not with --save-models or --curve")
    b.add_argument("--device", default="cpu")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--verbose", action="store_true", help="per-epoch progress from skorch")
    b.add_argument("--output", help="also write the results to this file (rewritten after "
                   "every fit): JSON, or CSV where the name ends in .csv; every figure of the "
                   "table and what produced it (command line, versions, CPU, torch device "
                   "and threads, date, seed, protocol)")
    r = sub.add_parser("report", help="render results files (skhash benchmark --output, "
                       "benchmarks/bench_scale.py --output) into the docs' tables and figures")
    r.add_argument("files", nargs="+", help="JSON results files; with --merge, each may be "
                   "FILE=TABLE to file its rows under that table")
    r.add_argument("--merge", metavar="OUT.json",
                   help="merge the files into one results file (to publish) instead of "
                        "rendering them")
    r.add_argument("--notes", help="with --merge: a note on the runs, shown with the table")
    r.add_argument("--output", default="docs/_generated",
                   help="folder of the rendered .inc.rst tables and .png figures "
                        "(default docs/_generated)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.command == "benchmark":
        if args.save_models and args.curve:
            parser.error("--save-models cannot be combined with --curve (the curve's "
                         "callback holds the data it scores)")
        if args.load_models and (args.save_models or args.curve):
            parser.error("--load-models cannot be combined with --save-models or --curve "
                         "(it trains nothing)")
        if args.n_queries >= 1:
            args.n_queries = int(args.n_queries)
        run_benchmark(args)
    elif args.command == "report":
        from ._report import merge_results, render_report

        if args.merge:
            sources = [tuple(f.rsplit("=", 1)) if "=" in f else (f, None) for f in args.files]
            rows = merge_results(sources, args.merge, notes=args.notes)
            print(f"{args.merge}: {len(rows)} rows from {len(sources)} files")
        else:
            for path in render_report(args.files, args.output):
                print(path)
    return 0
