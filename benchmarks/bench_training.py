"""CPU training speed: skhash's deep estimators vs a plain PyTorch loop on the same module.

For each network, the estimator's ``fit`` is timed on random ``(3, 32, 32)``
float32 images (10 classes), and so is a plain PyTorch loop that trains the
*same* module: built by the estimator's own ``_build_module`` (augmentation
included, active in train mode), with the estimator's criterion
(``_build_criterion``), optimizer (Adam, same lr and weight decay),
learning-rate schedule (the scheduler of its ``_schedule_callbacks``, stepped
as skorch steps it), batch size, seed and thread count, and shuffled batches
gathered from a tensor by an index permutation (no DataLoader). With the same seed
both train to the same weights ("same weights" column), which shows that
the two loops do the same work.

What is timed:

* plain: the epochs only (a warm-up step is run first, then undone);
* estimator: the whole ``fit`` call (data validation, module build, skorch
  set-up and the epochs) minus ``_after_fit`` and, for DeepSOM, the SOM
  training after the pre-training (both timed and reported apart); a
  warm-up ``fit`` on one batch is run first.

images/s = epochs * n / seconds; "est/plain" is the estimator's time over the
plain loop's (1.00 = no overhead; the goal is <= 1.10). "loader ms/batch" is
the time skorch's DataLoader takes to collate one batch of numpy rows
(iterating the estimator's training iterator without training).

Rows: one baseline per network (the largest ``--threads``, batch 128 when
listed, channels-last on, augmentation on, eager), then, for
``--variant-networks``, one row per other setting, one factor at a time:
other thread counts, batch sizes, channels-last off (the backbones'
``_as_images`` made a plain reshape and the weights left contiguous),
augmentation off (``shift_augment=0, flip_augment=False``) and
``torch.compile`` (plain loop only; compilation time excluded; reported as
slower or failed where it is).

After the table: the estimator's per-batch overhead measured apart, on a
linear model whose steps cost next to nothing (``--probe``: CNNBH's estimator
and loss, baseline threads and batch size, best of 3), as a share of each
network's step; and the ops that take the most time in a plain training step
of each network's baseline (``torch.profiler``, ``--profile-batches`` steps).

With ``--data-home`` (a CIFAR-10 folder, e.g. ``../shared/data/cifar10-jpeg``,
or any class-folder tree), loading is timed too: with ``cache=False`` twice
(the first read may include the disk; the second is decoding), filling a
fresh cache (a temporary folder), and warm (read from that cache). Loading
happens once per ``fit``, not once per epoch.

    python benchmarks/bench_training.py [--n 5000] [--epochs 3] [--threads 1 2]
        [--batch-sizes 64 128 256] [--channels-last on off] [--augment on off]
        [--compile | --no-compile] [--networks all] [--variant-networks cnnbh_cifar]
        [--repeat 1] [--data-home DIR] [--output results.json]
"""

import argparse
import contextlib
import copy
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import skorch
import torch
from sklearn.base import clone
from sklearn.utils import check_random_state
from skorch.callbacks import LRScheduler
from torch import nn

import skhash
import skhash.nn._backbones as backbones
from skhash.hashing import CNNBHHasher, SSDHHasher
from skhash.quantization import DeepSOMQuantizer, DPQQuantizer

INPUT_SHAPE = (3, 32, 32)
N_CLASSES = 10
BASELINE_BATCH = 128  # the estimators' default

NETWORKS = {
    "cnnbh_cifar": ("CNNBHHasher, CNNBH CIFAR net",
                    lambda: CNNBHHasher(n_bits=48, input_shape=INPUT_SHAPE,
                                        backbone="cnnbh_cifar")),
    "cnnbh_cifar_cnn": ("CNNBHHasher, CifarCNN",
                        lambda: CNNBHHasher(n_bits=48, input_shape=INPUT_SHAPE,
                                            backbone="cifar_cnn")),
    "dpq_dsh": ("DPQQuantizer, DSH net",
                lambda: DPQQuantizer(M=4, K=64, input_shape=INPUT_SHAPE)),
    "ssdh": ("SSDHHasher, CifarCNN + fc",
             lambda: SSDHHasher(n_bits=48, input_shape=INPUT_SHAPE)),
    "deepsom": ("DeepSOMQuantizer pre-training, CifarCNN + fc",
                lambda: DeepSOMQuantizer(input_shape=INPUT_SHAPE, n_alternations=0)),
}


