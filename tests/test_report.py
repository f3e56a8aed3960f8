"""The published results render into the docs' tables and figures."""

import json
from pathlib import Path

import pytest

from skhash._report import (
    environment,
    load_results,
    save_results,
    scale_figure,
    scale_rows,
    scale_table,
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
    _, rows = load_results(PUBLISHED / "cifar10_dsh_dpq.json")
    table = (tmp_path / "cifar10_dsh_dpq.inc.rst").read_text().splitlines()
    header = table[1].split()
    for row in rows:
        line = next(ln.split() for ln in table[3:-1]
                    if ln.split()[1] == row["code"] and ln.split()[2] == row["search"])
        assert line[header.index("mAP@all")] == f"{row['mAP@all']:.4f}"  # the JSON's number
        assert line[header.index("paper")] == f"{row['paper_mAP']:.4f}"
        assert float(line[header.index("gap")]) == pytest.approx(
            row["mAP@all"] - row["paper_mAP"], abs=1e-4)
    assert (tmp_path / "cifar10_dsh_dpq.png").read_bytes()[:4] == b"\x89PNG"
