"""`python run_benchmark.py`: parses and checks the command line, resolves the
configuration, and hands over to `benchmark.suite`. Bad input exits 2 with a
message saying what was wrong, before anything is written."""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import os
import re
import shlex
import sys
from datetime import datetime
from pathlib import Path

from benchmark.calibration import AUTO, calibrate, summary_lines, targets_of
from benchmark.calibration import apply as apply_calibration
from benchmark.config import (
    DATA_PARALLEL_DEFAULT_MODES, DATA_PARALLEL_MODES, DEFAULT_DATASET, DEFAULT_FRAMEWORKS, DEFAULT_MODES,
    FRAMEWORK_PACKAGES, FRAMEWORKS, INCEPTION_CPU_PROBES, INCEPTION_CPU_SAMPLES, INPUT_PIPELINES,
    MNIST_TRAIN_IMAGES, MODES, PRECISIONS, PROFILES, RunConfig,
)
from benchmark.io import existing_parent
from benchmark.specs import SPECS

DEFAULT_OUT = Path("reports")
EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE = 0, 1, 2
# A full, over-quota or read-only disk stopped the suite before its end: no
# report; `--resume DIR` continues once the disk has room (benchmark.suite.DiskFault).
EXIT_DISK = 3
MAX_THREADS = 1024  # --threads above this is refused: no pool of either framework is meant for it


class UsageError(Exception):
    """Bad input: reported as `error: ...` with exit code 2."""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else None
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def folder_name(text: str) -> str:
    """--run-id: one folder name, so that the run folder stays inside --out."""
    if (text in ("", ".", "..") or os.sep in text or (os.altsep and os.altsep in text)
            or "\0" in text or os.path.isabs(text)):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a plain folder name; the run folder is created inside --out, so give "
            "a name without '/', not '.' or '..' (e.g. --run-id dcgan-test), and choose the place "
            "with --out")
    return text


