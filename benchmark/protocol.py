"""What a parent process (the suite, the calibration, the loops script) and
the child it starts agree on: the child's environment, its death with the
parent, its exit codes, and the status pipe that carries a disk fault.

Both sides import this module, and nothing else of each other: the suite
never imports the worker, and the worker never imports the suite.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import sys
from pathlib import Path

from benchmark.environment import REPO_ROOT

# The worker's exit codes (`python -m benchmark.worker RUN_DIR`).
EXIT_OK = 0
EXIT_FAILED = 1  # result.json says why (a failed rank leaves its note instead)
EXIT_NOT_OK = 3  # finished, but not ok: diverged
EXIT_DISK = 4  # a full, over-quota or read-only disk refused a write (see the status pipe)

# The status pipe: the parent passes the write end's descriptor in this
# variable; a worker stopped by its disk writes {"errno", "strerror", "path"}
# there, since its own stderr.log and result.json may be on the disk that is full.
STATUS_FD_ENV = "GANBENCH_STATUS_FD"


def child_environment() -> dict[str, str]:
    """The environment of every child: the repository importable, TF's C++
    info lines quiet (they go to stderr.log anyway), output unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def orphanless(command: list[str]) -> list[str]:
    """`command`, started so that Linux kills it (SIGKILL) when this process
    dies: a killed suite leaves no orphan training on, and `--resume` never
    races one. This module's main is the launcher: it sets its own
    parent-death signal, checks that its parent is still this process, and
    execs `command`, which keeps the signal. Not a `preexec_fn`: Python code
    run between fork and exec may deadlock when the parent has threads
    (Python's subprocess documentation; JAX warns of it at every such fork),
    as a test process that holds JAX, torch or TensorFlow has; without one,
    subprocess need not fork the parent at all."""
    return [sys.executable, "-m", "benchmark.protocol", str(os.getpid()), *command]


def die_with_parent() -> None:
    """Linux sends this process SIGKILL when its parent dies (the launcher of
    `orphanless`, and a rank under torchrun)."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the child may outlive a killed parent


def send_disk_fault(error: OSError, run_dir: Path) -> dict:
    """In the worker: tells the parent which write the disk refused, through
    the status pipe when there is one (a worker run by hand has none)."""
    report = {"errno": error.errno, "strerror": error.strerror, "path": str(error.filename or run_dir)}
    if STATUS_FD_ENV in os.environ:
        try:
            os.write(int(os.environ[STATUS_FD_ENV]), json.dumps(report).encode())
        except (OSError, ValueError):
            pass  # the parent is gone: the exit code still says it
    return report


def receive_disk_fault(status_read: int, code: int | None, run_dir: Path) -> dict | None:
    """In the parent, after the worker ended: its disk fault ({"errno",
    "strerror", "path"}) from the status pipe, which this closes; None when it
    sent none and its exit code does not say one."""
    os.set_blocking(status_read, False)
    chunks = []
    try:
        while chunk := os.read(status_read, 65536):
            chunks.append(chunk)
    except BlockingIOError:  # a child of the worker still holds the pipe open
        pass
    finally:
        os.close(status_read)
    try:
        report = json.loads(b"".join(chunks)) if chunks else None
    except ValueError:
        report = None
    if report is None and code == EXIT_DISK:  # the pipe said nothing: the exit code alone
        report = {"errno": errno.ENOSPC, "strerror": f"disk full or read-only (worker exit code {EXIT_DISK})",
                  "path": str(run_dir)}
    return report


def _launch(argv: list[str]) -> int:
    """`python -m benchmark.protocol PARENT_PID COMMAND...` (see `orphanless`)."""
    parent, command = int(argv[0]), argv[1:]
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the signal was set: nobody waits for this run
        print(f"not started: its parent (pid {parent}) has ended", file=sys.stderr)
        return 1
    os.execvp(command[0], command)  # replaces this process; returns only by raising


if __name__ == "__main__":
    sys.exit(_launch(sys.argv[1:]))
