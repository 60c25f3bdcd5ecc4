"""Runs every (framework, model, mode) configuration, each in its own worker
process, and collects the results into `results.json` (the CLI renders the
report from there).

This process never imports torch or tensorflow: a crash, a leaked thread pool
or a compiled graph in one run cannot touch the next.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmark import distributed, io, protocol
from benchmark.config import RunConfig
from benchmark.harness.disk import DiskFault
from benchmark.environment import REPO_ROOT, describe

RESULTS_SCHEMA_VERSION = 3
STDERR_TAIL_LINES = 30
PLAN_FILE = "suite.json"  # the planned runs, so that --resume needs no flags
FINISHED = ("ok", "diverged")  # kept by --resume; a diverged run would diverge again


@dataclass(frozen=True)
class SuiteOptions:
    command: str  # as typed, for the report
    settings: dict  # the resolved suite-level choices, for the report
    run_timeout_s: float | None = None
    calibration: dict | None = None  # --modes auto: what was measured (benchmark.harness.calibration)


def run_one(config: RunConfig, run_dir: Path, timeout_s: float | None) -> dict:
    """Trains one configuration in a worker process and returns its result.
    A run folder left by an interrupted attempt is continued from its checkpoint."""
    run_dir.mkdir(parents=True, exist_ok=True)
    io.write_json(run_dir / "config.json", config.to_dict())
    (run_dir / "result.json").unlink(missing_ok=True)  # a stale failure must not stand
    for note in run_dir.glob(distributed.RANK_FAILURE.format(rank="*")):
        note.unlink()
    stderr_path = run_dir / "stderr.log"
    started = time.perf_counter()
    with open(stderr_path, "ab") as stderr:
        status_read, status_write = os.pipe()
        try:
            # One process, or torchrun with one per device (benchmark.distributed).
            worker = distributed.worker_command(config.framework, config.devices, run_dir)
            code = subprocess.run(protocol.orphanless(worker),
                                  cwd=REPO_ROOT, env={**protocol.child_environment(), protocol.STATUS_FD_ENV: str(status_write)},
                                  stderr=stderr, timeout=timeout_s, pass_fds=(status_write,)).returncode
            timeout_reason = None
        except subprocess.TimeoutExpired:
            code, timeout_reason = None, f"timed out after {timeout_s:.0f}s"
        finally:
            os.close(status_write)
    disk = protocol.receive_disk_fault(status_read, code, run_dir)
    result_path = run_dir / "result.json"
    result = io.read_json(result_path) if result_path.exists() and disk is None else None
    if result is None or timeout_reason:
        if disk is not None:
            reason = f"{disk['strerror'].lower()}: writing {disk['path']}"
        elif timeout_reason is None and code is not None and code < 0:
            reason = f"worker killed by signal {signal.Signals(-code).name}"
            if -code == signal.SIGKILL:
                reason += " (out of memory, or killed by hand)"
        else:
            reason = timeout_reason or f"worker exited with code {code} and wrote no result"
        progress = run_dir / "progress.json"
        last = io.read_json(progress)["line"] if progress.exists() else "before the first step"
        result = {"status": "failed", "reason": f"{reason}; last progress: {last}",
                  "name": config.name, "config": config.to_dict(), "framework": config.framework,
                  "model": config.model, "mode": config.mode, "precision": config.precision}
        if disk is not None:
            result["disk_error"] = disk  # run_suite stops on it
    if result["status"] == "failed" and config.devices > 1 and disk is None:
        # Name the rank: a rank's death shows in torchrun's summary or its note.
        try:
            why = distributed.failure_reason(run_dir, stderr_path.read_text(errors="replace"), config.devices)
        except OSError:
            why = None
        if why and why not in result["reason"]:
            result["reason"] = f"{why}; {result['reason']}"
    if result["status"] != "ok":
        result["stderr_tail"] = _stderr_tail(run_dir, stderr_path)
    result["dir"] = str(run_dir.relative_to(run_dir.parents[1]))
    result["wall_s"] = time.perf_counter() - started
    return result


def write_plan(out_dir: Path, configs: list[RunConfig], options: SuiteOptions) -> None:
    out_dir.mkdir(parents=True, exist_ok=False)
    io.write_json(out_dir / PLAN_FILE, {"command": options.command, "settings": options.settings,
                                         "calibration": options.calibration,
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
        "calibration": options.calibration,
        "runs": [],
    }
    finished = _finished(previous)
    left = [c for c in configs if c.name not in finished]  # what a stop leaves to --resume
    started = time.perf_counter() - previous.get("total_s", 0.0)
    for i, config in enumerate(configs, 1):
        try:
            if config.name in finished:
                print(f"== run {i}/{len(configs)}: {config.name} finished before; kept", flush=True)
                result = finished[config.name]
            else:
                print(f"== run {i}/{len(configs)}: {config.name}", flush=True)
                result = run_one(config, out_dir / "runs" / config.name, options.run_timeout_s)
                status = result["status"] if result["status"] == "ok" else f"{result['status']}: {result['reason']}"
                print(f"== {config.name}: {status} ({result['wall_s']:.0f}s)", flush=True)
                if result["status"] != "ok":
                    _print_failure(result)
            results["runs"].append(result)
            results["total_s"] = time.perf_counter() - started
            io.write_json(out_dir / "results.json", results)
        except OSError as error:  # the suite's own writes: config.json, stderr.log, results.json
            if not io.is_disk_error(error):
                raise
            raise DiskFault(error, out_dir, left, config if config in left else None) from None
        if "disk_error" in result:  # no further run could write either
            raise DiskFault(OSError(*(result["disk_error"][k] for k in ("errno", "strerror", "path"))),
                            out_dir, left, config)
        if result["status"] in FINISHED and config in left:
            left.remove(config)
    lock.close()
    return results


def runs_left(out_dir: Path, configs: list[RunConfig]) -> list[RunConfig]:
    """The runs of `configs` that results.json in `out_dir` does not hold as finished."""
    finished = _finished(_previous_results(out_dir))
    return [c for c in configs if c.name not in finished]


def _finished(previous: dict) -> dict[str, dict]:
    return {r["name"]: r for r in previous.get("runs", []) if r.get("status") in FINISHED}


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


def _stderr_tail(run_dir: Path, stderr_path: Path) -> str:
    """The failed process's own last lines: each rank's, under torchrun (whose
    own summary would fill the worker's stderr.log tail), else the worker's."""
    try:
        ranks = distributed.rank_stderr_tails(run_dir / distributed.RANK_LOGS, STDERR_TAIL_LINES // 2)
    except OSError:
        ranks = {}
    if ranks:
        return "\n".join(f"rank {rank}'s stderr:\n{tail}" for rank, tail in ranks.items())
    return _tail(stderr_path, STDERR_TAIL_LINES)


def _print_failure(result: dict) -> None:
    """The failed run's own last lines of stderr, indented, after its status
    line: a suite's output alone (a CI log) then says why it failed."""
    for line in (result.get("stderr_tail") or "").splitlines():
        print(f"    | {line}", flush=True)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
