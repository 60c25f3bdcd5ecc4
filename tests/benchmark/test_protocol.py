"""benchmark.protocol's launcher: a child started through `orphanless` dies
with the process that started it, and one whose parent is already gone never
starts its command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.protocol import child_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's")

# A parent that starts `sleep 60` through the launcher, waits until the
# launcher has become `sleep` (so the signal is set, not raced), writes its
# pid, and dies by SIGKILL: no chance to clean up after its child.
PARENT = """
import os, signal, subprocess, sys, time
from benchmark.protocol import child_environment, orphanless
child = subprocess.Popen(orphanless(["sleep", "60"]), env=child_environment(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while open(f"/proc/{child.pid}/cmdline", "rb").read().split(b"\\0")[0] != b"sleep":
    time.sleep(0.01)
open(sys.argv[1], "w").write(str(child.pid))
os.kill(os.getpid(), signal.SIGKILL)
"""


def alive(pid: int) -> bool:
    """Running, not a zombie left for a reaper (a container's init may never reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_a_child_dies_with_the_parent_that_started_it(tmp_path):
    pid_file = tmp_path / "child.pid"
    parent = subprocess.run([sys.executable, "-c", PARENT, str(pid_file)], cwd=REPO_ROOT,
                            env=child_environment(), capture_output=True, text=True, timeout=60)
    assert parent.returncode == -9, parent.stderr[-2000:]
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while alive(child):
        if time.monotonic() > deadline:
            os.kill(child, 9)
            pytest.fail("the child outlived its killed parent")
        time.sleep(0.05)


def test_a_child_whose_parent_has_ended_never_starts(tmp_path):
    # Its parent, as the launcher is told, is a process that is not its parent:
    # as if the parent had died between starting the launcher and its signal.
    marker = tmp_path / "started"
    done = subprocess.run([sys.executable, "-m", "benchmark.protocol", "1", "touch", str(marker)],
                          cwd=REPO_ROOT, env=child_environment(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "not started: its parent (pid 1) has ended" in done.stderr
    assert not marker.exists()
