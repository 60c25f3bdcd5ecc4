"""The report's speed and configuration tables and the notes beneath them:
the summary (one row per model), the execution modes (--modes auto), each
model's runs and the configuration of every run.
"""

from __future__ import annotations

from typing import Any, Sequence

from benchmark.report.markdown import (MISSING, fmt_count, fmt_loss, fmt_mib, fmt_ms, fmt_rate, fmt_seconds,
                                       markdown_table, model_title)
from benchmark.report.results import Run, Suite, finite
from benchmark.report.sample_quality import quality_verdict
from benchmark.report.speed import (
    Comparison, Contender, Drift, compare, contenders, measured_drift, speed_verdict, warmup_only,
)


# --- Summary -----------------------------------------------------------------


def summary_table(suite: Suite, quality_cells: dict[str, tuple[str, str]] | None = None) -> str:
    """One row per model. `quality_cells` replaces a model's one-run quality
    verdict (with --seeds, the paired verdict of benchmark.report.paired)."""
    headers = ["Model", "Faster (95% interval)", "Speed difference", "Better samples (FID)",
               "Quality difference", *(f"{fw} D / G loss" for fw in suite.frameworks)]
    drift = measured_drift(suite.runs, suite.summary.get("calibration"))
    rows = [_summary_row(suite, model, drift, (quality_cells or {}).get(model)) for model in suite.models]
    return markdown_table(headers, rows, "lllll" + "r" * len(suite.frameworks))


def _summary_row(suite: Suite, model: str, drift: Drift, quality: tuple[str, str] | None = None) -> list[str]:
    runs = suite.runs_of(model)
    comparison = compare(runs, model, suite.profile_batch_size)
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
        difference = speed_verdict(comparison, drift)
        faster += _modes_not_run(suite, model, runs)
    losses = [_losses_cell(runs, framework, comparison) for framework in suite.frameworks]
    return [model_title(model), faster, difference, *(quality or quality_verdict(runs)), *losses]


def _modes_not_run(suite: Suite, model: str, runs: Sequence[Run]) -> str:
    """"; tf function, fastest here, not run" for each framework whose
    calibrated fastest mode did not run, and "; tf function not run" for each
    whose other modes did not (the suite records every mode a framework has):
    the ratio then compares what ran, not the frameworks at their best."""
    ran = {run.framework: set() for run in runs}
    for run in runs:
        ran[run.framework].add(run.mode)
    fastest = {e["framework"]: e["chosen"] for e in (suite.summary.get("calibration") or {}).get("entries") or []
               if e.get("model") == model and e.get("precision", "fp32") == "fp32" and not e.get("fallback")}
    notes = []
    for framework, modes in (suite.settings.get("framework_modes") or {}).items():
        missing = [mode for mode in modes if framework in ran and mode not in ran[framework]]
        if fastest.get(framework) in missing:
            notes.append(f"{framework} {fastest[framework]}, fastest here, not run")
        elif missing:
            notes.append(f"{framework} {'/'.join(missing)} not run")
    return "; " + "; ".join(notes) if notes else ""


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


def loaders_verdict(waits: dict[str, float]) -> str:
    """Whether the frameworks' native speeds differ through their loaders,
    from each framework's share of training time spent waiting for one."""
    bound = [framework for framework, share in waits.items() if share >= LOADER_BOUND_SHARE]
    if bound:
        return f"so the frameworks' native speeds differ through {' and '.join(bound)}'s loader"
    return ("so neither framework's" if len(waits) == 2 else "so no framework's") + " native speed comes from its loader"


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
            parts.append(loaders_verdict(waits))
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


# --- Per model and configuration --------------------------------------------

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
    if not peak:
        return f"{achieved:.1f}"
    # A step cannot beat the machine's best matrix product: above 100% the
    # probe itself ran slow (under load, or throttled), so the share says nothing.
    if achieved > peak:
        return f"{achieved:.1f} ({100 * achieved / peak:.0f}%: the peak probe ran slow)"
    return f"{achieved:.1f} ({100 * achieved / peak:.0f}%)"


def _model_row(run: Run, with_device: bool, peaks: Peaks, with_input: bool = False) -> list[str]:
    timing = run.timing
    mode = run.mode_label if run.ok else f"{run.mode_label} ({run.status})"
    if run.contended:  # its speed shared the CPU: shown, never the basis of a verdict
        mode += " (contended)"
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


def _rate(run: Run) -> float:
    return run.number("timing", "images_per_s") or 0.0


def rate_range(run: Run) -> tuple[float, float]:
    median = _rate(run)
    low = run.number("timing", "images_per_s_p10")
    high = run.number("timing", "images_per_s_p90")
    return (median if low is None else low, median if high is None else high)


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
