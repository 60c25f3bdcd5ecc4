"""benchmark.distributed: why a data-parallel run failed, read from
torchrun's own failure summary (formatted here by the installed torch); which
process this is, from each launcher's variables."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.distributed import Process, failure_reason, this_process

REPO_ROOT = Path(__file__).resolve().parents[2]

errors = pytest.importorskip("torch.distributed.elastic.multiprocessing.errors")


def torchrun_summary(*failures: tuple[int, int]) -> str:
    """torchrun's summary of failed ranks [(rank, exit code), ...], the first
    in the list observed first (its "Root Cause")."""
    observed = {}
    for when, (rank, code) in enumerate(failures):
        failure = errors.ProcessFailure(local_rank=rank, pid=1000 + rank, exitcode=code, error_file="<N/A>")
        failure.timestamp = when
        observed[rank] = failure
    return errors.ChildFailedError("benchmark.worker", observed).format_msg()


def test_the_killed_rank_is_named_when_a_peer_failed_first(tmp_path):
    """Rank 1 is SIGKILLed; rank 0's all-reduce fails at once ("Connection
    reset by peer") and exits first, so torchrun's root cause is rank 0. The
    reason still names the killed rank."""
    summary = torchrun_summary((0, 1), (1, -9))
    assert failure_reason(tmp_path, summary, 2) == (
        "rank 1 of 2 was killed by signal SIGKILL; torchrun stopped the other ranks")


def test_ranks_torchrun_stopped_itself_are_not_the_cause(tmp_path):
    """torchrun ends the survivors with SIGTERM: the failed rank is the cause."""
    summary = torchrun_summary((1, 1), (0, -15))
    assert failure_reason(tmp_path, summary, 2) == (
        "rank 1 of 2 exited with code 1; torchrun stopped the other ranks")


def test_nothing_to_read_gives_no_reason(tmp_path):
    assert failure_reason(tmp_path, "Traceback (most recent call last): ...", 2) is None


@pytest.mark.parametrize("env, expected", [
    ({}, Process(0, 1)),
    ({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}, Process(1, 2, 1)),
    ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}})},
     Process(1, 2)),
    ({"JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1"}, Process(1, 2)),
    ({"JAX_NUM_PROCESSES": "1", "JAX_PROCESS_ID": "0"}, Process(0, 1)),
])
def test_each_launchers_variables_place_the_process(monkeypatch, env, expected):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TF_CONFIG", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert this_process() == expected


def test_a_jax_process_index_out_of_range_exits_2_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
    monkeypatch.setenv("JAX_PROCESS_ID", "2")
    done = subprocess.run([sys.executable, "-m", "benchmark.worker", str(tmp_path)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 2
    assert "JAX_PROCESS_ID=2 with JAX_NUM_PROCESSES=2: give each process an index from 0 to 1" in done.stderr
