"""Benchmark results as data: what produced them, and the tables and figures
the docs draw from them.

Results files are JSON objects ``{"meta": ..., "rows": [...]}`` (``skhash
benchmark --output`` writes ``"results"`` for the rows, beside its ``"args"``):
``meta`` is :func:`environment` at the time of the run plus the command line,
the rows one dict per measured point. The published ones live in ``benchmarks/published/``;
the docs build renders them (``docs/conf.py``) into ``docs/_generated/``.
"""

import datetime
import json
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["environment", "load_results", "save_results", "scale_rows", "scale_table",
           "scale_figure", "benchmark_table", "training_table", "search_table", "curve_table",
           "merge_results", "describe_run", "render_report"]


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(*, argv=None, threads=None, device=None):
    """What a result depends on: versions, CPU, threads, device, date, command."""
    env = {
        "command": " ".join(sys.argv if argv is None else argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "versions": {name: _version(dist) for name, dist in (
            ("skhash", "skhash"), ("numpy", "numpy"), ("scikit-learn", "scikit-learn"),
            ("torch", "torch"), ("skorch", "skorch"), ("numba", "numba"),
            ("faiss", "faiss-cpu"))},
    }
    if threads is not None:
        env["threads"] = threads
    if device is not None:
        env["device"] = device
    return env


def save_results(path, rows, meta):
    """Write ``{"meta": meta, "rows": rows}`` as JSON."""
    with open(path, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)


def _read(path):
    """``(meta, rows, args)`` of a results file (a bare list of rows is accepted)."""
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, list):
        return {}, data, {}
    rows = data.get("rows", data.get("results")) if isinstance(data, dict) else None
    if rows is None:
        raise ValueError(f"{path}: not a skhash results file (no 'rows' or 'results').")
    # bench_training.py files say where they ran under "machine"
    meta = data.get("meta", data.get("machine", {}))
    return meta, rows, data.get("args", {})


def load_results(path):
    """``(meta, rows)`` of a results file (a bare list of rows is accepted)."""
    meta, rows, _ = _read(path)
    return meta, rows


_TABLE_NAME = re.compile(r"[A-Za-z0-9][\w.-]*")
# names the report gives files of its own: a table may not take them
_RESERVED_TABLES = {"meta", "curve"}
_MACHINE_KEYS = ("cpu", "cpu_count", "python", "versions", "device", "threads")


def _check_table_name(name, where):
    if not _TABLE_NAME.fullmatch(name) or name in _RESERVED_TABLES:
        raise ValueError(
            f"{where}: table name {name!r} must be letters, digits, '_', '-' or '.', start "
            f"with a letter or digit (it names a file), and not be one of "
            f"{sorted(_RESERVED_TABLES)}.")


def _dates(runs):
    """The runs' dates (days), and how many runs have none."""
    days = sorted({str(r["date"])[:10] for r in runs if r.get("date")})
    undated = sum(1 for r in runs if not r.get("date"))
    if undated and days:
        days.append(f"{undated} of {len(runs)} runs undated")
    return ", ".join(days)


def _runs_meta(runs, notes=None):
    """One ``meta`` for several runs: commands joined by ``;``, dates, and the
    machine fields -- a value where the runs agree, else every value."""
    meta = {"command": "; ".join(r["command"] for r in runs if r.get("command"))}
    dates = _dates(runs)
    if dates:
        meta["date"] = dates
    def agreed(values):
        distinct = [v for i, v in enumerate(values) if v not in values[:i]]
        return distinct[0] if len(distinct) == 1 else " / ".join(map(str, distinct))

    for key in _MACHINE_KEYS:
        values = [r[key] for r in runs if r.get(key) is not None]
        if key == "versions":  # per package
            packages = list(dict.fromkeys(k for v in values for k in v))
            merged = {k: agreed([v[k] for v in values if v.get(k)]) for k in packages}
            if any(merged.values()):
                meta[key] = {k: v for k, v in merged.items() if v}
        elif values:
            meta[key] = agreed(values)
    run_notes = [r["notes"] for r in runs if r.get("notes")]
    run_notes = [n for i, n in enumerate(run_notes) if n not in run_notes[:i]]
    if notes or run_notes:
        meta["notes"] = "; ".join(([notes] if notes else []) + run_notes)
    return meta


