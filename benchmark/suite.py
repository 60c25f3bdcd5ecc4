"""Runs every (framework, model, mode) configuration, each in its own worker
process, collects the results into `results.json` and renders the report.

This process never imports torch or tensorflow: a crash, a leaked thread pool
or a compiled graph in one run cannot touch the next.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import math
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmark import distributed, io
from benchmark.config import MNIST_TRAIN_IMAGES, RunConfig
from benchmark.environment import REPO_ROOT, describe

RESULTS_SCHEMA_VERSION = 1
STDERR_TAIL_LINES = 30
PLAN_FILE = "suite.json"  # the planned runs, so that --resume needs no flags
FINISHED = ("ok", "diverged")  # kept by --resume; a diverged run would diverge again
# A worker stopped by a full, over-quota or read-only disk exits with this code
# and writes {"errno", "strerror", "path"} to the pipe named by STATUS_FD_ENV:
# its own stderr.log and result.json may be on the disk that is full.
WORKER_EXIT_DISK = 4
STATUS_FD_ENV = "GANBENCH_STATUS_FD"


@dataclass(frozen=True)
class SuiteOptions:
    command: str  # as typed, for the report
    settings: dict  # the resolved suite-level choices, for the report
    run_timeout_s: float | None = None
    calibration: dict | None = None  # --modes auto: what was measured (benchmark.calibration)


def worker_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ info lines go to stderr.log anyway
    env["PYTHONUNBUFFERED"] = "1"
    return env


def die_with_parent() -> None:
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
    for note in run_dir.glob(distributed.RANK_FAILURE.format(rank="*")):
        note.unlink()
    stderr_path = run_dir / "stderr.log"
    started = time.perf_counter()
    with open(stderr_path, "ab") as stderr:
        status_read, status_write = os.pipe()
        try:
            # One process, or torchrun with one per device (benchmark.distributed).
            code = subprocess.run(distributed.worker_command(config.framework, config.devices, run_dir),
                                  cwd=REPO_ROOT, env={**worker_environment(), STATUS_FD_ENV: str(status_write)},
                                  stderr=stderr, timeout=timeout_s, preexec_fn=die_with_parent,
                                  pass_fds=(status_write,)).returncode
            timeout_reason = None
        except subprocess.TimeoutExpired:
            code, timeout_reason = None, f"timed out after {timeout_s:.0f}s"
        finally:
            os.close(status_write)
    disk = _disk_report(status_read, code, run_dir)
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


def render(out_dir: Path) -> Path:
    """`benchmark.report.render_report`, stopping with DiskFault when the disk
    cannot hold the report."""
    from benchmark.report import render_report

    try:
        return render_report(out_dir)
    except OSError as error:
        if not io.is_disk_error(error):
            raise
        raise DiskFault(error, out_dir, [], None) from None


class DiskFault(Exception):
    """A write under the run folder failed on a full, over-quota or read-only
    disk. The suite stops there, since no later run could write either; every
    file already written stays whole (atomic writes, checkpoint swaps), and
    `--resume` continues once the disk has room. The message says what failed,
    what the disk holds, what the unfinished runs need and how to go on."""

    def __init__(self, error: OSError, out_dir: Path, left: list[RunConfig],
                 failed: RunConfig | None) -> None:
        path = Path(error.filename) if error.filename else out_dir
        usage = shutil.disk_usage(io.existing_parent(path))
        needed = planned_bytes(left)
        if failed is not None:
            runs = (f"run {failed.name} needs about {format_size(run_bytes(failed)[2])} there, "
                    f"the {len(left)} run(s) not finished about {format_size(needed)}")
        else:
            runs = (f"the {len(left)} run(s) not finished need about {format_size(needed)}" if left else
                    f"every run finished; results.json and the report need about {format_size(needed)}")
        remedy = {errno.EROFS: "Make it writable",
                  errno.EDQUOT: f"Raise your quota, or free space, to about {format_size(needed)}"}.get(
                      error.errno, f"Make about {format_size(needed)} free there")
        super().__init__(
            f"{(error.strerror or 'write failed').lower()}: writing {path}\n"
            f"The disk that holds {out_dir} is {format_size(usage.total)}, {format_size(usage.free)} of it "
            f"free{'' if error.errno == errno.EROFS else ' once the half-written file was removed'}; "
            f"{runs}.\n"
            "The suite stopped; every file already written is intact. "
            f"{remedy}, then continue with:\n  python run_benchmark.py --resume {out_dir}")


# --- disk space: the free-space warning before a suite, the full-disk message --------
# Measured on a DCGAN smoke run (11 MB a run, 10.8 MB of it the checkpoint):
RUN_FIXED_BYTES = 64 * 1024  # result.json, config.json, progress.json, stderr.log (~5 KB; TF may log more)
STEP_BYTES = 250  # history.csv (~65 B a step) and the checkpoint's copy of the history (~165 B)
TENSORBOARD_STEP_BYTES = 150  # --tensorboard: an event of three scalars a step (~130 B)
TENSORBOARD_GRID_FACTOR = 1.5  # and a frame's PNG (grey in RGB): 1.4x its uint8 grid, untrained DCGAN
REPORT_BYTES_PER_MODEL = 512 * 1024  # report.md, runs.csv and a model's figures (~220 KB in smoke)
OPTIMIZER_SLOTS = {"adam": 2, "rmsprop": 1}  # float32 state arrays per trainable parameter
FRAMES_KEPT = 13  # sample grids in frames.npz (12 and the last); the report's GIF is about as big


def run_bytes(config: RunConfig) -> tuple[int, int, int]:
    """(bytes a finished run leaves in its folder and the report, bytes of its
    checkpoint, bytes at its peak), estimated from the spec and the steps. The
    peak holds two checkpoints: the old one stays until the new one is whole."""
    from benchmark.config import spec_for
    from benchmark.driver import total_steps
    from benchmark.specs.layers import parameter_specs

    spec = spec_for(config)
    checkpoint = 0
    for net, optimizer in ((spec.generator, spec.g_optimizer), (spec.discriminator, spec.d_optimizer)):
        for parameter in parameter_specs(net).values():
            size = 4 * math.prod(parameter.shape)  # float32
            checkpoint += size * (1 + (OPTIMIZER_SLOTS.get(optimizer.name, 2) if parameter.trainable else 0))
    steps = total_steps(config, spec, min(config.train_size or MNIST_TRAIN_IMAGES, MNIST_TRAIN_IMAGES))
    grid = config.sample_count * math.prod(spec.image_shape)  # one uint8 sample grid
    frames = min(FRAMES_KEPT, steps + 1)
    tensorboard = steps * TENSORBOARD_STEP_BYTES + frames * TENSORBOARD_GRID_FACTOR * grid
    final = (checkpoint + RUN_FIXED_BYTES + 4 * grid + 2 * frames * grid + steps * STEP_BYTES
             + (int(tensorboard) if config.tensorboard else 0))
    return final, checkpoint, final + checkpoint


def planned_bytes(configs: list[RunConfig]) -> int:
    """Bytes `configs` will write under the run folder, the report included, at
    the suite's peak (the largest run swapping its checkpoint)."""
    sizes = [run_bytes(c) for c in configs]
    return (sum(final for final, _, _ in sizes) + max((ck for _, ck, _ in sizes), default=0)
            + REPORT_BYTES_PER_MODEL * max(1, len({c.model for c in configs})))


def runs_left(out_dir: Path, configs: list[RunConfig]) -> list[RunConfig]:
    """The runs of `configs` that results.json in `out_dir` does not hold as finished."""
    finished = _finished(_previous_results(out_dir))
    return [c for c in configs if c.name not in finished]


def format_size(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


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


def _disk_report(status_read: int, code: int | None, run_dir: Path) -> dict | None:
    """The worker's report of a full or read-only disk ({"errno", "strerror",
    "path"}) from its status pipe, which this closes; None when it had none."""
    os.set_blocking(status_read, False)
    chunks = []
    try:
        while chunk := os.read(status_read, 65536):
            chunks.append(chunk)
    except BlockingIOError:  # a child of the worker still holds the pipe open
        pass
    finally:
        os.close(status_read)
    try:
        report = json.loads(b"".join(chunks)) if chunks else None
    except ValueError:
        report = None
    if report is None and code == WORKER_EXIT_DISK:  # the pipe said nothing: the exit code alone
        report = {"errno": errno.ENOSPC, "strerror": "disk full or read-only (worker exit code "
                  f"{WORKER_EXIT_DISK})", "path": str(run_dir)}
    return report


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
