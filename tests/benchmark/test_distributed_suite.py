"""--devices through the command line, with faults injected for real: a
batch that the replicas cannot split is refused before anything runs; a rank
killed mid-run ends the run as failed, naming the rank, and never hangs the
suite; torchrun's usual port held by someone else changes nothing (the
suite's --standalone rendezvous takes a free one); --resume continues the
distributed run on the uninterrupted loss curve, bit for bit."""

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.benchmark.test_reliability import cli, losses, wait_for

pytest.importorskip("torch")
# 4 epochs of 10 steps, 2 gloo ranks of 16 images each.
RUN = ("--frameworks", "torch", "--models", "dcgan", "--profile", "smoke", "--devices", "2",
       "--train-size", "320", "--batch-size", "32", "--epochs", "4", "--quality-samples", "0")
TORCHRUN_DEFAULT_PORT = 29500


@pytest.mark.parametrize("flags, message", [
    (("--devices", "3", "--batch-size", "32"),
     "--devices 3 with batch 32: each of the 3 replicas takes batch/3 images, and 32 does not divide"),
    (("--devices", "2", "--precision", "bf16"), "data-parallel runs are fp32 here"),
    (("--devices", "2", "--frameworks", "tf", "--modes", "xla"), "gives tf nothing to run with --devices 2"),
    (("--devices", "2", "--frameworks", "jax", "--modes", "eager"), "gives jax nothing to run with --devices 2"),
])
def test_what_the_replicas_cannot_run_is_refused_first(tmp_path, flags, message):
    done = cli("--profile", "smoke", "--models", "dcgan", *flags, "--out", str(tmp_path))
    assert done.returncode == 2 and message in done.stderr, done.stderr[-2000:]
    assert not any(tmp_path.iterdir())  # nothing written


def rank_pid(run_dir: Path, rank: int) -> int | None:
    """The worker process of `rank` (torchrun's RANK) training in `run_dir`."""
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or str(run_dir).encode() not in (proc / "cmdline").read_bytes():
                continue
            if f"RANK={rank}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                return int(proc.name)
        except OSError:
            continue
    return None


def test_a_killed_rank_fails_the_run_and_resume_finishes_it(tmp_path, mnist_data_dir):
    port = socket.socket()
    try:
        port.bind(("127.0.0.1", TORCHRUN_DEFAULT_PORT))
        port.listen()
    except OSError:
        pass  # taken already: the point stands
    try:
        suite = cli(*RUN, "--data-dir", mnist_data_dir, "--out", str(tmp_path), "--run-id", "killed",
                    wait=False)
        run_dir = tmp_path / "killed" / "runs" / "dcgan-torch-eager-d2"
        wait_for(run_dir / "checkpoint" / "state.json")  # after epoch 1
        victim = rank_pid(run_dir, 1)
        assert victim is not None, "rank 1 not found"
        rank0 = rank_pid(run_dir, 0)
        os.kill(victim, signal.SIGKILL)
        assert suite.wait(timeout=120) == 1  # failed, not hung
        result = json.loads((tmp_path / "killed" / "results.json").read_text())["runs"][0]
        assert result["status"] == "failed"
        assert result["reason"].startswith("rank 1 of 2 was killed by signal SIGKILL"), result["reason"]
        # The survivor's own last lines, not torchrun's summary: its collective lost its peer.
        assert result["stderr_tail"].startswith("rank 0's stderr:"), result["stderr_tail"]
        assert "Connection" in result["stderr_tail"] or "peer" in result["stderr_tail"], result["stderr_tail"]
        deadline = time.monotonic() + 30
        while rank0 is not None and Path(f"/proc/{rank0}").exists():
            assert time.monotonic() < deadline, "rank 0 outlived its run"
            time.sleep(0.2)

        resumed = cli("--resume", str(tmp_path / "killed"))
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        whole = cli(*RUN, "--data-dir", mnist_data_dir, "--out", str(tmp_path), "--run-id", "whole")
        assert whole.returncode == 0, whole.stderr[-3000:]
    finally:
        port.close()
    finished = json.loads((tmp_path / "killed" / "results.json").read_text())["runs"][0]
    assert finished["status"] == "ok" and finished["resumed_from_epoch"] >= 1
    assert finished["data_parallel"]["replicas"] == 2
    assert finished["data_parallel"]["batch_per_replica"] == 16
    curve = losses(tmp_path / "whole" / "runs" / "dcgan-torch-eager-d2")
    assert len(curve) == 4 * 10
    assert losses(run_dir) == curve  # bit for bit


def test_plan_only_writes_each_runs_config_and_command(tmp_path, mnist_data_dir):
    """Across nodes: the folder and the commands each node runs; nothing trains."""
    done = cli("--frameworks", "torch", "tf", "--models", "wgan_gp", "--profile", "smoke", "--devices", "4",
               "--data-dir", mnist_data_dir, "--out", str(tmp_path), "--run-id", "plan", "--plan-only")
    assert done.returncode == 0, done.stderr[-2000:]
    runs = tmp_path / "plan" / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["wgan_gp-tf-function-d4", "wgan_gp-torch-eager-d4"]
    config = json.loads((runs / "wgan_gp-torch-eager-d4" / "config.json").read_text())
    assert config["devices"] == 4 and config["batch_size"] == 32
    run = runs / "wgan_gp-torch-eager-d4"
    assert ("-m torch.distributed.run --standalone --nproc_per_node=4 --monitor-interval=1 "
            f"--log-dir {run / 'ranks'} --tee 3 -m benchmark.worker {run}") in done.stdout
    assert not list(runs.glob("*/result.json"))
