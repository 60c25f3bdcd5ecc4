"""--threads for JAX: XLA:CPU's thread pool has exactly `threads` threads,
on that many cores, and the rest of the process keeps every core
(`jax_impl.runner.start_backends`).

Each case runs in a fresh Python: the pool is sized once, when JAX's backends
start, so a process whose backends already run (this one) cannot show it.
XLA names its pool's threads "tf_XLAEigen" (Linux's /proc/self/task/*/comm).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import session_cores

pytest.importorskip("jax")

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, sys
os.sched_setaffinity(0, json.loads(sys.argv[2]))  # first, before JAX starts
from benchmark.runner import RunnerOptions
from benchmark.specs import get_spec
from jax_impl.runner import JaxRunner
from tests.training import train_steps

spec = get_spec("vanilla")
runner = JaxRunner(spec, RunnerOptions(mode="jit", threads=int(sys.argv[1])))
train_steps(runner, steps=1, batch=8, data=16, weight_seed=0, data_seed=0)
pool = [int(t) for t in os.listdir("/proc/self/task")
        if open(f"/proc/self/task/{t}/comm").read().strip() == "tf_XLAEigen"]
print(json.dumps({"pool": len(pool), "pool_cores": sorted({c for t in pool for c in os.sched_getaffinity(t)}),
                  "main_cores": sorted(os.sched_getaffinity(0)), "reported": runner.environment()["threads"]}))
"""


def probe(threads: int, cores: list[int]) -> dict:
    """The probe in a fresh Python that may use `cores` (every core of the
    session, though this pytest worker may keep to one: tests/conftest.py).
    The probe widens its own mask: a preexec_fn would fork this process, whose
    JAX threads make that unsafe."""
    result = subprocess.run([sys.executable, "-c", PROBE, str(threads), json.dumps(cores)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads thread names from Linux's /proc")
def test_threads_bound_xla_cpus_pool():
    cores = session_cores()
    if len(cores) < 2:
        pytest.skip("one core: a pool of every core and a pool of one are the same")
    one = probe(1, cores)
    assert one == {"pool": 1, "pool_cores": cores[:1], "main_cores": cores, "reported": "1"}
    every = probe(0, cores)
    assert every == {"pool": len(cores), "pool_cores": cores, "main_cores": cores, "reported": str(len(cores))}
