"""Sample quality across seeds (`--seeds`): each framework's runs paired seed by
seed, the paired statistics of `benchmark.report.seeds`, and their Markdown.

A seed fixes the initial weights, data order and noise in every framework, so
the frameworks are compared on paired differences d_s = FID_A(s) - FID_B(s).
The per-run statistic is fixed in advance: FID at the end of the run (the last
quality probe), never the best probe.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from benchmark.report.markdown import MISSING, markdown_table
from benchmark.report.results import Run, Suite, finite
from benchmark.report.sample_quality import quality_of
from benchmark.report.seeds import PairedVerdict, holm, paired_verdict

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


def framework_pairs(frameworks: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair of frameworks, each in report order: (torch, tf), (torch, jax), (tf, jax)."""
    return list(itertools.combinations(frameworks, 2))


def model_verdicts(runs: Sequence[Run]) -> list[PairedVerdict]:
    """The paired verdict of every pair of frameworks with scores (report
    order), each on the seeds both finished; pairs with fewer than MIN_PAIRS
    such seeds are left out."""
    values = seed_values(runs)
    found = []
    for a, b in framework_pairs(list(values)):
        seeds = sorted(set(values[a]) & set(values[b]))
        if len(seeds) >= MIN_PAIRS:
            found.append(paired_verdict(METRIC, a, b, seeds, [values[a][s] for s in seeds],
                                        [values[b][s] for s in seeds]))
    return found


def suite_verdicts(suite: Suite) -> dict[str, list[PairedVerdict]]:
    """model -> its pairs' verdicts, Wilcoxon p-values Holm-adjusted across
    every model and pair (the family of claims the report makes)."""
    found = [(model, v) for model in suite.models for v in model_verdicts(suite.runs_of(model))]
    adjusted = holm([v for _, v in found])
    verdicts: dict[str, list[PairedVerdict]] = {}
    for (model, _), v in zip(found, adjusted):
        verdicts.setdefault(model, []).append(v)
    return verdicts


def summary_cells(verdicts: Sequence[PairedVerdict]) -> tuple[str, str]:
    """(the summary's "Better samples" and "Quality difference" cells); with
    three frameworks or more, one clause per pair ("a vs b: ..."), split by " · "."""
    def cells(v: PairedVerdict) -> tuple[str, str]:
        low, high = v.interval
        return (f"{v.verdict} ({len(v.seeds)} paired seeds)",
                f"mean FID {v.a} − {v.b}: {v.mean_difference:+.2f} ({low:+.2f} to {high:+.2f}); "
                f"margin ±{v.margin:.2f}")

    if len(verdicts) == 1:
        return cells(verdicts[0])
    return (" · ".join(f"{v.a} vs {v.b}: {cells(v)[0]}" for v in verdicts),
            " · ".join(cells(v)[1] for v in verdicts))


def seeds_section(verdicts: Sequence[PairedVerdict]) -> str:
    """Every seed's point, medians and IQRs, and the tests behind each pair's
    verdict; a bold "a vs b" heads each pair when there are several."""
    statistic = ("The statistic, fixed in advance, is each run's FID at its end (its last probe), never its "
                 "best; seed s gives {} the same initial weights, data order and noise.")
    if len(verdicts) == 1:
        table, text = _pair_paragraphs(verdicts[0])
        return "\n\n".join(["### Sample quality across seeds", table, text + " " + statistic.format("both frameworks")])
    parts = ["### Sample quality across seeds"]
    for verdict in verdicts:
        parts += [f"**{verdict.a} vs {verdict.b}**", *_pair_paragraphs(verdict)]
    parts.append(statistic.format("every framework") + " Holm's adjustment runs over every model and pair.")
    return "\n\n".join(parts)


def _pair_paragraphs(verdict: PairedVerdict) -> list[str]:
    rows = [[str(seed), f"{x:.2f}", f"{y:.2f}", f"{x - y:+.2f}"]
            for seed, x, y in zip(verdict.seeds, verdict.values_a, verdict.values_b)]
    table = markdown_table(["Seed", f"{verdict.a} FID", f"{verdict.b} FID", f"{verdict.a} − {verdict.b}"],
                           rows, "lrrr")
    low, high = verdict.interval

    def spread(median: float, iqr: tuple[float, float]) -> str:
        return f"{median:.2f} (IQR {iqr[0]:.2f}–{iqr[1]:.2f})"

    def p(value: float | None) -> str:
        return MISSING if value is None or finite(value) is None else f"{value:.3g}"

    return [table,
            f"Median FID: {verdict.a} {spread(verdict.median_a, verdict.iqr_a)}, "
            f"{verdict.b} {spread(verdict.median_b, verdict.iqr_b)}. Mean paired difference "
            f"{verdict.mean_difference:+.2f}, 95% bootstrap interval {low:+.2f} to {high:+.2f}. "
            f"Wilcoxon signed-rank p = {p(verdict.wilcoxon_p)} (Holm-adjusted across models: "
            f"{p(verdict.holm_p)}). Equivalence (TOST) against ±{verdict.margin:.2f}, a margin fixed in "
            f"advance at 10% of the mean FID: p = {p(verdict.tost_p)}. **Verdict: {verdict.verdict}.**"]


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
    text = ("### Rounding control\n\n" + "Each framework against its own twin started one float32 ulp "
            "away (one bit of one weight), same seed: |FID difference| " + ", ".join(
                f"{fw} seed {seed} {d:.2f}" for (fw, seed), d in sorted(null.items())) + ". ")
    pairs = [(a, b, [abs(values[a][s] - values[b][s]) for s in sorted(set(values[a]) & set(values[b]))])
             for a, b in framework_pairs(list(values))]
    pairs = [(a, b, between) for a, b, between in pairs if between]
    if not pairs:
        return text + "No framework pair to hold against it."
    rounding = list(null.values())
    return text + " ".join(_against_rounding(f"{a} and {b}" if len(pairs) > 1 else "the frameworks", between, rounding)
                           for a, b, between in pairs)


def _against_rounding(who: str, between: list[float], rounding: list[float]) -> str:
    """One pair's |FID differences| held against the one-ulp twins' (a one-sided Mann-Whitney U)."""
    text = (f"Between {who}, seed by seed: {', '.join(f'{d:.2f}' for d in between)} "
            f"(mean {np.mean(between):.2f}, against {np.mean(rounding):.2f} for rounding alone). ")
    if len(between) >= 2 and len(rounding) >= 2:
        from scipy import stats  # here: 0.45 s that a report without --rounding-control never needs

        p = stats.mannwhitneyu(between, rounding, alternative="greater").pvalue
        verdict = ("larger than rounding alone" if p < 0.05 else
                   "no larger than rounding alone: the frameworks differ as much as a one-bit nudge does")
        return text + f"One-sided Mann-Whitney U p = {p:.3g}: the framework difference is **{verdict}**."
    return text + "Too few pairs for a test (at least 2 of each): run more --seeds."
