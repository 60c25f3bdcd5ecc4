"""Runs every (framework, model, mode) configuration, each in its own worker
process, collects the results into `results.json` and renders the report.

This process never imports torch or tensorflow: a crash, a leaked thread pool
or a compiled graph in one run cannot touch the next.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
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
PLAN_FILE = "suite.json"  # the planned runs, so that --resume needs no flags


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


def _die_with_parent() -> None:
    """In the worker, before exec: Linux sends SIGKILL when the suite process
    dies, so a killed suite leaves no orphan training on (and `--resume` never
    races one)."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the worker may outlive a killed suite


def run_one(config: RunConfig, run_dir: Path, timeout_s: float | None) -> dict:
    """Trains one configuration in a worker process and returns its result.
    A run folder left by an interrupted attempt is continued from its checkpoint."""
    run_dir.mkdir(parents=True, exist_ok=True)
    io.write_json(run_dir / "config.json", config.to_dict())
    (run_dir / "result.json").unlink(missing_ok=True)  # a stale failure must not stand
    stderr_path = run_dir / "stderr.log"
    started = time.perf_counter()
    with open(stderr_path, "ab") as stderr:
        try:
            code = subprocess.run([sys.executable, "-m", "benchmark.worker", str(run_dir)],
                                  cwd=REPO_ROOT, env=worker_environment(), stderr=stderr,
                                  timeout=timeout_s, preexec_fn=_die_with_parent).returncode
            timeout_reason = None
        except subprocess.TimeoutExpired:
            code, timeout_reason = None, f"timed out after {timeout_s:.0f}s"
    result_path = run_dir / "result.json"
    result = io.read_json(result_path) if result_path.exists() else None
    if result is None or timeout_reason:
        if timeout_reason is None and code is not None and code < 0:
            reason = f"worker killed by signal {signal.Signals(-code).name}"
            if -code == signal.SIGKILL:
                reason += " (out of memory, or killed by hand)"
        else:
            reason = timeout_reason or f"worker exited with code {code} and wrote no result"
        progress = run_dir / "progress.json"
        last = io.read_json(progress)["line"] if progress.exists() else "before the first step"
        result = {"status": "failed", "reason": f"{reason}; last progress: {last}",
                  "config": config.to_dict(), "framework": config.framework,
                  "model": config.model, "mode": config.mode, "precision": config.precision}
    if result["status"] != "ok":
        result["stderr_tail"] = _tail(stderr_path, STDERR_TAIL_LINES)
    result["dir"] = str(run_dir.relative_to(run_dir.parents[1]))
    result["wall_s"] = time.perf_counter() - started
    return result


def write_plan(out_dir: Path, configs: list[RunConfig], options: SuiteOptions) -> None:
    out_dir.mkdir(parents=True, exist_ok=False)
    io.write_json(out_dir / PLAN_FILE, {"command": options.command, "settings": options.settings,
                                         "runs": [c.to_dict() for c in configs]})


def read_plan(out_dir: Path) -> tuple[list[RunConfig], dict]:
    plan = io.read_json(out_dir / PLAN_FILE)
    return [RunConfig.from_dict(c) for c in plan["runs"]], plan


def run_suite(configs: list[RunConfig], out_dir: Path, options: SuiteOptions) -> dict:
    """Runs `configs` under `out_dir` (made by `write_plan`). Runs already
    finished there are kept, unfinished ones continue from their checkpoints;
    results.json is rewritten after every run, so an interrupted suite keeps
    what finished."""
    lock = _lock(out_dir)
    previous = _previous_results(out_dir)
    results = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "run_id": out_dir.name,
        "created_utc": previous.get("created_utc")
        or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": options.command,
        "environment": describe(),
        "suite": options.settings,
        "runs": [],
    }
    # A diverged run is a result too: resuming it would diverge again.
    finished = {r["name"]: r for r in previous.get("runs", []) if r.get("status") in ("ok", "diverged")}
    started = time.perf_counter() - previous.get("total_s", 0.0)
    for i, config in enumerate(configs, 1):
        if config.name in finished:
            print(f"== run {i}/{len(configs)}: {config.name} finished before; kept", flush=True)
            result = finished[config.name]
        else:
            print(f"== run {i}/{len(configs)}: {config.name}", flush=True)
            result = run_one(config, out_dir / "runs" / config.name, options.run_timeout_s)
            status = result["status"] if result["status"] == "ok" else f"{result['status']}: {result['reason']}"
            print(f"== {config.name}: {status} ({result['wall_s']:.0f}s)", flush=True)
        results["runs"].append(result)
        results["total_s"] = time.perf_counter() - started
        io.write_json(out_dir / "results.json", results)
    lock.close()
    return results


def _lock(out_dir: Path):
    """Holds an exclusive lock on out_dir for this process's lifetime."""
    handle = open(out_dir / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RuntimeError(f"another ganbench process is running in {out_dir}") from None
    return handle


def _previous_results(out_dir: Path) -> dict:
    path = out_dir / "results.json"
    return io.read_json(path) if path.exists() else {}


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
