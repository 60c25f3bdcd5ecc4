"""Pre-flight checks: what a run would only reject later (in its worker, at
its quality probes, at its first write) is refused here, before anything
trains or is written, with a message saying what to do."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmark.config import DEFAULT_DATASET, RunConfig
from benchmark.frameworks import TABLE, framework
from benchmark.harness.arguments import MAX_THREADS, UsageError
from benchmark.harness.disk import format_size, planned_bytes
from benchmark.harness.plan import dataset_name, training_set_size
from benchmark.io import existing_parent


def check_frameworks(frameworks: list[str]) -> None:
    """Finds each framework's package without importing it (imports take seconds)."""
    for name in frameworks:
        facts = framework(name)
        if not facts.installed():
            raise UsageError(f"{name}: the {facts.package} package is not installed in "
                             f"{sys.executable}; run `make install` (README) or leave {name} "
                             "out of --frameworks")


def validate_args(args: argparse.Namespace) -> None:
    """Refuses, before anything trains or is written, the values a run would
    only reject later: in its worker (a missing GPU, an image size the data
    set does not have, a framework without a native pipeline or precision), at its quality
    probes (the evaluator's minimum, memory) or at its first write (a
    read-only --resume folder). --threads is checked by `check_threads`."""
    from benchmark.data import DatasetError, image_shape

    try:
        image_shape(dataset_name(args.dataset), args.image_size)
    except DatasetError as error:
        raise UsageError(f"--image-size {args.image_size}: {error}") from None
    if "native" in args.input_pipeline:
        lacking = [f for f in dict.fromkeys(args.frameworks) if not framework(f).input_pipeline]
        if lacking:
            having = "/".join(f.name for f in TABLE.values() if f.input_pipeline)
            raise UsageError(f"--input-pipeline native: {', '.join(lacking)} has no native pipeline; native "
                             f"is {having} only. Leave it out of --frameworks, or use device")

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
    if args.inception_samples:
        from benchmark.metrics.evaluation import MIN_SAMPLES

        if args.dataset != DEFAULT_DATASET:
            raise UsageError(f"--inception-samples {args.inception_samples}: it scores MNIST on Inception beside "
                             f"the classifier; {args.dataset} is scored on Inception already, as many samples "
                             "as --quality-samples says")
        if args.inception_samples < MIN_SAMPLES:
            raise UsageError(f"--inception-samples {args.inception_samples}: FID and KID need at least "
                             f"{MIN_SAMPLES} samples; give 0 to skip it, or {MIN_SAMPLES} or more")
        if args.quality_samples == 0:
            raise UsageError(f"--inception-samples {args.inception_samples} with --quality-samples 0: the "
                             "Inception scores join the run's last quality probe, and there is none; "
                             "give --quality-samples 10 or more")
    if args.device == "cuda":
        from benchmark.environment import gpu_description

        if not gpu_description():
            raise UsageError("--device cuda: nvidia-smi finds no GPU on this machine, so every run "
                             "would fail as it starts; use --device cpu, or auto")
    if args.resume is not None and args.resume.is_dir() and not os.access(args.resume, os.W_OK | os.X_OK):
        raise UsageError(f"--resume {args.resume}: not writable (a read-only disk or folder?); the "
                         "resumed runs and results.json are written there. Make it writable, or copy "
                         "the folder somewhere writable and resume the copy")
    for name in dict.fromkeys(args.frameworks):
        lacking = [p for p in dict.fromkeys(args.precision) if p not in framework(name).precisions]
        if lacking:
            raise UsageError(f"--precision {' '.join(lacking)}: {name} has {', '.join(framework(name).precisions)} "
                             f"only; leave {' '.join(lacking)} out, or {name} out of --frameworks")
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


def check_data(data_dir: Path | None, configs: list[RunConfig]) -> None:
    """Loads the data set once here (seconds), so a missing or corrupt file
    fails before any worker starts; checks that every model has networks for
    its images (and labels, if conditional) and that a step fits in the
    training set; warns of runs too short to time."""
    from benchmark.config import spec_for
    from benchmark.driver import total_steps
    from benchmark.timing import WARMUP_STEPS_PER_START

    size = training_set_size(configs[0].dataset, data_dir, configs[0].image_size)
    too_short = {}
    for config in configs:
        try:
            spec = spec_for(config)
        except ValueError as error:  # no networks for this size, or a conditional model without labels
            raise UsageError(f"--dataset {config.dataset} with --models {config.model}: {error}") from None
        n = min(config.train_size or size, size)
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


def prepare_quality_reference(data_dir: Path | None, configs: list[RunConfig]) -> str | None:
    """Before any run: MNIST's real-data statistics, computed once (then cached
    on disk) so that no run pays for them; where Inception scores (data other
    than MNIST, or MNIST's --inception-samples), its weights, looked for (they
    come with the install) and downloaded once where the network allows.
    Returns why FID/KID on Inception cannot be computed, or None."""
    mnist = configs[0].dataset == DEFAULT_DATASET
    if mnist and any(c.quality_samples for c in configs):
        from benchmark.metrics import reference_stats

        reference_stats(data_dir)
    if not any(c.inception_samples if mnist else c.quality_samples for c in configs):
        return None
    from benchmark.metrics.inception import InceptionWeightsError, find_weights

    try:
        find_weights()
    except InceptionWeightsError as error:
        print(f"warning: no FID or KID on Inception for {configs[0].dataset}: {error} Every run reports the "
              "rest, and the report says that Inception's weights were missing.", file=sys.stderr)
        return str(error)
    return None


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


def prepare_out_dir(out: Path, run_id: str) -> Path:
    out_dir = out / run_id
    if out_dir.exists():
        raise UsageError(f"{out_dir} already exists; choose another --run-id or --out")
    prepare_out(out)
    return out_dir


def check_free_space(args: argparse.Namespace, configs: list[RunConfig]) -> None:
    """Before anything is written: refuses a full disk under --out (or --resume
    DIR), and warns when it has less free space than the runs still to do will
    write, estimated from their checkpoints, samples and report
    (benchmark.harness.disk.planned_bytes)."""
    from benchmark.io import NEARLY_FULL_BYTES, existing_parent, free_bytes
    from benchmark.harness.suite import runs_left

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
