"""The main job: ``skhash benchmark``."""

import json
import subprocess
import sys

import numpy as np
import pytest
from _images import fake_cifar

from skhash._benchmark import main


def test_benchmark_on_digits_prints_table(tmp_path, capsys):
    out = tmp_path / "r.json"
    main(["benchmark", "--bits", "8", "16", "--epochs", "1", "--output", str(out)])
    captured = capsys.readouterr()
    lines = [ln for ln in captured.out.splitlines() if ln.startswith("|")]
    header = lines[0]
    for col in ("mAP@all", "mAP@100", "P@100", "P@r2", "fit_s", "encode_us_per_item"):
        assert col in header
    assert len(lines) == 2 + 2  # header, rule, one row per code size
    assert "[2/2] cnnbh 16 bits" in captured.err  # progress display
    written = json.loads(out.read_text())
    assert written["complete"] and not (tmp_path / "r.json.tmp").exists()
    results = written["results"]
    assert [r["n_bits"] for r in results] == [8, 16]
    assert all(0 < r["mAP@all"] <= 1 for r in results)
    meta = written["meta"]
    assert meta["command"] == f"skhash benchmark --bits 8 16 --epochs 1 --output {out}"
    assert meta["seed"] == 0 and meta["protocol"] == "cnnh" and meta["device"] == "cpu"
    assert meta["threads"] >= 1 and meta["cpu"] and meta["versions"]["torch"]
    assert all(r["fit_s"] > 0 and r["encode_us_per_item"] > 0 for r in results)


def test_benchmark_output_csv_round_trip(tmp_path):
    import csv

    out_csv, out_json = tmp_path / "r.csv", tmp_path / "r.json"
    for out in (out_csv, out_json):
        main(["benchmark", "--methods", "itq", "lsh", "--bits", "8", "--output", str(out)])
    with open(out_csv, newline="") as fh:
        table = list(csv.DictReader(fh))
    rows = json.loads(out_json.read_text())["results"]
    assert [r["method"] for r in table] == [r["method"] for r in rows] == ["itq", "lsh"]
    for got, want in zip(table, rows):
        for key in ("mAP@all", "mAP@100", "P@100", "P@r2"):
            assert float(got[key]) == want[key]  # every figure, exactly
        assert got["seed"] == "0" and got["protocol"] == "cnnh"
        assert got["torch_version"] and got["command"].startswith("skhash benchmark")


def test_benchmark_json_keeps_the_rows_of_a_run_stopped_half_way(tmp_path, monkeypatch):
    """The JSON is rewritten after every fit: a run killed after its first fit has that row."""
    from skhash import _benchmark

    out = tmp_path / "r.json"
    real = _benchmark.evaluate
    calls = []

    def evaluate_then_stop(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt  # the second code size: the run is stopped
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_benchmark, "evaluate", evaluate_then_stop)
    with pytest.raises(KeyboardInterrupt):
        main(["benchmark", "--bits", "8", "16", "--epochs", "1", "--output", str(out)])
    written = json.loads(out.read_text())
    assert not written["complete"] and [r["n_bits"] for r in written["results"]] == [8]


def test_module_entry_point_help():
    res = subprocess.run([sys.executable, "-m", "skhash", "benchmark", "--help"],
                         capture_output=True, text=True, check=True)
    assert "--dataset" in res.stdout


def test_mnist_needs_data_home():
    res = subprocess.run([sys.executable, "-m", "skhash", "benchmark", "--dataset", "mnist"],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "--data-home" in res.stderr


def test_benchmark_ssdh_ablation_rows(capsys):
    main(["benchmark", "--methods", "ssdh", "--bits", "8", "--epochs", "1",
          "--ablation", "1,0,0", "1,1,1", "--p", "1", "2"])
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("|")][2:]
    labels = [r.split("|")[1].strip() for r in rows]
    assert labels == ["ssdh[a=1,b=0,g=0,p=1]", "ssdh[a=1,b=0,g=0,p=2]",
                      "ssdh[a=1,b=1,g=1,p=1]", "ssdh[a=1,b=1,g=1,p=2]"]


