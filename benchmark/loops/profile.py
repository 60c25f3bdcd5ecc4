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
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.cli import positive_int
from benchmark.config import MODES
from benchmark.data import MNISTError, load_mnist
from benchmark.loops import MODELS
from benchmark.loops.compare import OursLoop, all_cores, framework_module, time_steps
from benchmark.specs import get_spec

FRAMEWORKS = ("torch", "jax")
DEFAULT_MODES = {"torch": "eager", "jax": "jit"}


@dataclass
class Op:
    name: str  # torch: the aten op; jax: the HLO instruction
    calls: float  # per step
    ms: float  # per step
    detail: str = ""  # input shapes (torch); output shape and source operation (jax)
    kind: str = ""  # what the by-kind table groups by


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.loops.profile",
        description="Profile our training step op by op on the CPU: the step's time by kind of "
                    "operation, its costliest operations, and how many cores it kept busy.")
    parser.add_argument("--framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("--model", choices=MODELS, default="dcgan", help="default: dcgan")
    parser.add_argument("--mode", help="the framework's execution mode (default: torch eager, jax jit)")
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


def torch_ops(loop: OursLoop, steps: int) -> list[Op]:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
        time_steps(loop, 0, steps)
    ops = []
    for entry in profiler.key_averages(group_by_input_shape=True):
        if entry.self_cpu_time_total > 0:
            shapes = ", ".join(str(list(s)) for s in entry.input_shapes if s)
            ops.append(Op(entry.key, entry.count / steps, entry.self_cpu_time_total / 1e3 / steps, shapes,
                          entry.key))
    return ops


# One instruction of optimized HLO text: `%name = shape opcode(...)`, its
# called computation and its metadata's op_name, when it has them.
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (\([^=]*?\)|\S+) ([\w\-]+)\(")
_COMPUTATION = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) ")
_CALLS = re.compile(r"calls=%?([\w.\-]+)")
_OP_NAME = re.compile(r'op_name="(?:jit\([^)]*\)/)?([^"]+)"')
_KINDS = {"convolution": "convolution", "dot": "dot"}  # opcode -> kind; other ops: their fusion's name


def hlo_sources(hlo_text: str) -> dict[str, tuple[str, str, str]]:
    """Instruction name -> (output shape, the JAX operation it came from, kind).
    A fusion takes what it lacks from the computation it calls: the first
    op_name there, and "convolution" or "dot" when it holds one."""
    first_op_name: dict[str, str] = {}
    kind_of: dict[str, str] = {}
    instructions, computation = [], ""
    for line in hlo_text.splitlines():
        if line and not line[0].isspace() and "{" in line:
            match = _COMPUTATION.match(line)
            computation = match.group(1) if match else ""
            continue
        match = _INSTRUCTION.match(line)
        if not match:
            continue
        name, shape, opcode = match.groups()
        op_name = _OP_NAME.search(line)
        if op_name:
            first_op_name.setdefault(computation, op_name.group(1))
        if opcode in _KINDS:
            kind_of.setdefault(computation, _KINDS[opcode])
        calls = _CALLS.search(line)
        instructions.append((name, shape, opcode, op_name.group(1) if op_name else None,
                             calls.group(1) if calls else None))
    sources = {}
    for name, shape, opcode, op_name, called in instructions:
        source = op_name or first_op_name.get(called, "")
        kind = _KINDS.get(opcode) or kind_of.get(called) or re.sub(r"\.\d+$", "", name)
        sources[name] = (shape, source, kind)
    return sources


def jax_ops(loop: OursLoop, steps: int) -> list[Op]:
    import jax

    runner = loop.runner
    loop.prepare()
    with runner._scope():
        hlo = runner.functions["train_step"].lower(*runner.step_arguments(loop.inputs)).compile().as_text()
    sources = hlo_sources(hlo)
    with tempfile.TemporaryDirectory(prefix="ganbench-profile-") as trace_dir:
        jax.profiler.start_trace(trace_dir)
        time_steps(loop, 0, steps)
        jax.profiler.stop_trace()
        data = jax.profiler.ProfileData.from_file(str(next(Path(trace_dir).rglob("*.xplane.pb"))))
    total_ns: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    for plane in data.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_XLAEigen"):  # XLA:CPU's pool threads
                continue
            for event in line.events:
                if event.name in sources:  # compiled ops, not the executor's own spans
                    total_ns[event.name] += event.duration_ns
                    calls[event.name] += 1
    ops = []
    for name, ns in total_ns.items():
        shape, source, kind = sources[name]
        ops.append(Op(name, calls[name] / steps, ns / 1e6 / steps, f"{shape} {source}".strip(), kind))
    return ops


def render(framework: str, model: str, mode: str, batch_size: int, threads: int, step_s: float,
           busy: float, ops: list[Op], top: int) -> str:
    total = sum(op.ms for op in ops)
    meaning = ("self time on the calling thread (its OpenMP threads work inside each op)" if framework == "torch"
               else "time on the XLA pool thread that ran it; ops overlap across threads")
    lines = [f"{framework} {model} {mode}, batch {batch_size}, {threads} thread(s): step {step_s * 1e3:.1f} ms "
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
    mode = args.mode or DEFAULT_MODES[args.framework]
    if mode not in MODES[args.framework]:
        parser.error(f"--mode {mode}: {args.framework} modes are {', '.join(MODES[args.framework])}")
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
    framework_module(args.framework).configure(threads, 0, "cpu")
    loop = OursLoop(args.framework, get_spec(args.model), mode, images, labels, args.batch_size, threads, "cpu", 0)
    time_steps(loop, args.warmup, 0)
    step_s, busy = timed(loop, args.steps)
    ops = (torch_ops if args.framework == "torch" else jax_ops)(loop, args.steps)
    print(render(args.framework, args.model, mode, args.batch_size, threads, step_s, busy, ops, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
