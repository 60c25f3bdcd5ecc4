"""Runs one (framework, model) configuration in this process:
`python -m benchmark.worker RUN_DIR`.

Reads RUN_DIR/config.json, trains, and writes into RUN_DIR: result.json,
history.csv, samples.npy, frames.npz, trace.npz (benchmark.divergence),
progress.json, checkpoint/ and, with --tensorboard, tensorboard/. If RUN_DIR
holds a checkpoint from an interrupted attempt, training continues from it. The suite
starts one worker per run because frameworks keep global state (threads,
compiled graphs, allocators) that would leak from one run into the next.

Exit codes (benchmark.protocol): 0 ok; 1 failed (result.json says why); 3
finished but not ok (diverged); 4 a full, over-quota or read-only disk refused
a write, reported through the parent's status pipe.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmark import distributed, io, load, protocol
from benchmark.config import DEFAULT_DATASET, NATIVE_LOADER_WORKERS, RunConfig, spec_for
from benchmark.data import load_pixels, scale_pixels, subset_indices
from benchmark.divergence import TRACE_FILE, Trace, Tracer
from benchmark.driver import Hooks, Seeds, TrainState, train
from benchmark.flops import training_flops_per_step
from benchmark.grid import frame_samples, grid_columns
from benchmark.metrics.table import IN_PROGRESS
from benchmark.progress import Progress
from benchmark.quality import InceptionProbe, QualityProbe, inception_beside
from benchmark.registry import create_native_input, create_runner
from benchmark.runner import Runner, RunnerOptions
from benchmark.weights import initial_weights, nudged_by_one_ulp

RESULT_SCHEMA_VERSION = 3
CHECKPOINT = "checkpoint"
FRAMES = "frames.npz"


class Frames:
    """The sample grid through training: steps (K,) and uint8 images
    (K, N, H, W, C), for the report's animation."""

    def __init__(self, steps: list[int], images: list[np.ndarray]) -> None:
        self.steps, self.images = steps, images

    @classmethod
    def load(cls, path: Path, before_step: int) -> "Frames":
        """Frames already saved by an interrupted attempt, up to its checkpoint."""
        if not before_step or not path.exists():
            return cls([], [])
        with np.load(path) as saved:
            keep = saved["steps"] < before_step
            return cls(saved["steps"][keep].tolist(), list(saved["images"][keep]))

    def add(self, step: int, samples: np.ndarray) -> bool:
        """Keeps `samples` (floats in [-1, 1]) as uint8; False if `step` is already kept."""
        if self.steps and self.steps[-1] == step:
            return False
        self.steps.append(step)
        self.images.append(np.round((np.clip(samples, -1, 1) + 1) * 127.5).astype(np.uint8))
        return True

    def save(self, path: Path) -> None:
        if self.steps:
            io.write_npz(path, steps=np.asarray(self.steps, np.int64), images=np.stack(self.images))


class NativeBatches:
    """The native pipeline over the run's training rows: the driver's plan
    indexes the (seeded-subset) training set, the loader its whole data set."""

    def __init__(self, loader, rows: np.ndarray | None) -> None:
        self.loader, self.rows = loader, rows

    def epoch(self, plan: np.ndarray):
        return self.loader.epoch(self._rows(plan))

    def epochs(self, plans):
        return self.loader.epochs([self._rows(plan) for plan in plans])

    def _rows(self, plan: np.ndarray) -> np.ndarray:
        return plan if self.rows is None else self.rows[plan]


LOADER_PROBE_STEPS = 20  # timed steps of the loader alone, after LOADER_PROBE_WARMUP
LOADER_PROBE_WARMUP = 2  # worker processes start, tf.data traces


def loader_alone(batches: NativeBatches, n_images: int, images_per_step: int, seed: int) -> dict:
    """The native loader's images/s with no training beside it: the batches of
    LOADER_PROBE_STEPS steps of a seeded permutation (not the run's order, so
    the run's random streams are untouched), each brought to the host."""
    from benchmark.data.throughput import epoch_plan, time_batches

    plan = epoch_plan(n_images, images_per_step, LOADER_PROBE_STEPS + LOADER_PROBE_WARMUP, seed)
    timed = time_batches(batches.epoch(plan), np.asarray, images_per_step, LOADER_PROBE_WARMUP)
    return {"loader_images_per_s": timed["images_per_s"], "loader_probe_steps": timed["steps"]}


