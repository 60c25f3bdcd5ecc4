"""runs.csv: one flat row per run, for pandas; a missing value is an empty field."""

from __future__ import annotations

import csv
import io
from typing import Any, Sequence

from benchmark.metrics.table import REPORTED
from benchmark.report.markdown import MIB
from benchmark.report.results import Run, finite
from benchmark.report.sample_quality import quality_of

# The quality table's columns, then their spreads (kid_std).
QUALITY_KEYS = (*(metric.key for metric in REPORTED), *(metric.spread for metric in REPORTED if metric.spread))
# "compute_precision" (fp32/bf16/fp16): "precision" is the sample-quality metric.
CSV_COLUMNS = ("name", "framework", "model", "mode", "compute_precision", "status", "images_per_s", "images_per_s_p10",
               "images_per_s_p90", "step_ms_median", "gflops_per_s", "warmup_s", "train_s",
               "final_d_loss", "final_g_loss", *QUALITY_KEYS,
               "peak_rss_mib", "peak_device_mib", "epochs", "batch_size", "train_size", "seed",
               "repeat", "nudged", "dataset", "input_pipeline", "loader_images_per_s", "input_wait_share",
               "reason")


def runs_csv(runs: Sequence[Run]) -> str:
    """One flat row per run (CSV_COLUMNS)."""
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
        **{key: finite((quality_of(run) or {}).get(key)) for key in QUALITY_KEYS},
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