def build_parser() -> argparse.ArgumentParser:
    profiles = "; ".join(
        f"{p.name}: {p.description} ("
        + ("epochs per model" if p.generator_updates else f"{p.epochs} epoch(s)")
        + f", batch {p.batch_size}, {p.train_size or MNIST_TRAIN_IMAGES} images)" for p in PROFILES.values())
    parser = argparse.ArgumentParser(
        prog="run_benchmark.py",
        description="Train the same GANs in PyTorch, TensorFlow and JAX on MNIST and write a "
                    "comparison report (speed, losses, samples) under --out.",
        epilog="Examples:\n"
               "  python run_benchmark.py --frameworks torch tf --models dcgan wgan\n"
               "  python run_benchmark.py --profile smoke --data-dir ../shared/mnist\n"
               "  python run_benchmark.py --models dcgan --modes eager function xla\n"
               "  python run_benchmark.py --models dcgan --precision fp32 bf16\n"
               "  python run_benchmark.py --report-only reports/<run-id>",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(DEFAULT_FRAMEWORKS),
                        metavar="NAME", help=f"frameworks to compare: {', '.join(FRAMEWORKS)} "
                        f"(default: {' '.join(DEFAULT_FRAMEWORKS)})")
    parser.add_argument("--models", nargs="+", choices=[*SPECS, "all"], default=["dcgan", "wgan"],
                        metavar="NAME", help=f"models: {', '.join(SPECS)}, or all (default: dcgan wgan)")
    all_modes = sorted({m for modes in MODES.values() for m in modes})
    modes_help = "; ".join(f"{f}: {', '.join(m)}" for f, m in MODES.items())
    parser.add_argument("--modes", nargs="+", choices=["auto", *all_modes], default=["auto"], metavar="MODE",
                        help="execution modes; each framework runs those it has "
                             f"({modes_help}). Default: auto, each framework's fastest mode for each "
                             "model on this machine, measured before the suite by a short interleaved "
                             "calibration (cached per machine and package versions; --recalibrate "
                             "measures again). The smoke profile, which times nothing, takes the "
                             "reference machine's choice instead (" + "; ".join(
                                 f"{d}: " + ", ".join(f"{f} {m}" for f, m in fm.items())
                                 for d, fm in DEFAULT_MODES.items()) + ")")
    parser.add_argument("--recalibrate", action="store_true",
                        help="with --modes auto: measure the modes again instead of reading the cache")
    parser.add_argument("--precision", nargs="+", choices=PRECISIONS, default=["fp32"], metavar="P",
                        help="arithmetic of the training step, each a separate run: fp32; bf16 or "
                             "fp16 are mixed precision (float32 parameters and optimizer state, "
                             "forward passes in bfloat16 / float16 by torch autocast, a Keras "
                             "mixed policy or bf16 matmul/conv operands in JAX, float32 losses; fp16 "
                             "adds dynamic loss scaling; JAX has bf16 only). "
                             f"Choices: {', '.join(PRECISIONS)} (default: fp32)")
    parser.add_argument("--rounding-control", action="store_true",
                        help="also run every configuration again with one initial weight moved by one "
                             "float32 ulp (run name ...-ulp): a framework against itself, the spread "
                             "that rounding chaos alone gives, which the report holds the frameworks' "
                             "quality difference against")
    parser.add_argument("--profile", choices=PROFILES, help=f"sizes. {profiles}. "
                        "Default: quick on CPU, full on GPU")
    parser.add_argument("--epochs", type=positive_int, help="override the profile's epochs")
    parser.add_argument("--batch-size", type=positive_int, help="override the profile's batch size")
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", metavar="N",
                        help="sweep: run every configuration at each batch size (throughput vs "
                             "batch size is plotted); the first is the one the summary compares")
    parser.add_argument("--repeats", type=positive_int, default=1,
                        help="run each configuration this many times, interleaved; the speed "
                             "interval then includes run-to-run variation (default 1)")
    parser.add_argument("--train-size", type=positive_int,
                        help="train on a seeded subset of this many images (default: the profile's)")
    parser.add_argument("--d-lr", type=positive_float, metavar="LR",
                        help="override every model's discriminator learning rate (default: the paper's)")
    parser.add_argument("--g-lr", type=positive_float, metavar="LR",
                        help="override every model's generator learning rate (default: the paper's)")
    parser.add_argument("--quality-samples", type=non_negative_int, metavar="N",
                        help="generated images scored (FID, KID, precision/recall, ...) at each "
                             "probe; 0 skips scoring, else at least 10, the evaluator's minimum "
                             "(default: the profile's, 10000 or 500 in smoke)")
    parser.add_argument("--quality-probes", type=positive_int, metavar="N",
                        help="times each run is scored, evenly spaced over its steps, the last "
                             "after the final step (default: the profile's: smoke 1, quick 4, full 25)")
    parser.add_argument("--seed", type=non_negative_int, help="seed of weights, data order and noise (default 0)")
    parser.add_argument("--seeds", type=non_negative_int, nargs="+", metavar="S",
                        help="run every configuration once per seed, paired across frameworks (a seed "
                             "fixes the initial weights, data order and noise in each): one number N "
                             "gives seeds 0..N-1, several give those seeds (--seeds 3 7 11); the report "
                             "then compares sample quality seed by seed")
    parser.add_argument("--dataset", default=DEFAULT_DATASET, metavar="NAME",
                        help="the training data: mnist (default), fashion_mnist, cifar10, or folder:PATH, "
                             "every JPEG and PNG under PATH, center-cropped and resized to --image-size "
                             "RGB (README, 'Your own images'). Models get the networks for the data's "
                             "size: MNIST's for 28x28x1, the DCGAN paper's for 16 to 128 square. "
                             "Sample quality: the MNIST classifier on mnist; FID and KID on Inception-v3 "
                             f"elsewhere (on a CPU by default {INCEPTION_CPU_SAMPLES} samples, "
                             "scored once at the end: Inception is slow there)")
    parser.add_argument("--image-size", type=positive_int, metavar="N",
                        help="with --dataset folder:PATH: the images' side in pixels (default 64); the "
                             "other data sets have their own size")
    parser.add_argument("--input-pipeline", nargs="+", choices=INPUT_PIPELINES, default=["device"],
                        metavar="P",
                        help="how real images reach the step, each a separate run: device (default: the "
                             "data set held on the device, each batch gathered by index inside the "
                             "step) or native (the framework's own loader: torchvision and a "
                             "DataLoader with worker processes; tensorflow-datasets and tf.data with "
                             "prefetch), named ...-native. Both give the same batches in the same "
                             "order; the report times the loader apart from the step")
    parser.add_argument("--data-dir", type=Path,
                        help="folder with the data set's files (MNIST: the four IDX files, .gz or raw); "
                             "default: the data set's environment variable ($GANBENCH_DATA_DIR for "
                             "MNIST), ./data/<name>, the user cache, else download. Not for folder:PATH")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where run folders are created (default: reports/)")
    parser.add_argument("--run-id", type=folder_name,
                        help="name of the run folder, created inside --out: a plain name, without "
                             "'/', not '.' or '..' (default: <date>-<time>-<profile>-<device>)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: CUDA when a GPU is present, else the CPU (default)")
    parser.add_argument("--devices", type=positive_int, nargs="+", default=[1], metavar="N",
                        help="data-parallel replicas per run, each a separate run (--devices 1 2 4 "
                             "plots images/s against devices): N GPUs with --device cuda, or N "
                             "replicas on the CPU (torch: N gloo processes under torchrun; tf: N "
                             "logical CPU devices), which share its cores and so test correctness, "
                             "not speed. The batch stays --batch-size, each replica takes "
                             "batch/N, which N must divide; learning rates are unchanged. torch "
                             "runs DistributedDataParallel, tf MirroredStrategy (mode function). "
                             "Default 1")
    parser.add_argument("--sync-batchnorm", action="store_true",
                        help="with --devices N > 1: BatchNorm normalises with the global batch's "
                             "statistics, all-reduced over the replicas, in both frameworks (then N "
                             "replicas train as one device would); default: each replica its own "
                             "slice's, with the moving statistics averaged over replicas")
    parser.add_argument("--threads", type=non_negative_int, default=0,
                        help="CPU threads per framework; 0: every core (default). More than the "
                             "cores this process may use is allowed, with a warning, since "
                             "oversubscription can be worth measuring on purpose: the pools then "
                             "queue for the cores, so steps get slower and vary more, and the "
                             f"timings measure that contention. Above {MAX_THREADS}: refused")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also write a TensorBoard event file to RUN_DIR/runs/<run>/tensorboard: "
                             "loss/d, loss/g and speed/images_per_s every step, quality/fid, quality/kid, "
                             "quality/precision, quality/recall, quality/coverage, ... at every quality "
                             "probe, the sample grid as the image 'samples'; the same tags for every framework")
    parser.add_argument("--run-timeout", type=positive_int, metavar="SECONDS",
                        help="stop a run that takes longer and record it as failed")
    parser.add_argument("--resume", type=Path, metavar="DIR",
                        help="continue the interrupted suite in DIR: finished runs are kept, unfinished "
                             "ones continue from their last epoch checkpoint. Other flags must match "
                             "the original run's, or be left out")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("DIR_A", "DIR_B"),
                        help="write --out/compare-<A>-vs-<B>.md: the speed and loss differences of "
                             "two result folders (two machines, two versions); trains nothing")
    parser.add_argument("--plan-only", action="store_true",
                        help="write the run folder (suite.json, each run's config.json) and print the "
                             "command that trains each run, then stop: for data-parallel runs over "
                             "several nodes, started on every node by torchrun or with TF_CONFIG "
                             "(README, data-parallel training); --report-only DIR renders them after")
    parser.add_argument("--report-only", type=Path, metavar="DIR",
                        help="re-render DIR/report.md from its result files; trains nothing")
    return parser