def training_set(config: RunConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The run's training images (N, H, W, C) and labels (N,) (zeros where the
    data has none), and the rows of the data set they are (None: all of it).
    The rows are picked from the raw pixels and only they are scaled, to
    `load_dataset`'s values (benchmark.data.scale_pixels)."""
    pixels, labels = load_pixels(config.dataset, "train", config.data_dir, config.image_size)
    if labels is None:  # an image folder: unconditional models only (benchmark.config.spec_for)
        labels = np.zeros(len(pixels), np.int64)
    rows = subset_indices(len(pixels), config.train_size, config.seed) if config.train_size else None
    if rows is not None:
        pixels, labels = pixels[rows], labels[rows]
    return scale_pixels(pixels), labels, rows


def save_checkpoint(run_dir: Path, runner: Runner, state: TrainState) -> None:
    """Writes checkpoint.new/, then swaps it in for checkpoint/: a kill at any
    moment leaves one complete checkpoint (the old or the new)."""
    new, current, old = run_dir / f"{CHECKPOINT}.new", run_dir / CHECKPOINT, run_dir / f"{CHECKPOINT}.old"
    shutil.rmtree(new, ignore_errors=True)
    try:
        runner.save(new)
        io.write_json(new / "state.json", state.to_dict())
    except Exception as error:
        # torch.save reports a full disk as a RuntimeError without errno: ask the disk
        # before the half-written folder is removed (which frees its space again).
        disk = io.disk_error_at(new, error)
        shutil.rmtree(new, ignore_errors=True)  # half written; checkpoint/ stands
        if disk is not None and disk is not error:
            raise disk from error
        raise
    if current.exists():
        current.rename(old)
    new.rename(current)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint, recovering from a kill mid-swap."""
    for name in (CHECKPOINT, f"{CHECKPOINT}.old"):
        candidate = run_dir / name
        if (candidate / "state.json").is_file():
            return candidate
    return None


def run(run_dir: Path, process: distributed.Process = distributed.Process()) -> dict:
    """Trains the run in RUN_DIR. In a data-parallel run every process trains
    the same steps on its replicas' slices; only `process.writes` (rank 0)
    writes files, and the others score nothing (their copies are identical)."""
    config = RunConfig.from_dict(io.read_json(run_dir / "config.json"))
    spec = spec_for(config)
    if process.writes:
        progress = Progress(config.name, on_line=lambda line: io.write_json(run_dir / "progress.json", {
            "line": line, "updated_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}),
            tensorboard_dir=run_dir / "tensorboard" if config.tensorboard else None)
    else:
        progress = Progress(config.name, stream=open(os.devnull, "w"))

    images, labels, rows = training_set(config)
    seeds = Seeds.from_seed(config.seed)

    built = time.perf_counter()
    runner = create_runner(config.framework, spec,
                           RunnerOptions(device=config.device, mode=config.mode, threads=config.threads,
                                         precision=config.precision, devices=config.devices,
                                         sync_batchnorm=config.sync_batchnorm))
    checkpoint = load_checkpoint(run_dir)
    resume = None
    if checkpoint is not None:
        runner.load(checkpoint)
        resume = TrainState.from_dict(io.read_json(checkpoint / "state.json"))
    else:
        weights = initial_weights(spec, seeds.init)
        if config.nudged:  # the rounding control: the same run, one bit away
            weights, _ = nudged_by_one_ulp(weights)
        runner.import_weights(weights)
    build_s = time.perf_counter() - built
    batches, loader = None, {}
    if config.input_pipeline == "native":  # after the runner: TensorFlow is configured by then
        batches = NativeBatches(create_native_input(config.framework, config.dataset, config.data_dir,
                                                    config.image_size, NATIVE_LOADER_WORKERS, config.device),
                                rows)
        loader = loader_alone(batches, len(images), config.batch_size * spec.n_critic, config.seed)
        progress.message(f"native input pipeline alone: {loader['loader_images_per_s']:,.0f} images/s")
    # before training: the yardstick of this run's share of peak (rank 0 reports it)
    matmul_peak = runner.matmul_gflops() if process.writes else None
    progress.message(f"built in {build_s:.1f}s; training {len(images)} images x {config.epochs} "
                     f"epoch(s), batch {config.batch_size}, mode {config.mode}, {config.precision}")

    frames = Frames.load(run_dir / FRAMES, before_step=len(resume.history) if resume else 0)
    saved_trace = Trace.load(run_dir / TRACE_FILE, up_to_step=len(resume.history)) if resume else None
    mnist = config.dataset == DEFAULT_DATASET
    # The trace's digits need the MNIST classifier: other data traces the weights alone.
    tracer = Tracer.for_run(spec, config.quality_samples if mnist else 0, Seeds.from_seed(config.seed).quality,
                            saved_trace)

    columns = grid_columns(config.model)  # tiled as in the report
    kept = frame_samples(config.model)

    def on_frame(step: int, samples: np.ndarray) -> None:
        if frames.add(step, samples[:kept]):
            progress.frame(step, frames.images[-1], columns)

    def checkpoint(state: TrainState) -> None:
        # Frames and trace first: a kill between these writes then leaves them
        # ahead of the checkpoint (a resume drops what lies beyond it), never
        # behind it (what the checkpoint's steps recorded would be lost).
        frames.save(run_dir / FRAMES)
        tracer.trace.save(run_dir / TRACE_FILE)
        save_checkpoint(run_dir, runner, state)

    quality = None
    if config.quality_samples and process.writes:
        quality = (QualityProbe(spec, config.quality_samples, seeds.quality, config.data_dir) if mnist
                   else InceptionProbe(spec, config.quality_samples, seeds.quality, images,
                                       threads=config.threads, device=config.device))
    if not process.writes:
        # Every process still takes each probe's divergence check (the driver's,
        # on identical weights), so that all stop at the same step.
        checkpoint = None
        quality = unscored if config.quality_samples else None
    try:
        hooks = Hooks(checkpoint=checkpoint, on_frame=on_frame if process.writes else None, quality=quality,
                      trace=tracer if process.writes else None)
        # A data-parallel rank's run is every rank: its launcher's process tree.
        load_root = os.getppid() if process.world > 1 else None
        before = load.sample(load_root)
        outcome = train(runner, spec, config, images, labels, seeds, progress, hooks, resume, batches)
        machine_load = load.between(before, load.sample(load_root))
    finally:
        progress.close()
    if not process.writes:
        runner.close()
        return {"status": outcome.status}
    on_frame(len(outcome.history) - 1, outcome.samples)
    frames.save(run_dir / FRAMES)
    tracer.trace.save(run_dir / TRACE_FILE)
    io.write_text(run_dir / "history.csv", outcome.history.to_csv())
    io.write_npy(run_dir / "samples.npy", outcome.samples)
    final_quality = outcome.quality[-1] if outcome.quality else None
    if mnist and config.inception_samples and final_quality is not None:
        progress.message(f"scoring {config.inception_samples} samples on Inception-v3 (FID, KID)")
        beside = inception_beside(runner, spec, config.inception_samples, seeds.inception, images,
                                  threads=config.threads, device=config.device)
        final_quality = {**final_quality, **beside}
        progress.message(f"Inception FID {beside['inception_fid']:.2f}, KID {beside['inception_kid_mean']:.4f} "
                         f"({beside['inception_s']:.0f}s)" if beside["inception_reason"] is None
                         else f"no Inception FID: {beside['inception_reason']}")

    history = outcome.history
    tail = max(1, len(history) // 10)
    flops = training_flops_per_step(spec, config.batch_size)
    median_ms = outcome.timing.get("step_ms_median")  # None: every step was warm-up
    result = {
        "schema_version": RESULT_SCHEMA_VERSION,
        "name": config.name,
        "framework": config.framework,
        "model": config.model,
        "mode": config.mode,
        "precision": config.precision,
        "dataset": config.dataset,
        "image_shape": list(images.shape[1:]),
        "train_images": len(images),
        "input_pipeline": config.input_pipeline,
        "status": outcome.status,
        "reason": outcome.reason,
        "last_step": len(history) - 1,
        "resumed_from_epoch": outcome.resumed_from_epoch,
        "config": config.to_dict(),
        "environment": runner.environment(),
        "data_parallel": data_parallel(config, process),
        # how busy the machine was while this attempt trained (benchmark.load): a
        # contended run is shown as such and decides no speed verdict
        "machine_load": machine_load,
        "parameter_counts": runner.parameter_counts(),
        "build_s": build_s,
        "timing": {**outcome.timing, "epoch_s": outcome.epoch_seconds,
                   "train_s": history.wall_s[-1] if len(history) else 0.0,
                   "flops_per_step": flops, "gflops_per_s": None if median_ms is None else flops / median_ms / 1e6,
                   "matmul_peak_gflops": matmul_peak, **loader},
        "memory": {"peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                   "peak_device_bytes": runner.peak_memory_bytes()},
        "quality": final_quality,
        "quality_history": outcome.quality,
        "final_losses": {  # mean of the last 10% of steps: single steps are noisy
            "d_loss": sum(history.d_loss[-tail:]) / tail if len(history) else None,
            "g_loss": sum(history.g_loss[-tail:]) / tail if len(history) else None,
        },
        "files": {"history": "history.csv", "samples": "samples.npy", "frames": FRAMES,
                  "trace": TRACE_FILE, "checkpoint": CHECKPOINT},
    }
    runner.close()  # after environment(), which asks the process group its backend
    return result


def unscored(runner: Runner) -> dict[str, float]:
    """A non-writing rank's quality probe: rank 0 scores the same weights. NaN
    for what the probe's progress line shows (benchmark.metrics.table.IN_PROGRESS)."""
    return dict.fromkeys((metric.key for metric in IN_PROGRESS), float("nan"))