def test_benchmark_multilabel(capsys):
    main(["benchmark", "--methods", "ssdh", "--bits", "8", "--epochs", "1", "--multilabel"])
    out = capsys.readouterr().out
    assert "multi-label" in out.splitlines()[0]
    with pytest.raises(SystemExit, match="cnnbh"):
        main(["benchmark", "--methods", "cnnbh", "--multilabel"])


def test_benchmark_dpq_symmetric_and_asymmetric_rows(capsys):
    main(["benchmark", "--methods", "dpq", "--codes", "2x16", "--epochs", "1",
          "--dpq-ablation", "full", "no_central"])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].split("|")[1:-1]]
    rows = [dict(zip(header, (c.strip() for c in ln.split("|")[1:-1]))) for ln in lines[2:]]
    assert [(r["method"], r["search"]) for r in rows] == [
        ("dpq[full]", "sym"), ("dpq[full]", "asym"),
        ("dpq[no_central]", "sym"), ("dpq[no_central]", "asym")]
    assert all(r["code"] == "M=2,K=16" and r["n_bits"] == "8" for r in rows)
    assert "P@r2" not in header  # no Hamming radius for product codes


def test_benchmark_deepsom_full_and_zero(capsys):
    main(["benchmark", "--methods", "deepsom", "--map-shape", "4x4", "--epochs", "1",
          "--alternations", "1", "--deepsom-variants", "full", "zero"])
    captured = capsys.readouterr()
    lines = [ln for ln in captured.out.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].split("|")[1:-1]]
    rows = [dict(zip(header, (c.strip() for c in ln.split("|")[1:-1]))) for ln in lines[2:]]
    assert [(r["method"], r["search"]) for r in rows] == [
        ("deepsom[full]", "sym"), ("deepsom[full]", "asym"),
        ("deepsom[zero]", "sym"), ("deepsom[zero]", "asym")]
    assert all(r["code"] == "map=4x4" and r["n_bits"] == "4" for r in rows)
    assert all(0 < float(r["mAP@all"]) <= 1 and 0 < float(r["accuracy"]) <= 1 for r in rows)
    assert "P@r2" not in header
    with pytest.raises(SystemExit, match="ROWSxCOLS"):
        main(["benchmark", "--methods", "deepsom", "--map-shape", "20"])


def test_benchmark_label_free_methods_train_on_the_database(capsys):
    main(["benchmark", "--methods", "pq", "deepquan", "--codes", "2x16", "--epochs", "1",
          "--deepquan-variants", "full", "dae_pq"])
    captured = capsys.readouterr()
    rows = [ln for ln in captured.out.splitlines() if ln.startswith("|")][2:]
    labels = [(r.split("|")[1].strip(), r.split("|")[4].strip()) for r in rows]
    assert labels == [(m, s) for m in ("pq", "deepquan[full]", "deepquan[dae_pq]")
                      for s in ("sym", "asym")]
    assert "training on 1497 images (database, no labels)" in captured.err


# ----------------------------------------------------------------- CIFAR-10 protocols
@pytest.mark.parametrize("protocol, sizes", [
    ("cnnh", (10, 80, 20)),      # 1 query per class from all 90; 2 per class to train
    ("dsh", (30, 30, 60)),       # the test split is queries and database
    ("ssdh", (10, 60, 60)),      # test queries; training split = database
    ("unseen", (3, 24, 14)),     # 3 unseen classes searched, 7 seen trained on
])
def test_benchmark_cifar10_protocols(tmp_path, monkeypatch, capsys, protocol, sizes):
    monkeypatch.setenv("SKHASH_CACHE", str(tmp_path / "cache"))
    root = fake_cifar(tmp_path / "cifar")
    main(["benchmark", "--dataset", "cifar10", "--data-home", str(root), "--protocol", protocol,
          "--methods", "itq", "cnnbh", "--bits", "8", "--epochs", "1", "--queries-per-class", "1",
          "--n-train-per-class", "2", "--k", "5"])
    out = capsys.readouterr()
    header = out.out.splitlines()[0]
    n_query, n_db, n_train = sizes
    assert f"queries={n_query} database={n_db} train={n_train}" in header
    lines = [ln for ln in out.out.splitlines() if ln.startswith("|")]
    rows = lines[2:]
    assert [r.split("|")[1].strip() for r in rows] == ["itq", "cnnbh"]
    # the classifier's accuracy is no figure where the queries' classes were never trained on
    assert ("accuracy" in lines[0]) == (protocol != "unseen")


