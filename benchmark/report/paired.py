"""Sample quality across seeds (`--seeds`): each framework's runs paired seed by
seed, the paired statistics of `benchmark.report.seeds`, and their Markdown.

A seed fixes the initial weights, data order and noise in every framework, so
the frameworks are compared on paired differences d_s = FID_A(s) - FID_B(s).
The per-run statistic is fixed in advance: FID at the end of the run (the last
quality probe), never the best probe.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats

from benchmark.report.results import Run, Suite, finite
from benchmark.report.seeds import PairedVerdict, holm, paired_verdict
from benchmark.report.tables import MISSING, markdown_table, quality_of

METRIC = "fid"
MIN_PAIRS = 2  # fewer: the one-run summary stands


def seed_values(runs: Sequence[Run]) -> dict[str, dict[int, float]]:
    """framework -> seed -> final FID, from finished, scored runs. Where a
    framework ran a seed more than once (modes, precisions, repeats), the first
    run in report order stands for it."""
    values: dict[str, dict[int, float]] = {}
    for run in runs:
        quality = quality_of(run)
        seed = run.config.get("seed")
        if run.ok and quality and isinstance(seed, int) and not run.nudged:
            values.setdefault(run.framework, {}).setdefault(seed, float(quality[METRIC]))
    return values


def model_verdict(runs: Sequence[Run]) -> PairedVerdict | None:
    """The paired verdict of the first two frameworks with scores, on the seeds
    both finished; None with fewer than MIN_PAIRS such seeds."""
    values = seed_values(runs)
    if len(values) < 2:
        return None
    (a, by_seed_a), (b, by_seed_b) = list(values.items())[:2]
    seeds = sorted(set(by_seed_a) & set(by_seed_b))
    if len(seeds) < MIN_PAIRS:
        return None
    return paired_verdict(METRIC, a, b, seeds, [by_seed_a[s] for s in seeds], [by_seed_b[s] for s in seeds])


def suite_verdicts(suite: Suite) -> dict[str, PairedVerdict]:
    """model -> its paired verdict, Wilcoxon p-values Holm-adjusted across models."""
    found = {model: v for model in suite.models if (v := model_verdict(suite.runs_of(model)))}
    return dict(zip(found, holm(list(found.values()))))


def summary_cells(verdict: PairedVerdict) -> tuple[str, str]:
    """(the summary's "Better samples" and "Quality difference" cells)."""
    low, high = verdict.interval
    return (f"{verdict.verdict} ({len(verdict.seeds)} paired seeds)",
            f"mean FID {verdict.a} − {verdict.b}: {verdict.mean_difference:+.2f} ({low:+.2f} to {high:+.2f}); "
            f"margin ±{verdict.margin:.2f}")


def seeds_section(verdict: PairedVerdict) -> str:
    """Every seed's point, medians and IQRs, and the tests behind the verdict."""
    rows = [[str(seed), f"{x:.2f}", f"{y:.2f}", f"{x - y:+.2f}"]
            for seed, x, y in zip(verdict.seeds, verdict.values_a, verdict.values_b)]
    table = markdown_table(["Seed", f"{verdict.a} FID", f"{verdict.b} FID", f"{verdict.a} − {verdict.b}"],
                           rows, "lrrr")
    low, high = verdict.interval

    def spread(median: float, iqr: tuple[float, float]) -> str:
        return f"{median:.2f} (IQR {iqr[0]:.2f}–{iqr[1]:.2f})"

    def p(value: float | None) -> str:
        return MISSING if value is None or finite(value) is None else f"{value:.3g}"

    return "\n\n".join([
        "### Sample quality across seeds", table,
        f"Median FID: {verdict.a} {spread(verdict.median_a, verdict.iqr_a)}, "
        f"{verdict.b} {spread(verdict.median_b, verdict.iqr_b)}. Mean paired difference "
        f"{verdict.mean_difference:+.2f}, 95% bootstrap interval {low:+.2f} to {high:+.2f}. "
        f"Wilcoxon signed-rank p = {p(verdict.wilcoxon_p)} (Holm-adjusted across models: "
        f"{p(verdict.holm_p)}). Equivalence (TOST) against ±{verdict.margin:.2f}, a margin fixed in "
        f"advance at 10% of the mean FID: p = {p(verdict.tost_p)}. **Verdict: {verdict.verdict}.** "
        "The statistic, fixed in advance, is each run's FID at its end (its last probe), never its "
        "best; seed s gives both frameworks the same initial weights, data order and noise."])


def rounding_control(runs: Sequence[Run]) -> str | None:
    """The frameworks' FID differences against the chaos-only null: each run
    against its own framework's twin one ulp away (--rounding-control), same
    seed. None without such pairs."""
    scored = {(run.framework, run.config.get("seed"), run.nudged): float(q[METRIC])
              for run in runs if run.ok and (q := quality_of(run))}
    null = {(fw, seed): abs(value - scored[(fw, seed, False)])
            for (fw, seed, nudged), value in scored.items() if nudged and (fw, seed, False) in scored}
    if not null:
        return None
    values = seed_values(runs)
    between = []
    if len(values) >= 2:
        (a, by_a), (b, by_b) = list(values.items())[:2]
        between = [abs(by_a[s] - by_b[s]) for s in sorted(set(by_a) & set(by_b))]
    text = ("### Rounding control\n\n" + "Each framework against its own twin started one float32 ulp "
            "away (one bit of one weight), same seed: |FID difference| " + ", ".join(
                f"{fw} seed {seed} {d:.2f}" for (fw, seed), d in sorted(null.items())) + ". ")
    if not between:
        return text + "No framework pair to hold against it."
    text += (f"Between the frameworks, seed by seed: {', '.join(f'{d:.2f}' for d in between)} "
             f"(mean {np.mean(between):.2f}, against {np.mean(list(null.values())):.2f} for rounding alone). ")
    if len(between) >= 2 and len(null) >= 2:
        p = stats.mannwhitneyu(between, list(null.values()), alternative="greater").pvalue
        verdict = ("larger than rounding alone" if p < 0.05 else
                   "no larger than rounding alone: the frameworks differ as much as a one-bit nudge does")
        return text + f"One-sided Mann-Whitney U p = {p:.3g}: the framework difference is **{verdict}**."
    return text + "Too few pairs for a test (at least 2 of each): run more --seeds."