class _LinearProbe(nn.Module):
    """Two linear layers: a training step costs next to nothing but the loop's own work."""

    def __init__(self, n_features, n_bits, n_outputs):
        super().__init__()
        self.latent = nn.Linear(n_features, n_bits)
        self.classifier = nn.Linear(n_bits, n_outputs)

    def forward(self, x):
        latent = self.latent(x)
        return self.classifier(latent), latent


class _ProbeHasher(CNNBHHasher):
    """CNNBH's estimator and loss on :class:`_LinearProbe`: measures the
    estimator's per-batch overhead (skorch's loop and DataLoader)."""

    def _build_module(self, n_features, n_outputs):
        return _LinearProbe(n_features, self.n_bits, n_outputs)


# ------------------------------------------------------------------ settings
def _plain_images(x, input_shape):
    return x.reshape(x.shape[0], *input_shape)


@contextlib.contextmanager
def _settings(threads, channels_last):
    """Thread count and, for ``channels_last=False``, contiguous-format backbones."""
    previous = torch.get_num_threads()
    as_images, to_channels_last = backbones._as_images, backbones._channels_last
    torch.set_num_threads(threads)
    if not channels_last:
        backbones._as_images = _plain_images
        backbones._channels_last = lambda module: module.to(
            memory_format=torch.contiguous_format)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
        backbones._as_images, backbones._channels_last = as_images, to_channels_last


def _estimator(network, cfg, epochs, seed):
    est = NETWORKS[network][1]()
    params = dict(max_epochs=epochs, batch_size=cfg["batch"], random_state=seed)
    if not cfg["augment"]:
        params.update(shift_augment=0, flip_augment=False)
    return est.set_params(**params)


# ---------------------------------------------------------------- plain loop
def _plain_setup(est, X, y):
    """Data tensors, module, criterion and shuffling generator, made (and seeded)
    as ``est.fit`` makes them; call inside ``torch.random.fork_rng``."""
    est._validate_params()
    est._check_params_consistency()
    X, y = est._validate_X(X, reset=True, y=y if est._requires_y else None)
    y_t, n_outputs = est._prepare_target(y) if est._requires_y else (None, None)
    rng = check_random_state(est.random_state)
    seed = int(rng.randint(np.iinfo(np.int32).max))  # the seed fit draws first
    if est.validation_fraction:
        raise ValueError("the plain loop does not hold out a validation split")
    torch.manual_seed(seed)
    module = est._build_module(X.shape[1], n_outputs)
    generator = torch.Generator().manual_seed(seed)
    criterion = est._build_criterion(n_outputs)
    if backbones._as_images is _plain_images:  # channels-last off
        module = module.to(memory_format=torch.contiguous_format)
    module.train()
    criterion.train()
    y_t = None if y_t is None else torch.from_numpy(y_t)
    return torch.from_numpy(X), y_t, module, criterion, generator


def _optimizer(est, module, criterion, n, bs):
    """The estimator's optimizer, and its learning-rate scheduler with when it
    steps ("epoch" or "batch"; None without a schedule), from the skorch
    ``LRScheduler`` of ``est._schedule_callbacks()``."""
    params = list(module.parameters()) + list(criterion.parameters())
    kwargs = {k.split("__", 1)[1]: v for k, v in est._optimizer_params().items()}
    optimizer = est._optimizer_class()(params, lr=float(est._recipe("lr")), **kwargs)
    est._batches_per_epoch = n // bs + (n % bs > 1)  # as fit sets it (per-batch schedules)
    est._resolve_max_epochs(est._batches_per_epoch)  # and max_epochs_ ("auto" resolved)
    for _, callback in est._schedule_callbacks():
        if isinstance(callback, LRScheduler):
            policy = callback.policy
            if isinstance(policy, str):
                policy = getattr(torch.optim.lr_scheduler, policy)
            return optimizer, policy(optimizer, **callback.kwargs), callback.step_every
    return optimizer, None, None


