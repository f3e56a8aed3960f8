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
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["environment", "load_results", "save_results", "scale_rows", "scale_table",
           "scale_figure"]


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


def load_results(path):
    """``(meta, rows)`` of a results file (a bare list of rows is accepted)."""
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, list):
        return {}, data
    rows = data.get("rows", data.get("results")) if isinstance(data, dict) else None
    if rows is None:
        raise ValueError(f"{path}: not a skhash results file (no 'rows' or 'results').")
    return data.get("meta", {}), rows


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
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([rule, line(header), rule] + [line(r) for r in body] + [rule]) + "\n"


def scale_figure(rows, path):
    """Time per query and peak memory against N (log-log), skhash vs faiss."""
    try:
        from matplotlib.figure import Figure  # no pyplot: no global state, no display
    except ImportError:
        raise ImportError("drawing the benchmark figures needs matplotlib: pip install "
                          "matplotlib (or pip install 'skhash[plot]').") from None
    table = scale_rows(rows)
    fig = Figure(figsize=(10, 4), layout="constrained")
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
