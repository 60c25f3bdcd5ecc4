"""End-to-end suites that several tests read, each run once per test session.

A suite through `run_benchmark.py` costs seconds to a minute (a worker
process per run, TensorFlow's start-up in each), so the tests that check
different things of the same kind of suite (its report, its TensorBoard
events, its resume) share one. The first pytest worker that asks for a suite
runs it under a file lock in the session's private home (tests/conftest.py);
the other workers wait for the lock and read the same folder.

Tests only read a shared suite's folder; one that writes (a resume, a
re-render) works on its own copy (`SharedSuite.copy_to`).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# The `tiny_suite` fixture's flags (tests/conftest.py), for tests that resume it.
TINY = ("--frameworks", "torch", "tf", "--modes", "eager", "--models", "dcgan", "wgan", "--profile", "smoke",
        "--train-size", "160", "--batch-size", "16", "--quality-samples", "50", "--quality-probes", "2",
        "--tensorboard")


@dataclass(frozen=True)
class SharedSuite:
    run_dir: Path  # the suite's folder: results.json, report.md, runs/
    returncode: int
    stdout: str
    stderr: str

    @property
    def results(self) -> dict:
        return json.loads((self.run_dir / "results.json").read_text())

    def copy_to(self, folder: Path) -> Path:
        """A copy of the suite's folder under `folder`, for a test that writes."""
        target = folder / self.run_dir.name
        shutil.copytree(self.run_dir, target)
        return target


def shared_suite(home: Path, name: str, *args: str) -> SharedSuite:
    """`run_benchmark.py ARGS --out <home>/suites --run-id NAME`, run once per
    session whichever worker asks first; every caller gets its outcome."""
    out = home / "suites"
    out.mkdir(parents=True, exist_ok=True)
    outcome = out / f"{name}.outcome.json"
    with open(out / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not outcome.exists():
            done = subprocess.run([sys.executable, "run_benchmark.py", *args, "--out", str(out), "--run-id", name],
                                  cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
            outcome.write_text(json.dumps({"returncode": done.returncode, "stdout": done.stdout,
                                           "stderr": done.stderr}))
    saved = json.loads(outcome.read_text())
    return SharedSuite(out / name, saved["returncode"], saved["stdout"], saved["stderr"])
