"""The report's tables: number formats, Markdown tables and runs.csv.

Images/s have no decimals, milliseconds one, losses three; a missing value
is shown as an en dash.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from benchmark.config import PROFILES
from benchmark.report.results import Run, Suite, finite
from benchmark.report.stats import bootstrap_speed_ratio

MISSING = "–"
MIB = 2**20


def fmt_rate(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.0f}"


def fmt_ms(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f}"


def fmt_loss(value: float | None) -> str:
    return MISSING if value is None else f"{value:.3f}"


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def fmt_count(value: Any) -> str:
    number = finite(value)
    return MISSING if number is None else f"{number:,.0f}"


def fmt_mib(n_bytes: float | None) -> str:
    return MISSING if n_bytes is None else f"{n_bytes / MIB:,.0f}"


def fmt_duration(seconds: float | None) -> str:
    """Wall time for people: "45.2 s", "10 min 12 s", "2 h 05 min"."""
    if seconds is None:
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> str:
    """A GitHub Markdown table; `align` holds one "l" or "r" per column (default "l")."""
    align = align.ljust(len(headers), "l")
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [_table_row(headers), _table_row(rule)]
    lines += [_table_row(row) for row in rows]
    return "\n".join(lines)


def _table_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# --- Summary -----------------------------------------------------------------


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
        """Whether the interval excludes 1 (no speed difference)."""
        return None if self.interval is None else self.interval[1] > 1.0


def primary_batch_size(runs: Sequence[Run]) -> int | None:
    """The batch size most runs used; a batch-size sweep compares at that one.

    A sweep runs every size equally often: the tie goes to the profile's batch
    size when it is one of them, else to the middle one (the lower of two), so
    the headline never rests on the sweep's smallest or largest batch."""
    sizes = Counter(run.group[3] for run in runs)
    if not sizes:
        return None
    most = max(sizes.values())
    tied = sorted(size for size, count in sizes.items() if count == most)
    profile = PROFILES.get(str(runs[0].config.get("profile")))
    if profile is not None and profile.batch_size in tied:
        return profile.batch_size
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


def compare(runs: Sequence[Run], model: str) -> Comparison:
    """At the primary batch size and, in a --devices sweep, at the most
    replicas (benchmark.report.scaling has the others)."""
    batch = primary_batch_size(runs)
    devices = max((run.devices for run in runs), default=1)
    best: dict[str, Contender] = {}
    for contender in contenders([run for run in runs if run.group[3] == batch and run.devices == devices]):
        best.setdefault(contender.framework, contender)
    leaders = tuple(best.values())
    intervals = tuple(bootstrap_speed_ratio(leaders[0].steps, other.steps) for other in leaders[1:])
    return Comparison(model, leaders, intervals[0] if intervals else None, intervals)


def summary_table(suite: Suite, quality_cells: dict[str, tuple[str, str]] | None = None) -> str:
    """One row per model. `quality_cells` replaces a model's one-run quality
    verdict (with --seeds, the paired verdict of benchmark.report.paired)."""
    headers = ["Model", "Faster (95% interval)", "Speed difference", "Better samples (FID)",
               "Quality difference", *(f"{fw} D / G loss" for fw in suite.frameworks)]
    rows = [_summary_row(suite, model, (quality_cells or {}).get(model)) for model in suite.models]
    return markdown_table(headers, rows, "lllll" + "r" * len(suite.frameworks))


# --- Execution modes (--modes auto) --------------------------------------------------


def calibration_table(calibration: dict | None) -> str | None:
    """One row per calibrated (model, framework, precision): the chosen mode and
    every mode's images/s and warm-up; None when nothing was calibrated."""
    entries = (calibration or {}).get("entries") or []
    if not entries:
        return None
    rows = []
    for e in entries:
        by_rate = sorted(e["modes"].items(), key=lambda kv: -(finite(kv[1].get("images_per_s")) or 0))
        rates = " · ".join(f"{mode} {fmt_rate(finite(r.get('images_per_s')))}" if "error" not in r
                           else f"{mode} failed" for mode, r in by_rate)
        warmups = " · ".join(f"{mode} {fmt_seconds(finite(r.get('warmup_s')))}" for mode, r in by_rate
                             if "error" not in r)
        precision = "" if e["precision"] == "fp32" else f" {e['precision']}"
        chosen = f"**{e['chosen']}**" + (" (reference choice: no mode could be timed)" if e.get("fallback") else "")
        rows.append([model_title(e["model"]) + precision, e["framework"], chosen, rates, warmups or MISSING,
                     "cache" if e.get("cached") else "measured"])
    headers = ["Model", "Framework", "Chosen", "Images/s by mode", "Warm-up s by mode", "Source"]
    return markdown_table(headers, rows)


