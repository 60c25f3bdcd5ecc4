"""The framework-agnostic training loop: the same batch order, the same noise
and the same clock for every runner.

Randomness comes from numpy only, split from the run's seed:
  init    -> the canonical initial weights,
  order   -> the permutation of the training set, epoch by epoch,
  noise   -> every step's latent vectors, fake labels and mixing weights,
  samples -> the fixed latent vectors of the sample grid,
  quality -> the fixed latent vectors scored for sample quality.
Two frameworks given the same seed therefore see identical data and noise.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

import numpy as np

from benchmark.config import RunConfig
from benchmark.divergence import trace_steps
from benchmark.progress import Progress
from benchmark.runner import Runner, StepInputs
from benchmark.specs import GANSpec
from benchmark.timing import WARMUP_STEPS_PER_START, summarize_steps


@dataclass(frozen=True)
class Seeds:
    init: int
    order: np.random.Generator
    noise: np.random.Generator
    samples: np.random.Generator
    quality: np.random.Generator
    inception: np.random.Generator  # MNIST's Inception scores beside the classifier's

    @classmethod
    def from_seed(cls, seed: int) -> "Seeds":
        # A SeedSequence's i-th child is the same however many are spawned: a new
        # stream, added last, leaves the others as they were.
        init, order, noise, samples, quality, inception = np.random.SeedSequence(seed).spawn(6)
        return cls(int(init.generate_state(1)[0]), np.random.default_rng(order),
                   np.random.default_rng(noise), np.random.default_rng(samples),
                   np.random.default_rng(quality), np.random.default_rng(inception))


@dataclass
class History:
    """One row per step. `warmup` marks the first steps after each process start
    (tracing, compilation), which the statistics leave out; a resumed run
    warms up again. `input_s`, kept by native-pipeline runs only, is the time
    the driver waited for the step's batch from the loader, outside `step_s`."""

    epoch: list[int] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    step_s: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)  # training time since the first step
    warmup: list[bool] = field(default_factory=list)
    input_s: list[float] = field(default_factory=list)

    COLUMNS = ("epoch", "d_loss", "g_loss", "step_s", "wall_s", "warmup")

    def append(self, epoch: int, losses: dict[str, float], step_s: float, wall_s: float,
               warmup: bool, input_s: float | None = None) -> None:
        self.epoch.append(epoch)
        self.d_loss.append(losses["d_loss"])
        self.g_loss.append(losses["g_loss"])
        self.step_s.append(step_s)
        self.wall_s.append(wall_s)
        self.warmup.append(warmup)
        if input_s is not None:
            self.input_s.append(input_s)

    def __len__(self) -> int:
        return len(self.epoch)

    def to_csv(self) -> str:
        waited = len(self.input_s) == len(self) > 0
        rows = ["step,epoch,d_loss,g_loss,step_s,wall_s,warmup" + (",input_s" if waited else "")]
        rows += [f"{i},{e},{d!r},{g!r},{s:.6f},{w:.6f},{int(u)}" + (f",{self.input_s[i]:.6f}" if waited else "")
                 for i, (e, d, g, s, w, u) in enumerate(
                     zip(self.epoch, self.d_loss, self.g_loss, self.step_s, self.wall_s, self.warmup))]
        return "\n".join(rows) + "\n"

    def to_dict(self) -> dict[str, list]:
        return {name: list(getattr(self, name)) for name in (*self.COLUMNS, "input_s")}

    @classmethod
    def from_dict(cls, values: dict[str, list]) -> "History":
        return cls(**{name: list(values[name]) for name in cls.COLUMNS},
                   input_s=list(values.get("input_s", [])))


@dataclass
class TrainState:
    """What a checkpoint needs besides the runner's weights and optimizer
    state to continue a run exactly where it stopped."""

    epochs_done: int
    history: History
    epoch_seconds: list[float]
    order_rng: dict  # numpy bit-generator states
    noise_rng: dict
    quality: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"epochs_done": self.epochs_done, "history": self.history.to_dict(),
                "epoch_seconds": self.epoch_seconds, "order_rng": self.order_rng,
                "noise_rng": self.noise_rng, "quality": self.quality}

    @classmethod
    def from_dict(cls, values: dict) -> "TrainState":
        return cls(values["epochs_done"], History.from_dict(values["history"]),
                   list(values["epoch_seconds"]), values["order_rng"], values["noise_rng"],
                   list(values.get("quality", [])))


@dataclass
class TrainOutcome:
    status: str  # "ok" or "diverged"
    history: History
    epoch_seconds: list[float]
    timing: dict[str, float | int]
    samples: np.ndarray  # (sample_count, H, W, C) from the fixed sample noise
    reason: str | None = None
    resumed_from_epoch: int | None = None
    # one entry per quality probe (probe_steps): epoch, step, train_s (training
    # wall time so far), eval_s, and the evaluator's scores
    quality: list[dict] = field(default_factory=list)


