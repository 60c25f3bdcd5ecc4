"""Is our training step as fast as a hand-written one?

    python -m benchmark.loops.compare [--models dcgan wgan] [--frameworks torch tf]
        [--modes eager function xla compile jit] [--steps N] [--batch-size 128]
        [--repeats R] [--data-dir DIR] [--json PATH]

For each (framework, model, mode) it times three loops on the same MNIST
images, architecture and batch size (see `benchmark.loops`): ours (the
project's runner, driven as `benchmark.driver` drives it: StepInputs drawn from
numpy before each step, the clock around `train_step` only), bare (an expert's
loop, the clock around the whole step) and, in the tutorial's own mode,
tutorial (the clock around the whole loop iteration, data loading included).
Each repeat warms every loop up and then times `--steps` steps; repeats are
interleaved (ours, bare, tutorial, ours, ...) so that a drifting machine hits
every loop alike. A table per (framework, model, mode) gives the median over
repeats of each repeat's median images/s, the p10-p90 of images/s over every
timed step, and ours/bare and ours/tutorial with their range over repeats.

One framework per process: with several frameworks this process imports none
and runs itself once per framework (`--frameworks X`), then merges the JSON.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmark import io
from benchmark.config import RunConfig
from benchmark.data import MNISTError, load_mnist, seeded_subset
from benchmark.driver import Seeds, epoch_batches
from benchmark.flops import training_flops_per_step
from benchmark.frameworks import DEFAULT_NAMES, NAMES, TABLE, framework as framework_facts
from benchmark.harness.arguments import positive_int
from benchmark.harness.plan import resolve_device
from benchmark.loops import MODELS, VARIANTS, Loop
from benchmark.registry import create_runner
from benchmark.runner import RunnerOptions, StepInputs
from benchmark.specs import GANSpec, get_spec
from benchmark.timing import summarize_steps
from benchmark.weights import initial_weights

SCHEMA = "ganbench-loops/1"
WITHIN = 0.05  # "as fast as bare": ours/bare >= 1 - WITHIN
# Steps timed per repeat when --steps is not given: a WGAN step is ~5 DCGAN steps.
DEFAULT_STEPS = {"cpu": {"dcgan": 30, "wgan": 10}, "cuda": {"dcgan": 200, "wgan": 50}}
EXIT_USAGE, EXIT_FAILED = 2, 1


def build_parser() -> argparse.ArgumentParser:
    modes_help = "; ".join(f"{f.name}: {', '.join(f.modes)}" for f in TABLE.values())
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.loops.compare",
        description="Time our runner's training step against a bare hand-written loop and the "
                    "framework's DCGAN tutorial loop: same data, architecture and batch size.",
        epilog="Example:\n  python -m benchmark.loops.compare --models dcgan --frameworks torch tf "
               "--repeats 3 --data-dir ../shared/mnist --json loops.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), metavar="NAME",
                        help=f"models with hand-written loops: {', '.join(MODELS)} (default: all)")
    # Every framework has hand-written loops; by default those of run_benchmark.py's
    # default --frameworks, so a machine without JAX runs as before.
    parser.add_argument("--frameworks", nargs="+", choices=NAMES, default=list(DEFAULT_NAMES),
                        metavar="NAME", help=f"frameworks: {', '.join(NAMES)} "
                                             f"(default: {' '.join(DEFAULT_NAMES)})"),
    all_modes = sorted({m for f in TABLE.values() for m in f.modes})
    parser.add_argument("--modes", nargs="+", choices=all_modes, metavar="MODE",
                        help=f"execution modes; each framework runs those it has ({modes_help}). "
                             "Default: the project's default mode on the device and the tutorial's "
                             "(" + ", ".join(f"{f.name} {f.tutorial_mode}" for f in TABLE.values() if f.tutorial_mode) + ")")
    parser.add_argument("--steps", type=positive_int,
                        help="timed steps per loop and repeat (default: " + "; ".join(
                            f"{d}: " + ", ".join(f"{m} {n}" for m, n in s.items())
                            for d, s in DEFAULT_STEPS.items()) + ")")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before each repeat's timed ones (default 3)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="images per batch (default 128)")
    parser.add_argument("--repeats", type=positive_int, default=3,
                        help="interleaved repeats of every loop; the median over them is reported (default 3)")
    parser.add_argument("--data-dir", type=Path, help="folder with the MNIST IDX files (default: as run_benchmark.py)")
    parser.add_argument("--train-size", type=positive_int,
                        help="a seeded subset of this many training images (default: all 60000)")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads for both frameworks; 0: every core (default)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: CUDA when a GPU is present (default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, data order and noise (default 0)")
    parser.add_argument("--jax-conv-transpose", choices=("adjoint", "phases", "lax"), default="adjoint",
                        help="the transposed convolutions of JAX's bare loop: adjoint, the strided "
                             "convolution's transpose, as ours (default); phases, stride-1 phase and sub-pixel "
                             "convolutions; lax, lax.conv_transpose (jax_impl/loops.py)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here as JSON")
    return parser


def resolve_modes(frameworks: list[str], modes: list[str] | None, device: str) -> dict[str, list[str]]:
    """Each framework's modes, in its table order; raises ValueError if one gets none."""
    chosen = {}
    for framework in frameworks:
        facts = framework_facts(framework)
        wanted = set(modes) if modes else {facts.reference_mode, facts.tutorial_mode} - {None}
        chosen[framework] = [m for m in facts.modes if m in wanted]
        if not chosen[framework]:
            raise ValueError(f"--modes {' '.join(modes or [])} gives {framework} nothing to run; "
                             f"{framework} modes: {', '.join(facts.modes)}")
    return chosen


