"""The report's tables: number formats, Markdown tables and runs.csv.

Images/s have no decimals, milliseconds one, losses three; a missing value
is shown as an en dash.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from benchmark.report.results import Run, Suite, finite

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
class Comparison:
    """The fastest run of each framework for one model, fastest first."""

    model: str
    leaders: tuple[Run, ...]

    @property
    def ratio(self) -> float | None:
        """Median images/s of the fastest framework over the runner-up's."""
        if len(self.leaders) < 2:
            return None
        return _rate(self.leaders[0]) / _rate(self.leaders[1])

    @property
    def clear(self) -> bool | None:
        """Whether the p10–p90 images/s ranges of the two fastest are disjoint."""
        if len(self.leaders) < 2:
            return None
        (low_a, high_a), (low_b, high_b) = (_rate_range(run) for run in self.leaders[:2])
        return high_b < low_a or high_a < low_b


def compare(runs: Sequence[Run], model: str) -> Comparison:
    best: dict[str, Run] = {}
    for run in sorted(_timed(runs), key=lambda run: -_rate(run)):
        best.setdefault(run.framework, run)
    return Comparison(model, tuple(best.values()))


def summary_table(suite: Suite) -> str:
    headers = ["Model", "Faster", "Difference", *(f"{fw} D / G loss" for fw in suite.frameworks)]
    rows = [_summary_row(suite, model) for model in suite.models]
    return markdown_table(headers, rows, "lll" + "r" * len(suite.frameworks))


def _summary_row(suite: Suite, model: str) -> list[str]:
    runs = suite.runs_of(model)
    comparison = compare(runs, model)
    if comparison.ratio is None:
        faster, difference = MISSING, "n/a: " + _why_not_compared(suite.frameworks, runs, comparison)
    else:
        faster = f"{comparison.leaders[0].framework} {comparison.ratio:.2f}x"
        difference = "clear" if comparison.clear else "within noise"
    losses = [_losses_cell(runs, framework, comparison) for framework in suite.frameworks]
    return [model_title(model), faster, difference, *losses]


def _why_not_compared(frameworks: Sequence[str], runs: Sequence[Run], comparison: Comparison) -> str:
    timed = {run.framework for run in comparison.leaders}
    reasons = []
    for framework in frameworks:
        if framework in timed:
            continue
        statuses = sorted({run.status for run in runs if run.framework == framework})
        reasons.append(f"{framework} {'/'.join(statuses) if statuses else 'not run'}")
    if reasons:
        return ", ".join(reasons)
    return f"only {comparison.leaders[0].framework} ran" if comparison.leaders else "no timings"


def _losses_cell(runs: Sequence[Run], framework: str, comparison: Comparison) -> str:
    own = [run for run in runs if run.framework == framework]
    if not own:
        return MISSING
    leader = next((run for run in comparison.leaders if run.framework == framework), None)
    run = leader or next((run for run in own if run.ok), None)
    if run is None:
        return "/".join(sorted({run.status for run in own}))
    return f"{fmt_loss(run.number('final_losses', 'd_loss'))} / {fmt_loss(run.number('final_losses', 'g_loss'))}"


def _timed(runs: Iterable[Run]) -> list[Run]:
    """Runs whose speed counts: finished ("ok") and with a median images/s.
    A diverged run stopped early, so its timing is not comparable."""
    return [run for run in runs if run.ok and run.number("timing", "images_per_s") is not None]


def _rate(run: Run) -> float:
    return run.number("timing", "images_per_s") or 0.0


def _rate_range(run: Run) -> tuple[float, float]:
    median = _rate(run)
    low = run.number("timing", "images_per_s_p10")
    high = run.number("timing", "images_per_s_p90")
    return (median if low is None else low, median if high is None else high)


# --- Per model and configuration --------------------------------------------

MODEL_TITLES = {"dcgan": "DCGAN", "wgan": "WGAN", "wgan_gp": "WGAN-GP"}


def model_title(model: str) -> str:
    return MODEL_TITLES.get(model, model.upper())


def model_table(runs: Sequence[Run]) -> str:
    with_device = any(run.number("memory", "peak_device_bytes") is not None for run in runs)
    headers = ["Framework", "Mode", "Images/s (p10–p90)", "ms/step", "Warm-up s (steps)",
               "Epoch s", "Train s", "D loss", "G loss", "Peak RSS MiB",
               *(["Device MiB"] if with_device else []), "Params G / D"]
    rows = [_model_row(run, with_device) for run in runs]
    return markdown_table(headers, rows, "ll" + "r" * (len(headers) - 2))


def _model_row(run: Run, with_device: bool) -> list[str]:
    timing = run.timing
    mode = run.mode if run.ok else f"{run.mode} ({run.status})"
    params = run.parameter_counts
    row = [
        run.framework,
        mode,
        _rate_cell(run),
        fmt_ms(run.number("timing", "step_ms_median")),
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
        return MISSING
    low, high = _rate_range(run)
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
    headers = ["Run", "Framework", "Model", "Mode", "Device", "Epochs", "Batch", "Train size", "Threads"]
    rows = []
    for run in runs:
        config = run.config
        train_size = config.get("train_size")
        rows.append([run.name, run.framework, run.model, run.mode, str(config.get("device", MISSING)),
                     fmt_count(config.get("epochs")), fmt_count(config.get("batch_size")),
                     "all" if train_size is None and config else fmt_count(train_size),
                     fmt_count(config.get("threads"))])
    return markdown_table(headers, rows, "lllllrrrr")


# --- runs.csv ------------------------------------------------------------------

CSV_COLUMNS = ("name", "framework", "model", "mode", "status", "images_per_s", "images_per_s_p10",
               "images_per_s_p90", "step_ms_median", "warmup_s", "train_s", "final_d_loss",
               "final_g_loss", "peak_rss_mib", "peak_device_mib", "epochs", "batch_size",
               "train_size", "seed", "reason")


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
        "status": run.status,
        **{key: run.number("timing", key) for key in
           ("images_per_s", "images_per_s_p10", "images_per_s_p90", "step_ms_median", "warmup_s", "train_s")},
        "final_d_loss": run.number("final_losses", "d_loss"),
        "final_g_loss": run.number("final_losses", "g_loss"),
        "peak_rss_mib": None if rss is None else rss / MIB,
        "peak_device_mib": None if device is None else device / MIB,
        **{key: config.get(key) for key in ("epochs", "batch_size", "train_size", "seed")},
        "reason": run.result.get("reason"),
    }
