"""Where does our training step's time go? One framework's step on the CPU, op by op.

    python -m benchmark.loops.profile --framework jax [--model dcgan] [--mode jit]
        [--steps 10] [--top 20] [--threads N] [--data-dir DIR]

It drives our runner as `benchmark.loops.compare` does ("ours": real MNIST,
StepInputs from numpy), times `--steps` steps with the process's CPU time
beside the wall clock (cores kept busy = CPU seconds / wall seconds), then
profiles as many steps again with the framework's own profiler and prints the
step's time by kind of operation and its costliest operations.

What an op's time means differs, and the tables say so:
  torch  the profiler's self time of each aten op, on the calling thread: its
         OpenMP threads work inside it, so op times add up to the step.
  jax    XLA:CPU's trace: each compiled op (an HLO instruction, named as in the
         optimized HLO, with its output shape and the JAX operation it came
         from: jvp() forward, transpose(jvp()) its gradient) on the pool thread
         that ran it. XLA runs independent ops side by side, so op times add up
         to more than the step when the pool's threads overlap.
  tf     not profiled here (TensorFlow's profiler writes TensorBoard traces).

CPU only: on a GPU use the vendor's profiler (Nsight Systems) or XProf.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

import numpy as np

from benchmark.data import MNISTError, load_mnist
from benchmark.frameworks import TABLE, framework
from benchmark.harness.arguments import positive_int
from benchmark.loops import MODELS, Op
from benchmark.loops.compare import OursLoop, all_cores, framework_module, time_steps
from benchmark.specs import get_spec

# The frameworks whose loops module can profile our step op by op (profile_ops).
FRAMEWORKS = tuple(name for name, f in TABLE.items() if f.profiler)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.loops.profile",
        description="Profile our training step op by op on the CPU: the step's time by kind of "
                    "operation, its costliest operations, and how many cores it kept busy.")
    parser.add_argument("--framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("--model", choices=MODELS, default="dcgan", help="default: dcgan")
    parser.add_argument("--mode", help="the framework's execution mode (default: its reference mode, " +
                        ", ".join(f"{name} {TABLE[name].reference_mode}" for name in FRAMEWORKS) + ")")
    parser.add_argument("--steps", type=positive_int, default=10, help="steps timed, then profiled (default 10)")
    parser.add_argument("--warmup", type=positive_int, default=5, help="untimed steps first (default 5)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="default 128")
    parser.add_argument("--top", type=positive_int, default=20, help="operations listed (default 20)")
    parser.add_argument("--threads", type=int, default=0, help="threads; 0: every core (default)")
    parser.add_argument("--train-size", type=positive_int, default=6400,
                        help="a seeded subset of this many MNIST images (default 6400)")
    parser.add_argument("--data-dir", type=Path, help="folder with the MNIST IDX files (default: as run_benchmark.py)")
    return parser


def timed(loop: OursLoop, steps: int) -> tuple[float, float]:
    """(median step seconds, cores busy: process CPU seconds over wall seconds)."""
    cpu, wall = time.process_time(), time.perf_counter()
    _, seconds, _ = time_steps(loop, 0, steps)
    return float(np.median(seconds)), (time.process_time() - cpu) / (time.perf_counter() - wall)


def render(name: str, model: str, mode: str, batch_size: int, threads: int, step_s: float,
           busy: float, ops: list[Op], top: int, meaning: str) -> str:
    """The profile as text; `meaning`: what an op's time is (the loops module's PROFILE_TIME)."""
    total = sum(op.ms for op in ops)
    lines = [f"{name} {model} {mode}, batch {batch_size}, {threads} thread(s): step {step_s * 1e3:.1f} ms "
             f"(median), {busy:.2f} cores busy; ops sum to {total:.1f} ms/step",
             f"op time: {meaning}", "", f"  {'by kind':40s} {'ms/step':>8s} {'share':>6s}"]
    kinds: collections.Counter = collections.Counter()
    for op in ops:
        kinds[op.kind] += op.ms
    for kind, ms in kinds.most_common(12):
        lines.append(f"  {kind[:40]:40s} {ms:8.2f} {ms / total:6.1%}")
    lines += ["", f"  {'op':28s} {'calls':>5s} {'ms/step':>8s} {'share':>6s}  detail"]
    for op in sorted(ops, key=lambda op: -op.ms)[:top]:
        lines.append(f"  {op.name[:28]:28s} {op.calls:5.1f} {op.ms:8.2f} {op.ms / total:6.1%}  {op.detail[:110]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    facts = framework(args.framework)
    mode = args.mode or facts.reference_mode
    if mode not in facts.modes:
        parser.error(f"--mode {mode}: {args.framework} modes are {', '.join(facts.modes)}")
    if args.threads < 0:
        parser.error("--threads must be >= 0")
    try:
        images, labels = load_mnist("train", args.data_dir)
    except MNISTError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    images, labels = images[:args.train_size], labels[:args.train_size]
    threads = args.threads or all_cores()
    # Kineto (torch's profiler) logs its start, stop and, on a CPU-only
    # machine, a failed GPU count to stderr: noise here, so above its FATAL.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    module = framework_module(args.framework)
    module.configure(threads, 0, "cpu")
    loop = OursLoop(args.framework, get_spec(args.model), mode, images, labels, args.batch_size, threads, "cpu", 0)
    time_steps(loop, args.warmup, 0)
    step_s, busy = timed(loop, args.steps)
    ops = module.profile_ops(loop, args.steps, lambda: time_steps(loop, 0, args.steps))
    print(render(args.framework, args.model, mode, args.batch_size, threads, step_s, busy, ops, args.top,
                 module.PROFILE_TIME))
    return 0


if __name__ == "__main__":
    sys.exit(main())
