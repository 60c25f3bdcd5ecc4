"""Every data set this machine has files for, through run_benchmark.py: tiny
copies the test writes (tests/datasets.py), in every framework's native
pipeline. A native run and a device run of one seed see the same batches, so
their loss curves agree bit for bit: the image folder runs both pipelines in
torch, end to end through the suite and its report. That each framework's
native batches are its device batches, for each of these data sets, is tested
in the twin's own process, where it costs no worker
(tests/*_impl/test_*_input_pipeline.py); so here JAX's Grain loader runs
alone on the folder, and tf's on the canonical sets (their device pipeline is
MNIST's and the folder's code with another loader, tests/benchmark/data):
each worker costs 10-20 s of imports on 2 cores, and the suite has a time
budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.datasets import tiny_sources

REPO_ROOT = Path(__file__).resolve().parents[3]
CHECKSUM_HOOK = REPO_ROOT / "tests" / "checksums"  # sitecustomize: the tiny sets' checksums in every process

# case -> (key of tiny_sources, model, input pipelines, frameworks, mode, flags): each covers another path
# through the step; a suite runs every framework on every pipeline.
CASES = {
    "folder": ("folder", "dcgan", ("device", "native"), ("torch",), "eager",  # 6 readable images; scored on Inception
               ["--image-size", "16", "--batch-size", "2", "--quality-samples", "10"]),
    "folder-jax": ("folder", "dcgan", ("native",), ("jax",), "jit",  # jit: one compilation, where eager's are many
                   ["--image-size", "16", "--batch-size", "2"]),
    "cifar10": ("cifar10", "cgan", ("native",), ("torch", "tf"), "eager",  # real labels; a subset's rows
                ["--batch-size", "4", "--train-size", "16"]),
    "fashion_mnist": ("fashion_mnist", "wgan_gp", ("native",), ("torch", "tf"), "eager",  # 5 critic batches, the penalty
                      ["--batch-size", "2"]),
}


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    from benchmark.data import cifar10, fashion_mnist

    found = tiny_sources(tmp_path, monkeypatch)
    tables = tmp_path / "checksums.json"
    tables.write_text(json.dumps({"fashion_mnist": fashion_mnist.GZ_SHA256, "fashion_mnist_examples": [24, 6],
                                  "cifar10": {"sha256": cifar10.TARBALL_SHA256, "md5": cifar10.BATCH_MD5}}))
    monkeypatch.setenv("GANBENCH_TEST_CHECKSUMS", str(tables))
    monkeypatch.setenv("GANBENCH_FID_WEIGHTS", str(tmp_path / "no-inception-weights.pth"))
    return found


@pytest.mark.parametrize("key", list(CASES))
def test_each_data_set_trains_in_each_framework(tmp_path: Path, sources: dict, key: str) -> None:
    source, model, pipelines, frameworks, mode, flags = CASES[key]
    name, data_dir = sources[source]
    out = tmp_path / "out"
    args = ["--dataset", name, "--models", model, "--frameworks", *frameworks, "--modes", mode,
            "--input-pipeline", *pipelines, "--profile", "smoke", "--out", str(out), "--run-id", key,
            *(["--data-dir", str(data_dir)] if data_dir else []), *flags]
    if "--quality-samples" not in flags:
        args += ["--quality-samples", "0"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(CHECKSUM_HOOK), str(REPO_ROOT)])}
    done = subprocess.run([sys.executable, "run_benchmark.py", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / key / "results.json").read_text())
    runs = {run["name"]: run for run in results["runs"]}
    suffixes = {"device": "", "native": "-native"}
    assert set(runs) == {f"{model}-{f}-{mode}{suffixes[p]}" for f in frameworks for p in pipelines}
    assert all(run["status"] == "ok" for run in runs.values())
    assert results["suite"]["dataset"] == (name if source != "folder" else f"folder:{Path(name[7:]).resolve()}")
    assert results["suite"]["input_pipelines"] == list(pipelines)
    for framework in frameworks:
        curves = {p: pd.read_csv(out / key / "runs" / f"{model}-{framework}-{mode}{suffixes[p]}" / "history.csv")
                  for p in pipelines}
        assert len(curves["native"]) >= 2 and curves["native"]["input_s"].notna().all()
        assert runs[f"{model}-{framework}-{mode}-native"]["timing"]["loader_images_per_s"] > 0
        if "device" in curves:
            device, native = curves["device"], curves["native"]
            assert (device[["d_loss", "g_loss"]].to_numpy() == native[["d_loss", "g_loss"]].to_numpy()).all()
            assert "input_s" not in device
    report = (out / key / "report.md").read_text()
    assert f"data **{results['suite']['dataset']}**" in report
    assert f"input pipeline **{', '.join(pipelines)}**" in report and "Loader alone img/s" in report
    if "device" in pipelines:  # the summary says whether each framework waited for its loader
        assert "*Input pipelines*" in report and "of the time: the loader" in report
    if key == "folder":  # scored on Inception, whose weights this machine lacks: said, not crashed
        assert runs["dcgan-torch-eager"]["quality"]["inception_reason"]
        assert "Inception-v3 weights for FID and KID were missing" in report
