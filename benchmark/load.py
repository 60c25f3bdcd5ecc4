"""How busy the machine was while a run trained: the CPU time other processes
took beside it, the time the hypervisor stole, the load average.

A speed measured while something else used the CPU says little about the
framework (the same DCGAN run gave 946 to 1,351 images/s across seeds while
other work shared a 2-core CPU), so every run records this, and a run that
shared the CPU is marked contended and never decides a speed verdict
(docs/metrics.md, "Verdict rules").

Read from Linux's /proc (stat, loadavg, and each process's stat): the
standard library has no process CPU time for a tree of processes, and the
psutil package would add a dependency for three files. Elsewhere nothing is
recorded (`sample` gives None).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

# A run is contended when other processes took more than this share of the
# machine's CPU time (all its cores over the run's wall time), or the
# hypervisor stole more than STOLEN_SHARE of it. On the 2-core machines this
# project is measured on, 10% is one core busy a fifth of the time: enough to
# move a step's time by more than the run-to-run drift of an idle machine.
OTHER_SHARE = 0.10
STOLEN_SHARE = 0.05
PROC = Path("/proc")


@dataclass(frozen=True)
class Sample:
    wall: float  # time.monotonic()
    busy_s: float  # the machine's non-idle CPU seconds, every core, since boot (steal apart)
    steal_s: float
    own_s: float  # CPU seconds of the run's own processes (the tree under `root`)
    load: float  # 1-minute load average


def sample(root: int | None = None) -> Sample | None:
    """The counters now; `root` is the process whose tree is the run's own (this
    process by default; a data-parallel rank passes its launcher, whose other
    ranks are the run too). None where /proc cannot be read."""
    try:
        fields = (PROC / "stat").read_text().splitlines()[0].split()
        load = float((PROC / "loadavg").read_text().split()[0])
        own = _tree_cpu_s(root or os.getpid())
    except (OSError, ValueError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return Sample(time.monotonic(), (user + nice + system + irq + softirq) / ticks, steal / ticks, own, load)


def between(start: Sample | None, end: Sample | None) -> dict | None:
    """What results.json records of the machine's load from `start` to `end`
    (docs/results.md, `machine_load`); None when either is missing."""
    if start is None or end is None or end.wall <= start.wall:
        return None
    cores = os.cpu_count() or 1  # /proc/stat counts every core of the machine
    wall = end.wall - start.wall
    own = max(0.0, end.own_s - start.own_s)
    other = max(0.0, end.busy_s - start.busy_s - own)
    steal = max(0.0, end.steal_s - start.steal_s)
    other_share, steal_share = other / (cores * wall), steal / (cores * wall)
    reasons = [f"other processes took {other_share:.0%} of the CPU" if other_share > OTHER_SHARE else "",
               f"the hypervisor stole {steal_share:.0%}" if steal_share > STOLEN_SHARE else ""]
    reason = "; ".join(r for r in reasons if r) or None
    return {"wall_s": wall, "cores": cores, "own_cpu_s": own, "other_cpu_s": other, "steal_s": steal,
            "other_share": other_share, "steal_share": steal_share, "load_max": max(start.load, end.load),
            "contended": reason is not None, "reason": reason}


def _tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system, its reaped children's too) of `root` and of
    every live process below it."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        try:
            # Fields after the command name, which may hold spaces: state is the
            # 3rd field of the line, utime, stime, cutime, cstime the 14th to 17th.
            after = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in after[11:15]) / ticks
            for task in (PROC / str(pid) / "task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue  # it ended meanwhile: its time went to its parent's cutime
    return total