def resolve_device(choice: str) -> str:
    if choice != "auto":
        return choice
    from benchmark.environment import gpu_description

    return "cuda" if gpu_description() else "cpu"


def resolve_modes(frameworks: list[str], modes: list[str], device: str,
                  calibrate: bool) -> dict[str, list[str]]:
    """Each framework's modes: those named, or ["auto"] (resolved by
    benchmark.calibration), or the reference choice where `calibrate` is off."""
    if modes == [AUTO]:
        return {f: [AUTO if calibrate else DEFAULT_MODES[device][f]] for f in frameworks}
    if AUTO in modes:
        raise UsageError(f"--modes {' '.join(modes)}: give auto alone, or a list of modes")
    chosen = {f: [m for m in dict.fromkeys(modes) if m in MODES[f]] for f in frameworks}
    for framework, picked in chosen.items():
        if not picked:
            raise UsageError(f"--modes {' '.join(modes)} gives {framework} nothing to run; "
                             f"{framework} modes: {', '.join(MODES[framework])}")
    return chosen


def seeds_of(args: argparse.Namespace) -> list[int]:
    """--seeds N -> 0..N-1; --seeds A B ... -> those; else [--seed]."""
    if args.seeds is None:
        return [args.seed or 0]
    if args.seed is not None:
        raise UsageError("give --seed or --seeds, not both")
    if len(args.seeds) == 1:
        if args.seeds[0] < 1:
            raise UsageError("--seeds N runs seeds 0..N-1: N must be at least 1")
        return list(range(args.seeds[0]))
    if len(set(args.seeds)) != len(args.seeds):
        raise UsageError(f"--seeds {' '.join(map(str, args.seeds))}: a seed is named twice")
    return list(args.seeds)


