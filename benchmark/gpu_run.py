"""The prepared GPU run: torch (eager, compile) and JAX (eager, jit) on CUDA, dcgan
and wgan, as one command that fits a 10-minute slot, packed into one archive.
Where the machine has several GPUs, a second suite follows: dcgan data-parallel
in torch (DDP) and JAX (a jax.sharding mesh) on 1 and N of them
(`--devices-case`), in the folder RUN_ID-devices beside the first.

    python3 -m benchmark.gpu_run --archive $OUT/torch-jax-cuda.tar.gz   # on the GPU machine
    tar xzf torch-jax-cuda.tar.gz -C reports/                           # back here: the run folder

A GPU machine lent for minutes often has torch and JAX but no TensorFlow and no
network, and gives back a few files, not a folder tree. So this module runs
the benchmark suite (`run_benchmark.py`, every default below overridable by
flags after `--`) under one deadline; when the deadline comes first it stops
the suite, whose results.json already holds every finished run, and renders
the report of those. It then packs the run folder, checkpoints left out, into
one .tar.gz written atomically. MNIST comes from ./data/mnist (carry that
folder) or `-- --data-dir DIR`.

Exit status: the suite's own (0 all runs ok, 1 a run failed, 2 a bad flag, no
GPU or no data, 3 a full disk; the worse of the two suites'); 124 when the
deadline stopped one. No archive is written when no run finished.
"""

from __future__ import annotations

import argparse
import io as bytes_io
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from benchmark import io
from benchmark.harness.arguments import positive_int

RUN_ID = "torch-jax-cuda-example"
# The run: every mode named (no calibration), one epoch of the 60k images
# twice (repeats give the speed ratios an interval), 2,000 samples scored twice.
# On an H200 a step takes milliseconds; warm-up (torch.compile, XLA) and each
# run's process start dominate.
SUITE_ARGS = ["--frameworks", "torch", "jax", "--models", "dcgan", "wgan", "--modes", "eager", "compile", "jit",
              "--device", "cuda", "--profile", "quick", "--repeats", "2", "--quality-samples", "2000",
              "--quality-probes", "2"]
# The data-parallel case: strong scaling of one model at 1 and N devices,
# BatchNorm synced (N replicas then train as one device would), no scoring.
DEVICES_ARGS = ["--frameworks", "torch", "jax", "--models", "dcgan", "--modes", "eager", "jit",
                "--device", "cuda", "--profile", "quick", "--repeats", "1", "--quality-samples", "0",
                "--sync-batchnorm"]
DEVICES_MIN_S = 60  # the deadline's rest below which the data-parallel case is not started
EXIT_DEADLINE = 124  # as timeout(1)
GRACE_S = 20  # after SIGTERM, before SIGKILL
ROOT = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.gpu_run",
        description="The prepared GPU run: torch eager/compile and JAX eager/jit on CUDA, dcgan and wgan, "
                    "under one deadline, packed into one .tar.gz of the run folder. Flags after `--` go "
                    f"to run_benchmark.py after its defaults here ({' '.join(SUITE_ARGS)}), so they win.")
    parser.add_argument("--archive", type=Path, required=True,
                        help="the .tar.gz to write (its one top folder is the run id)")
    parser.add_argument("--deadline", type=positive_int, default=540, metavar="SECONDS",
                        help="stop the suite after this long and report what finished (default 540: "
                             "a 10-minute slot less the machine's start and the transfers)")
    parser.add_argument("--run-id", default=RUN_ID, help=f"the run folder's name (default {RUN_ID})")
    parser.add_argument("--devices-case", type=int, default=None, metavar="N",
                        help="after the first suite, dcgan data-parallel in torch and jax on 1 and N devices "
                             "(in RUN_ID-devices; flags after `--` apply to it too). Default: the GPUs "
                             "nvidia-smi lists when there are 2 or more, else skipped; 0 skips it")
    parser.add_argument("--out", type=Path, default=ROOT / "reports",
                        help="where the run folder is made (default: reports/)")
    parser.add_argument("suite_args", nargs="*", metavar="-- RUN_BENCHMARK_FLAGS",
                        help="more run_benchmark.py flags, e.g. -- --models dcgan --repeats 1")
    return parser


