"""The published results render into the docs' tables and figures."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from _images import fake_cifar

from skhash._report import (
    environment,
    load_results,
    merge_results,
    render_report,
    save_results,
    scale_figure,
    scale_rows,
    scale_table,
    search_table,
    training_table,
)

PUBLISHED = Path(__file__).resolve().parent.parent / "benchmarks" / "published"


def test_scale_results_render_and_cells_equal_the_json(tmp_path):
    meta, rows = load_results(PUBLISHED / "scale.json")
    assert meta["command"].startswith("python benchmarks/bench_scale.py")
    assert {"cpu", "date", "versions", "threads"} <= set(meta)
    table = scale_table(rows)
    lines = table.splitlines()
    assert lines[0] == lines[2] == lines[-1] and set(lines[0]) == {"=", " "}
    by_point = scale_rows(rows)
    ours = by_point[("hamming", 100_000_000)]["skhash"]
    row = next(line for line in lines if line.startswith("binary") and " 1e8 " in line)
    assert f"{ours['ms_per_query']:.3f}" in row.split()
    assert row.split()[2] == "disk"
    faiss_row = by_point[("product", 1_000_000)]["faiss"]
    row = next(line for line in lines if line.startswith("product") and " 1e6 " in line)
    assert row.split()[6] == f"{faiss_row['ms_per_query']:.3f}"
    assert row.split()[7] == f"{faiss_row['peak_rss_mb']:.0f}"
    pytest.importorskip("matplotlib")
    png = scale_figure(rows, tmp_path / "scale.png")
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_round_trip_and_bad_files(tmp_path):
    meta = environment(argv=["prog", "--flag"], threads=3, device="cpu")
    assert meta["command"] == "prog --flag" and meta["threads"] == 3
    assert meta["versions"]["numpy"]
    rows = [{"library": "skhash", "kind": "hamming", "n": 10, "ms_per_query": 1.5}]
    save_results(tmp_path / "r.json", rows, meta)
    assert load_results(tmp_path / "r.json") == (json.loads(json.dumps(meta)), rows)
    (tmp_path / "bare.json").write_text(json.dumps(rows))
    assert load_results(tmp_path / "bare.json") == ({}, rows)
    (tmp_path / "bad.json").write_text(json.dumps({"figures": []}))
    with pytest.raises(ValueError, match="not a skhash results file"):
        load_results(tmp_path / "bad.json")


def test_report_command_renders_every_published_file(tmp_path):
    from skhash._benchmark import main

    files = sorted(PUBLISHED.glob("*.json"))
    assert len(files) >= 2
    main(["report", *map(str, files), "--output", str(tmp_path)])
    for path in files:
        assert (tmp_path / f"{path.stem}.inc.rst").is_file()
        assert (tmp_path / f"{path.stem}_meta.inc.rst").read_text().startswith("``")
    _, rows = load_results(PUBLISHED / "cifar10.json")
    rows = [r for r in rows if r.get("table") == "dsh_dpq"]
    assert len(rows) == 8
    header, body = _parse_table((tmp_path / "cifar10_dsh_dpq.inc.rst").read_text())
    for row in rows:
        line = next(cells for cells in body
                    if cells[header.index("code")] == row["code"]
                    and cells[header.index("search")] == row["search"])
        assert line[header.index("mAP@all")] == f"{row['mAP@all']:.4f}"  # the JSON's number
        assert line[header.index("paper")] == f"{row['paper_mAP']:.4f}"
        assert float(line[header.index("gap")]) == pytest.approx(
            row["mAP@all"] - row["paper_mAP"], abs=1e-4)
    assert (tmp_path / "cifar10_dsh_dpq.png").read_bytes()[:4] == b"\x89PNG"
    # every table the docs include exists, with its own commands
    docs = Path(__file__).resolve().parent.parent / "docs"
    included = {name for page in docs.rglob("*.rst")
                for name in re.findall(r"_generated/([\w.-]+)", page.read_text())}
    assert included and all((tmp_path / name).is_file() for name in included), \
        sorted(n for n in included if not (tmp_path / n).is_file())
    assert "--protocol dsh --methods dpq" in (tmp_path / "cifar10_dsh_dpq_meta.inc.rst").read_text()
    # the learning curve (--curve): first, every fifth and last epoch
    curve = next(r for r in rows if r.get("curve") and r["search"] == "asym")
    header, body = _parse_table((tmp_path / "cifar10_dsh_dpq_curve.inc.rst").read_text())
    last = curve["curve"][-1]
    line = next(cells for cells in body if cells[2] == "asym")
    assert header[-1] == f"epoch {last['epoch']}" and line[-1] == f"{last['mAP@all']:.4f}"
    assert header[3] == "epoch 1" and header[4] == "epoch 5"


def _parse_table(text):
    """A simple reST table as (header, rows) of cells, cut at the rule's columns."""
    lines = text.splitlines()
    spans = [m.span() for m in re.finditer(r"=+", lines[0])]

    def cells(line):
        return [line[a:b + 1].strip() if i < len(spans) - 1 else line[a:].strip()
                for i, (a, b) in enumerate(spans)]

    return cells(lines[1]), [cells(ln) for ln in lines[3:-1]]