def _step(forward, criterion, optimizer, xb, yb):
    optimizer.zero_grad()
    loss = criterion(forward(xb), yb)
    loss.backward()
    optimizer.step()
    return loss.item()


def time_plain(est, X, y, compile_module=False):
    """Train ``est``'s module in a plain loop.

    Returns (seconds, module, mean loss of the last epoch, warm-up seconds).
    """
    est = clone(est)
    with torch.random.fork_rng(devices=[]):
        X_t, y_t, module, criterion, generator = _plain_setup(est, X, y)
        forward = torch.compile(module) if compile_module else module
        n = X_t.shape[0]
        bs = min(est.batch_size, n)
        drop_last = n % bs == 1  # as fit: a last batch of one sample breaks BatchNorm

        # warm-up (and compilation) on the first batch, and on the last one's
        # size when compiling; then restore the weights and the RNG
        state = copy.deepcopy((module.state_dict(), criterion.state_dict()))
        t_warm = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            optimizer = _optimizer(est, module, criterion, n, bs)[0]
            sizes = [bs] + ([n % bs] if compile_module and n % bs > 1 else [])
            for size in sizes:
                _step(forward, criterion, optimizer, X_t[:size],
                      None if y_t is None else y_t[:size])
        t_warm = time.perf_counter() - t_warm
        module.load_state_dict(state[0])
        criterion.load_state_dict(state[1])
        optimizer, scheduler, step_every = _optimizer(est, module, criterion, n, bs)
        warmup = getattr(est, "warmup_epochs", None)

        gc.collect()
        t0 = time.perf_counter()
        for epoch in range(est.max_epochs_):
            if warmup is not None and hasattr(criterion, "ramp"):  # SSDH's _WarmUp callback
                criterion.ramp = min(1.0, epoch / warmup) if warmup else 1.0
            module.train()
            criterion.train()
            # the draws skorch's DataLoader makes from its generator, so that the
            # batches (hence the weights) are the estimator's: a base seed, the
            # permutation, and the sampler's trailing (empty) one
            torch.empty((), dtype=torch.int64).random_(generator=generator)
            perm = torch.randperm(n, generator=generator)
            torch.randperm(n, generator=generator)
            losses = []
            for start in range(0, n, bs):
                idx = perm[start:start + bs]
                if drop_last and len(idx) < bs:
                    break
                losses.append(_step(forward, criterion, optimizer, X_t[idx],
                                    None if y_t is None else y_t[idx]))
                if step_every == "batch":
                    scheduler.step()
            if step_every == "epoch":
                scheduler.step()
        seconds = time.perf_counter() - t0
        if hasattr(criterion, "ramp"):
            criterion.ramp = 1.0
    return seconds, module, float(np.mean(losses)), t_warm