def all_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# --- the loops ---------------------------------------------------------------------------


class OursLoop:
    """The project's runner driven as `benchmark.driver.train` drives it: weights
    from `initial_weights`, data loaded once, one seeded permutation per epoch,
    StepInputs drawn from numpy before each step (untimed), `train_step` timed."""

    variant = "ours"

    def __init__(self, framework: str, spec: GANSpec, mode: str, images: np.ndarray,
                 labels: np.ndarray, batch_size: int, threads: int, device: str, seed: int) -> None:
        self.spec, self.mode = spec, mode
        self.images_per_step = batch_size * spec.n_critic
        self.flops_per_step = training_flops_per_step(spec, batch_size)
        self.runner = create_runner(framework, spec,  # the spec given, overrides included
                                    RunnerOptions(device=device, mode=mode, threads=threads))
        self.seeds = Seeds.from_seed(seed)
        self.runner.import_weights(initial_weights(spec, self.seeds.init))
        self.runner.load_data(images, labels)
        self.n_images = len(images)
        self.config = RunConfig(framework=framework, model=spec.name, mode=mode, device=device,
                                profile="loops", epochs=1, batch_size=batch_size,
                                train_size=len(images), sample_count=0, seed=seed, threads=threads,
                                data_dir=None)
        self.plan, self.position = np.empty((0,)), 0
        self.inputs: StepInputs | None = None

    def prepare(self) -> None:
        if self.position == len(self.plan):
            self.plan = epoch_batches(self.n_images, self.config, self.spec, self.seeds.order)
            self.position = 0
        self.inputs = StepInputs.draw(self.spec, self.plan[self.position], self.seeds.noise)
        self.position += 1

    def step(self) -> tuple[float, float]:
        losses = self.runner.train_step(self.inputs)
        return losses["d_loss"], losses["g_loss"]


def framework_module(framework: str):
    """The framework's hand-written loops (its `<framework>_impl/loops.py`): the
    one training framework this process imports."""
    facts = framework_facts(framework)
    return facts.load(facts.loops)


def build_loops(framework: str, model: str, mode: str, images: np.ndarray, labels: np.ndarray,
                batch_size: int, threads: int, device: str, seed: int,
                jax_conv_transpose: str = "adjoint") -> dict[str, Loop]:
    """ours and bare in `mode`, and tutorial when `mode` is the tutorial's."""
    module = framework_module(framework)
    spec = get_spec(model)
    # Options only some bare loops have, each module naming its own (BARE_OPTIONS).
    options = {key: value for key, value in {"conv_transpose": jax_conv_transpose}.items()
               if key in getattr(module, "BARE_OPTIONS", ())}
    loops: dict[str, Loop] = {
        "ours": OursLoop(framework, spec, mode, images, labels, batch_size, threads, device, seed),
        "bare": module.BareLoop(spec, images, batch_size, mode, device, **options),
    }
    if mode == framework_facts(framework).tutorial_mode:
        loops["tutorial"] = module.tutorial_loop(spec, images, batch_size, device)
    return loops


