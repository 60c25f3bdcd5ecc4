"""The prepared GPU run (`benchmark.gpu_run`) on this CPU: its flags after
`--` reach the suites, the archive holds the run folders without checkpoints,
the data-parallel case runs where asked (on a GPU machine: where it has 2 or
more GPUs) and is skipped otherwise, and a deadline stops the suite's whole
process group."""

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from benchmark.environment import gpu_description
from benchmark.gpu_run import EXIT_DEADLINE, run_suite

REPO_ROOT = Path(__file__).resolve().parents[2]


def gpu_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmark.gpu_run", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def test_the_runs_are_packed_into_one_archive_without_checkpoints(tmp_path, mnist_data_dir):
    archive = tmp_path / "back" / "run.tar.gz"
    done = gpu_run("--archive", str(archive), "--out", str(tmp_path / "reports"), "--run-id", "gpu-test",
                   "--devices-case", "2", "--",
                   "--device", "cpu", "--profile", "smoke", "--frameworks", "jax", "--models", "vanilla",
                   "--modes", "jit", "--repeats", "1", "--quality-samples", "0", "--data-dir", mnist_data_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "reports" / "gpu-test" / "runs" / "vanilla-jax-jit" / "checkpoint").is_dir()
    with tarfile.open(archive) as packed:
        names = packed.getnames()
        results = json.load(packed.extractfile("gpu-test/results.json"))
        scaling = json.load(packed.extractfile("gpu-test-devices/results.json"))
    assert {name.split("/")[0] for name in names} == {"gpu-test", "gpu-test-devices"}
    assert "gpu-test/report.md" in names and "gpu-test/runs/vanilla-jax-jit/history.csv" in names
    assert "gpu-test-devices/report.md" in names
    assert not [name for name in names if "checkpoint" in name or name.endswith(".lock")]
    # The flags after `--` won over the defaults (cuda, dcgan and wgan, three modes, 2 repeats).
    assert [(r["config"]["model"], r["framework"], r["mode"], r["status"]) for r in results["runs"]] == [
        ("vanilla", "jax", "jit", "ok")]
    assert results["runs"][0]["config"]["device"] == "cpu"
    # The data-parallel case: 1 and 2 devices, BatchNorm synced across them, the user's flags again winning.
    assert [(r["framework"], r["config"]["devices"], r["config"]["sync_batchnorm"], r["status"])
            for r in scaling["runs"]] == [("jax", 1, False, "ok"), ("jax", 2, True, "ok")]


def test_the_data_parallel_case_is_skipped_on_one_gpu_and_refused_at_one_device(tmp_path):
    from benchmark.environment import gpu_count
    from benchmark.gpu_run import devices_case

    assert devices_case(None) == (gpu_count() if gpu_count() > 1 else 0)
    assert devices_case(0) == 0 and devices_case(4) == 4
    done = gpu_run("--archive", str(tmp_path / "run.tar.gz"), "--out", str(tmp_path), "--devices-case", "1")
    assert done.returncode == 2 and "--devices-case 1: give 2 or more replicas" in done.stderr
    assert not any(tmp_path.iterdir())


def test_the_deadline_stops_the_suite_and_its_children(tmp_path):
    # A stand-in suite: a child that would outlive its parent, then a long sleep.
    child_pid = tmp_path / "child.pid"
    script = (f"import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', 'import time; "
              f"time.sleep(300)']); open({str(child_pid)!r}, 'w').write(str(c.pid)); time.sleep(300)")
    started = time.monotonic()
    assert run_suite([sys.executable, "-c", script], deadline_s=3) == EXIT_DEADLINE
    assert time.monotonic() - started < 60
    pid = int(child_pid.read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and b"zombie" not in Path(f"/proc/{pid}/status").read_bytes().lower():
        assert time.monotonic() < deadline, f"the suite's child {pid} outlived the deadline"
        time.sleep(0.1)


def test_nothing_is_packed_when_no_run_finished(tmp_path, mnist_data_dir):
    archive = tmp_path / "run.tar.gz"
    done = gpu_run("--archive", str(archive), "--out", str(tmp_path), "--deadline", "1", "--",
                   "--device", "cpu", "--profile", "smoke", "--frameworks", "torch", "--models", "vanilla",
                   "--modes", "eager", "--data-dir", mnist_data_dir)
    assert done.returncode == EXIT_DEADLINE
    assert "no run finished" in done.stderr and not archive.exists()


@pytest.mark.skipif(gpu_description() is not None, reason="a GPU is here: the default run would train")
def test_without_a_gpu_the_suites_refusal_comes_through(tmp_path):
    archive = tmp_path / "run.tar.gz"
    done = gpu_run("--archive", str(archive), "--out", str(tmp_path))
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--device cuda" in done.stderr and not archive.exists()


def test_an_existing_run_folder_is_refused_not_packed_again(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "results.json").write_text("{}")
    archive = tmp_path / "run.tar.gz"
    done = gpu_run("--archive", str(archive), "--out", str(tmp_path), "--run-id", "old")
    assert done.returncode == 2 and "already exists" in done.stderr and not archive.exists()
