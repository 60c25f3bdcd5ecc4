"""torchrun for the tests: two gloo ranks on this machine, each rank's output
kept in a file of its own, so that a failure shows the rank's last lines and
not only torchrun's summary of it."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmark.distributed import rank_stderr_tails


def torchrun(script: str, *args: str, log_dir: Path, ranks: int = 2) -> list[str]:
    """The command that runs `script args` as `ranks` gloo ranks, their output
    teed to the console and to `log_dir`."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}",
            "--log-dir", str(log_dir), "--tee", "3", script, *args]


def ranks_stderr(log_dir: Path, lines: int = 40) -> str:
    """Each rank's last `lines` lines of stderr, for an assertion's message."""
    tails = rank_stderr_tails(log_dir, lines) if log_dir.exists() else {}
    return "\n".join(f"--- rank {rank}'s stderr ---\n{tail}" for rank, tail in tails.items()) or "(no rank wrote to stderr)"