# --- measuring ---------------------------------------------------------------------------


def time_steps(loop: Loop, warmup: int, steps: int) -> tuple[list[float], list[float], tuple[float, float]]:
    """(warm-up step seconds, timed step seconds, last losses)."""
    seconds, losses = [], (math.nan, math.nan)
    for _ in range(warmup + steps):
        loop.prepare()
        started = time.perf_counter()
        losses = loop.step()
        seconds.append(time.perf_counter() - started)
    return seconds[:warmup], seconds[warmup:], losses


def measure(framework: str, model: str, mode: str, loops: dict[str, Loop], warmup: int, steps: int,
            repeats: int, log=print) -> dict:
    """Runs the interleaved repeats and returns the group's figures (see `summarize`)."""
    runs: dict[str, list[dict]] = {variant: [] for variant in loops}
    for repeat in range(repeats):
        for variant, loop in loops.items():
            warm, timed, losses = time_steps(loop, warmup, steps)
            stats = summarize_steps(warm + timed, [True] * len(warm) + [False] * len(timed),
                                    loop.images_per_step)
            runs[variant].append({**stats, "step_s": timed, "losses": list(losses)})
            log(f"[{framework} {model} {mode}] repeat {repeat + 1}/{repeats}: {variant:8s} "
                f"{stats['images_per_s']:8.1f} images/s (warm-up {stats['warmup_s']:.1f} s)")
    return summarize(framework, model, mode, loops, runs, warmup, steps)


def summarize(framework: str, model: str, mode: str, loops: dict[str, Loop], runs: dict[str, list[dict]],
              warmup: int, steps: int) -> dict:
    variants = {}
    for variant, repeats in runs.items():
        images_per_step, flops_per_step = loops[variant].images_per_step, loops[variant].flops_per_step
        pooled = summarize_steps([s for r in repeats for s in r["step_s"]],
                                 [False] * sum(len(r["step_s"]) for r in repeats), images_per_step)
        variants[variant] = {
            "mode": loops[variant].mode,
            "images_per_step": images_per_step,
            "images_per_s": float(np.median([r["images_per_s"] for r in repeats])),
            "flops_per_step": flops_per_step,
            "images_per_s_p10": pooled["images_per_s_p10"],
            "images_per_s_p90": pooled["images_per_s_p90"],
            "step_ms_median": float(np.median([r["step_ms_median"] for r in repeats])),
            "repeats": repeats,
        }
        variants[variant]["gflops_per_s"] = (variants[variant]["images_per_s"] / images_per_step
                                             * flops_per_step / 1e9)
    ratios = {}
    for other in ("bare", "tutorial"):
        if other in variants:
            per_repeat = [o["images_per_s"] / b["images_per_s"]
                          for o, b in zip(runs["ours"], runs[other])]
            ratios[f"ours_over_{other}"] = variants["ours"]["images_per_s"] / variants[other]["images_per_s"]
            ratios[f"ours_over_{other}_per_repeat"] = per_repeat
            # Per unit of work: differs from the images/s ratio when the loops
            # do different arithmetic per step (the DCGAN tutorials do less).
            ratios[f"ours_over_{other}_per_flop"] = (variants["ours"]["gflops_per_s"]
                                                    / variants[other]["gflops_per_s"])
    return {"framework": framework, "model": model, "mode": mode,
            "tutorial_mode": framework_facts(framework).tutorial_mode, "warmup_steps": warmup, "steps": steps,
            "variants": variants, "ratios": ratios, "verdict": verdict(ratios, framework, mode)}