def plan_runs(args: argparse.Namespace, device: str, n_images: int = MNIST_TRAIN_IMAGES) -> list[RunConfig]:
    """One RunConfig per (repeat, model, batch size, framework, mode, precision,
    input pipeline), repeats outermost so that a slow drift of the machine hits
    every configuration alike. `n_images`: the data set's training images."""
    profile = PROFILES[args.profile or ("full" if device == "cuda" else "quick")]
    quality_samples = profile.quality_samples if args.quality_samples is None else args.quality_samples
    quality_probes = args.quality_probes or profile.quality_probes
    if args.dataset != DEFAULT_DATASET and device == "cpu":  # Inception on a CPU: INCEPTION_CPU_SAMPLES
        if args.quality_samples is None:
            quality_samples = min(quality_samples, INCEPTION_CPU_SAMPLES)
        if args.quality_probes is None:
            quality_probes = INCEPTION_CPU_PROBES
    models = list(SPECS) if "all" in args.models else list(dict.fromkeys(args.models))
    frameworks = list(dict.fromkeys(args.frameworks))
    modes = resolve_modes(frameworks, args.modes, device, profile.calibrate)
    if args.batch_sizes and args.batch_size:
        raise UsageError("give --batch-size or --batch-sizes, not both")
    batch_sizes = list(dict.fromkeys(args.batch_sizes or [args.batch_size or profile.batch_size]))
    precisions = list(dict.fromkeys(args.precision))
    seeds = seeds_of(args)

    def tag(batch_size: int, repeat: int, seed: int) -> str:
        return ((f"-b{batch_size}" if len(batch_sizes) > 1 else "")
                + (f"-s{seed}" if len(seeds) > 1 else "")
                + (f"-r{repeat}" if args.repeats > 1 else ""))

    nudges = (False, True) if args.rounding_control else (False,)
    pipelines = list(dict.fromkeys(args.input_pipeline))
    dataset = dataset_name(args.dataset)
    device_counts = list(dict.fromkeys(args.devices))
    if max(device_counts) > 1 and "native" in pipelines:
        raise UsageError(f"--input-pipeline native with --devices {' '.join(map(str, device_counts))}: "
                         "the native pipelines feed one device here (each replica's slice would need "
                         "a sharded loader); use --input-pipeline device for data-parallel runs")
    check_devices(device_counts, batch_sizes, precisions, device, local=not args.plan_only)

    def modes_for(framework: str, devices: int) -> list[str]:
        if devices == 1:
            return modes[framework]
        if framework not in DATA_PARALLEL_MODES:
            raise UsageError(f"--devices {devices}: {framework} has no data-parallel runner (torch and tf "
                             f"have); run {framework} with --devices 1, or leave it out of --frameworks")
        if args.modes == [AUTO]:  # the calibration times single devices
            return [DATA_PARALLEL_DEFAULT_MODES[framework]]
        chosen = [m for m in modes[framework] if m in DATA_PARALLEL_MODES[framework]]
        if not chosen:
            raise UsageError(f"--modes {' '.join(args.modes)} gives {framework} nothing to run with "
                             f"--devices {devices}; {framework}'s data-parallel modes: "
                             f"{', '.join(DATA_PARALLEL_MODES[framework])} (tf: no XLA under tf.distribute)")
        return chosen

    return [
        RunConfig(framework=f, model=m, mode=mode, device=device, profile=profile.name,
                  epochs=args.epochs or profile.epochs_for(m, SPECS[m].n_critic, b,
                                                           args.train_size or profile.train_size, n_images),
                  batch_size=b,
                  train_size=args.train_size or profile.train_size,
                  sample_count=profile.sample_count, seed=s, threads=args.threads,
                  quality_samples=quality_samples, quality_probes=quality_probes,
                  data_dir=str(args.data_dir.resolve()) if args.data_dir else None,
                  d_lr=args.d_lr, g_lr=args.g_lr, tensorboard=args.tensorboard,
                  repeat=r, tag=tag(b, r, s), precision=p, nudged=n, devices=d,
                  sync_batchnorm=args.sync_batchnorm and d > 1, dataset=dataset,
                  image_size=args.image_size, input_pipeline=i)
        for r in range(1, args.repeats + 1) for s in seeds for m in models for b in batch_sizes
        for d in device_counts for f in frameworks for mode in modes_for(f, d) for p in precisions
        for i in pipelines for n in nudges
    ]


def check_devices(device_counts: list[int], batch_sizes: list[int], precisions: list[str],
                  device: str, local: bool = True) -> None:
    """--devices: every batch splits into equal slices, fp32 only, and on a
    GPU machine no more replicas than GPUs."""
    from benchmark.distributed import UsageError as BadSplit, check_batch

    for devices in device_counts:
        for batch in batch_sizes:
            try:
                check_batch(batch, devices)
            except BadSplit as error:
                raise UsageError(str(error)) from None
    if max(device_counts) == 1:
        return
    if precisions != ["fp32"]:
        raise UsageError(f"--devices {' '.join(map(str, device_counts))} with --precision "
                         f"{' '.join(precisions)}: data-parallel runs are fp32 here (mixed precision "
                         "under DDP and tf.distribute is not tested); use --precision fp32")
    if device == "cuda" and local:  # --plan-only: the replicas may span nodes
        from benchmark.environment import gpu_count

        gpus = gpu_count()
        if max(device_counts) > gpus:
            raise UsageError(f"--devices {max(device_counts)}: nvidia-smi finds {gpus} GPU(s) here")


