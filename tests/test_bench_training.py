"""The training-speed benchmark runs on tiny settings and reports what it promises."""

import json

import pytest
import torch


def test_bench_training_tiny(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("bench_training")
    threads = torch.get_num_threads()
    output = tmp_path / "results.json"
    result = bench.main([
        "--n", "64", "--epochs", "1", "--networks", "cnnbh_cifar", "--threads", "1",
        "--batch-sizes", "32", "--channels-last", "on", "--augment", "on", "off",
        "--no-compile", "--profile-batches", "1", "--output", str(output),
    ])
    assert torch.get_num_threads() == threads  # the thread count is restored

    rows = result["rows"]
    assert [(r["network"], r["variant"]) for r in rows] == [
        ("cnnbh_cifar", "baseline"), ("cnnbh_cifar", "augmentation off")]
    for r in rows:
        assert (r["threads"], r["batch"], r["status"]) == (1, 32, "ok")
        assert r["plain_ips"] > 0 and r["estimator_ips"] > 0
        assert r["ratio"] == pytest.approx(r["plain_ips"] / r["estimator_ips"])
        # the plain loop trains the estimator's module to the same weights
        assert r["same_weights"] is True
        assert r["loader_ms_per_batch"] > 0
    assert rows[0]["profile"] and "profile" not in rows[1]

    probe = result["overhead_probe"]
    assert (probe["threads"], probe["batch"]) == (1, 32)
    assert probe["plain_ms_per_batch"] > 0 and probe["estimator_ms_per_batch"] > 0

    saved = json.loads(output.read_text())
    assert {"machine", "settings", "rows", "decoding", "overhead_probe", "total_s"} <= set(saved)
    assert {"cpu", "torch", "torch_default_threads", "logical_cpus"} <= set(saved["machine"])
    assert saved["machine"]["torch"] == torch.__version__
    assert len(saved["rows"]) == 2
    assert {"network", "variant", "threads", "batch", "plain_ips", "estimator_ips",
            "ratio"} <= set(saved["rows"][0])

    table = capsys.readouterr().out
    assert "| network | variant | threads | batch | plain img/s | estimator img/s" in table
    assert "| cnnbh_cifar | augmentation off | 1 | 32 |" in table
    assert "Estimator overhead per batch" in table and "aten::" in table


def test_channels_last_off_is_undone(benchmark_script):
    bench = benchmark_script("bench_training")
    as_images = bench.backbones._as_images
    with bench._settings(1, channels_last=False):
        assert bench.backbones._as_images is bench._plain_images
        images = bench.backbones._as_images(torch.zeros(2, 12), (3, 2, 2))
        assert images.is_contiguous()
    assert bench.backbones._as_images is as_images
