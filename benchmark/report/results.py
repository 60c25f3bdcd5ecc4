"""Reading a results directory: `results.json` and each run's files.

Every field beyond a run's status, framework, model and mode is optional
here, because a failed run records little more than its configuration.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.frameworks import PRECISIONS
from benchmark.io import read_json


@dataclass(frozen=True)
class History:
    """Per-step losses of one run; non-finite losses are NaN."""

    step: np.ndarray
    d_loss: np.ndarray
    g_loss: np.ndarray


@dataclass(frozen=True)
class Run:
    """One (framework, model, mode) run: its result.json and its directory."""

    result: dict[str, Any]
    path: Path

    @property
    def framework(self) -> str:
        return str(self.result.get("framework") or self.config.get("framework") or "?")

    @property
    def model(self) -> str:
        return str(self.result.get("model") or self.config.get("model") or "?")

    @property
    def mode(self) -> str:
        return str(self.result.get("mode") or self.config.get("mode") or "?")

    @property
    def precision(self) -> str:
        """fp32, bf16 or fp16; results written before precision existed are fp32."""
        return str(self.result.get("precision") or self.config.get("precision") or "fp32")

    @property
    def devices(self) -> int:
        """Data-parallel replicas (--devices); 1 for a single device and older results."""
        return int(self.config.get("devices") or 1)

    @property
    def input_pipeline(self) -> str:
        """device, or native (--input-pipeline); device for older results."""
        return str(self.config.get("input_pipeline") or "device")

    @property
    def mode_label(self) -> str:
        """The mode, with the precision when it is not fp32, the replicas when
        more than one, the native input pipeline, and the rounding control's
        mark: "xla", "xla bf16", "function ×2", "eager native", "xla +1 ulp"."""
        label = self.mode if self.precision == "fp32" else f"{self.mode} {self.precision}"
        label += f" ×{self.devices}" if self.devices > 1 else ""
        label += "" if self.input_pipeline == "device" else f" {self.input_pipeline}"
        return label + (" +1 ulp" if self.nudged else "")

    @property
    def nudged(self) -> bool:
        """A --rounding-control run: its start is one ulp from its framework twin's."""
        return bool(self.config.get("nudged"))

    @property
    def name(self) -> str:
        return str(self.result.get("name") or self.path.name)

    @property
    def machine_load(self) -> dict[str, Any] | None:
        """How busy the machine was while it trained (benchmark.load); None
        for runs written before it was recorded, or off Linux."""
        return self.result.get("machine_load")

    @property
    def contended(self) -> bool:
        """Other processes shared the CPU while it trained: its speed decides no verdict."""
        return bool((self.machine_load or {}).get("contended"))

    @property
    def label(self) -> str:
        return f"{self.framework} ({self.mode_label})"

    @property
    def status(self) -> str:
        return str(self.result.get("status") or "failed")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def config(self) -> dict[str, Any]:
        return self.result.get("config") or {}

    @property
    def timing(self) -> dict[str, Any]:
        return self.result.get("timing") or {}

    @property
    def memory(self) -> dict[str, Any]:
        return self.result.get("memory") or {}

    @property
    def final_losses(self) -> dict[str, Any]:
        return self.result.get("final_losses") or {}

    @property
    def parameter_counts(self) -> dict[str, Any]:
        return self.result.get("parameter_counts") or {}

    def number(self, section: str, key: str) -> float | None:
        """A finite number from `result[section][key]`, else None."""
        values = self.result.get(section)
        return finite(values.get(key)) if isinstance(values, dict) else None

    def file(self, kind: str, default: str) -> Path:
        files = self.result.get("files") or {}
        return self.path / (files.get(kind) or default)

    def history(self) -> History | None:
        path = self.file("history", "history.csv")
        return read_history(path) if path.is_file() else None

    def steady_step_seconds(self) -> np.ndarray | None:
        """Step times without the warm-up steps (history.csv's `warmup` column,
        or the first timing.warmup_steps in files written before it existed);
        empty when every step was warm-up."""
        path = self.file("history", "history.csv")
        if not path.is_file():
            return None
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if not rows or "step_s" not in rows[0]:
            return None
        times = np.array([float(row["step_s"]) for row in rows])
        if "warmup" in rows[0]:
            warm = np.array([row["warmup"] == "1" for row in rows])
        else:
            warm = np.arange(len(times)) < int(self.number("timing", "warmup_steps") or 0)
        return times[~warm]

    @property
    def group(self) -> tuple[str, str, str, int, str, int, str]:
        """(model, framework, mode, batch size, precision, devices, input
        pipeline): repeats of a group are pooled."""
        return (self.model, self.framework, self.mode, int(self.config.get("batch_size") or 0),
                self.precision, self.devices, self.input_pipeline)

    def frames(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(steps (K,), uint8 sample grids (K, N, H, W, C)) through training."""
        path = self.file("frames", "frames.npz")
        if not path.is_file():
            return None
        with np.load(path) as saved:
            return saved["steps"], saved["images"]

    def samples(self) -> np.ndarray | None:
        path = self.file("samples", "samples.npy")
        return np.load(path) if path.is_file() else None


@dataclass(frozen=True)
class Suite:
    """results.json, with its runs in report order (model, framework, mode, precision)."""

    summary: dict[str, Any]
    runs: tuple[Run, ...]
    models: tuple[str, ...]
    frameworks: tuple[str, ...]

    @property
    def run_id(self) -> str:
        return str(self.summary.get("run_id") or "unnamed run")

    @property
    def settings(self) -> dict[str, Any]:
        return self.summary.get("suite") or {}

    @property
    def environment(self) -> dict[str, Any]:
        return self.summary.get("environment") or {}

    @property
    def profile_batch_size(self) -> int | None:
        """The profile's batch size as the suite ran it (results.json's
        suite.profile_settings); None for results written before it was recorded."""
        size = (self.settings.get("profile_settings") or {}).get("batch_size")
        return size if isinstance(size, int) and not isinstance(size, bool) else None

    def runs_of(self, model: str) -> list[Run]:
        return [run for run in self.runs if run.model == model]


def finite(value: Any) -> float | None:
    """`value` as a float when it is a finite number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def load_suite(run_dir: Path) -> Suite:
    """The suite in `run_dir`; without results.json (a suite stopped before its
    end) the runs found under runs/ stand in for it."""
    run_dir = Path(run_dir)
    summary_path = run_dir / "results.json"
    if summary_path.is_file():
        summary = read_json(summary_path)
        runs = [Run(entry, run_dir / entry.get("dir", f"runs/{entry.get('name', '')}"))
                for entry in summary.get("runs") or []]
    else:
        summary = {}
        runs = [Run(read_json(path), path.parent) for path in sorted(run_dir.glob("runs/*/result.json"))]

    settings = summary.get("suite") or {}
    models = _ordered(settings.get("models") or [], (run.model for run in runs))
    frameworks = _ordered(settings.get("frameworks") or [], (run.framework for run in runs))
    runs.sort(key=lambda run: (models.index(run.model), frameworks.index(run.framework), run.mode,
                               _precision_order(run.precision), run.devices, run.input_pipeline != "device"))
    return Suite(summary, tuple(runs), models, frameworks)


def _precision_order(precision: str) -> int:
    """fp32 first, then the mixed precisions, in PRECISIONS' order."""
    return PRECISIONS.index(precision) if precision in PRECISIONS else len(PRECISIONS)


def read_history(path: Path) -> History:
    steps, d_losses, g_losses = [], [], []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            steps.append(int(row["step"]))
            d_losses.append(_loss(row["d_loss"]))
            g_losses.append(_loss(row["g_loss"]))
    return History(np.asarray(steps, dtype=np.int64), np.asarray(d_losses), np.asarray(g_losses))


def _loss(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else math.nan


def _ordered(declared: list[str], seen: Any) -> tuple[str, ...]:
    """`declared` first, then anything else seen, each once."""
    return tuple(dict.fromkeys([*declared, *seen]))