def profile_plain(est, X, y, n_batches, top=8):
    """The ops taking the most self CPU time in ``n_batches`` plain training steps
    (torch.profiler, after one warm-up step), as dicts op / ms_per_batch / share."""
    from torch.profiler import ProfilerActivity, profile

    est = clone(est)
    with torch.random.fork_rng(devices=[]):
        X_t, y_t, module, criterion, _ = _plain_setup(est, X, y)
        bs = min(est.batch_size, X_t.shape[0])
        optimizer = _optimizer(est, module, criterion, X_t.shape[0], bs)[0]
        batches = [torch.randint(0, X_t.shape[0], (bs,)) for _ in range(n_batches + 1)]

        def step(idx):
            _step(module, criterion, optimizer, X_t[idx], None if y_t is None else y_t[idx])

        step(batches[0])
        quiet = os.environ.get("KINETO_LOG_LEVEL")
        os.environ["KINETO_LOG_LEVEL"] = "99"  # no "profiler_start/stop" lines on stderr
        try:
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for idx in batches[1:]:
                    step(idx)
        finally:
            if quiet is None:
                del os.environ["KINETO_LOG_LEVEL"]
            else:
                os.environ["KINETO_LOG_LEVEL"] = quiet
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    ops = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [{"op": e.key, "ms_per_batch": e.self_cpu_time_total / 1e3 / n_batches,
             "share": e.self_cpu_time_total / total} for e in ops]


# ----------------------------------------------------------------- estimator
def time_estimator(est, X, y):
    """Time ``est.fit``; return (training seconds, fitted estimator, details)."""
    n_warm = min(est.batch_size, X.shape[0])
    with warnings_silenced():
        clone(est).set_params(max_epochs=1).fit(X[:n_warm], y[:n_warm])
    est = clone(est)
    excluded = {}

    def timed(name, method):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                excluded[name] = excluded.get(name, 0.0) + time.perf_counter() - t0
        return wrapper

    est._after_fit = timed("after_fit", est._after_fit)
    if hasattr(est, "_train_som"):
        est._train_som = timed("train_som", est._train_som)
    gc.collect()
    with warnings_silenced():
        t0 = time.perf_counter()
        est.fit(X, y)
        total = time.perf_counter() - t0
    del est._after_fit
    est.__dict__.pop("_train_som", None)
    epochs_s = float(sum(est.history_[:, "dur"]))
    seconds = total - sum(excluded.values())
    details = {"fit_s": total, "excluded_s": excluded, "epochs_s": epochs_s,
               "setup_s": seconds - epochs_s}
    return seconds, est, details


@contextlib.contextmanager
def warnings_silenced():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def loader_ms_per_batch(est, X, y):
    """Milliseconds skorch's training DataLoader takes per batch (no training)."""
    net = est.net_
    y_enc = np.searchsorted(est.classes_, y).astype(np.int64)
    iterator = net.get_iterator(net.get_dataset(X, y_enc), training=True)
    with torch.random.fork_rng(devices=[]):
        t0 = time.perf_counter()
        n_batches = sum(1 for _ in iterator)
        return 1e3 * (time.perf_counter() - t0) / max(n_batches, 1)


def same_weights(module_a, module_b):
    """Whether two modules have equal parameters (buffers such as DeepSOM's
    codewords, set by the SOM after pre-training, are not compared)."""
    a, b = dict(module_a.named_parameters()), dict(module_b.named_parameters())
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------- rows
def run_config(network, cfg, X, y, args):
    """One table row: plain loop and estimator under ``cfg``."""
    n_images = args.epochs * X.shape[0]
    row = {"network": network, "description": NETWORKS[network][0], **cfg,
           "n": int(X.shape[0]), "epochs": args.epochs}
    est = _estimator(network, cfg, args.epochs, args.seed)
    with _settings(cfg["threads"], cfg["channels_last"]):
        if cfg["compile"]:
            try:
                runs = [time_plain(est, X, y, compile_module=True) for _ in range(args.repeat)]
            except Exception as exc:  # any compile failure becomes the row's note
                row.update(plain_ips=None, status=f"failed: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:160] if str(exc) else ''}")
                return row
            row.update(plain_ips=n_images / min(r[0] for r in runs), estimator_ips=None,
                       ratio=None, same_weights=None, compile_s=runs[0][3],
                       status="ok (plain loop only)")
            return row
        plain_s, est_s, module, loss, fitted, details = _best_of(est, X, y, args.repeat)
        row.update(
            plain_ips=n_images / plain_s, estimator_ips=n_images / est_s, ratio=est_s / plain_s,
            same_weights=same_weights(module, fitted.net_.module_),
            plain_last_epoch_loss=loss,
            estimator_last_epoch_loss=float(fitted.history_[-1, "train_loss"]),
            loader_ms_per_batch=loader_ms_per_batch(fitted, X, y),
            estimator_details=details, status="ok",
        )
        if cfg["variant"] == "baseline" and args.profile_batches > 0:
            row["profile"] = profile_plain(est, X, y, args.profile_batches)
    return row