def prepare_quality_reference(data_dir: Path | None, configs: list[RunConfig]) -> str | None:
    """Before any run: MNIST's real-data statistics, computed once (then cached
    on disk) so that no run pays for them; on other data, the Inception
    weights, looked for and downloaded once where the network allows.
    Returns why FID/KID on Inception cannot be computed, or None."""
    if not any(c.quality_samples for c in configs):
        return None
    if configs[0].dataset == DEFAULT_DATASET:
        from benchmark.metrics import reference_stats

        reference_stats(data_dir)
        return None
    from benchmark.metrics.inception import InceptionWeightsError, find_weights

    try:
        find_weights()
    except InceptionWeightsError as error:
        print(f"warning: no FID or KID on {configs[0].dataset}: {error} Every run reports the rest, "
              "and the report says that Inception's weights were missing.", file=sys.stderr)
        return str(error)
    return None


def dataset_name(name: str) -> str:
    """--dataset as runs record it: a canonical name, or folder: with an absolute path."""
    from benchmark.data import DatasetError, parse_dataset

    try:
        ref = parse_dataset(name)
    except DatasetError as error:
        raise UsageError(f"--dataset {name}: {error}") from None
    return f"folder:{ref.path.resolve()}" if ref.kind == "folder" else ref.kind


@functools.lru_cache(maxsize=2)
def training_images(dataset: str, data_dir: Path | None, image_size: int | None):
    """The data set's training images, loaded once per process (a folder is
    decoded on its first use, then read from its cache); exit 2 where it
    cannot be loaded, saying why and what to do."""
    from benchmark.data import DatasetError, load_dataset

    if data_dir is not None and not data_dir.is_dir():
        raise UsageError(f"--data-dir {data_dir}: no such folder")
    try:
        images, _ = load_dataset(dataset, "train", data_dir, image_size)
    except DatasetError as error:  # MNISTError is one
        raise UsageError(str(error)) from None
    return images


def check_data(data_dir: Path | None, configs: list[RunConfig]) -> None:
    """Loads the data set once here (seconds), so a missing or corrupt file
    fails before any worker starts; checks that every model has networks for
    its images (and labels, if conditional) and that a step fits in the
    training set; warns of runs too short to time."""
    from benchmark.config import spec_for
    from benchmark.driver import total_steps
    from benchmark.timing import WARMUP_STEPS_PER_START

    images = training_images(configs[0].dataset, data_dir, configs[0].image_size)
    too_short = {}
    for config in configs:
        try:
            spec = spec_for(config)
        except ValueError as error:  # no networks for this size, or a conditional model without labels
            raise UsageError(f"--dataset {config.dataset} with --models {config.model}: {error}") from None
        n = min(config.train_size or len(images), len(images))
        per_step = config.batch_size * spec.n_critic
        if n < per_step:
            raise UsageError(f"{config.model}: one step needs {per_step} images "
                             f"({spec.n_critic} x batch {config.batch_size}) "
                             f"but the training set has {n}; lower --batch-size or raise --train-size")
        steps = total_steps(config, spec, n)
        if steps <= WARMUP_STEPS_PER_START:
            too_short[config.model] = steps
    for model, steps in too_short.items():
        print(f"warning: {model} runs {steps} step(s), all of them warm-up (the first "
              f"{WARMUP_STEPS_PER_START} of every run): the report will give no speed for it; "
              "raise --train-size or --epochs", file=sys.stderr)


def calibrate_modes(configs: list[RunConfig], data_dir: Path | None, recalibrate: bool) -> dict | None:
    """Measures (or reads from the cache) the fastest mode of every `auto`
    (framework, model, precision) in the plan; None when nothing is auto."""
    targets = targets_of(configs)
    if not targets:
        return None
    calibration = calibrate(targets, str(data_dir) if data_dir else None, recalibrate=recalibrate)
    if all(e["cached"] for e in calibration["entries"]):
        print(f"modes from the calibration cache ({calibration['cache']}; --recalibrate measures again):")
    else:
        print(f"modes calibrated in {calibration['seconds']:.0f} s:")
    for line in summary_lines(calibration):
        print(f"  {line}")
    return calibration