def _rows_file(path, rows, meta=None, args=None):
    data = {"meta": meta or {}, "rows": rows}
    if args is not None:
        data = {"args": args, "results": rows}
    path.write_text(json.dumps(data))
    return path


def test_merge_files_tables_and_their_commands(tmp_path):
    from skhash._benchmark import main

    a = _rows_file(tmp_path / "a.json", [
        {"method": "itq", "code": "16 bits", "n_bits": 16.0, "search": "hamming",
         "mAP@all": 0.25, "mAP@1000": 0.5, "mAP@1000/min": 0.125, "P@1000": 0.4,
         "paper_MAP@1000": 0.1567}],
        meta={"command": "skhash benchmark --methods itq", "date": "2026-12-01T10:00:00"})
    b = _rows_file(tmp_path / "b.json", [
        {"method": "cnnbh", "code": "12 bits", "n_bits": 12.0, "search": "hamming",
         "mAP@all": 0.5, "paper_mAP": 0.75, "fit_s": 3.0, "note": "from a log"},
        {"method": "cnnbh", "code": "24 bits", "n_bits": 24.0, "search": "hamming",
         "mAP@all": 0.625, "fit_s": 4.0}],
        args={"dataset": "cifar10", "protocol": "dsh", "methods": ["cnnbh"], "bits": [12, 24],
              "codes": ["8x64"], "seed": 0})
    out = tmp_path / "merged.json"
    main(["report", f"{a}=gist", f"{b}=dsh", "--merge", str(out), "--notes", "2 cores"])
    meta, rows = load_results(out)
    assert [r["table"] for r in rows] == ["gist", "dsh", "dsh"]
    assert rows[1]["protocol"] == "dsh"  # filled from the old file's arguments
    assert meta["notes"] == "2 cores" and meta["date"] == "2026-12-01, 1 of 2 runs undated"
    assert [r["table"] for r in meta["runs"]] == ["gist", "dsh"]
    # the rebuilt command names the code-size option of the run's method only
    assert meta["runs"][1]["command"] == ("skhash benchmark --dataset cifar10 --protocol dsh "
                                          "--methods cnnbh --bits 12 24 --seed 0")
    written = render_report([out], tmp_path / "gen")
    assert tmp_path / "gen" / "merged_dsh.png" in written
    header, (cells,) = _parse_table((tmp_path / "gen" / "merged_gist.inc.rst").read_text())
    assert header.index("paper MAP@1000") < header.index("mAP@1000")
    for key, value in [("code", "16 bits"), ("paper MAP@1000", "0.1567"), ("mAP@1000", "0.5000"),
                       ("mAP@1000/min", "0.1250"), ("P@1000", "0.4000")]:
        assert cells[header.index(key)] == value
    header, body = _parse_table((tmp_path / "gen" / "merged_dsh.inc.rst").read_text())
    assert header[-1] == "note" and body[0][-1] == "from a log"
    assert body[0][header.index("gap")] == "-0.2500"
    assert body[1][-1] == body[1][header.index("gap")] == "--"
    assert "--methods cnnbh" in (tmp_path / "gen" / "merged_dsh_meta.inc.rst").read_text()
    assert "--methods itq" not in (tmp_path / "gen" / "merged_dsh_meta.inc.rst").read_text()
    _rows_file(tmp_path / "bad.json", [{**rows[0], "table": "a/b"}])
    with pytest.raises(ValueError, match="table name"):
        render_report([tmp_path / "bad.json"], tmp_path / "gen")


