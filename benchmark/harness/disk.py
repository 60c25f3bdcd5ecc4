"""Disk space: how much a plan writes (the free-space warning before a suite)
and the stop on a full, over-quota or read-only disk (DiskFault)."""

from __future__ import annotations

import errno
import math
import shutil
from pathlib import Path

from benchmark import io
from benchmark.config import MNIST_TRAIN_IMAGES, RunConfig
from benchmark.grid import frame_samples


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
    frame = min(config.sample_count, frame_samples(spec)) * math.prod(spec.image_shape)  # one of frames.npz
    frames = min(FRAMES_KEPT, steps + 1)
    tensorboard = steps * TENSORBOARD_STEP_BYTES + frames * TENSORBOARD_GRID_FACTOR * frame
    final = (checkpoint + RUN_FIXED_BYTES + 4 * grid + 2 * frames * frame + steps * STEP_BYTES
             + (int(tensorboard) if config.tensorboard else 0))
    return final, checkpoint, final + checkpoint


def planned_bytes(configs: list[RunConfig]) -> int:
    """Bytes `configs` will write under the run folder, the report included, at
    the suite's peak (the largest run swapping its checkpoint)."""
    sizes = [run_bytes(c) for c in configs]
    return (sum(final for final, _, _ in sizes) + max((ck for _, ck, _ in sizes), default=0)
            + REPORT_BYTES_PER_MODEL * max(1, len({c.model for c in configs})))


def format_size(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"