def _dataset_label(meta, args):
    """What a run's rows were measured on: ``mnist``, ``cifar10-gist``, ``mnist-jitter``."""
    def get(key):
        return args.get(key) or meta.get(key)

    dataset = get("dataset")
    if dataset is None:
        return None
    features, distort = get("features"), get("distort")
    return "-".join([dataset, *([features] if features and features != "pixels" else []),
                     *([distort] if distort else [])])


def _label_datasets(rows, labels):
    """A ``dataset`` on every row of a table whose runs were measured on
    different data (the table then has a dataset column); rows that name
    theirs keep it."""
    by_table = {}
    for row, label in zip(rows, labels):
        by_table.setdefault(row.get("table"), []).append((row, label))
    for members in by_table.values():
        found = {row.get("dataset", label) for row, label in members}
        if len(found - {None}) > 1:
            for row, label in members:
                if "dataset" not in row and label is not None:
                    row["dataset"] = label


def merge_results(sources, path, *, notes=None):
    """Merge results files into one published file.

    ``sources``: ``(file, table)`` pairs; each file's rows get ``"table":
    table`` (when given), so :func:`render_report` renders them as their own
    table too. The merged ``meta`` keeps each run's command, date and
    environment (``meta["runs"]``; the runs of an already merged file are
    taken over as they are), and says the runs' commands, dates and machine
    (see :func:`_runs_meta`). A run that stopped before its end (``"complete":
    false``) is kept, marked ``"complete": false`` in its entry. Returns the
    merged rows.
    """
    rows, runs, labels = [], [], []
    for source, table in sources:
        if table is not None:
            _check_table_name(table, source)
        with open(source) as f:
            data = json.load(f)
        meta, file_rows, args = _read(source)
        if meta.get("runs"):  # an already merged file: keep its runs
            for run in meta["runs"]:
                runs.append({**run, **({"table": table} if table else {})})
        else:
            if not meta.get("command") and args:
                meta = {**meta, "command": _command_from_args(args)}
            run = {"file": Path(source).name, **({"table": table} if table else {}), **meta}
            if run.get("command"):  # where the raw file went is not part of the run
                run["command"] = re.sub(r" --output \S+", "", run["command"])
            if isinstance(data, dict) and data.get("complete") is False:
                run["complete"] = False
            runs.append(run)
        for row in file_rows:
            row = dict(row)
            if table:
                row["table"] = table
            protocol = args.get("protocol") or meta.get("protocol")
            if "protocol" not in row and protocol:  # older files: from the arguments
                row["protocol"] = protocol
            rows.append(row)
            labels.append(_dataset_label(meta, args))
    _label_datasets(rows, labels)
    merged = _runs_meta(runs, notes)
    if notes:
        merged["merge_notes"] = notes  # said beside every table of the file, too
    merged["runs"] = runs
    save_results(path, rows, merged)
    return rows


# --- the scaling benchmark (benchmarks/bench_scale.py) ---------------------

def scale_rows(rows):
    """The scaling rows by (kind, N): ``{(kind, n): {"skhash": row, "faiss": row}}``."""
    out = {}
    for row in rows:
        out.setdefault((row["kind"], int(row["n"])), {})[row.get("library", "skhash")] = row
    return dict(sorted(out.items()))


