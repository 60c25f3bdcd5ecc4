"""Sample quality in the report: which runs were scored, their table, the
notes beneath it, and the one-run verdict of the summary (better framework by
FID, and whether KID separates it from the runner-up).

The columns, their formats and their order come from the metric table
(`benchmark.metrics.table.REPORTED`).
"""

from __future__ import annotations

from typing import Sequence

from benchmark.metrics.table import INCEPTION, REPORTED, Metric
from benchmark.report.markdown import MISSING, fmt_count, markdown_table
from benchmark.report.results import Run, finite


def quality_of(run: Run) -> dict[str, float] | None:
    """The run's last quality record; None when it has no finite FID (not
    scored, or the Inception weights were missing)."""
    scores = run.result.get("quality")
    return scores if isinstance(scores, dict) and finite(scores.get("fid")) is not None else None


def inception_scored(runs: Sequence[Run]) -> bool:
    """Whether the runs' quality is FID/KID on Inception (data other than MNIST)."""
    return any((run.result.get("quality") or {}).get("features") == INCEPTION for run in runs)


def inception_missing(runs: Sequence[Run]) -> str | None:
    """Why FID/KID on Inception were not computed (the weights were missing), or None."""
    return next((q["inception_reason"] for run in runs
                 if isinstance(q := run.result.get("quality"), dict) and q.get("inception_reason")
                 and finite(q.get("fid")) is None), None)


# What an FID means, from the degradation ladder of real test digits measured
# with our evaluator (docs/metrics.md, "What the numbers mean"): at or below
# 14, no worse than real digits under N(0, 0.1) pixel noise; at or below 400,
# no worse than digits blurred by 1 px (still read right: classifier score 9,
# all 10 classes); above that, not converged.
FID_BANDS = ((14.0, "well trained"), (400.0, "recognisable"))


def fid_band(fid: float) -> str:
    return next((band for limit, band in FID_BANDS if fid <= limit), "not converged")


def quality_table(runs: Sequence[Run]) -> str | None:
    """One row per scored run; None when no run was scored."""
    scored = [(run, q) for run in runs if (q := quality_of(run))]
    if not scored:
        return None
    columns = [metric for metric in REPORTED if any(finite(q.get(metric.key)) is not None for _, q in scored)]
    if inception_scored(runs):  # FID bands were measured on MNIST's classifier only
        return _inception_quality_table(scored, columns)
    headers = ["Framework", "Mode", "Samples", *(metric.label for metric in columns), "Band"]
    rows = []
    for run, q in scored:
        cells = [run.framework + str(run.config.get("tag") or ""), run.mode_label,
                 fmt_count(q.get("num_samples")), *(_quality_cell(q, metric) for metric in columns)]
        rows.append([*cells, fid_band(q["fid"])])
    beside = sorted({fmt_count(q["inception_samples"]) for _, q in scored if finite(q.get("inception_fid")) is not None})
    return (markdown_table(headers, rows, "ll" + "r" * (len(headers) - 3) + "l") + "\n\n"
            f"*Band* (by FID, from real digits degraded step by step; docs/metrics.md): well trained "
            f"≤ {FID_BANDS[0][0]:.0f} (real digits with light pixel noise), recognisable ≤ "
            f"{FID_BANDS[1][0]:.0f} (real digits blurred by 1 px), else not converged."
            + (f" *Inception FID, KID*: the standard FID network's pool3 features, {' or '.join(beside)} samples "
               "against as many real training images, once at the end of the run (`--inception-samples`); "
               "FID is biased upwards the fewer the samples (papers use 10,000: docs/metrics.md, "
               "\"Inception FID\"), so compare these within this report. The band and the verdicts use "
               "the classifier's FID." if beside else ""))


def _inception_quality_table(scored: list[tuple[Run, dict]], columns: list[Metric]) -> str:
    rows = [[run.framework + str(run.config.get("tag") or ""), run.mode_label, fmt_count(q.get("num_samples")),
             *(_quality_cell(q, metric) for metric in columns)] for run, q in scored]
    samples = fmt_count(scored[0][1].get("num_samples"))
    return (markdown_table(["Framework", "Mode", "Samples", *(metric.label for metric in columns)], rows,
                           "ll" + "r" * (len(columns) + 1)) + "\n\n"
            f"FID and KID on Inception-v3 pool3 features with the standard FID weights "
            f"(benchmark/metrics/inception.py), {samples} samples against as many real training images. "
            "FID is biased upwards the fewer the samples (papers use 10k to 50k): compare these FIDs "
            "with each other, not with published ones; KID is unbiased.")