def suite_settings(args: argparse.Namespace, configs: list[RunConfig], calibration: dict | None,
                   inception_reason: str | None = None) -> dict:
    """The suite-level choices, for results.json and the report's summary;
    `inception_reason`: why FID/KID on Inception could not be computed."""
    from benchmark.config import image_shape_of

    if args.modes != [AUTO]:
        modes_by = "given"  # --modes named them
    else:
        modes_by = "measured" if calibration else "reference"
    return {"frameworks": list(dict.fromkeys(args.frameworks)),
            "models": list(dict.fromkeys(c.model for c in configs)),
            "profile": configs[0].profile, "device": configs[0].device,
            "seeds": list(dict.fromkeys(c.seed for c in configs)),
            "modes": sorted({f"{c.framework} {c.mode}" for c in configs}), "modes_chosen_by": modes_by,
            "precisions": list(dict.fromkeys(c.precision for c in configs)),
            "devices": list(dict.fromkeys(c.devices for c in configs)),
            "sync_batchnorm": any(c.sync_batchnorm for c in configs),
            "dataset": configs[0].dataset, "image_shape": list(image_shape_of(configs[0])),
            "input_pipelines": list(dict.fromkeys(c.input_pipeline for c in configs)),
            "quality_features": ("mnist classifier" if configs[0].dataset == DEFAULT_DATASET else "inception"),
            "inception_reason": inception_reason}


def prepare_out_dir(out: Path, run_id: str) -> Path:
    out_dir = out / run_id
    if out_dir.exists():
        raise UsageError(f"{out_dir} already exists; choose another --run-id or --out")
    prepare_out(out)
    return out_dir


def check_out(out: Path) -> None:
    """Whether --out could be made and written, creating nothing: exit 2 if not."""
    parent = existing_parent(out)
    if not parent.is_dir():
        raise UsageError(f"--out {out}: cannot create it ({parent} is a file, not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: not writable; choose a folder you can write to")


def prepare_out(out: Path) -> Path:
    """--out, created if needed; exit 2 if it cannot be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--out {out}: cannot create it ({error.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: not writable; choose a folder you can write to")
    return out


def check_frameworks(frameworks: list[str]) -> None:
    """Finds each framework's package without importing it (imports take seconds)."""
    packages = FRAMEWORK_PACKAGES
    for framework in frameworks:
        try:
            found = importlib.util.find_spec(packages[framework]) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise UsageError(f"{framework}: the {packages[framework]} package is not installed in "
                             f"{sys.executable}; run `make install` (README) or leave {framework} "
                             "out of --frameworks")


def validate_args(args: argparse.Namespace) -> None:
    """Refuses, before anything trains or is written, the values a run would
    only reject later: in its worker (a missing GPU, an image size the data
    set does not have, a framework without a native pipeline), at its quality
    probes (the evaluator's minimum, memory) or at its first write (a
    read-only --resume folder). --threads is checked by `check_threads`."""
    from benchmark.data import DatasetError, image_shape
    from benchmark.registry import NATIVE_INPUTS
    from benchmark.suite import format_size

    try:
        image_shape(dataset_name(args.dataset), args.image_size)
    except DatasetError as error:
        raise UsageError(f"--image-size {args.image_size}: {error}") from None
    if "native" in args.input_pipeline:
        lacking = [f for f in dict.fromkeys(args.frameworks) if f not in NATIVE_INPUTS]
        if lacking:
            raise UsageError(f"--input-pipeline native: {', '.join(lacking)} has no native pipeline; native "
                             f"is {'/'.join(NATIVE_INPUTS)} only. Leave it out of --frameworks, or use device")

    if args.quality_samples:
        from benchmark.metrics.evaluation import MIN_SAMPLES

        if args.quality_samples < MIN_SAMPLES:
            raise UsageError(f"--quality-samples {args.quality_samples}: the evaluator needs at least "
                             f"{MIN_SAMPLES} samples (FID, KID and precision/recall are not defined on "
                             f"fewer); give 0 to skip scoring, or {MIN_SAMPLES} or more")
        height, width, channels = image_shape(dataset_name(args.dataset), args.image_size)
        images = 2 * args.quality_samples * height * width * channels * 4  # float32, generated in chunks, joined
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        if images > memory:
            raise UsageError(f"--quality-samples {args.quality_samples}: scoring holds the images twice "
                             f"({format_size(images)}), more than this machine's {format_size(memory)} of "
                             "memory; give fewer (10000 is the reference size)")
    if args.device == "cuda":
        from benchmark.environment import gpu_description

        if not gpu_description():
            raise UsageError("--device cuda: nvidia-smi finds no GPU on this machine, so every run "
                             "would fail as it starts; use --device cpu, or auto")
    if args.resume is not None and args.resume.is_dir() and not os.access(args.resume, os.W_OK | os.X_OK):
        raise UsageError(f"--resume {args.resume}: not writable (a read-only disk or folder?); the "
                         "resumed runs and results.json are written there. Make it writable, or copy "
                         "the folder somewhere writable and resume the copy")
    check_threads(args.threads)