def test_training_speed_table_renders_the_published_file():
    _, rows = load_results(PUBLISHED / "training.json")
    table = training_table(rows).splitlines()
    baseline = next(r for r in rows if r["network"] == "dpq_dsh")
    line = next(ln for ln in table if ln.startswith("DPQQuantizer"))
    assert f"{baseline['plain_ips']:.0f}" in line.split()
    assert line.split()[-1] == f"{baseline['ratio']:.2f}x"


def test_search_benchmark_output_renders_its_table(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("bench_search")
    tiny = ["--n-database", "500", "--n-queries", "4", "--k", "3", "--repeat", "1",
            "--threads", "1"]
    bench.main([*tiny, "--output", str(tmp_path / "hamming.json")])
    bench.main(["--mode", "pq", "--codes", "2x256", "4x16", *tiny,
                "--output", str(tmp_path / "pq.json")])
    capsys.readouterr()
    meta, rows = load_results(tmp_path / "pq.json")
    assert "--mode pq" in meta["command"] and meta["workload"]["n_database"] == 500
    assert [r["code"] for r in rows] == ["2x256", "4x16"]
    assert all(r["same_distances"] for r in rows)
    assert "faiss_sdc" in rows[0] and "faiss_fast_scan" in rows[1]
    render_report([tmp_path / "hamming.json", tmp_path / "pq.json"], tmp_path / "gen")
    header, body = _parse_table((tmp_path / "gen" / "pq.inc.rst").read_text())
    assert body[0][header.index("skhash sym")] == f"{rows[0]['sym']:.2f}"
    fastest = min(rows[1]["faiss_adc"], rows[1]["faiss_fast_scan"])
    assert body[1][header.index("asym ratio")] == f"{rows[1]['asym'] / fastest:.2f}x"
    _, hrows = load_results(tmp_path / "hamming.json")
    header, body = _parse_table((tmp_path / "gen" / "hamming.inc.rst").read_text())
    assert body[0][header.index("skhash ns")] == f"{hrows[0]['skhash']:.3f}"
    assert body[0][header.index("same distances")] == "True"


def _docutils_rows(text):
    """The body rows of a reST table as docutils parses it."""
    from docutils.core import publish_doctree
    from docutils.nodes import system_message, tbody

    tree = publish_doctree(text, settings_overrides={"report_level": 5})
    for message in list(tree.findall(system_message)):  # e.g. "--" read as a transition: info
        message.parent.remove(message)
    (body,) = list(tree.findall(tbody))
    return [[entry.astext() for entry in row.children] for row in body.children]


def test_every_rendered_table_parses_with_one_row_per_result(tmp_path):
    files = sorted(PUBLISHED.glob("*.json"))
    written = render_report(files, tmp_path)
    tables = [p for p in written if p.suffix == ".rst" and not p.stem.endswith("_meta.inc")]
    assert len(tables) >= 10
    for path in files:
        _, rows = load_results(path)
        counts = {path.stem: len(rows)}
        for row in rows:
            if row.get("table"):
                name = f"{path.stem}_{row['table']}"
                counts[name] = counts.get(name, 0) + 1
        if "kind" in rows[0]:  # the scaling file: one line per (codes, N)
            counts = {path.stem: len(scale_rows(rows))}
        for name, n in counts.items():
            parsed = _docutils_rows((tmp_path / f"{name}.inc.rst").read_text())
            assert len(parsed) == n, name


def test_merged_tables_say_their_own_machine_and_remerge_keeps_them(tmp_path):
    a = _rows_file(tmp_path / "a.json", [{"method": "x", "mAP@all": 0.5, "n_bits": 8.0}],
                   meta={"command": "run a", "cpu": "Xeon", "device": "cuda", "threads": 8,
                         "versions": {"torch": "2.0"},
                         "date": "2026-01-01T00:00:00", "notes": "on the GPU"})
    b = _rows_file(tmp_path / "b.json", [{"method": "", "mAP@all": 0.25, "n_bits": 8.0}],
                   meta={"command": "run b", "cpu": "EPYC", "device": "cpu", "threads": 1,
                         "versions": {"torch": "2.13.0", "numpy": "2.4"}})
    merge_results([(a, "gpu"), (b, "cpu")], tmp_path / "m.json", notes="two machines")
    meta, _ = load_results(tmp_path / "m.json")
    assert meta["cpu"] == "Xeon / EPYC" and meta["date"] == "2026-01-01, 1 of 2 runs undated"
    assert meta["versions"] == {"torch": "2.0 / 2.13.0", "numpy": "2.4"}
    gen = tmp_path / "gen"
    render_report([tmp_path / "m.json"], gen)
    cpu_line = (gen / "m_cpu_meta.inc.rst").read_text()
    assert "run b" in cpu_line and "EPYC" in cpu_line and "torch threads: 1" in cpu_line
    assert "Xeon" not in cpu_line and "run a" not in cpu_line and "two machines" in cpu_line
    assert "on the GPU" in (gen / "m_gpu_meta.inc.rst").read_text()
    # an empty first cell would make reST read the row as the one above's continuation
    assert _docutils_rows((gen / "m_cpu.inc.rst").read_text())[0][0] == "--"
    # merging a merged file keeps its runs, and so its tables' lines
    c = _rows_file(tmp_path / "c.json", [{"method": "y", "mAP@all": 0.125, "n_bits": 8.0}],
                   meta={"command": "run c"})
    merge_results([(tmp_path / "m.json", None), (c, "extra")], tmp_path / "m2.json")
    render_report([tmp_path / "m2.json"], tmp_path / "gen2")
    for table, command in [("gpu", "run a"), ("cpu", "run b"), ("extra", "run c")]:
        assert command in (tmp_path / "gen2" / f"m2_{table}_meta.inc.rst").read_text()
    # names the report uses itself, and outputs written twice, are errors
    with pytest.raises(ValueError, match="table name"):
        merge_results([(a, "meta")], tmp_path / "bad.json")
    _rows_file(tmp_path / "q.json", [{"method": "x", "mAP@all": 0.5, "table": "r"}])
    _rows_file(tmp_path / "q_r.json", [{"method": "x", "mAP@all": 0.5}])
    with pytest.raises(ValueError, match="written twice"):
        render_report([tmp_path / "q.json", tmp_path / "q_r.json"], tmp_path / "gen3")


def test_merged_search_file_renders_one_table_per_kind(tmp_path):
    hamming = {"bench": "hamming", "n_bits": 64, "threads": 1, "skhash": 0.25, "faiss": 1.0,
               "same_distances": True}
    pq = {"bench": "pq", "code": "8x64", "threads": 1, "sym": 2.0, "asym": 3.0,
          "faiss_adc": 12.0}
    pq_sdc = {"bench": "pq", "code": "4x256", "threads": 2, "sym": 1.5, "asym": 1.0,
              "faiss_adc": 2.0, "faiss_sdc": 3.0}
    h = _rows_file(tmp_path / "h.json", [hamming], meta={"command": "bench h"})
    p = _rows_file(tmp_path / "p.json", [pq, pq_sdc], meta={"command": "bench p"})
    merge_results([(h, "hamming"), (p, "pq")], tmp_path / "s.json")
    render_report([tmp_path / "s.json"], tmp_path)
    assert not (tmp_path / "s.inc.rst").exists()
    header, body = _parse_table((tmp_path / "s_hamming.inc.rst").read_text())
    assert body[0][header.index("skhash / faiss")] == "0.25x"
    header, body = _parse_table((tmp_path / "s_pq.inc.rst").read_text())
    assert body[0][header.index("sym ratio")] == "--"  # no SDC for K = 64
    assert body[0][header.index("asym ratio")] == "0.25x"
    assert body[1][header.index("sym ratio")] == "0.50x"
    assert body[1][header.index("asym ratio")] == "0.50x"
    with pytest.raises(ValueError, match="not both"):
        search_table([hamming, pq])


def test_merged_table_over_several_datasets_says_each_rows_data_and_gain_over_pq(tmp_path):
    def run(name, meta, rows):
        return _rows_file(tmp_path / f"{name}.json", rows, meta={"command": name, **meta})

    def rows(pq, dq):
        return [{"method": m, "code": "M=2,K=256", "search": "sym", "mAP@all": v,
                 "protocol": "cnnh"} for m, v in (("pq", pq), ("deepquan", dq))]

    mnist = run("mnist", {"dataset": "mnist"}, rows(0.5, 0.75))
    jitter = run("jitter", {"dataset": "mnist", "distort": "jitter"}, rows(0.4, 0.3))
    gist = run("gist", {"dataset": "cifar10", "features": "gist"}, rows(0.2, 0.25))
    alone = run("alone", {"dataset": "digits"}, rows(0.8, 0.4))
    out = tmp_path / "transfer.json"
    merge_results([(mnist, "transfer"), (jitter, "transfer"), (gist, "transfer"),
                   (alone, "digits")], out)
    _, merged = load_results(out)
    assert [r.get("dataset") for r in merged] == ["mnist", "mnist", "mnist-jitter",
                                                  "mnist-jitter", "cifar10-gist",
                                                  "cifar10-gist", None, None]
    render_report([out], tmp_path / "gen")
    header, body = _parse_table((tmp_path / "gen" / "transfer_transfer.inc.rst").read_text())
    assert header[:2] == ["method", "dataset"]
    gain = header.index("vs PQ")
    assert gain == header.index("mAP@all") + 1
    # each row against the PQ row of its own dataset
    assert [row[gain] for row in body] == ["--", "+50.0%", "--", "-25.0%", "--", "+25.0%"]
    header, body = _parse_table((tmp_path / "gen" / "transfer_digits.inc.rst").read_text())
    assert "dataset" not in header  # one dataset: no column
    assert body[1][header.index("vs PQ")] == "-50.0%"
    # the file's table of all rows: each row still against its own table's PQ
    header, body = _parse_table((tmp_path / "gen" / "transfer.inc.rst").read_text())
    assert [row[header.index("vs PQ")] for row in body] == [
        "--", "+50.0%", "--", "-25.0%", "--", "+25.0%", "--", "-50.0%"]


def test_benchmark_on_a_distorted_dataset_records_it_and_shows_no_paper_figure(tmp_path):
    from skhash._benchmark import main

    out = tmp_path / "r.json"
    main(["benchmark", "--methods", "pq", "--codes", "2x16", "--distort", "jitter",
          "--output", str(out)])
    meta, rows = load_results(out)
    assert meta["distort"] == "jitter" and "--distort jitter" in meta["command"]
    main(["benchmark", "--methods", "pq", "--codes", "2x16", "--output", str(tmp_path / "p.json")])
    _, plain = load_results(tmp_path / "p.json")
    assert rows[0]["mAP@all"] != plain[0]["mAP@all"]  # another dataset
    # (inverted contrast would not do here: PQ's distances do not change under 1 - x)
    merge_results([(out, "t"), (tmp_path / "p.json", "t")], tmp_path / "m.json")
    _, merged = load_results(tmp_path / "m.json")
    assert [r["dataset"] for r in merged] == ["digits-jitter"] * 2 + ["digits"] * 2


def test_deepquan_validation_script_never_reads_the_benchmark_queries(tmp_path, capsys,
                                                                      benchmark_script):
    from skhash._benchmark import _load, _split, build_parser

    validate = benchmark_script("validate_deepquan")
    bargs = build_parser().parse_args(["benchmark", "--dataset", "digits"])
    _, y, _, is_test = _load(bargs)
    split = _split(bargs, y, is_test)
    train, val = validate.validation_split(np.asarray(split.database), 300, None, 0)
    assert not set(train) & set(val)
    assert not (set(train) | set(val)) & set(split.query)
    assert len(train) + len(val) == len(split.database)
    out = tmp_path / "v.json"
    validate.main(["--dataset", "digits", "--codes", "2x8", "--epochs", "1", "--output", str(out),
                   "pq", '{"hidden_units": [16], "batch_size": 64}'])
    meta, rows = load_results(out)
    assert [(r["method"], r["search"]) for r in rows] == [
        ("pq", "sym"), ("pq", "asym"), ("deepquan", "sym"), ("deepquan", "asym")]
    assert all(0 < r["mAP@all"] <= 1 and r["dataset"] == "digits" for r in rows)
    assert rows[2]["note"] == '{"hidden_units": [16], "batch_size": 64}'
    assert "validation mAP sym" in capsys.readouterr().out
    render_report([out], tmp_path / "gen")
    header, body = _parse_table((tmp_path / "gen" / "v.inc.rst").read_text())
    assert body[2][header.index("vs PQ")] == (
        f"{100 * (rows[2]['mAP@all'] / rows[0]['mAP@all'] - 1):+.1f}%")


def test_deepquan_gate_columns_show_the_stability_and_the_decision():
    from skhash._report import benchmark_table

    rows = [{"method": "deepquan", "code": "M=2,K=256", "search": "sym", "mAP@all": 0.5,
             "code_stability": 0.4, "fine_tuned": True, "fit_s": 3.0},
            {"method": "deepquan", "code": "M=2,K=256", "search": "sym", "mAP@all": 0.4,
             "code_stability": 0.1987, "fine_tuned": False, "fit_s": 3.0},
            {"method": "pq", "code": "M=2,K=256", "search": "sym", "mAP@all": 0.3}]
    header, body = _parse_table(benchmark_table(rows))
    stab, tuned = header.index("code stability"), header.index("fine-tuned")
    assert stab < tuned < header.index("fit s")
    assert [(r[stab], r[tuned]) for r in body] == [("0.400", "yes"), ("0.199", "no"),
                                                   ("--", "--")]


def test_label_free_ceiling_script_rows_and_diffusion(tmp_path, capsys, benchmark_script):
    from sklearn.metrics import pairwise_distances

    from skhash.metrics import mean_average_precision

    ceiling = benchmark_script("label_free_ceiling")
    # the diffusion follows a chain of neighbours: the far end of the query's chain
    # ranks above a point of the other chain that is nearer in cosine
    t = np.linspace(0, 1.2, 25)
    chain_a = np.c_[np.cos(t), np.sin(t), np.zeros_like(t)]
    u = np.linspace(0.8, 1.5, 10)
    chain_b = np.c_[np.cos(u), np.zeros_like(u), np.sin(u)]
    train = ceiling.unit_rows(np.r_[chain_a[1:], chain_b])
    query = ceiling.unit_rows(chain_a[:1])
    scores = ceiling.diffusion_scores(train, query, k=2, alpha=0.99, n_iter=200)
    far_end = len(chain_a) - 2
    nearest_b = np.argmax(query @ train[len(chain_a) - 1:].T) + len(chain_a) - 1
    assert (query @ train.T)[0, far_end] < (query @ train.T)[0, nearest_b]
    assert scores[0, far_end] > scores[0, nearest_b]

    out = tmp_path / "c.json"
    ceiling.main(["--dataset", "digits", "--codes", "2x16", "--output", str(out)])
    _, rows = load_results(out)
    assert [(r["method"], r["note"]) for r in rows] == [
        ("pq", "raw"), ("pq", "centred cosine"), ("exact", "Euclidean"),
        ("exact", "centred cosine"), ("exact", "PCA-64, unit rows"),
        ("exact", "k-NN diffusion (k=30, alpha=0.9)")]
    assert all(0 < r["mAP@all"] <= 1 and r["dataset"] == "digits" for r in rows)
    assert [r["code"] for r in rows] == ["M=2,K=16"] * 2 + ["float"] * 4
    # the Euclidean row is exact search on the validation split
    from skhash._benchmark import _load, _split, build_parser
    bargs = build_parser().parse_args(["benchmark", "--dataset", "digits"])
    X, y, _, is_test = _load(bargs)
    X = X.reshape(len(X), -1).astype(np.float32)
    train, val = benchmark_script("validate_deepquan").validation_split(
        np.asarray(_split(bargs, y, is_test).database), 300, None, 0)
    ranking = np.argsort(pairwise_distances(X[val], X[train]), axis=1, kind="stable")
    assert rows[2]["mAP@all"] == pytest.approx(
        mean_average_precision(y[val], y[train], ranking), abs=2e-3)
    assert "validation mAP" in capsys.readouterr().out


def test_validate_dpq_epochs_accept_auto_and_reject_zero(benchmark_script):
    import argparse

    parse = benchmark_script("validate_dpq")._epochs
    assert parse("auto") == "auto" and parse("7") == 7
    with pytest.raises(argparse.ArgumentTypeError, match="--epochs"):
        parse("0")


def test_validate_ssdh_split_is_per_class_and_disjoint(benchmark_script):
    split = benchmark_script("validate_ssdh").validation_split
    y = np.repeat(np.arange(3), 10)
    train, queries = split(y, 4, 3, seed=0)
    assert np.bincount(y[train]).tolist() == [4, 4, 4]
    assert np.bincount(y[queries]).tolist() == [3, 3, 3]
    assert not set(train) & set(queries)
    with pytest.raises(ValueError, match="fewer than 8 \\+ 3"):
        split(y, 8, 3, seed=0)


def test_validate_ssdh_rejects_bad_configurations_before_fitting(benchmark_script):
    parse = benchmark_script("validate_ssdh").parse_config
    assert parse('{"method": "cnnbh", "max_epochs": 2}')[1:] == ("cnnbh", {"max_epochs": 2})
    assert parse("{}")[1] == "ssdh"
    with pytest.raises(ValueError, match="unknown method 'dpq'"):
        parse('{"method": "dpq"}')
    with pytest.raises(ValueError, match="JSON object"):
        parse("[1, 2]")


def test_validate_ssdh_fits_ssdh_and_cnnbh_on_the_training_split(
        benchmark_script, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKHASH_CACHE", str(tmp_path / "cache"))
    root = fake_cifar(tmp_path / "cifar", n_train=5, n_test=1)
    out = tmp_path / "val.json"
    benchmark_script("validate_ssdh").main([
        "--data-home", str(root), "--n-per-class", "3", "--queries-per-class", "2",
        "--n-bits", "8", "--output", str(out),
        '{"max_epochs": 1}', '{"method": "cnnbh", "max_epochs": 1}'])
    rows = json.loads(out.read_text())["rows"]
    assert [(r["method"], r["n_bits"]) for r in rows] == [("ssdh", 8), ("cnnbh", 8)]
    assert all(0 < r["mAP@all"] <= 1 and 0 <= r["accuracy"] <= 1 for r in rows)
    printed = capsys.readouterr().out
    assert "database 30, validation queries 20" in printed
    assert printed.count("validation mAP") == 2


def test_validate_cifar_recipe_scores_both_searches_and_their_tie_averages(benchmark_script):
    """The DeepSOM validation of the colour recipe: index-order and tie-averaged mAP, for
    symmetric and asymmetric search of a product code (hashes: the symmetric pair only)."""
    from skhash.hashing import LSHHasher
    from skhash.metrics import mean_average_precision
    from skhash.quantization import ProductQuantizer

    maps = benchmark_script("validate_cifar_recipe")._validation_maps
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(3), 40)
    X = rng.randn(3, 8)[y] + rng.randn(120, 8)
    pq = ProductQuantizer(M=2, K=4, random_state=0).fit(X[20:])
    out = maps(pq, X[:20], y[:20], X[20:], y[20:])
    assert sorted(out) == ["val_map_tie_averaged", "val_map_tie_averaged_asym",
                           "val_map_vs_train", "val_map_vs_train_asym",
                           "val_map_vs_valid", "val_map_vs_valid_asym"]
    ranking = pq.code_space_.ranked(pq.transform(X[:20]), pq.transform(X[20:]))
    assert out["val_map_vs_train"] == mean_average_precision(y[:20], y[20:], ranking)
    # against the other validation rows: each row's own index cut from its ranking
    own = pq.code_space_.ranked(pq.transform(X[:20]), pq.transform(X[:20]))
    others = own[own != np.arange(20)[:, None]].reshape(20, 19)
    assert out["val_map_vs_valid"] == pytest.approx(
        mean_average_precision(y[:20], y[:20], others))
    assert 0 < out["val_map_tie_averaged"] <= 1
    assert out["val_map_tie_averaged"] != out["val_map_vs_train"]  # 16 codes: ties
    lsh = LSHHasher(n_bits=4, random_state=0).fit(X[20:])
    assert sorted(maps(lsh, X[:20], y[:20], X[20:], y[20:])) == [
        "val_map_tie_averaged", "val_map_vs_train", "val_map_vs_valid"]


def test_validate_cifar_recipe_som_seed_spread_holds_the_network(benchmark_script):
    """--som-seeds: one SOM per seed on the fitted network's features; the same seed
    gives the same figure, other seeds other maps, and the settings go on top."""
    from skhash.quantization import DeepSOMQuantizer

    spread = benchmark_script("validate_cifar_recipe").som_seed_spread
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(3), 30)
    X = (rng.randn(3, 16)[y] + rng.randn(90, 16)).astype(np.float32)
    q = DeepSOMQuantizer(map_shape=(4, 4), n_alternations=0, max_epochs=2, som_n_iter=300,
                         random_state=0).fit(X[20:], y[20:])
    out = spread(q, X[:20], y[:20], X[20:], y[20:], [3, 3, 4], {"n_iter": 200})
    assert out["som_seeds"] == [3, 3, 4] and out["som_params"] == {"n_iter": 200}
    by_seed = out["val_map_by_seed"]
    assert by_seed[0] == by_seed[1] and all(0 < m <= 1 for m in by_seed)
    assert out["val_map_mean"] == pytest.approx(np.mean(by_seed))
    assert out["val_map_sd"] == pytest.approx(np.std(by_seed))
    unseen = out["val_map_vs_valid_by_seed"]
    assert len(unseen) == 3 and unseen[0] == unseen[1] and all(0 < m <= 1 for m in unseen)
    assert out["val_map_vs_valid_mean"] == pytest.approx(np.mean(unseen))
