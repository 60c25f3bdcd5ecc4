"""The plan: the command line's flags -> one RunConfig per run, each framework
in the modes it has; and the suite-level settings that results.json records."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import re
from pathlib import Path

from benchmark.config import (
    DEFAULT_DATASET, INCEPTION_CPU_PROBES, INCEPTION_CPU_SAMPLES, MNIST_TRAIN_IMAGES, PROFILES, RunConfig,
)
from benchmark.frameworks import TABLE, framework
from benchmark.harness.arguments import UsageError
from benchmark.harness.calibration import AUTO
from benchmark.specs import SPECS


def resolve_device(choice: str) -> str:
    if choice != "auto":
        return choice
    from benchmark.environment import gpu_description

    return "cuda" if gpu_description() else "cpu"


def resolve_modes(frameworks: list[str], modes: list[str], device: str,
                  calibrate: bool) -> dict[str, list[str]]:
    """Each framework's modes: those named, or ["auto"] (resolved by
    benchmark.harness.calibration), or the reference choice where `calibrate` is off."""
    if modes == [AUTO]:
        return {f: [AUTO if calibrate else framework(f).reference_mode] for f in frameworks}
    if AUTO in modes:
        raise UsageError(f"--modes {' '.join(modes)}: give auto alone, or a list of modes")
    chosen = {f: [m for m in dict.fromkeys(modes) if m in framework(f).modes] for f in frameworks}
    for name, picked in chosen.items():
        if not picked:
            raise UsageError(f"--modes {' '.join(modes)} gives {name} nothing to run; "
                             f"{name} modes: {', '.join(framework(name).modes)}")
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
    inception_samples = 0  # other data is scored on Inception by quality_samples
    if args.dataset == DEFAULT_DATASET:
        inception_samples = profile.inception_samples if args.inception_samples is None else args.inception_samples
        if device == "cpu" and args.inception_samples is None:
            inception_samples = min(inception_samples, INCEPTION_CPU_SAMPLES)
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

    def modes_for(name: str, devices: int) -> list[str]:
        if devices == 1:
            return modes[name]
        facts = framework(name)
        if not facts.data_parallel_runner:
            have = ", ".join(f.name for f in TABLE.values() if f.data_parallel_runner)
            raise UsageError(f"--devices {devices}: {name} has no data-parallel runner ({have} "
                             f"have); run {name} with --devices 1, or leave it out of --frameworks")
        if args.modes == [AUTO]:  # the calibration times single devices
            return [facts.data_parallel_reference_mode]
        chosen = [m for m in modes[name] if m in facts.data_parallel_modes]
        if not chosen:
            raise UsageError(f"--modes {' '.join(args.modes)} gives {name} nothing to run with "
                             f"--devices {devices}; {name}'s data-parallel modes: "
                             f"{', '.join(facts.data_parallel_modes)} (tf: no XLA under tf.distribute; jax: jit only)")
        return chosen

    return [
        RunConfig(framework=f, model=m, mode=mode, device=device, profile=profile.name,
                  epochs=args.epochs or profile.epochs_for(m, SPECS[m].n_critic, b,
                                                           args.train_size or profile.train_size, n_images),
                  batch_size=b,
                  train_size=args.train_size or profile.train_size,
                  sample_count=profile.sample_count, seed=s, threads=args.threads,
                  quality_samples=quality_samples, quality_probes=quality_probes, inception_samples=inception_samples,
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


def dataset_name(name: str) -> str:
    """--dataset as runs record it: a canonical name, or folder: with an absolute path."""
    from benchmark.data import DatasetError, parse_dataset

    try:
        ref = parse_dataset(name)
    except DatasetError as error:
        raise UsageError(f"--dataset {name}: {error}") from None
    return f"folder:{ref.path.resolve()}" if ref.kind == "folder" else ref.kind


@functools.lru_cache(maxsize=2)
def training_set_size(dataset: str, data_dir: Path | None, image_size: int | None) -> int:
    """How many training images the data set has (what the plan and its
    checks need; each worker loads its own rows), loaded and verified once per
    process (a folder is decoded on its first use, then read from its cache);
    exit 2 where they cannot be loaded, saying why and what to do."""
    from benchmark.data import DatasetError, load_pixels

    if data_dir is not None and not data_dir.is_dir():
        raise UsageError(f"--data-dir {data_dir}: no such folder")
    try:
        pixels, _ = load_pixels(dataset, "train", data_dir, image_size)
    except DatasetError as error:  # MNISTError is one
        raise UsageError(str(error)) from None
    return len(pixels)


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
            # the profile as it stood when the suite ran (a report rendered later reads this)
            "profile_settings": dataclasses.asdict(PROFILES[configs[0].profile]),
            "seeds": list(dict.fromkeys(c.seed for c in configs)),
            "modes": sorted({f"{c.framework} {c.mode}" for c in configs}), "modes_chosen_by": modes_by,
            # every mode each framework has, so that a report can say which were not run
            "framework_modes": {f: list(framework(f).modes) for f in dict.fromkeys(args.frameworks)},
            "precisions": list(dict.fromkeys(c.precision for c in configs)),
            "devices": list(dict.fromkeys(c.devices for c in configs)),
            "sync_batchnorm": any(c.sync_batchnorm for c in configs),
            "dataset": configs[0].dataset, "image_shape": list(image_shape_of(configs[0])),
            "input_pipelines": list(dict.fromkeys(c.input_pipeline for c in configs)),
            "quality_features": ("mnist classifier" if configs[0].dataset == DEFAULT_DATASET else "inception"),
            "inception_reason": inception_reason}


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