def _power_of_ten(n):
    """``10000`` as ``1e4``, ``2000000`` as ``2e6``."""
    mantissa, exponent = f"{n:.3e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def _figure(figsize):
    """A matplotlib Figure without pyplot (no global state, no display needed)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("drawing the benchmark figures needs matplotlib: pip install "
                          "matplotlib (or pip install 'skhash[plot]').") from None
    return Figure(figsize=figsize, layout="constrained")


def _fmt(value, digits=3):
    return "--" if value is None else f"{value:.{digits}f}"


def scale_table(rows):
    """The scaling results as a reStructuredText table."""
    header = ["codes", "N", "where", "skhash ms/query", "skhash peak RSS MiB",
              "of it file-backed MiB", "faiss ms/query", "faiss peak RSS MiB"]
    body = []
    for (kind, n), libs in scale_rows(rows).items():
        ours = libs.get("skhash", {})
        theirs = libs.get("faiss", {})
        faiss_ms = theirs.get("ms_per_query", ours.get("faiss_ms_per_query"))
        body.append([
            "binary" if kind == "hamming" else kind, _power_of_ten(n),
            "disk" if ours.get("on_disk") else "memory",
            _fmt(ours.get("ms_per_query")), _fmt(ours.get("peak_rss_mb"), 0),
            _fmt(ours.get("rss_file_mb_after"), 0), _fmt(faiss_ms),
            _fmt(theirs.get("peak_rss_mb"), 0)])
    return _rst_table(header, body)


def scale_figure(rows, path):
    """Time per query and peak memory against N (log-log), skhash vs faiss."""
    table = scale_rows(rows)
    fig = _figure(figsize=(10, 4))
    ax_t, ax_m = fig.subplots(1, 2)
    styles = {"hamming": ("tab:blue", "64-bit binary"), "product": ("tab:orange", "PQ 8x256")}
    for kind, (colour, label) in styles.items():
        points = [(n, libs) for (k, n), libs in table.items() if k == kind]
        if not points:
            continue
        for lib, style in (("skhash", "-o"), ("faiss", "--s")):
            xs, ts, ms = [], [], []
            for n, libs in points:
                row = libs.get(lib)
                t = row and row.get("ms_per_query")
                if lib == "faiss" and row is None:
                    t = libs.get("skhash", {}).get("faiss_ms_per_query")
                if t is None:
                    continue
                xs.append(n)
                ts.append(t)
                ms.append(row.get("peak_rss_mb") if row else None)
            if xs:
                ax_t.plot(xs, ts, style, color=colour, label=f"{lib}, {label}")
            mem = [(x, m) for x, m in zip(xs, ms) if m is not None]
            if mem:
                ax_m.plot(*zip(*mem), style, color=colour, label=f"{lib}, {label}")
    for ax, ylabel in ((ax_t, "ms per query (top-100)"), (ax_m, "peak RSS (MiB)")):
        ax.set_xscale("log")
        if ax is ax_t:
            ax.set_yscale("log")
        ax.set_xlabel("database codes N")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    ax_t.set_title("Exact search time")
    ax_m.set_title("Peak resident memory of the process")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


# --- skhash benchmark results (skhash report) ------------------------------

_HEAD_COLUMNS = [  # (key, header, digits)
    ("method", "method", None), ("dataset", "dataset", None), ("protocol", "protocol", None),
    ("code", "code", None), ("network", "network", None),
    ("search", "search", None),
    ("n_bits", "bits", 2), ("mAP@all", "mAP@all", 4), ("paper_mAP", "paper", 4),
    ("_gap", "gap", 4), ("mAP@all/shuffled", "shuffled db", 4),
    ("mAP@all/tie-averaged", "tie-averaged", 4),
]
_TAIL_COLUMNS = [
    ("P@r2", "P@r2", 4), ("accuracy", "accuracy", 4),
    ("code_stability", "code stability", 3), ("fine_tuned", "fine-tuned", None),
    ("fit_s", "fit s", 1),
    ("encode_us_per_item", "encode µs/item", 1), ("note", "note", None),
]
# mAP@k under each normalisation, P@k, and other papers' figures ("paper_MAP@1000"):
# columns named by the data, in the order they first appear
_AT_K = re.compile(r"(mAP|P)@\d+(/\w+)?$")


def _rst_table(header, body):
    """A reStructuredText simple table; an empty first cell shows ``--`` (reST
    would read the line as the continuation of the row above)."""
    body = [["--" if i == 0 and not c.strip() else c for i, c in enumerate(row)]
            for row in body]
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([rule, line(header), rule] + [line(r) for r in body] + [rule]) + "\n"


def _columns(rows):
    """The columns of a benchmark table: those some row fills, in a fixed order."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    at_k = [(k, k, 4) for k in keys if _AT_K.match(k)]
    papers = [(k, "paper " + k[len("paper_"):], 4) for k in keys
              if k.startswith("paper_") and k != "paper_mAP"]
    has_paper = any("paper_mAP" in r for r in rows)
    return [c for c in _HEAD_COLUMNS + papers + at_k + _TAIL_COLUMNS
            if (c[0] == "_gap" and has_paper) or c[0] in keys]