def test_benchmark_records_the_network_and_backbone_overrides_it(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("SKHASH_CACHE", str(tmp_path / "cache"))
    root = fake_cifar(tmp_path / "cifar")
    base = ["benchmark", "--dataset", "cifar10", "--data-home", str(root), "--protocol", "dsh",
            "--methods", "dpq", "itq", "--codes", "2x64", "--bits", "8", "--epochs", "1",
            "--k", "5"]
    networks = {}
    for extra in ([], ["--backbone", "dsh"]):
        out = tmp_path / f"run{len(extra)}.json"
        main(base + extra + ["--output", str(out)])
        rows = json.loads(out.read_text())["results"]
        networks[tuple(extra)] = [(r["method"], r.get("network")) for r in rows]
        # the paper's figure is printed beside DPQ whichever network trained it
        assert all(r.get("paper_mAP") for r in rows if r["method"] == "dpq")
    assert networks[()] == [("dpq", "cifar_cnn"), ("dpq", "cifar_cnn"), ("itq", None)]
    assert networks[("--backbone", "dsh")] == [("dpq", "dsh"), ("dpq", "dsh"), ("itq", None)]


def test_benchmark_prints_the_papers_figure(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKHASH_CACHE", str(tmp_path / "cache"))
    root = fake_cifar(tmp_path / "cifar", n_train=2, n_test=1)
    main(["benchmark", "--dataset", "cifar10", "--data-home", str(root), "--methods", "lsh",
          "--bits", "12", "--queries-per-class", "1", "--n-train-per-class", "1"])
    out = capsys.readouterr()
    assert "paper_mAP" in out.out.splitlines()[1]
    assert "0.1210" in out.out  # CNNBH's Table 1, LSH at 12 bits
    assert "(paper 0.1210)" in out.err


def test_benchmark_dsh_needs_a_train_test_split():
    with pytest.raises(SystemExit, match="train / test"):
        main(["benchmark", "--protocol", "dsh"])


def test_benchmark_curve(tmp_path, capsys):
    out = tmp_path / "r.json"
    main(["benchmark", "--methods", "dpq", "itq", "--codes", "2x4", "--bits", "8", "--epochs",
          "2", "--curve", "--output", str(out)])
    rows = json.loads(out.read_text())["results"]
    dpq = [r for r in rows if r["method"] == "dpq"]
    assert [r["search"] for r in dpq] == ["sym", "asym"]
    for r in dpq:
        assert [p["epoch"] for p in r["curve"]] == [1, 2]
        assert all(0 < p["mAP@all"] <= 1 for p in r["curve"])
        # after the last epoch the curve's point is the table's figure
        assert r["curve"][-1]["mAP@all"] == pytest.approx(r["mAP@all"])
    assert "curve" not in [r for r in rows if r["method"] == "itq"][0]
    assert "curve" not in capsys.readouterr().out


def test_benchmark_on_gist_features_computes_them_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKHASH_CACHE", str(tmp_path))
    main(["benchmark", "--methods", "itq", "pq", "--bits", "16", "--codes", "2x16",
          "--features", "gist"])
    first = capsys.readouterr()
    assert "features=gist" in first.out
    assert "GIST of 1797 images" in first.err
    cached = list((tmp_path / "gist").glob("*.npy"))
    assert len(cached) == 1
    assert np.load(cached[0]).shape == (1797, 512)
    main(["benchmark", "--methods", "itq", "--bits", "16", "--features", "gist"])
    second = capsys.readouterr()
    assert "GIST of" not in second.err  # read from the cache
    def itq_map(err):
        return [line.split("mAP@all=")[1].split()[0] for line in err.splitlines()
                if "] itq" in line and "mAP@all=" in line]

    assert itq_map(first.err) == itq_map(second.err) != []  # the same descriptors


def test_benchmark_reports_map_at_k_under_other_normalisations(tmp_path):
    out = tmp_path / "r.json"
    main(["benchmark", "--methods", "itq", "--bits", "8", "--k", "50",
          "--map-normalize", "relevant", "min", "--output", str(out)])
    row = json.loads(out.read_text())["results"][0]
    assert row["mAP@50/relevant"] < row["mAP@50/min"] <= row["mAP@50"] + 1e-12


def test_evaluate_ranks_a_shuffled_database_too():
    """``tie_seed``: mAP@all of the same codes with the database rows in a seeded random
    order. On a database stored class by class, ties broken by index follow the labels;
    the shuffled figure is the hand-computed one on the permuted database."""
    from skhash._benchmark import evaluate
    from skhash.hashing import ITQHasher
    from skhash.metrics import mean_average_precision

    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(4), 50)  # stored class by class
    X = rng.randn(4, 16)[y] + 1.5 * rng.randn(200, 16)
    itq = ITQHasher(n_bits=2, random_state=0).fit(X)  # 2 bits: nearly every item ties
    row = evaluate(itq, X[:40], y[:40], X, y, k=10, tie_seed=3)
    plain = evaluate(itq, X[:40], y[:40], X, y, k=10)
    assert "mAP@all/shuffled" not in plain and row["mAP@all"] == plain["mAP@all"]

    order = np.random.RandomState(3).permutation(len(y))
    codes_q, codes_db = itq.transform(X[:40]), itq.transform(X)[order]
    distances = (codes_q[:, None, :] != codes_db[None, :, :]).sum(-1)
    ranking = np.argsort(distances, axis=1, kind="stable")
    want = mean_average_precision(y[:40], y[order], ranking)
    assert row["mAP@all/shuffled"] == pytest.approx(want, abs=1e-12)
    assert row["mAP@all/shuffled"] != pytest.approx(row["mAP@all"], abs=1e-4)


def test_evaluate_gives_the_tie_averaged_map():
    """``mAP@all/tie-averaged``: the exact expectation over orders of tied items, the
    same on the class-sorted database and on a permuted one, unlike the headline."""
    from skhash._benchmark import evaluate
    from skhash.hashing import ITQHasher
    from skhash.metrics import tie_averaged_mean_average_precision

    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(4), 50)
    X = rng.randn(4, 16)[y] + 1.5 * rng.randn(200, 16)
    itq = ITQHasher(n_bits=2, random_state=0).fit(X)
    order = rng.permutation(len(y))
    row = evaluate(itq, X[:40], y[:40], X, y, k=10)
    permuted = evaluate(itq, X[:40], y[:40], X[order], y[order], k=10)
    codes_q, codes_db = itq.transform(X[:40]), itq.transform(X)
    want = tie_averaged_mean_average_precision(
        y[:40], y, (codes_q[:, None, :] != codes_db[None, :, :]).sum(-1))
    assert row["mAP@all/tie-averaged"] == pytest.approx(want, abs=1e-12)
    assert permuted["mAP@all/tie-averaged"] == pytest.approx(want, abs=1e-12)
    assert row["mAP@all"] != pytest.approx(permuted["mAP@all"], abs=1e-4)
    assert "mAP@all/tie-averaged" not in evaluate(itq, X[:40], y[:40], X, y, k=10,
                                                   tie_averaged=False)


