"""The command line of `python run_benchmark.py`: its flags, their types, and
the error bad input raises (exit 2 with a message saying what to do)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from benchmark.config import (
    DEFAULT_DATASET, INCEPTION_CPU_SAMPLES, INPUT_PIPELINES, MNIST_TRAIN_IMAGES, PROFILES,
)
from benchmark.frameworks import DEFAULT_NAMES, NAMES, PRECISIONS, TABLE
from benchmark.specs import SPECS

DEFAULT_OUT = Path("reports")
EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE = 0, 1, 2
# A full, over-quota or read-only disk stopped the suite before its end: no
# report; `--resume DIR` continues once the disk has room (benchmark.harness.disk.DiskFault).
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
    parser.add_argument("--frameworks", nargs="+", choices=NAMES, default=list(DEFAULT_NAMES),
                        metavar="NAME", help=f"frameworks to compare: {', '.join(NAMES)} "
                        f"(default: {' '.join(DEFAULT_NAMES)})")
    parser.add_argument("--models", nargs="+", choices=[*SPECS, "all"], default=["dcgan", "wgan"],
                        metavar="NAME", help=f"models: {', '.join(SPECS)}, or all (default: dcgan wgan)")
    all_modes = sorted({m for f in TABLE.values() for m in f.modes})
    modes_help = "; ".join(f"{f.name}: {', '.join(f.modes)}" for f in TABLE.values())
    parser.add_argument("--modes", nargs="+", choices=["auto", *all_modes], default=["auto"], metavar="MODE",
                        help="execution modes; each framework runs those it has "
                             f"({modes_help}). Default: auto, each framework's fastest mode for each "
                             "model on this machine, measured before the suite by a short interleaved "
                             "calibration (cached per machine and package versions; --recalibrate "
                             "measures again). The smoke profile, which times nothing, takes the "
                             "reference machine's choice instead (" + ", ".join(
                                 f"{f.name} {f.reference_mode}" for f in TABLE.values()) + ")")
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
    parser.add_argument("--inception-samples", type=non_negative_int, metavar="N",
                        help="on MNIST: generated images scored once at the end of each run by the "
                             "standard FID and KID on Inception-v3, beside the classifier's scores; 0 "
                             "skips it, else at least 10 (default: the profile's, 10000 in full and "
                             f"converge, at most {INCEPTION_CPU_SAMPLES} on a CPU, about 75 s a run there; "
                             "none in smoke and quick)")
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
                             "RGB (docs/usage.md, 'Your own images'). Models get the networks for the data's "
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
                             "prefetch; Grain's DataLoader with worker processes for jax), named ...-native. Both give the same batches in the same "
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
                             "replicas on the CPU (torch: N gloo processes under torchrun; tf and jax: N "
                             "logical CPU devices), which share its cores and so test correctness, "
                             "not speed. The batch stays --batch-size, each replica takes "
                             "batch/N, which N must divide; learning rates are unchanged. torch "
                             "runs DistributedDataParallel, tf MirroredStrategy (mode function), "
                             "jax its jitted step over a jax.sharding mesh (mode jit). Default 1")
    parser.add_argument("--sync-batchnorm", action="store_true",
                        help="with --devices N > 1: BatchNorm normalises with the global batch's "
                             "statistics, all-reduced over the replicas, in every framework (then N "
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
                             "several nodes, started on every node by torchrun, with TF_CONFIG or with "
                             "JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID (docs/distributed.md); --report-only DIR renders them after")
    parser.add_argument("--report-only", type=Path, metavar="DIR",
                        help="re-render DIR/report.md from its result files; trains nothing")
    return parser