def epoch_batches(n_images: int, config: RunConfig, spec: GANSpec, rng: np.random.Generator) -> np.ndarray:
    """(steps, n_critic, B) image indices: one seeded permutation per epoch, the
    tail that does not fill a whole step dropped."""
    per_step = config.batch_size * spec.n_critic
    steps = n_images // per_step
    if steps == 0:
        raise ValueError(f"{n_images} training images do not fill one step of "
                         f"{spec.n_critic} x {config.batch_size}; lower --batch-size")
    return rng.permutation(n_images)[: steps * per_step].reshape(steps, spec.n_critic, config.batch_size)


def total_steps(config: RunConfig, spec: GANSpec, n_images: int) -> int:
    """Steps in the whole run (`epoch_batches` drops each epoch's tail)."""
    return config.epochs * (n_images // (config.batch_size * spec.n_critic))


def frame_interval(config: RunConfig, spec: GANSpec, n_images: int, frames: int) -> int:
    """Steps between two snapshots of the sample grid (`frames` per run)."""
    return max(1, total_steps(config, spec, n_images) // max(1, frames))


def probe_steps(total: int, probes: int) -> set[int]:
    """Step counts after which the generator is scored: `probes` of them
    (fewer if the run has fewer steps), evenly spaced, the last after the final
    step. 4 probes of 468 steps: after steps 117, 234, 351 and 468."""
    return {math.ceil(k * total / probes) for k in range(1, probes + 1)}


class Batches(Protocol):
    """A native input pipeline: each step's real images and labels, in the
    order of the driver's plans (the twins' input_pipeline.py)."""

    def epochs(self, plans: Sequence[np.ndarray]) -> Iterator[Iterable[tuple[Any, Any]]]:
        """One iterable of batches per plan, in order, each read to its end
        before the next is asked for. All of the run's epochs come at once so
        that a loader with worker processes starts them once per run."""
        ...


@dataclass(frozen=True)
class Hooks:
    """What the caller does at the driver's moments (each None: nothing). The
    driver leaves their time out of the training wall clock."""

    # After every epoch, with the state a resume continues from.
    checkpoint: Callable[[TrainState], None] | None = None
    # `on_frame(step, samples)`: the sample grid, `frames` times a run.
    on_frame: Callable[[int, np.ndarray], None] | None = None
    frames: int = 12
    # `quality(runner)`: scores, `config.quality_probes` times a run (`probe_steps`).
    quality: Callable[[Runner], dict[str, float]] | None = None
    # `trace(steps_done, runner)`: the divergence trace before the first step
    # and after each of `trace_steps` (benchmark.divergence).
    trace: Callable[[int, Runner], None] | None = None


def train(runner: Runner, spec: GANSpec, config: RunConfig, images: np.ndarray,
          labels: np.ndarray, seeds: Seeds, progress: Progress | None = None, hooks: Hooks = Hooks(),
          resume: TrainState | None = None, batches: Batches | None = None) -> TrainOutcome:
    """Trains `config.epochs` epochs and times every step.

    Step time covers the runner's `train_step` only (it returns after the
    device has finished); the batch plan and noise are drawn outside it.
    `batches` (the native pipeline) loads each step's real images for the
    plan's indices instead of the runner gathering them from `images`; the
    wait for each batch is timed apart, as History.input_s.
    Stops early, with status "diverged", at the first non-finite loss or
    generated image. `resume` continues from a checkpoint's state (the
    runner's weights already restored by the caller). `hooks`: frames,
    scores, traces and checkpoints (Hooks), left out of the training wall clock.
    """
    progress = progress or Progress(config.name)
    checkpoint, on_frame, quality, trace = hooks.checkpoint, hooks.on_frame, hooks.quality, hooks.trace
    if batches is None:
        runner.load_data(images, labels)
    every = frame_interval(config, spec, len(images), hooks.frames)
    probes = probe_steps(total_steps(config, spec, len(images)), config.quality_probes)
    traced = trace_steps(total_steps(config, spec, len(images)))
    sample_noise = seeds.samples.standard_normal((config.sample_count, spec.latent_dim), dtype=np.float32)
    sample_labels = np.arange(config.sample_count) % spec.num_classes  # a conditional G: 0..9 cycling
    history, epoch_seconds, first_epoch, scores = History(), [], 0, []
    if resume is not None:
        history, epoch_seconds, first_epoch = resume.history, resume.epoch_seconds, resume.epochs_done
        scores = resume.quality
        seeds.order.bit_generator.state = resume.order_rng
        seeds.noise.bit_generator.state = resume.noise_rng
        progress.message(f"resumed after epoch {first_epoch} (step {len(history)})")
    warmup_left = WARMUP_STEPS_PER_START
    wall_offset = history.wall_s[-1] if len(history) else 0.0
    if trace is not None and not len(history):
        trace(0, runner)  # the shared start: two twins' distance here is 0
    started = time.perf_counter()
    paused = 0.0  # seconds of frames, scoring, traces and checkpoints: not training time

    def outcome(status: str, reason: str | None = None, samples: np.ndarray | None = None) -> TrainOutcome:
        if samples is None:
            samples = runner.generate(sample_noise, sample_labels)
        return TrainOutcome(status, history, epoch_seconds, _timing(history, config, spec), samples,
                            reason, first_epoch if resume is not None else None, scores)

    def non_finite_samples(epoch: int) -> tuple[str | None, np.ndarray]:
        """(why the run diverged, or None; the sample grid it was read from)."""
        samples = runner.generate(sample_noise, sample_labels)
        if np.all(np.isfinite(samples)):
            return None, samples
        return f"non-finite generated images in epoch {epoch + 1} (step {len(history) - 1})", samples

    # Every epoch's plan is drawn before the first step, each with the order
    # stream's state after it (what a checkpoint at that epoch's end saves).
    plans, order_states = [], []
    for _ in range(first_epoch, config.epochs):
        plans.append(epoch_batches(len(images), config, spec, seeds.order))
        order_states.append(seeds.order.bit_generator.state)
    loaded_epochs = batches.epochs(plans) if batches is not None else None
    for epoch, plan, order_state in zip(range(first_epoch, config.epochs), plans, order_states):
        loaded = iter(next(loaded_epochs)) if loaded_epochs is not None else None
        epoch_started, paused_before = time.perf_counter(), paused
        for step, indices in enumerate(plan):
            input_s = real = real_labels = None
            if loaded is not None:
                waited = time.perf_counter()
                real, real_labels = next(loaded)
                input_s = time.perf_counter() - waited
            inputs = StepInputs.draw(spec, indices, seeds.noise, real=real, real_labels=real_labels)
            t0 = time.perf_counter()
            losses = runner.train_step(inputs)
            t1 = time.perf_counter()
            step_s = runner.step_seconds(t1 - t0)  # data-parallel: the slowest replica's
            history.append(epoch, losses, step_s, wall_offset + t1 - started - paused, warmup_left > 0, input_s)
            warmup_left -= 1
            if not all(math.isfinite(v) for v in losses.values()):
                reason = f"non-finite loss at step {len(history) - 1}: {losses}"
                progress.message(f"diverged: {reason}")
                return outcome("diverged", reason)
            progress.step(len(history) - 1, epoch, config.epochs, step, len(plan), losses,
                          config.batch_size * spec.n_critic / step_s)
            if on_frame is not None and len(history) % every == 0:
                on_frame(len(history) - 1, runner.generate(sample_noise, sample_labels))
                paused += time.perf_counter() - t1
            if trace is not None and len(history) in traced:
                traced_at = time.perf_counter()
                trace(len(history), runner)
                paused += time.perf_counter() - traced_at
            if quality is not None and len(history) in probes:
                scored = time.perf_counter()
                reason, samples = non_finite_samples(epoch)  # the evaluator needs finite images
                if reason is not None:
                    progress.message(f"diverged: {reason}")
                    return outcome("diverged", reason, samples)
                found = quality(runner)
                scores.append({"epoch": epoch + 1, "step": len(history) - 1, "train_s": history.wall_s[-1],
                               "eval_s": time.perf_counter() - scored, **found})
                progress.quality(len(history) - 1, epoch, step, len(plan), found)
                paused += time.perf_counter() - scored
            if len(history) % every == 0 or len(history) in traced or len(history) in probes:
                paused += _synchronized(runner)
        epoch_ended = time.perf_counter()
        epoch_seconds.append(epoch_ended - epoch_started - (paused - paused_before))  # training only
        reason, samples = non_finite_samples(epoch)
        if reason is not None:
            progress.message(f"diverged: {reason}")
            return outcome("diverged", reason, samples)
        if checkpoint is not None:
            checkpoint(TrainState(epoch + 1, history, epoch_seconds, order_state,
                                  seeds.noise.bit_generator.state, scores))
        paused += time.perf_counter() - epoch_ended + _synchronized(runner)
    return outcome("ok")


def _synchronized(runner: Runner) -> float:
    """Seconds spent waiting for every replica process after work that only
    some of them do (rank 0 alone writes frames, traces, scores and
    checkpoints). Without it the others would wait inside their next timed
    step, and the slowest replica's step time would count rank 0's scoring."""
    waited = time.perf_counter()
    runner.synchronize()
    return time.perf_counter() - waited


def _timing(history: History, config: RunConfig, spec: GANSpec) -> dict[str, float | int | None]:
    images_per_step = config.batch_size * spec.n_critic
    timing = {"images_per_step": images_per_step, "steps": len(history),
              **summarize_steps(history.step_s, history.warmup, images_per_step)}
    if len(history.input_s) == len(history) > 0:  # the native pipeline: its waits, steady steps only
        steady = [(i, s) for i, s, w in zip(history.input_s, history.step_s, history.warmup) if not w]
        waited, stepped = sum(i for i, _ in steady), sum(s for _, s in steady)
        timing["input_wait_s"] = waited
        timing["input_wait_share"] = waited / (waited + stepped) if steady else None
        # images/s counting each step's wait for its batch, at the median as images_per_s
        timing["images_per_s_with_input"] = (images_per_step / float(np.median([i + s for i, s in steady]))
                                             if steady else None)
    return timing
