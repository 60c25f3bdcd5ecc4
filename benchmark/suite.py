"""Runs every (framework, model, mode) configuration, each in its own worker
process, collects the results into `results.json` and renders the report.

This process never imports torch or tensorflow: a crash, a leaked thread pool
or a compiled graph in one run cannot touch the next.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmark import io
from benchmark.config import RunConfig
from benchmark.environment import REPO_ROOT, describe

RESULTS_SCHEMA_VERSION = 1
STDERR_TAIL_LINES = 30


@dataclass(frozen=True)
class SuiteOptions:
    command: str  # as typed, for the report
    settings: dict  # the resolved suite-level choices, for the report
    run_timeout_s: float | None = None


def worker_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ info lines go to stderr.log anyway
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_one(config: RunConfig, run_dir: Path, timeout_s: float | None) -> dict:
    """Trains one configuration in a worker process and returns its result."""
    run_dir.mkdir(parents=True, exist_ok=False)
    io.write_json(run_dir / "config.json", config.to_dict())
    stderr_path = run_dir / "stderr.log"
    started = time.perf_counter()
    with open(stderr_path, "wb") as stderr:
        try:
            code = subprocess.run([sys.executable, "-m", "benchmark.worker", str(run_dir)],
                                  cwd=REPO_ROOT, env=worker_environment(), stderr=stderr,
                                  timeout=timeout_s).returncode
            timeout_reason = None
        except subprocess.TimeoutExpired:
            code, timeout_reason = None, f"timed out after {timeout_s:.0f}s"
    result_path = run_dir / "result.json"
    result = io.read_json(result_path) if result_path.exists() else None
    if result is None or timeout_reason:
        reason = timeout_reason or f"worker exited with code {code} and wrote no result"
        result = {"status": "failed", "reason": reason, "config": config.to_dict(),
                  "framework": config.framework, "model": config.model, "mode": config.mode}
    if result["status"] != "ok":
        result["stderr_tail"] = _tail(stderr_path, STDERR_TAIL_LINES)
    result["dir"] = str(run_dir.relative_to(run_dir.parents[1]))
    result["wall_s"] = time.perf_counter() - started
    return result


def run_suite(configs: list[RunConfig], out_dir: Path, options: SuiteOptions) -> dict:
    """Runs `configs` in order under `out_dir` (which must not exist yet);
    results.json is rewritten after every run, so an interrupted suite keeps
    what finished."""
    out_dir.mkdir(parents=True, exist_ok=False)
    results = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "run_id": out_dir.name,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": options.command,
        "environment": describe(),
        "suite": options.settings,
        "runs": [],
    }
    started = time.perf_counter()
    for i, config in enumerate(configs, 1):
        print(f"== run {i}/{len(configs)}: {config.name}", flush=True)
        result = run_one(config, out_dir / "runs" / config.name, options.run_timeout_s)
        status = result["status"] if result["status"] == "ok" else f"{result['status']}: {result['reason']}"
        print(f"== {config.name}: {status} ({result['wall_s']:.0f}s)", flush=True)
        results["runs"].append(result)
        results["total_s"] = time.perf_counter() - started
        io.write_json(out_dir / "results.json", results)
    return results


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
