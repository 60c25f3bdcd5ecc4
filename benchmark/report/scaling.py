"""The report's data-parallel section (--devices): images/s against replicas
per framework, scaling efficiency, and whether N replicas trained as one
device did.

A step's time is the slowest replica's (`Runner.step_seconds`: torch
all-reduces each rank's time with MAX; one tf process waits for all its
replicas). Scaling efficiency at N replicas is images/s(N) / (N images/s(1))
for the same framework, mode and global batch: 100% is perfect strong
scaling. Replicas on one CPU share its cores (gloo ranks or logical devices),
so there the figures say nothing about scaling, and the section says so.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from benchmark.report.results import Run, Suite
from benchmark.report.markdown import MISSING, fmt_ms, fmt_rate, markdown_table, model_title
from benchmark.report.speed import contenders


def has_replicas(suite: Suite) -> bool:
    return any(run.devices > 1 for run in suite.runs)


def scaling_lines(runs: Sequence[Run]) -> dict[str, list[tuple[int, float, float, float]]]:
    """framework mode -> [(replicas, median, p10, p90 images/s)] at each device
    count, for the figure; only lines with two or more device counts."""
    lines: dict[str, list] = {}
    for c in contenders(runs):
        lines.setdefault(f"{c.framework} {c.runs[0].mode}", []).append((c.runs[0].devices, *c.throughput()[:3]))
    return {label: points for label, points in lines.items() if len({p[0] for p in points}) > 1}


def scaling_table(suite: Suite) -> str:
    """One row per (model, framework, mode, batch, replicas) that finished timed steps."""
    rows = []
    for model in suite.models:
        found = contenders(suite.runs_of(model))
        single = {(c.framework, c.runs[0].mode, c.batch_size): c.rate for c in found if c.runs[0].devices == 1}
        for c in sorted(found, key=lambda c: (c.framework, c.runs[0].mode, c.batch_size, c.runs[0].devices)):
            run = c.runs[0]
            base = single.get((c.framework, run.mode, c.batch_size))
            efficiency = (f"{c.rate / (run.devices * base):.0%}" if base and run.devices > 1
                          else "100% (reference)" if run.devices == 1 and base else MISSING)
            step_ms = float(np.median(np.concatenate(c.steps))) * 1e3
            rows.append([model_title(model), c.framework, run.mode, str(run.devices),
                         str(c.batch_size // run.devices), fmt_rate(c.rate), fmt_ms(step_ms), efficiency])
    return markdown_table(["Model", "Framework", "Mode", "Devices", "Batch per replica", "Images/s",
                           "Step ms (slowest replica)", "Scaling efficiency"], rows, "lllrrrrr")


def agreement_table(suite: Suite) -> str | None:
    """Whether replicas trained as one device (and as the other framework's
    replicas): the largest difference of the per-step losses. With synced
    BatchNorm only rounding separates them, which in float32 Adam amplifies
    step by step; the first step's D loss, read before any update, shows the
    bare rounding."""
    rows = []
    for model in suite.models:
        runs = [run for run in suite.runs_of(model) if run.ok and not run.nudged
                and int(run.config.get("repeat") or 1) == 1]
        by_key = {(run.framework, run.devices): run for run in runs}
        for (framework, devices), run in sorted(by_key.items()):
            if devices == 1:
                continue
            for other_name, other in ((f"{framework} on 1 device", by_key.get((framework, 1))),
                                      *((f"{f} ×{devices}", by_key[(f, devices)]) for f in suite.frameworks
                                        if (f, devices) in by_key and suite.frameworks.index(f) > suite.frameworks.index(framework))):
                if other is None:
                    continue
                first, worst = _loss_gap(run, other)
                rows.append([model_title(model), run.label, other_name, first, worst])
    if not rows:
        return None
    return markdown_table(["Model", "Run", "Against", "First D loss, abs. difference",
                           "Largest loss difference over the run"], rows, "lllrr")


def _loss_gap(a: Run, b: Run) -> tuple[str, str]:
    ha, hb = a.history(), b.history()
    if ha is None or hb is None or not len(ha.step) or not len(hb.step):
        return MISSING, MISSING
    n = min(len(ha.step), len(hb.step))
    first = abs(float(ha.d_loss[0] - hb.d_loss[0]))
    worst = float(np.nanmax(np.abs(np.concatenate([ha.d_loss[:n] - hb.d_loss[:n],
                                                   ha.g_loss[:n] - hb.g_loss[:n]]))))
    return f"{first:.1e}", f"{worst:.1e}"


def scaling_section(suite: Suite, figures: Sequence[str]) -> str:
    """The section, or "" when no run had more than one device."""
    if not has_replicas(suite):
        return ""
    replicated = [run for run in suite.runs if run.devices > 1]
    parts = ["## Data-parallel training"]
    facts = replicated[0].result.get("data_parallel") or {}
    sync = "synced over the replicas (--sync-batchnorm)" if facts.get("sync_batchnorm") or \
        replicated[0].config.get("sync_batchnorm") else "each replica's own slice (no --sync-batchnorm)"
    parts.append("Strong scaling: the global batch is the configuration's, each of N replicas takes "
                 f"batch/N, learning rates are unchanged; BatchNorm statistics are {sync}. torch runs "
                 "DistributedDataParallel under torchrun, tf MirroredStrategy, jax its jitted step over a "
                 "jax.sharding mesh.")
    if any((run.result.get("data_parallel") or {}).get("shared_cpu", run.config.get("device") == "cpu")
           for run in replicated):
        cores = suite.environment.get("cpu_count")
        on = f"this machine's {cores} CPU cores" if cores else "this machine's CPU cores"
        parts.append(f"**The replicas share {on}** (torch: gloo processes; tf: logical CPU devices "
                     "on one thread pool), so the images/s and efficiencies below say nothing about "
                     "scaling: they show that the runs work and agree, not how fast N devices are.")
    parts += ["### Images/s against devices", scaling_table(suite)]
    agreement = agreement_table(suite)
    if agreement:
        parts += ["### Do the replicas train as one device?", agreement,
                  "float64 tests (tests/distributed) hold N replicas to one device and torch to tf and jax "
                  "within 1e-9 relative after 3 steps; a float32 run shows the same agreement only "
                  "until rounding, amplified by Adam, separates the curves."]
    parts += list(figures)
    return "\n\n".join(parts)