def precision_note(runs: Sequence[Run]) -> str | None:
    """Mixed precision against fp32, for each framework and mode that ran both
    at one batch size: "torch eager bf16 2.18x its fp32 images/s; tf xla bf16
    0.93x (slower than fp32)". Most CPUs have no fast low-precision arithmetic."""
    by_group = {c.runs[0].group: c for c in contenders(runs)}
    found = []
    for (model, framework, mode, batch, precision, devices, pipeline), contender in by_group.items():
        if precision == "fp32":
            continue
        base = by_group.get((model, framework, mode, batch, "fp32", devices, pipeline))
        if base is not None:
            ratio = contender.rate / base.rate
            found.append(f"{framework} {mode} {precision} {ratio:.2f}x its fp32 images/s"
                         + (" (slower than fp32)" if ratio < 1 else ""))
    return "*Mixed precision*: " + "; ".join(found) + "." if found else None


# Waiting this share of training time or more for the loader's batches: the loader bounds training.
LOADER_BOUND_SHARE = 0.10


def pipeline_note(suite: Suite) -> str | None:
    """Where native pipelines ran: per model and framework, the native run's
    images/s counting its waits for the loader against the device pipeline's,
    the loader's images/s alone, and whether the loader bounds training (the
    measured share of time spent waiting for it); then whether the frameworks'
    speed ratio with native pipelines comes from their loaders."""
    found = []
    for model in suite.models:
        best: dict[tuple[str, str], Contender] = {}
        for contender in contenders(suite.runs_of(model)):  # fastest first
            best.setdefault((contender.framework, contender.runs[0].input_pipeline), contender)
        parts, waits = [], {}
        for framework in suite.frameworks:
            native, device = best.get((framework, "native")), best.get((framework, "device"))
            if native is None:
                continue
            run = native.runs[0]
            with_input = run.number("timing", "images_per_s_with_input")
            share = run.number("timing", "input_wait_share")
            text = f"{framework} native {fmt_rate(with_input)} images/s counting its waits for the loader"
            if device is not None and with_input is not None:
                text += f" ({with_input / device.rate:.2f}x its device pipeline's {fmt_rate(device.rate)})"
            text += f", loader alone {fmt_rate(run.number('timing', 'loader_images_per_s'))} images/s"
            if share is not None:
                waits[framework] = share
                text += (f", waited {share:.0%} of the time: the loader "
                         + ("bounds training" if share >= LOADER_BOUND_SHARE else "keeps up"))
            parts.append(text)
        if len(waits) >= 2:
            bound = [f for f, share in waits.items() if share >= LOADER_BOUND_SHARE]
            parts.append(f"so the frameworks' native speeds differ through {' and '.join(bound)}'s loader"
                         if bound else "so neither framework's native speed comes from its loader")
        if parts:
            found.append(f"{model_title(model)}: " + "; ".join(parts) + ".")
    if not found:
        return None
    return ("*Input pipelines*: " + " ".join(found) + f" A loader bounds training when training waits for it "
            f"{LOADER_BOUND_SHARE:.0%} of the time or more; a native run's other difference from its device twin "
            "is in the step (the loader's work shares the CPU, and steps vary from run to run).")


def modes_sentence(suite: Suite) -> str | None:
    """Which modes the summary compares, and why those."""
    chosen_by = suite.settings.get("modes_chosen_by")
    modes = ", ".join(suite.settings.get("modes") or [])
    if chosen_by == "measured":
        return (f"*Modes compared*: each framework's fastest mode on this machine, measured before "
                f"the suite (`--modes auto`; see Execution modes): {modes}.")
    if chosen_by == "reference":
        return (f"*Modes compared*: {modes}, the reference machine's fastest; the smoke profile does "
                "not measure them, and on another machine another mode may be faster "
                "(`--modes auto` in any other profile measures).")
    if chosen_by == "given":
        return f"*Modes compared*: each framework's fastest of those named by `--modes` ({modes})."
    return None


