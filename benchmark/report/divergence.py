"""When the twins stop being the same network: pairs of runs that start from
the same weights, data and noise, compared through their traces
(`benchmark.divergence`).

Two kinds of pair: the frameworks at one seed, and a framework against its own
one-ulp twin (`--rounding-control`), whose divergence is rounding chaos alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from benchmark.divergence import TRACE_FILE, Divergence, Trace, compare, first_step_beyond
from benchmark.report.markdown import MISSING, markdown_table
from benchmark.report.paired import framework_pairs
from benchmark.report.results import Run

THRESHOLDS = (0.01, 0.1)  # relative distances the table times: 1% apart, 10% apart


@dataclass(frozen=True)
class TwinPair:
    label: str  # "torch vs tf", or "torch vs its one-ulp twin"
    seed: int
    rounding: bool  # a framework against its one-ulp twin: the chaos-only null
    divergence: Divergence


def trace_of(run: Run) -> Trace | None:
    path = run.file("trace", TRACE_FILE)
    return Trace.load(path) if path.is_file() else None


def twin_pairs(runs: Sequence[Run]) -> list[TwinPair]:
    """Every pair of frameworks at each seed (the first run of each framework
    in report order, as the paired seed statistics take; pairs in report
    order: torch vs tf, torch vs jax, tf vs jax), and every run with its
    one-ulp twin; only runs with a trace of two steps or more."""
    traced = [(run, trace) for run in runs if (trace := trace_of(run)) is not None and len(trace.steps) > 1]
    first: dict[tuple[str, int], tuple[Run, Trace]] = {}
    for run, trace in traced:
        if not run.nudged:
            first.setdefault((run.framework, int(run.config.get("seed") or 0)), (run, trace))
    frameworks = list(dict.fromkeys(framework for framework, _ in first))
    pairs = []
    for a, b in framework_pairs(frameworks):
        for seed in sorted({seed for _, seed in first}):
            if (a, seed) in first and (b, seed) in first:
                pairs.append(TwinPair(f"{a} vs {b}", seed, False, compare(first[a, seed][1], first[b, seed][1])))
    plain = {run.name: trace for run, trace in traced if not run.nudged}
    for run, trace in traced:
        base = run.name.removesuffix("-ulp")
        if run.nudged and base in plain:
            label = f"{run.framework} vs its one-ulp twin"
            pairs.append(TwinPair(label, int(run.config.get("seed") or 0), True, compare(plain[base], trace)))
    return pairs


def divergence_section(pairs: Sequence[TwinPair]) -> str | None:
    """A table per pair: when the generators drift 1% and 10% apart, how far
    apart they end, and how many samples still show the same digit."""
    if not pairs:
        return None
    # Digits are traced on MNIST only (the MNIST classifier reads them); other data traces weights.
    digits = any(p.divergence.same_digit is not None for p in pairs)
    rows = []
    for pair in pairs:
        d = pair.divergence
        steps_to = [first_step_beyond(d, t) for t in THRESHOLDS]
        after_one = d.distance["generator"][d.steps == 1]
        rows.append([pair.label, str(pair.seed), _relative(after_one[0]) if after_one.size else MISSING,
                     *(MISSING if s is None else f"{s:,}" for s in steps_to),
                     _relative(d.distance["generator"][-1]), _relative(d.distance["discriminator"][-1]),
                     *([_agreement(d)] if digits else [])])
    table = markdown_table(["Pair", "Seed", "G apart after step 1", "Steps to 1% apart", "Steps to 10% apart",
                            "G apart at the end", "D apart at the end", *(["Same digit at the end (chance)"] if digits else [])],
                           rows, "llrrrrr" + ("r" if digits else ""))
    # The frameworks' twins import the same canonical weights: any distance at
    # step 0 is a bug in an import or export, not rounding.
    start = [float(p.divergence.distance["generator"][0] + p.divergence.distance["discriminator"][0])
             for p in pairs if not p.rounding and p.divergence.steps[0] == 0]
    apart = sum(1 for d in start if d != 0)
    identical = ("" if not start else
                 "At step 0 the frameworks' twins are identical (distance 0) at every seed. " if not apart else
                 f"**At step 0 the frameworks' twins differ at {apart} of {len(start)} seeds**: "
                 "they did not start from the same weights. ")
    if any(p.rounding for p in pairs):
        identical += "A one-ulp twin starts one bit of one weight away. "
    return ("### When the twins part\n\n" + table + "\n\n" + identical +
            "*Apart*: the distance between the two runs' weights relative to their size, "
            "‖θ_a − θ_b‖ / mean(‖θ_a‖, ‖θ_b‖), estimated from a 1,024-bucket CountSketch of each "
            "network (±2%; `benchmark/divergence.py`). " +
            ("*Same digit*: the share of images, generated "
             "by both from the first vectors of the fixed quality noise, that the MNIST classifier "
             "reads as the same digit; *chance*: the share two unrelated generators with these two runs' "
             "digit frequencies would agree on, Σ p_a(k) p_b(k) (10% for balanced digits, 100% when both "
             "draw one digit): agreement means something only well above it. "
             if digits else "") +
            "Traced at steps 0, 1, 2, 4, 8, ... and the last.")


def _agreement(d) -> str:
    """"97.0% (chance 11%)": the last traced step's agreement beside its chance level."""
    if d.same_digit is None:
        return MISSING
    chance = "" if d.chance_digit is None else f" (chance {100 * d.chance_digit[-1]:.0f}%)"
    return f"{100 * d.same_digit[-1]:.1f}%{chance}"


def _relative(value: float) -> str:
    return MISSING if not np.isfinite(value) else ("0" if value == 0 else f"{value:.2g}")