def check_threads(threads: int) -> None:
    """Refuses --threads above MAX_THREADS; warns above the cores this process
    may use (a legitimate experiment, but its timings measure contention)."""
    if threads > MAX_THREADS:
        raise UsageError(f"--threads {threads}: at most {MAX_THREADS}; 0 uses every core")
    from benchmark.environment import usable_cores

    cores = usable_cores()
    if threads > cores:
        print(f"warning: --threads {threads} is more than the {cores} core(s) this process may use. Each "
              "framework's thread pool then has more threads than cores: they queue for the CPU "
              "and are switched in and out, so steps get slower and vary more from step to step, "
              "and the timings measure that contention rather than the framework. Use "
              f"--threads {cores} or fewer (0: every core) unless that is what you mean to measure",
              file=sys.stderr)


# A run folder is OUT/RUN_ID/runs/<model>-<framework>-<mode>[-<precision>]<tag>[-ulp]:
# each part must be a plain token, so that no plan, --resume's suite.json
# included, names a folder outside OUT/RUN_ID.
NAME_PART = re.compile(r"[A-Za-z0-9_]+")
NAME_TAG = re.compile(r"(-[a-z]+[0-9]+)*")  # -b<batch size>, -s<seed>, -r<repeat>


def check_names(configs: list[RunConfig]) -> None:
    """Refuses a plan whose model, framework, mode, precision or tag would make
    a run folder outside its suite's folder."""
    for config in configs:
        parts = {"model": config.model, "framework": config.framework, "mode": config.mode,
                 "precision": config.precision, "input_pipeline": config.input_pipeline}
        bad = [f"{field} {value!r}" for field, value in parts.items()
               if not (isinstance(value, str) and NAME_PART.fullmatch(value))]
        if not (isinstance(config.tag, str) and NAME_TAG.fullmatch(config.tag)):
            bad.append(f"tag {config.tag!r}")
        if bad:
            raise UsageError(f"run {config.name!r}: {', '.join(bad)} would name a folder outside the "
                             "run folder (letters, digits and '_' only; tags -b<N>, -s<N>, -r<N>); was "
                             "suite.json edited by hand?")


def check_free_space(args: argparse.Namespace, configs: list[RunConfig]) -> None:
    """Before anything is written: refuses a full disk under --out (or --resume
    DIR), and warns when it has less free space than the runs still to do will
    write, estimated from their checkpoints, samples and report
    (benchmark.suite.planned_bytes)."""
    from benchmark.io import NEARLY_FULL_BYTES, existing_parent, free_bytes
    from benchmark.suite import format_size, planned_bytes, runs_left

    out = args.resume or args.out
    left = runs_left(args.resume, configs) if args.resume else configs
    if not left or not os.access(existing_parent(out), os.W_OK):
        return  # nothing to write, or prepare_out and validate_args say why it cannot be
    needed, free = planned_bytes(left), free_bytes(out)
    if free < NEARLY_FULL_BYTES:
        raise UsageError(f"the disk that holds {out} is full ({format_size(free)} free); the "
                         f"{len(left)} run(s) to do will write about {format_size(needed)} there. "
                         "Free space there, or choose another --out")
    if free < needed:
        print(f"warning: the disk that holds {out} has {format_size(free)} free, but the {len(left)} "
              f"run(s) to do will write about {format_size(needed)} there (checkpoints with optimizer "
              "state, samples, the report). The suite stops at the first write that fails; free "
              "space first, or choose another --out (a stopped suite continues with --resume DIR)",
              file=sys.stderr)


# Flags that shape what runs; with --resume they must match the original plan.
PLAN_FLAGS = ("--frameworks", "--models", "--modes", "--precision", "--profile", "--epochs", "--batch-size",
              "--batch-sizes", "--repeats", "--quality-samples", "--quality-probes",
              "--train-size", "--seed", "--seeds", "--rounding-control", "--data-dir", "--device", "--threads", "--d-lr", "--g-lr",
              "--devices", "--sync-batchnorm", "--dataset", "--image-size", "--input-pipeline")