# --- Quality -------------------------------------------------------------------

QUALITY_COLUMNS = (  # key, header, format
    ("fid", "FID ↓", "{:.2f}"), ("kid_mean", "KID ↓", "{:.4f}"), ("precision", "Precision ↑", "{:.3f}"),
    ("recall", "Recall ↑", "{:.3f}"), ("density", "Density", "{:.3f}"),
    ("coverage", "Coverage ↑", "{:.3f}"), ("classifier_score", "Classifier score ↑", "{:.2f}"),
    ("classes_covered", "Classes", "{:.0f}"), ("label_accuracy", "Label acc. ↑", "{:.3f}"),
)


def quality_of(run: Run) -> dict[str, float] | None:
    scores = run.result.get("quality")
    return scores if isinstance(scores, dict) and finite(scores.get("fid")) is not None else None


def inception_scored(runs: Sequence[Run]) -> bool:
    """Whether the runs' quality is FID/KID on Inception (data other than MNIST)."""
    return any((run.result.get("quality") or {}).get("features") == "inception" for run in runs)


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
    columns = [c for c in QUALITY_COLUMNS if any(finite(q.get(c[0])) is not None for _, q in scored)]
    if inception_scored(runs):  # FID bands were measured on MNIST's classifier only
        return _inception_quality_table(scored, columns)
    headers = ["Framework", "Mode", "Samples", *(header for _, header, _ in columns), "Band"]
    rows = []
    for run, q in scored:
        cells = [run.framework + str(run.config.get("tag") or ""), run.mode_label,
                 fmt_count(q.get("num_samples")), *(_quality_cell(q, key, fmt) for key, _, fmt in columns)]
        rows.append([*cells, fid_band(q["fid"])])
    return (markdown_table(headers, rows, "ll" + "r" * (len(headers) - 3) + "l") + "\n\n"
            f"*Band* (by FID, from real digits degraded step by step; docs/metrics.md): well trained "
            f"≤ {FID_BANDS[0][0]:.0f} (real digits with light pixel noise), recognisable ≤ "
            f"{FID_BANDS[1][0]:.0f} (real digits blurred by 1 px), else not converged.")


def _inception_quality_table(scored: list[tuple[Run, dict]], columns: list[tuple[str, str, str]]) -> str:
    rows = [[run.framework + str(run.config.get("tag") or ""), run.mode_label, fmt_count(q.get("num_samples")),
             *(_quality_cell(q, key, fmt) for key, _, fmt in columns)] for run, q in scored]
    samples = fmt_count(scored[0][1].get("num_samples"))
    return (markdown_table(["Framework", "Mode", "Samples", *(header for _, header, _ in columns)], rows,
                           "ll" + "r" * (len(columns) + 1)) + "\n\n"
            f"FID and KID on Inception-v3 pool3 features with the standard FID weights "
            f"(benchmark/metrics/inception.py), {samples} samples against as many real training images. "
            "FID is biased upwards the fewer the samples (papers use 10k to 50k): compare these FIDs "
            "with each other, not with published ones; KID is unbiased.")


def _quality_cell(q: dict, key: str, fmt: str) -> str:
    value = finite(q.get(key))
    cell = MISSING if value is None else fmt.format(value)
    if key == "kid_mean" and finite(q.get("kid_std")) is not None:
        cell += f" ± {q['kid_std']:.4f}"
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