def test_benchmark_rows_have_the_shuffled_database_figure(tmp_path):
    out = tmp_path / "r.json"
    main(["benchmark", "--methods", "itq", "pq", "--bits", "8", "--codes", "2x16",
          "--output", str(out)])
    rows = json.loads(out.read_text())["results"]
    assert [r["search"] for r in rows] == ["hamming", "sym", "asym"]
    assert all(0 < r["mAP@all/shuffled"] <= 1 for r in rows)
    assert all(0 < r["mAP@all/tie-averaged"] <= 1 for r in rows)


def test_benchmark_saves_models_that_score_as_their_rows(tmp_path):
    """``--save-models``: each fit in its own directory; loaded back, the model gives
    its row's figures again (here on the digits' CNNH split, rebuilt the same way)."""
    import skhash
    from skhash._benchmark import _load, _split, build_parser, evaluate

    out, models = tmp_path / "r.json", tmp_path / "models"
    argv = ["benchmark", "--methods", "itq", "cnnbh", "--bits", "8", "--epochs", "1",
            "--save-models", str(models), "--output", str(out)]
    main(argv)
    rows = json.loads(out.read_text())["results"]
    assert sorted(p.name for p in models.iterdir()) == ["01-itq-8_bits", "02-cnnbh-8_bits"]
    args = build_parser().parse_args(argv)
    X, y, _, is_test = _load(args)
    split = _split(args, y, is_test)
    for row in rows:
        model = skhash.load(row["model"])
        again = evaluate(model, X[split.query], y[split.query], X[split.database],
                         y[split.database], k=args.k, tie_seed=args.seed)
        assert again["mAP@all"] == row["mAP@all"]
        assert again["mAP@all/shuffled"] == row["mAP@all/shuffled"]
        assert again["mAP@all/tie-averaged"] == row["mAP@all/tie-averaged"]