def run_suite(command: list[str], deadline_s: float) -> int:
    """Runs the suite in its own process group; on the deadline SIGTERM, then
    SIGKILL, to the whole group (its workers too). Returns its exit status, or
    EXIT_DEADLINE."""
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
    try:
        return process.wait(timeout=deadline_s)
    except subprocess.TimeoutExpired:
        print(f"gpu_run: the {deadline_s:.0f} s deadline came first; stopping the suite", file=sys.stderr,
              flush=True)
        for sig, wait_s in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, None)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        return EXIT_DEADLINE
    except BaseException:  # Ctrl-C here: no suite left behind
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def packed(run_dirs: list[Path]) -> bytes:
    """The run folders as a .tar.gz whose top folders are their names, without
    checkpoints (resumable state, not results) or the suite's lock."""
    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        return None if "checkpoint" in parts[2:] or parts[-1] == ".lock" else info

    buffer = bytes_io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for run_dir in run_dirs:
            archive.add(run_dir, arcname=run_dir.name, filter=keep)
    return buffer.getvalue()


def devices_case(requested: int | None) -> int:
    """Replicas of the data-parallel case: `requested`, else the machine's GPUs
    when there are 2 or more; 0 (skipped) otherwise."""
    if requested is not None:
        return requested
    from benchmark.environment import gpu_count

    gpus = gpu_count()
    return gpus if gpus > 1 else 0


def suite_command(defaults: list[str], args: argparse.Namespace, run_id: str, *more: str) -> list[str]:
    """run_benchmark.py with `defaults`, then `more`, then the user's flags (which win)."""
    return [sys.executable, str(ROOT / "run_benchmark.py"), *defaults, *more, *args.suite_args,
            "--run-id", run_id, "--out", str(args.out)]


def finished(run_dir: Path, status: int) -> bool:
    """Whether a suite left runs to pack; a suite the deadline stopped gets the
    report of those rendered here."""
    if not (run_dir / "results.json").is_file():
        return False
    if status == EXIT_DEADLINE:  # the suite stopped between reports: render the finished runs'
        from benchmark.report import render_report
        render_report(run_dir)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.devices_case is not None and (args.devices_case == 1 or args.devices_case < 0):
        parser.exit(2, f"{parser.prog}: error: --devices-case {args.devices_case}: give 2 or more replicas, "
                       "or 0 to skip the data-parallel case\n")
    run_dir, devices_dir = args.out / args.run_id, args.out / f"{args.run_id}-devices"
    for folder in (run_dir, devices_dir):
        if folder.exists():  # the suite would refuse it, and its old results must not be packed as new
            parser.exit(2, f"{parser.prog}: error: {folder} already exists; choose another --run-id or --out\n")
    replicas = devices_case(args.devices_case)
    started = time.monotonic()
    command = suite_command(SUITE_ARGS, args, args.run_id)
    print("gpu_run:", " ".join(command[1:]), flush=True)
    status = run_suite(command, args.deadline)
    if not finished(run_dir, status):
        print(f"gpu_run: no run finished (exit {status}); nothing to pack", file=sys.stderr)
        return status or 1
    folders = [run_dir]
    left = args.deadline - (time.monotonic() - started)
    if replicas and status != EXIT_DEADLINE and left >= DEVICES_MIN_S:
        command = suite_command(DEVICES_ARGS, args, devices_dir.name, "--devices", "1", str(replicas))
        print("gpu_run:", " ".join(command[1:]), flush=True)
        devices_status = run_suite(command, left)
        if finished(devices_dir, devices_status):
            folders.append(devices_dir)
        status = devices_status if devices_status == EXIT_DEADLINE else max(status, devices_status)
    elif replicas:
        print(f"gpu_run: the data-parallel case ({replicas} devices) skipped: {left:.0f} s of the deadline left",
              file=sys.stderr, flush=True)
    io.write_bytes(args.archive, packed(folders))
    size = args.archive.stat().st_size / 2**20
    print(f"gpu_run: {args.archive} ({size:.1f} MiB) after {time.monotonic() - started:.0f} s, suite exit "
          f"{status}; unpack with: tar xzf {args.archive.name} -C reports/", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