def _best_of(est, X, y, repeat):
    """Time the plain loop and the estimator ``repeat`` times, alternating; keep the best."""
    plain, estimator = (np.inf,), (np.inf,)
    for _ in range(repeat):
        s, module, loss, _ = time_plain(est, X, y)
        plain = min(plain, (s, module, loss), key=lambda r: r[0])
        estimator = min(estimator, time_estimator(est, X, y), key=lambda r: r[0])
    return plain[0], estimator[0], plain[1], plain[2], estimator[1], estimator[2]


def overhead_probe(X, y, args, threads, batch):
    """Milliseconds per batch of the plain loop and the estimator on a linear model."""
    est = _ProbeHasher(n_bits=48, input_shape=INPUT_SHAPE, max_epochs=args.epochs,
                       batch_size=batch, random_state=args.seed)
    with _settings(threads, channels_last=True):
        plain_s, est_s, _, _, fitted, _ = _best_of(est, X, y, max(3, args.repeat))
        loader = loader_ms_per_batch(fitted, X, y)
    n_batches = args.epochs * len(fitted.history_[-1, "batches"])
    return {"threads": threads, "batch": batch, "plain_ms_per_batch": 1e3 * plain_s / n_batches,
            "estimator_ms_per_batch": 1e3 * est_s / n_batches,
            "overhead_ms_per_batch": 1e3 * (est_s - plain_s) / n_batches,
            "loader_ms_per_batch": loader}


def overhead_lines(probe, rows):
    shares = []
    for r in rows:
        if r["variant"] == "baseline" and r.get("plain_ips"):
            step_ms = 1e3 * r["batch"] / r["plain_ips"]
            shares.append(f"{r['network']} {100 * probe['overhead_ms_per_batch'] / step_ms:.1f}%")
    return (f"Estimator overhead per batch, measured on a linear model ({probe['threads']} "
            f"threads, batch {probe['batch']}): plain loop {probe['plain_ms_per_batch']:.2f} "
            f"ms/batch, estimator {probe['estimator_ms_per_batch']:.2f} ms/batch: "
            f"{probe['overhead_ms_per_batch']:.2f} ms/batch more (skorch's DataLoader alone: "
            f"{probe['loader_ms_per_batch']:.2f} ms/batch), i.e. of a baseline step: "
            + (", ".join(shares) or "-"))


def configs(networks, variant_networks, args):
    threads0 = max(args.threads)
    batch0 = BASELINE_BATCH if BASELINE_BATCH in args.batch_sizes else args.batch_sizes[0]
    base = dict(threads=threads0, batch=batch0, channels_last="on" in args.channels_last,
                augment="on" in args.augment, compile=False)
    for network in networks:
        yield network, dict(variant="baseline", **base)
        if network not in variant_networks:
            continue
        for t in args.threads:
            if t != threads0:
                yield network, {**base, "variant": f"threads={t}", "threads": t}
        for b in args.batch_sizes:
            if b != batch0:
                yield network, {**base, "variant": f"batch={b}", "batch": b}
        if base["channels_last"] and "off" in args.channels_last:
            yield network, {**base, "variant": "channels_last off", "channels_last": False}
        if base["augment"] and "off" in args.augment:
            yield network, {**base, "variant": "augmentation off", "augment": False}
        if args.compile:
            yield network, {**base, "variant": "torch.compile", "compile": True}