def data_parallel(config: RunConfig, process: distributed.Process) -> dict | None:
    """The run's replicas, for the report's scaling section; None on one device."""
    if config.devices == 1 and process.world == 1:
        return None
    replicas = max(config.devices, process.world)
    return {"replicas": replicas, "processes": process.world, "batch_per_replica": config.batch_size // replicas,
            "sync_batchnorm": config.sync_batchnorm,
            # replicas on one CPU share its cores: their timings say nothing about scaling
            "shared_cpu": config.device == "cpu"}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m benchmark.worker RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    try:
        process = distributed.this_process()
    except distributed.UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if process.world > 1:
        # A rank dies with its launcher (torchrun): a killed suite or a run
        # timeout leaves no rank training or waiting in a collective.
        protocol.die_with_parent()
    try:
        result = run(run_dir, process)
        if process.writes:
            io.write_json(run_dir / "result.json", result)
        return protocol.EXIT_OK if result["status"] == "ok" else protocol.EXIT_NOT_OK
    except Exception as error:  # recorded for the report, then a non-zero exit
        if io.is_disk_error(error) and process.writes:
            return stopped_by_disk(run_dir, error)
        traceback.print_exc()
        if not process.writes:
            distributed.record_rank_failure(run_dir, process.rank, f"{type(error).__name__}: {error}")
            return protocol.EXIT_FAILED
        config = io.read_json(run_dir / "config.json")
        try:
            io.write_json(run_dir / "result.json", {
                "schema_version": RESULT_SCHEMA_VERSION, "status": "failed",
                "reason": f"{type(error).__name__}: {error}", "config": config,
                "framework": config.get("framework"), "model": config.get("model"),
                "mode": config.get("mode"), "precision": config.get("precision", "fp32"),
            })
        except OSError as write_error:
            if io.is_disk_error(write_error):
                return stopped_by_disk(run_dir, write_error)
            raise
        return protocol.EXIT_FAILED