def _gains_over_pq(rows):
    """Each row's relative mAP@all gain over plain PQ on the same data, code
    size and search (a ``pq`` row of the table), or None."""
    def key(row):  # the table too: a file's table of all rows mixes its tables' data
        return (row.get("table"), row.get("dataset"), row.get("protocol"), row.get("code"),
                row.get("search"))

    pq = {key(r): r["mAP@all"] for r in rows
          if r.get("method") == "pq" and r.get("mAP@all")}
    return [None if r.get("method") == "pq" or key(r) not in pq or r.get("mAP@all") is None
            else r["mAP@all"] / pq[key(r)] - 1 for r in rows]


def benchmark_table(rows):
    """``skhash benchmark`` rows as a reStructuredText table, the paper's
    figure and our gap to it beside each row where the paper has one.

    Columns are the figures some row has: mAP@all, the paper's mAP and the
    gap, every ``mAP@k`` (and ``mAP@k/normalisation``) and ``P@k``, other
    published figures as ``paper_<metric>`` keys, precision within radius 2,
    accuracy, times and a free-text ``note``; a missing figure shows ``--``.
    Where the table holds plain PQ rows, the other rows on the same data,
    code size and search show their relative gain over PQ (``vs PQ``).
    """
    columns = _columns(rows)
    gains = _gains_over_pq(rows)
    if any(g is not None for g in gains):
        at = max(i for i, c in enumerate(columns) if c[0] in ("mAP@all", "paper_mAP", "_gap"))
        columns.insert(at + 1, ("_vs_pq", "vs PQ", None))
    body = []
    for row, gain in zip(rows, gains):
        cells = []
        for key, _, digits in columns:
            value = (row["mAP@all"] - row["paper_mAP"]
                     if key == "_gap" and row.get("paper_mAP") is not None
                     and row.get("mAP@all") is not None else row.get(key))
            if key == "_vs_pq":
                value = None if gain is None else f"{100 * gain:+.1f}%"
            if value is None:
                cells.append("--")
            elif isinstance(value, bool):
                cells.append("yes" if value else "no")
            elif digits is None or isinstance(value, str):
                cells.append(str(value))
            else:
                cells.append(f"{value:+.{digits}f}" if key == "_gap" else f"{value:.{digits}f}")
        body.append(cells)
    return _rst_table([c[1] for c in columns], body)


# --- the search-speed benchmark (benchmarks/bench_search.py) --------------

def _ratio(a, b):
    return "--" if a is None or not b else f"{a / b:.2f}x"


def search_table(rows):
    """Nanoseconds per database code per query, skhash against faiss, as a
    reStructuredText table (Hamming rows, or product-code rows)."""
    kinds = {r["bench"] for r in rows}
    if len(kinds) > 1:
        raise ValueError("a search-speed table holds Hamming rows or product-code rows, not "
                         "both: file them under two tables (skhash report --merge FILE=TABLE).")
    if kinds == {"hamming"}:
        header = ["bits", "threads", "skhash ns", "faiss IndexBinaryFlat ns", "skhash / faiss",
                  "same distances"]
        body = [[str(r["n_bits"]), str(r["threads"]), _fmt(r["skhash"]), _fmt(r.get("faiss")),
                 _ratio(r["skhash"], r.get("faiss")), str(r.get("same_distances", "--"))]
                for r in rows]
        return _rst_table(header, body)
    header = ["M x K", "threads", "skhash sym", "faiss SDC", "sym ratio", "skhash asym",
              "faiss ADC", "faiss fast scan", "asym ratio", "same distances"]
    body = []
    for r in rows:
        fastest = min((v for v in (r.get("faiss_adc"), r.get("faiss_fast_scan")) if v),
                      default=None)
        body.append([r["code"], str(r["threads"]), _fmt(r["sym"], 2), _fmt(r.get("faiss_sdc"), 2),
                     _ratio(r["sym"], r.get("faiss_sdc")), _fmt(r["asym"], 2),
                     _fmt(r.get("faiss_adc"), 2), _fmt(r.get("faiss_fast_scan"), 2),
                     _ratio(r["asym"], fastest), str(r.get("same_distances", "--"))])
    return _rst_table(header, body)


def _is_search(rows):
    return bool(rows) and all(r.get("bench") in ("hamming", "pq") for r in rows)


# --- the training-speed benchmark (benchmarks/bench_training.py) -----------