def _mark_compile(rows):
    """Compare each compile row with its network's eager baseline."""
    baseline = {r["network"]: r for r in rows if r["variant"] == "baseline"}
    for r in rows:
        eager = baseline.get(r["network"])
        if r["compile"] and r.get("plain_ips") and eager is not None:
            verdict = "slower" if r["plain_ips"] < eager["plain_ips"] else "faster"
            r["status"] = (f"{verdict} than eager ({r['plain_ips']:.0f} vs "
                           f"{eager['plain_ips']:.0f} img/s, plain loop; compiling took "
                           f"{r['compile_s']:.0f}s)")


# ------------------------------------------------------------------ decoding
def time_decoding(data_home, subset):
    """Seconds to load ``data_home`` cold (decoding), filling a cache, and warm."""
    from skhash.datasets import load_cifar10, load_image_folder

    root = Path(data_home).expanduser()

    def load(cache, cache_dir=None):
        t0 = time.perf_counter()
        try:
            bunch = load_cifar10(root, subset=subset, cache=cache, cache_dir=cache_dir)
            loader = f"load_cifar10(subset={subset!r})"
        except FileNotFoundError:
            bunch = load_image_folder(root, cache=cache, cache_dir=cache_dir)
            loader = "load_image_folder"
        return time.perf_counter() - t0, bunch, loader

    result = {"data_home": str(root)}
    first, bunch, loader = load(cache=False)
    n = int(bunch.data.shape[0])
    result.update(loader=loader, n_images=n, image_folder="filenames" in bunch)
    del bunch
    cold = load(cache=False)[0]  # the files are in the OS page cache now: decoding only
    with tempfile.TemporaryDirectory() as cache_dir:
        fill = load(cache=True, cache_dir=cache_dir)[0]
        warm = load(cache=True, cache_dir=cache_dir)[0]
    for name, seconds in (("first_read", first), ("cold", cold), ("cache_fill", fill),
                          ("warm", warm)):
        result[f"{name}_s"] = seconds
        result[f"{name}_ips"] = n / seconds
    return result