def _quality_cell(q: dict, metric: Metric) -> str:
    """The metric's value in its format, and its spread where it has one ("0.0123 ± 0.0004")."""
    value = finite(q.get(metric.key))
    cell = MISSING if value is None else format(value, metric.fmt)
    if metric.spread and (spread := finite(q.get(metric.spread))) is not None and spread > KID_SPREAD_MEASURED:
        cell += f" ± {format(spread, metric.fmt)}"
    return cell


def inception_missing_note(runs: Sequence[Run]) -> str | None:
    """Says, under a model, that its samples were not scored because the
    Inception weights were missing."""
    if inception_missing(runs) is None:
        return None
    return ("### Sample quality\n\n**Not scored: the Inception-v3 weights for FID and KID were missing** "
            "(the summary says where they were looked for). Everything else is reported.")


# Below this recall a generator's samples reach almost no real digit: in the
# calibration (docs/metrics.md) test digits blurred by 1 px have recall 0.001,
# by 1.5 px 0. FID then ranks generators that have not learned MNIST yet.
UNLEARNED_RECALL = 0.01


def not_learned_yet(runs: Sequence[Run]) -> bool:
    """True when runs were scored and every scored run's recall is below UNLEARNED_RECALL."""
    recalls = [finite(q.get("recall")) for run in runs if (q := quality_of(run))]
    return bool(recalls) and all(r is not None and r < UNLEARNED_RECALL for r in recalls)


def unlearned_note(runs: Sequence[Run]) -> str | None:
    """A caution under the quality table when no run has learned the data yet."""
    if not not_learned_yet(runs):
        return None
    return (f"*Not learned yet*: every run's recall is below {UNLEARNED_RECALL}, so its samples reach "
            "almost none of the real digits (for scale: test digits blurred by 1 px score 0.001; "
            "docs/metrics.md). The FID comparison ranks generators that have not learned MNIST "
            "yet; train longer (`--epochs`) before reading it as a difference in quality.")


# KID's spread is the std of one subset's estimate (benchmark.metrics.distances.kid):
# over random subsets of 1,000, or, with 1,000 samples or fewer, the estimator's
# own variance. Results files written before that (up to 2026-12-08) hold the
# subsets' std there, which is rounding (~1e-10): it measures nothing, so it
# can separate nothing.
KID_SPREAD_MEASURED = 1e-9


def quality_verdict(runs: Sequence[Run]) -> tuple[str, str]:
    """(better framework by FID, whether KID separates it from the runner-up
    beyond 2 standard errors): "tie" when it does not, "none" when no run has
    learned the data yet; the FIDs are shown either way."""
    best: dict[str, tuple[Run, dict]] = {}
    for run in runs:
        if run.nudged:  # the rounding control is a framework against itself (benchmark.report.paired)
            continue
        q = quality_of(run)
        if q and (run.framework not in best or q["fid"] < best[run.framework][1]["fid"]):
            best[run.framework] = (run, q)
    if len(best) < 2:
        if not best and inception_missing(runs):
            return MISSING, "n/a: Inception weights missing"
        return MISSING, "n/a: " + ("no quality scores" if not best else f"only {next(iter(best))} scored")
    ranked = sorted(best.values(), key=lambda item: item[1]["fid"])
    (run_a, a), (run_b, b) = ranked[:2]
    fids = ", ".join(f"{run.framework} {q['fid']:.2f}" for run, q in ranked)  # best first
    spread = (a.get("kid_std", 0.0) ** 2 + b.get("kid_std", 0.0) ** 2) ** 0.5
    clear = abs(b["kid_mean"] - a["kid_mean"]) > 2 * spread and b["kid_mean"] > a["kid_mean"]
    # A winner is named only where the data can tell one (docs/metrics.md, "Verdict rules").
    if not_learned_yet(runs):
        return f"none: not learned yet (FID {fids})", f"n/a: every run's recall < {UNLEARNED_RECALL}"
    # On data other than MNIST only Inception scores the samples, and nothing
    # calibrated there tells samples that learned the data from noise (MNIST's
    # check is its classifier's recall): two noise generators' KIDs can differ
    # beyond their spread, so no single-run winner is named.
    if inception_scored(runs):
        return f"none named (FID {fids})", "not judged: no check on Inception features that any run learned the data"
    if not spread > KID_SPREAD_MEASURED:
        return f"none named (FID {fids})", "not judged: KID's spread unmeasured (≤ 1,000 samples, an older results file)"
    if not clear:
        return f"tie (FID {fids})", "within noise (KID)"
    better = f"{run_a.framework} ({a['fid']:.2f} vs {b['fid']:.2f})"
    if len(ranked) > 2:  # three frameworks or more: every other one's FID, best first
        better = f"{run_a.framework} ({a['fid']:.2f} vs " + ", ".join(
            f"{run.framework} {q['fid']:.2f}" for run, q in ranked[1:]) + ")"
    return better, "clear (KID)"