def training_table(rows):
    """Images per second of each network, plain PyTorch loop against the
    estimator's ``fit``, as a reStructuredText table."""
    body = []
    for row in rows:
        plain, est = row.get("plain_ips"), row.get("estimator_ips")
        ratio = row.get("ratio") or (plain / est if plain and est else None)
        body.append([row.get("description", row.get("network", "?")),
                     row.get("variant", "baseline"), str(row.get("threads", "--")),
                     str(row.get("batch", "--")), _fmt(plain, 0), _fmt(est, 0),
                     "--" if ratio is None else f"{ratio:.2f}x"])
    return _rst_table(["network (estimator)", "variant", "threads", "batch",
                       "plain img/s", "estimator img/s", "time est. / plain"], body)


def _is_training(rows):
    return bool(rows) and all("plain_ips" in r for r in rows)


_CODE_OPTIONS = {"bits": ("cnnbh", "ssdh", "itq", "lsh"), "codes": ("dpq", "deepquan", "pq"),
                 "map_shape": ("deepsom",)}


def _command_from_args(args):
    """The ``skhash benchmark`` command of a results file written before the
    command line was recorded, rebuilt from its arguments (the code-size
    options only where a method of the run uses them)."""
    if args.get("argv"):
        return "skhash " + " ".join(args["argv"])
    methods = args.get("methods") or []
    parts = ["skhash benchmark"]
    for key in ("dataset", "data_home", "protocol", "methods", "bits", "codes", "map_shape",
                "deepsom_variants", "features", "distort", "k", "map_normalize", "epochs",
                "seed"):
        value = args.get(key)
        if value is None or value is False or value == [] or (
                key in _CODE_OPTIONS and not set(methods) & set(_CODE_OPTIONS[key])):
            continue
        text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"--{key.replace('_', '-')} {text}")
    return " ".join(parts)


def describe_run(meta, args):
    """One line: the command and the machine of a results file."""
    command = meta.get("command") or (_command_from_args(args) if args else "?")
    parts = [f"``{command}``"]
    for key in ("date", "cpu", "device"):
        if meta.get(key):
            parts.append(str(meta[key]))
    if meta.get("threads"):
        parts.append(f"torch threads: {meta['threads']}")
    if meta.get("versions"):
        parts.append(", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v))
    if meta.get("notes"):
        parts.append(meta["notes"])
    return "; ".join(parts) + "\n"


def _is_scale(rows):
    return bool(rows) and all("kind" in r and "ms_per_query" in r for r in rows)


def curve_table(rows, every=5):
    """The learning curves of the rows that have one (``--curve``): mAP@all
    after epoch 1, every ``every``-th epoch and the last, one line per row."""
    rows = [r for r in rows if r.get("curve")]
    epochs = sorted({p["epoch"] for r in rows for p in r["curve"]})
    shown = [e for e in epochs if e == epochs[0] or e % every == 0 or e == epochs[-1]]
    body = []
    for r in rows:
        at = {p["epoch"]: p["mAP@all"] for p in r["curve"]}
        body.append([r.get("method", "?"), r.get("code", ""), r.get("search", ""),
                     *(_fmt(at.get(e), 4) for e in shown)])
    return _rst_table(["method", "code", "search", *(f"epoch {e}" for e in shown)], body)


def curve_figure(rows, path):
    """mAP@all against the training epoch, one line per row with a curve."""
    fig = _figure(figsize=(5.5, 4))
    ax = fig.subplots()
    for r in rows:
        if r.get("curve"):
            ax.plot([p["epoch"] for p in r["curve"]], [p["mAP@all"] for p in r["curve"]],
                    "-", label=f"{r['method']} {r.get('code', '')} {r.get('search', '')}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mAP@all of the queries")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=100)
    return Path(path)


_MAX_FIGURE_LINES = 10