def quality_verdict(runs: Sequence[Run]) -> tuple[str, str]:
    """(better framework by FID, whether KID separates it from the runner-up
    beyond 2 standard errors, flagged when no run has learned the data yet)."""
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
    better = f"{run_a.framework} ({a['fid']:.2f} vs {b['fid']:.2f})"
    if len(ranked) > 2:  # three frameworks or more: every other one's FID, best first
        better = f"{run_a.framework} ({a['fid']:.2f} vs " + ", ".join(
            f"{run.framework} {q['fid']:.2f}" for run, q in ranked[1:]) + ")"
    spread = (a.get("kid_std", 0.0) ** 2 + b.get("kid_std", 0.0) ** 2) ** 0.5
    clear = abs(b["kid_mean"] - a["kid_mean"]) > 2 * spread and b["kid_mean"] > a["kid_mean"]
    difference = "clear (KID)" if clear else "within noise (KID)"
    if not_learned_yet(runs):
        difference += f"; not learned yet (recall < {UNLEARNED_RECALL})"
    return better, difference


def _summary_row(suite: Suite, model: str, quality: tuple[str, str] | None = None) -> list[str]:
    runs = suite.runs_of(model)
    comparison = compare(runs, model)
    if comparison.interval is None:
        faster, difference = MISSING, "n/a: " + _why_not_compared(suite.frameworks, runs, comparison)
    else:
        ratio, low, high = comparison.interval
        faster = f"{_leader_label(comparison.leaders[0])} {ratio:.2f}x ({low:.2f}–{high:.2f})"
        if len(comparison.leaders) > 2:  # three frameworks or more: the leader over each, in speed order
            faster += " over " + ", ".join(
                f"{_leader_label(other)}" + ("" if i == 0 else f" {r:.2f}x ({lo:.2f}–{hi:.2f})")
                for i, (other, (r, lo, hi)) in enumerate(zip(comparison.leaders[1:], comparison.intervals)))
        if len({run.group[3] for run in runs}) > 1:  # a batch-size sweep: say where it compared
            faster += f" at batch {comparison.leaders[0].batch_size}"
        difference = "clear" if comparison.clear else "within noise"
        if all(len(leader.runs) == 1 for leader in comparison.leaders[:2]):
            difference += " (1 run each)"  # step-to-step noise only; summary_section says more
    losses = [_losses_cell(runs, framework, comparison) for framework in suite.frameworks]
    return [model_title(model), faster, difference, *(quality or quality_verdict(runs)), *losses]


def _leader_label(contender: Contender) -> str:
    return contender.runs[0].label


def _why_not_compared(frameworks: Sequence[str], runs: Sequence[Run], comparison: Comparison) -> str:
    timed = {run.framework for run in comparison.leaders}
    reasons = []
    for framework in frameworks:
        if framework in timed:
            continue
        own = [run for run in runs if run.framework == framework]
        if own and all(warmup_only(run) for run in own):
            reasons.append(f"{framework} ran warm-up steps only (train longer)")
            continue
        statuses = sorted({run.status for run in own})
        reasons.append(f"{framework} {'/'.join(statuses) if statuses else 'not run'}")
    if reasons:
        return ", ".join(reasons)
    return f"only {comparison.leaders[0].framework} ran" if comparison.leaders else "no timings"


def _losses_cell(runs: Sequence[Run], framework: str, comparison: Comparison) -> str:
    own = [run for run in runs if run.framework == framework]
    if not own:
        return MISSING
    leader = next((c.runs[0] for c in comparison.leaders if c.framework == framework), None)
    run = leader or next((run for run in own if run.ok), None)
    if run is None:
        return "/".join(sorted({run.status for run in own}))
    return f"{fmt_loss(run.number('final_losses', 'd_loss'))} / {fmt_loss(run.number('final_losses', 'g_loss'))}"


def warmup_only(run: Run) -> bool:
    """A finished run too short to have a steady-state step: it has no speed
    (the first steps of every process are warm-up, `benchmark.timing`)."""
    return run.ok and run.number("timing", "steady_steps") == 0


def _timed(runs: Iterable[Run]) -> list[Run]:
    """Runs whose speed counts: finished ("ok") and with a median images/s.
    A diverged run stopped early, so its timing is not comparable."""
    return [run for run in runs if run.ok and run.number("timing", "images_per_s") is not None]


def _rate(run: Run) -> float:
    return run.number("timing", "images_per_s") or 0.0


def rate_range(run: Run) -> tuple[float, float]:
    median = _rate(run)
    low = run.number("timing", "images_per_s_p10")
    high = run.number("timing", "images_per_s_p90")
    return (median if low is None else low, median if high is None else high)