def verdict(ratios: dict, framework: str, mode: str) -> dict:
    """The two questions, answered from the ratio of medians: ours at most 5%
    slower than bare (faster counts), and ours faster than the tutorial.
    "within noise" when the per-repeat ratios fall on both sides of the line."""
    def answer(key: str, threshold: float, yes: str, no: str) -> tuple[bool, str]:
        ratio, per_repeat = ratios[key], ratios[f"{key}_per_repeat"]
        ok = ratio >= threshold
        change = f"{'faster' if ratio > 1 else 'slower'}: {(ratio - 1) * 100:+.1f}%"
        text = f"{yes if ok else no} (ours {change}"
        if len(per_repeat) > 1:
            low, high = min(per_repeat), max(per_repeat)
            text += f"; repeats {low:.3f}-{high:.3f}"
            if low < threshold <= high:
                text += ", within noise"
        return ok, text + ")"

    within, bare_text = answer("ours_over_bare", 1 - WITHIN, f"ours within {WITHIN:.0%} of bare",
                               f"ours NOT within {WITHIN:.0%} of bare")
    if "ours_over_tutorial" in ratios:
        ahead, tutorial_text = answer("ours_over_tutorial", 1.0, "ours ahead of tutorial",
                                      "ours NOT ahead of tutorial")
        per_flop = ratios["ours_over_tutorial_per_flop"]
        if abs(per_flop / ratios["ours_over_tutorial"] - 1) > 1e-9:
            tutorial_text += (f"; per FLOP ours is {per_flop:.3f}x the tutorial, whose step does "
                              f"{(1 - ratios['ours_over_tutorial'] / per_flop) * 100:.0f}% less work "
                              "(its G update reuses the D update's fake batch)")
    elif (tutorial_mode := framework_facts(framework).tutorial_mode) is None:
        ahead, tutorial_text = None, f"no tutorial ({framework} has none)"
    else:
        ahead, tutorial_text = None, f"no tutorial in {mode} mode ({framework}'s runs in {tutorial_mode})"
    return {"within_5pct_of_bare": within, "ahead_of_tutorial": ahead,
            "line": f"{bare_text}; {tutorial_text}"}


# --- reporting ---------------------------------------------------------------------------


def render_group(group: dict, batch_size: int, threads: int, repeats: int) -> str:
    """The plain-text table of one (framework, model, mode) group."""
    ours = group["variants"]["ours"]
    lines = [
        f"{group['framework']} {group['model']} {group['mode']}: batch {batch_size}, "
        f"{ours['images_per_step']} real images/step, {threads} threads, "
        f"{group['warmup_steps']} warm-up + {group['steps']} timed steps x {repeats} repeats",
        f"  {'variant':<9} {'mode':<9} {'images/s':>9} {'p10-p90 images/s':>18} {'ms/step':>8} "
        f"{'GFLOP/s':>8} {'ours/this':>10}  {'over repeats':>12}",
    ]
    for variant in VARIANTS:
        if variant not in group["variants"]:
            if group["tutorial_mode"] is None:
                lines.append(f"  {variant:<9} {'-':<9} {'-':>9} (none for {group['framework']})")
                continue
            lines.append(f"  {variant:<9} {group['tutorial_mode']:<9} {'-':>9} "
                         f"(runs in {group['tutorial_mode']} mode only)")
            continue
        v = group["variants"][variant]
        spread = f"{v['images_per_s_p10']:.1f}-{v['images_per_s_p90']:.1f}"
        ratio, over = "", ""
        if variant != "ours":
            ratio = f"{group['ratios'][f'ours_over_{variant}']:.3f}"
            per_repeat = group["ratios"][f"ours_over_{variant}_per_repeat"]
            over = f"{min(per_repeat):.3f}-{max(per_repeat):.3f}"
        lines.append(f"  {variant:<9} {v['mode']:<9} {v['images_per_s']:>9.1f} {spread:>18} "
                     f"{v['step_ms_median']:>8.1f} {v['gflops_per_s']:>8.1f} {ratio:>10}  {over:>12}")
    lines.append(f"  verdict: {group['verdict']['line']}")
    return "\n".join(lines)


def environment(threads: int, device: str) -> dict:
    from benchmark.environment import cpu_model, git_commit, gpu_description, package_versions

    return {"os": platform.platform(), "cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "gpu": gpu_description(), "device": device, "threads": threads,
            "python": platform.python_version(), "packages": package_versions(),
            "git_commit": git_commit(), "load_average_start": list(os.getloadavg())}


# --- processes ---------------------------------------------------------------------------


