"""The prepared GPU run: torch (eager, compile) and JAX (eager, jit) on CUDA, dcgan
and wgan, as one command that fits a 10-minute slot, packed into one archive.

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
GPU or no data, 3 a full disk); 124 when the deadline stopped it. No archive
is written when no run finished.
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


def packed(run_dir: Path) -> bytes:
    """The run folder as a .tar.gz whose one top folder is its name, without
    checkpoints (resumable state, not results) or the suite's lock."""
    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        return None if "checkpoint" in parts[2:] or parts[-1] == ".lock" else info

    buffer = bytes_io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(run_dir, arcname=run_dir.name, filter=keep)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    run_dir = args.out / args.run_id
    if run_dir.exists():  # the suite would refuse it, and its old results must not be packed as new
        parser.exit(2, f"{parser.prog}: error: {run_dir} already exists; choose another --run-id or --out\n")
    command = [sys.executable, str(ROOT / "run_benchmark.py"), *SUITE_ARGS, *args.suite_args,
               "--run-id", args.run_id, "--out", str(args.out)]
    print("gpu_run:", " ".join(command[1:]), flush=True)
    started = time.monotonic()
    status = run_suite(command, args.deadline)
    if not (run_dir / "results.json").is_file():
        print(f"gpu_run: no run finished (exit {status}); nothing to pack", file=sys.stderr)
        return status or 1
    if status == EXIT_DEADLINE:  # the suite stopped between reports: render the finished runs'
        from benchmark.report import render_report
        render_report(run_dir)
    io.write_bytes(args.archive, packed(run_dir))
    size = args.archive.stat().st_size / 2**20
    print(f"gpu_run: {args.archive} ({size:.1f} MiB) after {time.monotonic() - started:.0f} s, suite exit "
          f"{status}; unpack with: tar xzf {args.archive.name} -C reports/", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