# --- Per model and configuration --------------------------------------------

def model_title(model: str) -> str:
    """The spec's title ("SN-DCGAN (spectral norm)"); a model this version
    does not know (an older results file) shows its name."""
    from benchmark.specs import SPECS

    spec = SPECS.get(model)
    return spec.title if spec else model.upper()


Peaks = dict[tuple[str, str], float]  # (device, precision) -> GFLOP/s


def matmul_peaks(suite: Suite) -> Peaks:
    """The best matrix-product rate of each (device, precision) in the suite:
    every run's probe in its own arithmetic, and numpy's float32 probe on the
    CPU (benchmark.peak). A run's share of peak divides by the peak of its own
    arithmetic, so a bf16 run is never measured against float32 multiplies."""
    peaks: Peaks = {}
    numpy_fp32 = finite(suite.environment.get("cpu_peak_gflops"))
    if numpy_fp32:
        peaks[("cpu", "fp32")] = numpy_fp32
    for run in suite.runs:
        probe = run.number("timing", "matmul_peak_gflops")
        if probe:
            key = (str(run.config.get("device")), run.precision)
            peaks[key] = max(peaks.get(key, 0.0), probe)
    return peaks


def model_table(runs: Sequence[Run], peaks: Peaks | None = None) -> str:
    """One row per run. Share of peak is against the best matrix product of
    the run's own device and arithmetic (`matmul_peaks`)."""
    with_device = any(run.number("memory", "peak_device_bytes") is not None for run in runs)
    with_input = any(run.input_pipeline != "device" for run in runs)
    headers = ["Framework", "Mode", "Images/s (p10–p90)",
               *(["Loader alone img/s", "Waited for input"] if with_input else []),
               "ms/step", "GFLOP/s (% peak)",
               "Warm-up s (steps)", "Epoch s", "Train s", "D loss", "G loss", "Peak RSS MiB",
               *(["Device MiB"] if with_device else []), "Params G / D"]
    rows = [_model_row(run, with_device, peaks or {}, with_input) for run in runs]
    table = markdown_table(headers, rows, "ll" + "r" * (len(headers) - 2))
    if with_input:
        table += ("\n\n*Images/s* times the step alone. *Loader alone*: the native pipeline's images/s "
                  "with no training beside it, measured before training; *waited for input*: the "
                  "share of training time spent waiting for the loader's next batch (outside the "
                  "step). The device pipeline gathers each batch inside the step.")
    return table


def _flops_cell(run: Run, peaks: Peaks) -> str:
    achieved = run.number("timing", "gflops_per_s")
    if achieved is None:
        return MISSING
    peak = peaks.get((str(run.config.get("device")), run.precision))
    return f"{achieved:.1f} ({100 * achieved / peak:.0f}%)" if peak else f"{achieved:.1f}"


def _model_row(run: Run, with_device: bool, peaks: Peaks, with_input: bool = False) -> list[str]:
    timing = run.timing
    mode = run.mode_label if run.ok else f"{run.mode_label} ({run.status})"
    params = run.parameter_counts
    row = [
        run.framework + str(run.config.get("tag") or ""),
        mode,
        _rate_cell(run),
    ]
    if with_input:
        share = run.number("timing", "input_wait_share")
        row += (["in step", "–"] if run.input_pipeline == "device" else
                [fmt_rate(run.number("timing", "loader_images_per_s")),
                 MISSING if share is None else f"{share:.0%}"])
    row += [
        fmt_ms(run.number("timing", "step_ms_median")),
        _flops_cell(run, peaks),
        _warmup_cell(run),
        fmt_seconds(_mean(timing.get("epoch_s"))),
        fmt_seconds(run.number("timing", "train_s")),
        fmt_loss(run.number("final_losses", "d_loss")),
        fmt_loss(run.number("final_losses", "g_loss")),
        fmt_mib(run.number("memory", "peak_rss_bytes")),
    ]
    if with_device:
        row.append(fmt_mib(run.number("memory", "peak_device_bytes")))
    row.append(f"{fmt_count(params.get('generator'))} / {fmt_count(params.get('discriminator'))}"
               if params else MISSING)
    return row