def test_benchmark_scores_saved_models_again_with_load_models(tmp_path, capsys):
    """``--load-models``: the same command scores the saved fits without training them,
    to the same figures; a missing model or one trained otherwise is refused by name."""
    out, again, models = tmp_path / "r.json", tmp_path / "again.json", tmp_path / "models"
    argv = ["benchmark", "--methods", "lsh", "cnnbh", "--bits", "8", "--epochs", "1"]
    main([*argv, "--save-models", str(models), "--output", str(out)])
    main([*argv, "--load-models", str(models), "--output", str(again)])
    rows = json.loads(out.read_text())["results"]
    rescored = json.loads(again.read_text())["results"]
    assert len(rows) == len(rescored) == 2
    for row, new in zip(rows, rescored):
        assert "fit_s" in row and "fit_s" not in new
        assert {k: v for k, v in row.items() if k not in ("fit_s", "encode_us_per_item")} == {
            k: v for k, v in new.items() if k != "encode_us_per_item"}
    assert "(loaded)" in capsys.readouterr().err

    with pytest.raises(SystemExit, match="trained with other parameters.*max_epochs=1 "
                                         "\\(this run: 2\\)"):
        main(["benchmark", "--methods", "lsh", "cnnbh", "--bits", "8", "--epochs", "2",
              "--load-models", str(models)])
    with pytest.raises(SystemExit, match="holds a LSHHasher, but run 1 trains a ITQHasher"):
        import shutil
        shutil.copytree(models / "01-lsh-8_bits", tmp_path / "other" / "01-itq-8_bits")
        main(["benchmark", "--methods", "itq", "--bits", "8",
              "--load-models", str(tmp_path / "other")])
    with pytest.raises(SystemExit, match="no saved model .*01-lsh-16_bits"):
        main(["benchmark", "--methods", "lsh", "--bits", "16", "--load-models", str(models)])


def test_benchmark_refuses_load_models_with_save_models(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["benchmark", "--methods", "lsh", "--load-models", str(tmp_path),
              "--save-models", str(tmp_path)])
    assert "--load-models cannot be combined" in capsys.readouterr().err


def test_benchmark_refuses_save_models_with_curve(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["benchmark", "--methods", "cnnbh", "--curve", "--save-models", str(tmp_path)])
    assert "--save-models cannot be combined with --curve" in capsys.readouterr().err
