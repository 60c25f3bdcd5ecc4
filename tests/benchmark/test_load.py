"""benchmark.load: a run's own processes' CPU time against the rest of the
machine's, read from /proc on this machine (Linux), with real processes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmark import load

BUSY = "import time\nt = time.process_time()\nwhile time.process_time() - t < {}: pass\n"
pytestmark = pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads Linux's /proc")


def test_a_child_counts_as_the_runs_own_and_a_stranger_as_other():
    start = load.sample()
    # A child of this process (reaped: its time joins ours) ...
    subprocess.run([sys.executable, "-c", BUSY.format(0.6)], check=True)
    # ... and a process outside this tree, started through a shell that exits
    # at once, so that it is no descendant of ours while it runs.
    stranger = subprocess.run(["sh", "-c", f"{sys.executable} -c '{BUSY.format(0.6)}' & echo $!"],
                              capture_output=True, text=True, check=True).stdout.strip()
    while os.path.exists(f"/proc/{stranger}"):
        os.sched_yield()
    found = load.between(start, load.sample())
    assert found["own_cpu_s"] >= 0.55  # the child's 0.6 s of CPU, from /proc's 1/100 s ticks
    assert found["other_cpu_s"] >= 0.55  # the stranger's (and whatever else ran)
    assert found["other_share"] == pytest.approx(found["other_cpu_s"] / (found["cores"] * found["wall_s"]))


def test_the_contended_flag_follows_the_shares():
    def at(wall, busy, steal, own):
        return load.Sample(wall, busy, steal, own, 0.5)

    idle = load.between(at(0, 0, 0, 0), at(10, 10 * os.cpu_count() * 0.05, 0, 0))
    assert not idle["contended"] and idle["reason"] is None
    busy = load.between(at(0, 0, 0, 0), at(10, 10 * os.cpu_count() * 0.3, 0, 0))
    assert busy["contended"] and "30%" in busy["reason"]
    stolen = load.between(at(0, 0, 0, 0), at(10, 0, 10 * os.cpu_count() * 0.2, 0))
    assert stolen["contended"] and "stole 20%" in stolen["reason"]
    assert load.between(None, at(1, 0, 0, 0)) is None
