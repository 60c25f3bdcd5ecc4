"""A full and a read-only disk, injected for real on a small tmpfs mounted
under --out: the suite stops with one message and exit 3 (what was full, what
the runs need, `--resume DIR`), every file already written stays whole, and
`--resume` finishes the suite once there is room. Mounting needs root (CI
runs as root); elsewhere these tests skip, saying why."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Two runs, so that a stop before the second shows; two steps each, no scoring.
TINY = ("--frameworks", "torch", "tf", "--models", "dcgan", "--profile", "smoke",
        "--train-size", "64", "--batch-size", "32", "--quality-samples", "0")
MB = 1 << 20


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_benchmark.py", *args], cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def disk(tmp_path):
    """A 48 MB tmpfs at tmp_path/disk, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here to mount a tmpfs to fill")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """A ballast file that leaves `leave` bytes free on `disk`."""
    ballast = disk / "ballast"
    free = shutil.disk_usage(disk).free
    with open(ballast, "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, max(0, free - leave))
    return ballast


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_full_disk_stops_the_suite_cleanly_and_resume_finishes_it(disk, mnist_data_dir):
    run_dir = disk / "full"
    ballast = fill(disk, leave=3 * MB)  # less than one DCGAN checkpoint (10.8 MB)
    stopped = cli(*TINY, "--data-dir", mnist_data_dir, "--out", str(disk), "--run-id", "full")

    assert stopped.returncode == 3, stopped.stderr[-3000:]
    assert "Traceback" not in stopped.stderr
    warning, error = stopped.stderr.index("warning: the disk that holds"), stopped.stderr.index("error:")
    assert warning < error  # warned before training
    message = stopped.stderr[error:]
    assert f"no space left on device: writing {run_dir}/runs/dcgan-torch-eager/" in message
    assert "run dcgan-torch-eager needs about" in message and "MB there" in message
    assert f"python run_benchmark.py --resume {run_dir}" in message
    assert not (run_dir / "runs" / "dcgan-tf-xla").exists()  # the suite stopped: tf never started
    failed = json.loads((run_dir / "results.json").read_text())["runs"]
    assert [(r["name"], r["status"]) for r in failed] == [("dcgan-torch-eager", "failed")]
    assert failed[0]["disk_error"]["strerror"] == "No space left on device"
    leftovers = [p.name for p in run_dir.rglob("*") if p.name.endswith((".tmp", ".new"))]
    assert leftovers == []  # no half-written file or checkpoint stays

    ballast.unlink()  # space is free again
    resumed = cli("--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert [(r["name"], r["status"]) for r in results["runs"]] == [
        ("dcgan-torch-eager", "ok"), ("dcgan-tf-xla", "ok")]
    assert (run_dir / "report.md").exists()

    # The suite's own write fails: every run is kept, results.json cannot be rewritten.
    before = files_under(run_dir)
    fill(disk, leave=0)
    full = cli("--resume", str(run_dir))
    assert full.returncode == 3 and "Traceback" not in full.stderr
    assert f"no space left on device: writing {run_dir}/results.json" in full.stderr
    assert "every run finished" in full.stderr and f"--resume {run_dir}" in full.stderr
    assert files_under(run_dir) == before  # nothing lost, nothing half written
    report_only = cli("--report-only", str(run_dir))
    assert report_only.returncode == 2 and "Traceback" not in report_only.stderr
    assert f"--report-only {run_dir}: no space left on device: writing {run_dir}/" in report_only.stderr
    assert files_under(run_dir) == before

    # A read-only disk: refused before anything runs.
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    read_only = cli("--resume", str(run_dir))
    assert read_only.returncode == 2 and "Traceback" not in read_only.stderr
    assert f"--resume {run_dir}: not writable" in read_only.stderr
    assert "== run" not in read_only.stdout


def test_a_full_disk_is_refused_before_anything_is_written(disk, mnist_data_dir):
    fill(disk, leave=0)
    result = cli(*TINY, "--data-dir", mnist_data_dir, "--out", str(disk / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"the disk that holds {disk / 'out'} is full" in result.stderr
    assert not (disk / "out").exists()
