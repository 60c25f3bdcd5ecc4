"""The speed ranking: each configuration's finished repeats (a `Contender`),
and each model's frameworks compared at one batch size (a `Comparison`).

The summary, the figures, the scaling section and --compare all rank
through here, so they agree on which runs count and where a sweep compares.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from benchmark.report.results import Run
from benchmark.report.stats import bootstrap_speed_ratio


@dataclass(frozen=True)
class Contender:
    """The finished repeats of one (framework, mode, precision) at one batch size."""

    runs: tuple[Run, ...]
    steps: tuple[np.ndarray, ...]  # steady-state step seconds of each repeat

    @property
    def framework(self) -> str:
        return self.runs[0].framework

    @property
    def label(self) -> str:
        return self.runs[0].label

    @property
    def batch_size(self) -> int:
        return self.runs[0].group[3]

    @property
    def rate(self) -> float:
        """Median images/s over the pooled steady steps of all repeats."""
        return self.throughput()[0]

    def throughput(self) -> tuple[float, float, float, list[float]]:
        """Median, p10 and p90 images/s over the pooled steps, and each repeat's median."""
        per_step = self.runs[0].number("timing", "images_per_step") or 0.0
        rates = per_step / np.concatenate(self.steps)
        median, p10, p90 = np.percentile(rates, [50, 10, 90])
        return (float(median), float(p10), float(p90),
                [float(per_step / np.median(steps)) for steps in self.steps])


@dataclass(frozen=True)
class Comparison:
    """The fastest contender of each framework for one model, fastest first,
    and the speed ratio of the first two with its bootstrap interval."""

    model: str
    leaders: tuple[Contender, ...]
    interval: tuple[float, float, float] | None  # ratio, low, high
    # With three or more frameworks, the leader's ratio and interval over each
    # of the others in speed order (the first is `interval`).
    intervals: tuple[tuple[float, float, float], ...] = ()

    @property
    def ratio(self) -> float | None:
        return None if self.interval is None else self.interval[0]

    @property
    def clear(self) -> bool | None:
        """Whether the interval excludes 1 (no speed difference); the summary's
        verdict also weighs the machine's drift and contention (`speed_verdict`)."""
        return None if self.interval is None else self.interval[1] > 1.0


@dataclass(frozen=True)
class Drift:
    """The machine's run-to-run drift of speed in this suite: the largest
    relative spread (fastest / slowest - 1) between measurements of one
    configuration, from its repeats (--repeats, --seeds: the same step,
    timed in runs minutes apart) and from the calibration's interleaved
    rounds (seconds apart); None where the suite measured nothing twice."""

    value: float | None
    sources: tuple[str, ...] = ()

    def __str__(self) -> str:
        return (f"{percent(self.value)} ({', '.join(self.sources)})" if self.value is not None
                else "not measured (one run per configuration, no calibration rounds)")


def measured_drift(runs: Sequence[Run], calibration: dict | None) -> Drift:
    """`Drift` from the suite's repeated runs (contended runs left out: their
    spread is the other processes', not the machine's) and from the
    calibration's rounds (`round_ms`, recorded since results schema 2)."""
    spreads: dict[str, list[float]] = {}
    for contender in contenders([run for run in runs if not run.contended]):
        rates = contender.throughput()[3]
        if len(rates) > 1:
            spreads.setdefault("repeats", []).append(max(rates) / min(rates) - 1)
    for entry in (calibration or {}).get("entries") or []:
        if entry.get("cached"):
            continue  # measured by an earlier suite, on the machine as it was then
        for mode in entry.get("modes", {}).values():
            rounds = [ms for ms in mode.get("round_ms") or [] if ms and ms > 0]
            if len(rounds) > 1:
                spreads.setdefault("calibration rounds", []).append(max(rounds) / min(rounds) - 1)
    if not spreads:
        return Drift(None)
    return Drift(max(max(values) for values in spreads.values()), tuple(spreads))


def speed_verdict(comparison: "Comparison", drift: Drift) -> str:
    """The speed difference of the comparison's first two frameworks
    (docs/metrics.md, "Verdict rules"): "clear" only when the whole 95%
    interval lies beyond 1 + the measured drift; "within noise" when the
    interval holds 1; "within drift" when it excludes 1 but not the drift;
    "drift not measured" when nothing measured the drift; and no verdict at
    all when a run of either shared the CPU ("contended")."""
    contended = [run for leader in comparison.leaders[:2] for run in leader.runs if run.contended]
    if contended:
        return f"not judged: {len(contended)} run(s) contended (other processes shared the CPU)"
    if comparison.interval is None:
        return "n/a"
    _, low, _ = comparison.interval
    if low <= 1.0:
        return "within noise"
    if drift.value is None:
        return "drift not measured (--repeats 3 measures it)"
    if low - 1.0 <= drift.value:
        return f"within drift ({percent(drift.value)})"
    return f"clear (beyond {percent(drift.value)} drift)"


def percent(drift: float) -> str:
    """"±5.0%", or "±12%" from 10% on."""
    return f"±{drift:.1%}" if drift < 0.1 else f"±{drift:.0%}"


def primary_batch_size(runs: Sequence[Run], profile_batch_size: int | None) -> int | None:
    """The batch size most runs used; a batch-size sweep compares at that one.

    A sweep runs every size equally often: the tie goes to the profile's batch
    size (`Suite.profile_batch_size`, as the suite ran it) when it is one of
    them, else to the middle one (the lower of two), so the headline never
    rests on the sweep's smallest or largest batch. Results written before the
    profile was recorded give None: the middle one."""
    sizes = Counter(run.group[3] for run in runs)
    if not sizes:
        return None
    most = max(sizes.values())
    tied = sorted(size for size, count in sizes.items() if count == most)
    if profile_batch_size in tied:
        return profile_batch_size
    return tied[(len(tied) - 1) // 2]


def contenders(runs: Sequence[Run]) -> list[Contender]:
    """Finished runs grouped by (framework, mode, batch size, precision), fastest first."""
    groups: dict[tuple, list[tuple[Run, np.ndarray]]] = {}
    for run in _timed(runs):
        steps = run.steady_step_seconds()
        if steps is not None and len(steps):
            groups.setdefault(run.group, []).append((run, steps))
    found = [Contender(tuple(r for r, _ in members), tuple(s for _, s in members))
             for members in groups.values()]
    return sorted(found, key=lambda c: -c.rate)


def compare(runs: Sequence[Run], model: str, profile_batch_size: int | None) -> Comparison:
    """At the primary batch size (`primary_batch_size`) and, in a --devices
    sweep, at the most replicas (benchmark.report.scaling has the others)."""
    batch = primary_batch_size(runs, profile_batch_size)
    devices = max((run.devices for run in runs), default=1)
    best: dict[str, Contender] = {}
    for contender in contenders([run for run in runs if run.group[3] == batch and run.devices == devices]):
        best.setdefault(contender.framework, contender)
    leaders = tuple(best.values())
    intervals = tuple(bootstrap_speed_ratio(leaders[0].steps, other.steps) for other in leaders[1:])
    return Comparison(model, leaders, intervals[0] if intervals else None, intervals)


def warmup_only(run: Run) -> bool:
    """A finished run too short to have a steady-state step: it has no speed
    (the first steps of every process are warm-up, `benchmark.timing`)."""
    return run.ok and run.number("timing", "steady_steps") == 0


def _timed(runs: Iterable[Run]) -> list[Run]:
    """Runs whose speed counts: finished ("ok") and with a median images/s.
    A diverged run stopped early, so its timing is not comparable."""
    return [run for run in runs if run.ok and run.number("timing", "images_per_s") is not None]