def resume_plan(args: argparse.Namespace, argv: list[str]) -> tuple[Path, list[RunConfig], dict]:
    """The stored plan of --resume DIR; refuses flags that would change it."""
    out_dir = args.resume
    if not (out_dir / "suite.json").is_file():
        raise UsageError(f"--resume {out_dir}: no suite.json there; is it a ganbench run folder?")
    if args.recalibrate:
        raise UsageError("--recalibrate: a resumed suite keeps the modes it was planned with; "
                         "leave it out, or start a new suite to measure the modes again")
    from benchmark.suite import read_plan

    stored, plan = read_plan(out_dir)
    if any(a.split("=")[0] in PLAN_FLAGS for a in argv):
        n_images = len(training_images(dataset_name(args.dataset), args.data_dir.resolve() if args.data_dir else None,
                                       args.image_size))
        wanted = apply_calibration(plan_runs(args, resolve_device(args.device), n_images), plan.get("calibration"))
        differences = [f"{a.name}: " + ", ".join(a.differences(b)) for a, b in zip(stored, wanted)
                       if a.differences(b)]
        if len(stored) != len(wanted) or differences:
            listed = "; ".join(differences) or (f"{len(stored)} runs planned, "
                                                 f"these flags give {len(wanted)}")
            raise UsageError(f"--resume {out_dir}: the flags differ from the original run "
                             f"({listed}); leave them out to resume as planned")
    return out_dir, stored, plan


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on unknown options and choices
    from benchmark.suite import SuiteOptions, run_suite, write_plan

    try:
        if args.report_only:
            return report_only(args.report_only)
        if args.compare:
            return compare_runs(*args.compare, args.out)
        validate_args(args)
        if args.resume:
            out_dir, configs, plan = resume_plan(args, argv)
            options = SuiteOptions(plan["command"], plan["settings"], args.run_timeout, plan.get("calibration"))
        else:
            device = resolve_device(args.device)
            configs = plan_runs(args, device, len(training_images(
                dataset_name(args.dataset), args.data_dir.resolve() if args.data_dir else None, args.image_size)))
        check_names(configs)
        check_frameworks(list(dict.fromkeys(c.framework for c in configs)))
        data_dir = Path(configs[0].data_dir) if configs[0].data_dir else None
        check_data(data_dir, configs)
        if not args.resume:  # before the reference statistics, which take a minute on a new machine
            check_out(args.out)
        inception_reason = prepare_quality_reference(data_dir, configs)
        check_free_space(args, configs)
        if not args.resume:
            run_id = args.run_id or f"{datetime.now():%Y%m%d-%H%M%S}-{configs[0].profile}-{configs[0].device}"
            out_dir = prepare_out_dir(args.out, run_id)
            calibration = calibrate_modes(configs, data_dir, args.recalibrate)
            configs = apply_calibration(configs, calibration)
            command = " ".join(shlex.quote(a) for a in ["python", "run_benchmark.py", *argv])
            options = SuiteOptions(command, suite_settings(args, configs, calibration, inception_reason),
                                   args.run_timeout, calibration)
            write_plan(out_dir, configs, options)
        if args.plan_only:
            return plan_only(out_dir, configs)
    except UsageError as error:
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {error}\n")

    from benchmark.suite import DiskFault, render

    try:
        results = run_suite(configs, out_dir, options)
        report = render(out_dir)
    except DiskFault as fault:  # full or read-only: no later write could succeed
        parser.exit(EXIT_DISK, f"{parser.prog}: error: {fault}\n")
    except RuntimeError as error:  # another suite holds the folder
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {error}\n")
    print(f"report: {report}")
    failed = [r for r in results["runs"] if r["status"] != "ok"]
    if failed:
        print(f"{len(failed)} of {len(results['runs'])} runs did not finish: "
              + ", ".join(f"{r['config']['model']}-{r['framework']} ({r['status']})" for r in failed),
              file=sys.stderr)
        return EXIT_RUN_FAILED
    return EXIT_OK


def plan_only(out_dir: Path, configs: list[RunConfig]) -> int:
    """--plan-only: each run's folder and config.json, and how to train it."""
    from benchmark import io
    from benchmark.distributed import worker_command

    for config in configs:
        run_dir = out_dir / "runs" / config.name
        io.write_json(run_dir / "config.json", config.to_dict())
        print(f"{config.name}: {shlex.join(worker_command(config.framework, config.devices, run_dir))}")
    print(f"planned {len(configs)} run(s) in {out_dir}; train each with its command (across nodes: "
          "README, data-parallel training), then: python run_benchmark.py --report-only "
          f"{out_dir}")
    return EXIT_OK


def compare_runs(dir_a: Path, dir_b: Path, out: Path) -> int:
    for directory in (dir_a, dir_b):
        if not (directory / "results.json").is_file():
            raise UsageError(f"--compare {directory}: no results.json there")
    from benchmark.report.compare import render_comparison

    with disk_errors_as_usage(f"--out {out}"):
        print(f"comparison: {render_comparison(dir_a, dir_b, prepare_out(out))}")
    return EXIT_OK


def report_only(run_dir: Path) -> int:
    if not (run_dir / "results.json").is_file():
        raise UsageError(f"--report-only {run_dir}: no results.json there")
    from benchmark.report import render_report

    with disk_errors_as_usage(f"--report-only {run_dir}"):
        print(f"report: {render_report(run_dir)}")
    return EXIT_OK


@contextlib.contextmanager
def disk_errors_as_usage(flag: str):
    """A full or read-only disk under a report's folder: exit 2 saying which
    write failed (atomic writes leave no half-written file), not a traceback."""
    from benchmark.io import is_disk_error

    try:
        yield
    except OSError as error:
        if not is_disk_error(error):
            raise
        raise UsageError(f"{flag}: {error.strerror.lower()}: writing {error.filename}; make room "
                         "there (or make it writable) and run the same command again") from None