def _render_rows(rows, stem):
    """A benchmark table ``stem.inc.rst`` and, where a method has several code
    lengths, its figure ``stem.png``; returns the written paths."""
    Path(f"{stem}.inc.rst").write_text(benchmark_table(rows))
    written = [Path(f"{stem}.inc.rst")]
    curves = {}
    for row in rows:
        if "n_bits" in row and "mAP@all" in row:
            on = f", {row['dataset']}" if row.get("dataset") else ""
            curves.setdefault(f"{row.get('method', '?')} ({row.get('search', '')}{on})",
                              []).append(row)
    # a line per method with several code lengths; none where the lines would be
    # too many to read (a file's table of all its rows: each table has its own)
    curves = {k: g for k, g in curves.items() if len({r["n_bits"] for r in g}) > 1}
    if 0 < len(curves) <= _MAX_FIGURE_LINES:
        written.append(_code_length_figure(curves, f"{stem}.png"))
    if any(r.get("curve") for r in rows):  # --curve: the learning curves too
        Path(f"{stem}_curve.inc.rst").write_text(curve_table(rows))
        written += [Path(f"{stem}_curve.inc.rst"), curve_figure(rows, f"{stem}_curve.png")]
    return written


def _render_kind(rows, stem):
    """The table (and figures) of one set of rows, by what the rows are."""
    if not rows:
        return []
    if _is_scale(rows):
        Path(f"{stem}.inc.rst").write_text(scale_table(rows))
        return [Path(f"{stem}.inc.rst"), Path(scale_figure(rows, f"{stem}.png"))]
    if _is_search(rows):
        if len({r["bench"] for r in rows}) > 1 and all(r.get("table") for r in rows):
            return []  # Hamming and product-code rows: one table each, none of all
        Path(f"{stem}.inc.rst").write_text(search_table(rows))
        return [Path(f"{stem}.inc.rst")]
    if _is_training(rows):
        Path(f"{stem}.inc.rst").write_text(training_table(rows))
        return [Path(f"{stem}.inc.rst")]
    return _render_rows(rows, stem)


def render_report(paths, output):
    """Render results files into ``output``.

    For each ``name.json``: a ``name_meta.inc.rst`` line saying what
    produced it; a ``name.inc.rst`` table of all its rows and, where a
    method has several code lengths, a ``name.png`` figure (mAP by code
    length), and where rows have learning curves (``skhash benchmark
    --curve``) ``name_curve.inc.rst`` and ``name_curve.png``. Rows that
    carry a ``"table"`` key are also rendered by table, as
    ``name_<table>.inc.rst`` (and ``name_<table>.png``), so one results
    file can feed several tables of a page; in a file of
    :func:`merge_results`, ``name_<table>_meta.inc.rst`` says what produced
    that table (its runs' commands, dates, machine and notes). A scaling,
    training-speed or search-speed file (``benchmarks/bench_scale.py``,
    ``bench_training.py``, ``bench_search.py``) gives its own kind of table.
    Two outputs of the same name are an error. Returns the written paths.
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    written = []

    def add(paths):
        for p in map(Path, paths):
            if p in written:
                raise ValueError(f"{p.name} would be written twice: rename a results file "
                                 "or a table.")
            written.append(p)

    for path in map(Path, paths):
        meta, rows, args = _read(path)
        line = output / f"{path.stem}_meta.inc.rst"
        add([line])
        line.write_text(describe_run(meta, args))
        add(_render_kind(rows, output / path.stem))
        tables = {}
        for row in rows:
            if row.get("table"):
                tables.setdefault(str(row["table"]), []).append(row)
        for name, group in tables.items():
            _check_table_name(name, path)
            add(_render_kind(group, output / f"{path.stem}_{name}"))
            runs = [r for r in meta.get("runs", ()) if r.get("table") == name]
            if runs:  # a merged file: what produced this table
                line = output / f"{path.stem}_{name}_meta.inc.rst"
                add([line])
                line.write_text(describe_run(_runs_meta(runs, meta.get("merge_notes")), {}))
    return written


def _code_length_figure(curves, path):
    from .metrics import CodeLengthDisplay

    fig = _figure(figsize=(5.5, 4))
    ax = fig.subplots()
    for name, group in curves.items():
        group = sorted(group, key=lambda r: r["n_bits"])
        CodeLengthDisplay.from_predictions([r["n_bits"] for r in group],
                                           [r["mAP@all"] for r in group], name=name, ax=ax)
        papers = [(r["n_bits"], r["paper_mAP"]) for r in group
                  if r.get("paper_mAP") is not None]
        if papers:
            x, y = zip(*sorted(papers))
            ax.plot(x, y, ":x", color=ax.lines[-1].get_color(), label=f"{name}, paper")
            ax.legend(loc="best", fontsize="small")
    fig.savefig(path, dpi=100)
    return Path(path)