# -------------------------------------------------------------------- output
def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def markdown_table(rows):
    lines = ["| network | variant | threads | batch | plain img/s | estimator img/s "
             "| est/plain time | same weights | loader ms/batch | notes |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.2f}x"
        same = "-" if r.get("same_weights") is None else str(r["same_weights"])
        notes = "" if r["status"] == "ok" else r["status"]
        lines.append(
            f"| {r['network']} | {r['variant']} | {r['threads']} | {r['batch']} "
            f"| {_fmt(r.get('plain_ips'), '.0f')} | {_fmt(r.get('estimator_ips'), '.0f')} "
            f"| {ratio} | {same} | {_fmt(r.get('loader_ms_per_batch'), '.2f')} | {notes} |")
    return "\n".join(lines)


def decoding_table(dec):
    return "\n".join([
        f"Loading {dec['n_images']} images from {dec['data_home']} with {dec['loader']}"
        + ("" if dec["image_folder"] else " (python batches: nothing to decode or cache)"),
        "",
        "| load | seconds | images/s |",
        "|---|---|---|",
        f"| cache=False, first read (files maybe not in the OS page cache) "
        f"| {dec['first_read_s']:.2f} | {dec['first_read_ips']:.0f} |",
        f"| cold: cache=False again (decoding) | {dec['cold_s']:.2f} | {dec['cold_ips']:.0f} |",
        f"| filling a new cache | {dec['cache_fill_s']:.2f} | {dec['cache_fill_ips']:.0f} |",
        f"| warm (from the cache) | {dec['warm_s']:.2f} | {dec['warm_ips']:.0f} |",
    ])


def profile_lines(rows):
    lines = []
    for r in rows:
        if r.get("profile"):
            ops = ", ".join(f"{p['op']} {100 * p['share']:.0f}%" for p in r["profile"])
            lines.append(f"- {r['network']} ({r['threads']} threads, batch {r['batch']}): {ops}")
    if lines:
        lines.insert(0, "Where a plain training step's time goes (torch.profiler, share of self "
                        "CPU time; backward ops included):")
    return "\n".join(lines)


def _names(values, allowed, option):
    if values == ["all"]:
        return list(allowed)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise SystemExit(f"{option}: unknown network(s) {unknown}; choose from {list(allowed)} "
                         "or 'all'")
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--n", type=int, default=5000, help="training images")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--networks", nargs="+", default=["all"],
                        help=f"'all' or some of {list(NETWORKS)}")
    parser.add_argument("--variant-networks", nargs="+", default=["cnnbh_cifar"],
                        help="networks that get the variant rows ('all' for every one)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--channels-last", nargs="+", choices=["on", "off"],
                        default=["on", "off"])
    parser.add_argument("--augment", nargs="+", choices=["on", "off"], default=["on", "off"])
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                        help="add a torch.compile row (plain loop) per variant network")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time each loop this many times (alternating) and keep the best")
    parser.add_argument("--profile-batches", type=int, default=5,
                        help="profile this many plain steps per network's baseline (0: none)")
    parser.add_argument("--probe", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the estimator's per-batch overhead on a linear model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-home", default=None,
                        help="also time loading (decoding / cache) of this image folder")
    parser.add_argument("--data-subset", default="test", choices=["train", "test", "all"])
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    networks = _names(args.networks, NETWORKS, "--networks")
    variant_networks = _names(args.variant_networks, NETWORKS, "--variant-networks")

    default_threads = torch.get_num_threads()
    machine = {"cpu": _cpu_model(), "logical_cpus": os.cpu_count(),
               "torch_default_threads": default_threads, "torch": torch.__version__,
               "skorch": skorch.__version__, "numpy": np.__version__,
               "skhash": getattr(skhash, "__version__", None),
               "python": platform.python_version()}
    print(f"# {machine['cpu']}, {machine['logical_cpus']} logical CPUs, torch "
          f"{machine['torch']} (default {default_threads} threads), skorch {machine['skorch']}; "
          f"{args.n} random {INPUT_SHAPE} images, {N_CLASSES} classes, {args.epochs} epoch(s)",
          flush=True)

    result = {"machine": machine, "settings": vars(args), "decoding": None,
              "overhead_probe": None, "rows": []}
    if args.data_home is not None:
        result["decoding"] = time_decoding(args.data_home, args.data_subset)
        print(decoding_table(result["decoding"]) + "\n", flush=True)

    rng = np.random.default_rng(args.seed)
    X = rng.random((args.n, int(np.prod(INPUT_SHAPE))), dtype=np.float32)
    y = rng.integers(0, N_CLASSES, args.n)
    rows = result["rows"]
    t_start = time.perf_counter()
    for network, cfg in configs(networks, variant_networks, args):
        row = run_config(network, cfg, X, y, args)
        rows.append(row)
        print(f"# {time.perf_counter() - t_start:6.0f}s  {network} / {cfg['variant']}: "
              f"plain {_fmt(row.get('plain_ips'), '.0f')} img/s, estimator "
              f"{_fmt(row.get('estimator_ips'), '.0f')} img/s  {row['status']}",
              file=sys.stderr, flush=True)
    _mark_compile(rows)
    if args.probe and rows:
        result["overhead_probe"] = overhead_probe(X, y, args, max(args.threads), rows[0]["batch"])
    result["total_s"] = time.perf_counter() - t_start
    print(markdown_table(rows))
    if result.get("overhead_probe"):
        print("\n" + overhead_lines(result["overhead_probe"], rows))
    profiles = profile_lines(rows)
    if profiles:
        print("\n" + profiles)
    print(f"\n# est/plain time: the estimator's training time over the plain loop's "
          f"(goal <= 1.10x); total {result['total_s']:.0f}s")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=2, default=str)
    return result


if __name__ == "__main__":
    main()