def run_framework(args: argparse.Namespace, framework: str, modes: list[str], device: str,
                  threads: int, images: np.ndarray, labels: np.ndarray) -> list[dict]:
    """Every (model, mode) group of one framework, in this process; prints each table."""
    framework_module(framework).configure(threads, args.seed, device)
    groups = []
    for model in args.models:
        steps = args.steps or DEFAULT_STEPS[device][model]
        for mode in modes:
            loops = build_loops(framework, model, mode, images, labels, args.batch_size, threads,
                                device, args.seed, args.jax_conv_transpose)
            group = measure(framework, model, mode, loops, args.warmup, steps, args.repeats,
                            log=lambda line: print(line, file=sys.stderr, flush=True))
            del loops
            gc.collect()
            groups.append(group)
            print(render_group(group, args.batch_size, threads, args.repeats) + "\n", flush=True)
    return groups


def child_command(args: argparse.Namespace, framework: str, modes: list[str], device: str,
                  threads: int, json_path: Path) -> list[str]:
    command = [sys.executable, "-m", "benchmark.loops.compare", "--frameworks", framework,
               "--models", *args.models, "--modes", *modes, "--warmup", str(args.warmup),
               "--batch-size", str(args.batch_size), "--repeats", str(args.repeats),
               "--threads", str(threads), "--device", device, "--seed", str(args.seed),
               "--jax-conv-transpose", args.jax_conv_transpose, "--json", str(json_path)]
    for flag, value in (("--steps", args.steps), ("--data-dir", args.data_dir),
                        ("--train-size", args.train_size)):
        if value is not None:
            command += [flag, str(value)]
    return command


def run_children(args: argparse.Namespace, modes: dict[str, list[str]], device: str,
                 threads: int) -> tuple[list[dict], list[str]]:
    """One process per framework, in turn; returns (their groups, failed frameworks)."""
    # As the suite starts its workers: the repository importable, TF's C++ logs
    # quiet, and the child killed with this process.
    from benchmark.protocol import child_environment, orphanless

    groups, failed = [], []
    with tempfile.TemporaryDirectory(prefix="ganbench-loops-") as scratch:
        for framework in args.frameworks:
            json_path = Path(scratch) / f"{framework}.json"
            command = child_command(args, framework, modes[framework], device, threads, json_path)
            print(f"== {framework}: {shlex.join(command)}", flush=True)
            done = subprocess.run(orphanless(command), env=child_environment())
            if done.returncode != 0 or not json_path.exists():
                failed.append(framework)
                continue
            groups += io.read_json(json_path)["groups"]
    return groups, failed


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    args.frameworks = list(dict.fromkeys(args.frameworks))
    args.models = list(dict.fromkeys(args.models))
    if args.warmup < 0 or args.threads < 0:
        parser.error("--warmup and --threads must be >= 0")
    device = resolve_device(args.device)
    threads = args.threads or all_cores()
    try:
        modes = resolve_modes(args.frameworks, args.modes, device)
        images, labels = load_mnist("train", data_dir=args.data_dir)
    except (ValueError, MNISTError) as error:
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {error}\n")
    if args.train_size is not None:
        images, labels = seeded_subset(images, labels, args.train_size, args.seed)
    if len(images) < args.batch_size * max(get_spec(m).n_critic for m in args.models):
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {len(images)} images do not fill one step; "
                                "lower --batch-size or raise --train-size\n")

    started_env = environment(threads, device)
    if len(args.frameworks) == 1:
        framework = args.frameworks[0]
        groups, failed = run_framework(args, framework, modes[framework], device, threads, images, labels), []
    else:
        groups, failed = run_children(args, modes, device, threads)
        if groups:
            print("summary")
            for group in groups:
                print(f"  {group['framework']} {group['model']} {group['mode']}: {group['verdict']['line']}")
    if args.json:
        io.write_json(args.json, {
            "schema": SCHEMA,
            "command": shlex.join(["python", "-m", "benchmark.loops.compare", *argv]),
            "settings": {"frameworks": args.frameworks, "models": args.models, "modes": modes,
                         "batch_size": args.batch_size, "repeats": args.repeats, "warmup": args.warmup,
                         "steps": {m: args.steps or DEFAULT_STEPS[device][m] for m in args.models},
                         "train_images": len(images), "seed": args.seed,
                         "jax_conv_transpose": args.jax_conv_transpose},
            "environment": {**started_env, "load_average_end": list(os.getloadavg())},
            "groups": groups,
            "failed_frameworks": failed,
        })
    if failed:
        print(f"failed: {', '.join(failed)} (see its output above)", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
