"""jax `--devices 2` across two processes (jax.distributed), as across hosts:
each process runs `python -m benchmark.worker RUN_DIR` with
JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID set, drives one
XLA:CPU device, and the all-reduces go through gloo over TCP on localhost.

The two processes run the same program as one process driving both
devices, from the same weights and the same drawn steps; only the order of
float32 sums may differ (XLA:CPU splits its loops by the thread pool, and the
all-reduce is gloo's, not in-process). So the first step's losses agree to
float32 rounding: RTOL_FIRST = 1e-5 relative, 80 times the difference
measured with the three processes sharing one core (1.3e-7, one float32 ulp
of G's loss; with two cores the curves were equal bit for bit), and 900
times below what a process that takes another slice of the step gives (a
mutation rolling process 1's step arrays by one column: D's loss 9e-3 off).
Training then amplifies rounding as any GAN does (1e-4 relative after 4
steps on one core), so the later steps are held only loosely (RTOL_CURVE).
A killed process makes its peer's next collective fail ("Connection reset by
peer"): the run ends as failed, with that reason, in seconds, never hung."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.benchmark.test_reliability import cli, losses, wait_for

pytest.importorskip("jax")

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_NAME = "dcgan-jax-jit-d2"
RTOL_FIRST, RTOL_CURVE = 1e-5, 1e-2  # module docstring


def plan(out: Path, run_id: str, mnist_data_dir: str, epochs: int, train_size: int) -> Path:
    done = cli("--frameworks", "jax", "--models", "dcgan", "--profile", "smoke", "--devices", "2",
               "--train-size", str(train_size), "--batch-size", "16", "--epochs", str(epochs),
               "--quality-samples", "0", "--data-dir", mnist_data_dir, "--out", str(out),
               "--run-id", run_id, "--plan-only")
    assert done.returncode == 0, done.stderr[-2000:]
    return out / run_id / "runs" / RUN_NAME


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(run_dir: Path, process: int | None = None, port: int = 0) -> subprocess.Popen:
    """The worker of `run_dir`: process `process` of 2 under jax.distributed,
    or (None) one process driving both devices."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    if process is not None:
        env.update(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
                   JAX_PROCESS_ID=str(process))
    return subprocess.Popen([sys.executable, "-m", "benchmark.worker", str(run_dir)], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_processes_train_as_one_process_with_two_devices(tmp_path, mnist_data_dir):
    two = plan(tmp_path, "two", mnist_data_dir, epochs=1, train_size=64)
    one = tmp_path / "one"
    shutil.copytree(two, one)  # the same config.json
    port = free_port()
    started = [worker(two, 0, port), worker(two, 1, port), worker(one)]
    outputs = [p.communicate(timeout=300)[0] for p in started]
    for p, output in zip(started, outputs):
        assert p.returncode == 0, output[-3000:]
    result = json.loads((two / "result.json").read_text())
    assert result["status"] == "ok"
    assert result["data_parallel"]["processes"] == 2 and result["data_parallel"]["replicas"] == 2
    assert "in 2 processes (jax.distributed)" in result["environment"]["data_parallel"]
    assert not list(two.glob("failed-rank*.json"))
    assert (two / "frames.npz").is_file()  # process 0 drew them alone, from its copy of the state
    curve, reference = (np.array(losses(run), dtype=float) for run in (two, one))
    assert curve.shape == reference.shape == (4, 2)  # 4 steps of (D, G) losses
    np.testing.assert_allclose(curve[0], reference[0], rtol=RTOL_FIRST, atol=0)
    np.testing.assert_allclose(curve, reference, rtol=RTOL_CURVE, atol=0)


def test_a_killed_process_fails_the_run_in_seconds(tmp_path, mnist_data_dir):
    run_dir = plan(tmp_path, "killed", mnist_data_dir, epochs=50, train_size=320)
    port = free_port()
    first, second = worker(run_dir, 0, port), worker(run_dir, 1, port)
    try:
        wait_for(run_dir / "checkpoint" / "state.json")  # after epoch 1: both train
        second.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        output = first.communicate(timeout=120)[0]  # failed, not hung
        waited = time.monotonic() - killed
    finally:
        for p in (first, second):
            p.kill()
            p.wait()
    assert first.returncode == 1, output[-3000:]
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "failed"
    assert "Gloo" in result["reason"] and "peer" in result["reason"], result["reason"]
    assert waited < 60, f"process 0 took {waited:.0f} s to notice"