def _rate_cell(run: Run) -> str:
    median = run.number("timing", "images_per_s")
    if median is None:
        return f"{MISSING} (warm-up only)" if warmup_only(run) else MISSING
    low, high = rate_range(run)
    return f"{fmt_rate(median)} ({fmt_rate(low)}–{fmt_rate(high)})"


def _warmup_cell(run: Run) -> str:
    seconds = run.number("timing", "warmup_s")
    steps = run.number("timing", "warmup_steps")
    if seconds is None:
        return MISSING
    return fmt_seconds(seconds) if steps is None else f"{fmt_seconds(seconds)} ({steps:.0f})"


def _mean(values: Any) -> float | None:
    numbers = [finite(v) for v in values] if isinstance(values, list) else []
    numbers = [n for n in numbers if n is not None]
    return sum(numbers) / len(numbers) if numbers else None


def config_table(runs: Sequence[Run]) -> str:
    with_input = any(run.input_pipeline != "device" for run in runs)
    headers = ["Run", "Framework", "Model", "Mode", "Precision", *(["Input"] if with_input else []), "Device",
               "Epochs", "Batch", "Train size", "Threads", "Framework version"]
    rows = []
    for run in runs:
        config = run.config
        train_size = config.get("train_size")
        environment = run.result.get("environment") or {}
        threads = environment.get("threads") or fmt_count(config.get("threads"))
        rows.append([run.name, run.framework, run.model, run.mode, run.precision,
                     *([run.input_pipeline] if with_input else []), str(config.get("device", MISSING)),
                     fmt_count(config.get("epochs")), fmt_count(config.get("batch_size")),
                     "all" if train_size is None and config else fmt_count(train_size),
                     str(threads), str(environment.get("framework_version") or MISSING)])
    return markdown_table(headers, rows, "llllll" + ("l" if with_input else "") + "rrrrl")


# --- runs.csv ------------------------------------------------------------------

# "compute_precision" (fp32/bf16/fp16): "precision" is the sample-quality metric.
CSV_COLUMNS = ("name", "framework", "model", "mode", "compute_precision", "status", "images_per_s", "images_per_s_p10",
               "images_per_s_p90", "step_ms_median", "gflops_per_s", "warmup_s", "train_s",
               "final_d_loss", "final_g_loss", *(key for key, _, _ in QUALITY_COLUMNS), "kid_std",
               "peak_rss_mib", "peak_device_mib", "epochs", "batch_size", "train_size", "seed",
               "repeat", "nudged", "dataset", "input_pipeline", "loader_images_per_s", "input_wait_share",
               "reason")


def runs_csv(runs: Sequence[Run]) -> str:
    """One flat row per run, for pandas; a missing value is an empty field."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for run in runs:
        writer.writerow({key: "" if value is None else value for key, value in _csv_record(run).items()})
    return buffer.getvalue()


def _csv_record(run: Run) -> dict[str, Any]:
    config = run.config
    rss = run.number("memory", "peak_rss_bytes")
    device = run.number("memory", "peak_device_bytes")
    return {
        "name": run.name, "framework": run.framework, "model": run.model, "mode": run.mode,
        "compute_precision": run.precision, "status": run.status,
        **{key: run.number("timing", key) for key in
           ("images_per_s", "images_per_s_p10", "images_per_s_p90", "step_ms_median", "gflops_per_s",
            "warmup_s", "train_s")},
        **{key: finite((quality_of(run) or {}).get(key)) for key in
           (*(key for key, _, _ in QUALITY_COLUMNS), "kid_std")},
        "final_d_loss": run.number("final_losses", "d_loss"),
        "final_g_loss": run.number("final_losses", "g_loss"),
        "peak_rss_mib": None if rss is None else rss / MIB,
        "peak_device_mib": None if device is None else device / MIB,
        **{key: config.get(key) for key in ("epochs", "batch_size", "train_size", "seed", "repeat")},
        "nudged": bool(config.get("nudged")),
        "dataset": config.get("dataset") or "mnist", "input_pipeline": run.input_pipeline,
        "loader_images_per_s": run.number("timing", "loader_images_per_s"),
        "input_wait_share": run.number("timing", "input_wait_share"),
        "reason": run.result.get("reason"),
    }