def stopped_by_disk(run_dir: Path, error: OSError) -> int:
    """Tells the suite which write a full, over-quota or read-only disk refused,
    through its status pipe (stderr.log and result.json may be on that disk),
    and returns the exit code that says so."""
    report = protocol.send_disk_fault(error, run_dir)
    try:
        traceback.print_exc()
        print(f"{error.strerror}: writing {report['path']}", file=sys.stderr)
    except OSError:
        pass  # stderr.log is on the full disk
    return protocol.EXIT_DISK


def leave(code: int) -> None:
    """Exits with `code`. A rank of a data-parallel run leaves at once,
    without the interpreter's shutdown, whether it failed or not: a failed
    rank's peers may still be in a collective with it, and even after
    DistributedTorchRunner.close() the process group outlives
    destroy_process_group (the DDP wrappers still hold it) until the
    interpreter finalizes, when a gloo thread that frees a finished
    collective's tensors aborts the process (SIGABRT, "terminate called
    without an active exception"): measured 2 runs in 20 of
    tests/distributed/late_collective.py with close() alone, both cores busy.
    The abort would turn a finished run into a failed one and hide a failed
    rank's own exit code and note behind a signal. Every file it wrote is
    closed by then, and its output is flushed here."""
    try:
        several = distributed.this_process().world > 1
    except distributed.UsageError:  # main() said so and exits 2: nothing started
        several = False
    if several:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    leave(main(sys.argv[1:]))
