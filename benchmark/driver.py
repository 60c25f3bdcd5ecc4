"""The framework-agnostic training loop: the same batch order, the same noise
and the same clock for every runner.

Randomness comes from numpy only, split from the run's seed:
  init    -> the canonical initial weights,
  order   -> the permutation of the training set, epoch by epoch,
  noise   -> every step's latent vectors, fake labels and mixing weights,
  samples -> the fixed latent vectors of the sample grid.
Two frameworks given the same seed therefore see identical data and noise.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from benchmark.config import RunConfig
from benchmark.runner import Runner, StepInputs
from benchmark.specs import GANSpec
from benchmark.timing import summarize_steps


@dataclass(frozen=True)
class Seeds:
    init: int
    order: np.random.Generator
    noise: np.random.Generator
    samples: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> "Seeds":
        init, order, noise, samples = np.random.SeedSequence(seed).spawn(4)
        return cls(int(init.generate_state(1)[0]), np.random.default_rng(order),
                   np.random.default_rng(noise), np.random.default_rng(samples))


@dataclass
class History:
    """One row per step."""

    epoch: list[int] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    step_s: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)  # since training started

    def append(self, epoch: int, losses: dict[str, float], step_s: float, wall_s: float) -> None:
        self.epoch.append(epoch)
        self.d_loss.append(losses["d_loss"])
        self.g_loss.append(losses["g_loss"])
        self.step_s.append(step_s)
        self.wall_s.append(wall_s)

    def to_csv(self) -> str:
        rows = ["step,epoch,d_loss,g_loss,step_s,wall_s"]
        rows += [f"{i},{e},{d!r},{g!r},{s:.6f},{w:.6f}" for i, (e, d, g, s, w) in enumerate(
            zip(self.epoch, self.d_loss, self.g_loss, self.step_s, self.wall_s))]
        return "\n".join(rows) + "\n"


@dataclass
class TrainOutcome:
    status: str  # "ok" or "diverged"
    history: History
    epoch_seconds: list[float]
    timing: dict[str, float | int]
    samples: np.ndarray  # (sample_count, H, W, C) from the fixed sample noise
    reason: str | None = None


def epoch_batches(n_images: int, config: RunConfig, spec: GANSpec, rng: np.random.Generator) -> np.ndarray:
    """(steps, n_critic, B) image indices: one seeded permutation per epoch, the
    tail that does not fill a whole step dropped."""
    per_step = config.batch_size * spec.n_critic
    steps = n_images // per_step
    if steps == 0:
        raise ValueError(f"{n_images} training images do not fill one step of "
                         f"{spec.n_critic} x {config.batch_size}; lower --batch-size")
    return rng.permutation(n_images)[: steps * per_step].reshape(steps, spec.n_critic, config.batch_size)


def train(runner: Runner, spec: GANSpec, config: RunConfig, images: np.ndarray,
          labels: np.ndarray, seeds: Seeds,
          log: Callable[[str], None] = print, log_lines_per_epoch: int = 10) -> TrainOutcome:
    """Trains `config.epochs` epochs and times every step.

    Step time covers the runner's `train_step` only (it returns after the
    device has finished); the batch plan and noise are drawn outside it.
    Stops early, with status "diverged", at the first non-finite loss.
    """
    runner.load_data(images, labels)
    history = History()
    epoch_seconds: list[float] = []
    sample_noise = seeds.samples.standard_normal((config.sample_count, spec.latent_dim), dtype=np.float32)
    sample_labels = np.arange(config.sample_count) % spec.num_classes  # a conditional G: rows of 0..9
    started = time.perf_counter()
    for epoch in range(config.epochs):
        plan = epoch_batches(len(images), config, spec, seeds.order)
        log_every = max(1, len(plan) // log_lines_per_epoch)
        epoch_started = time.perf_counter()
        for step, indices in enumerate(plan):
            inputs = StepInputs.draw(spec, indices, seeds.noise)
            t0 = time.perf_counter()
            losses = runner.train_step(inputs)
            t1 = time.perf_counter()
            history.append(epoch, losses, t1 - t0, t1 - started)
            if not all(math.isfinite(v) for v in losses.values()):
                reason = f"non-finite loss at step {len(history.d_loss) - 1}: {losses}"
                log(f"diverged: {reason}")
                return TrainOutcome("diverged", history, epoch_seconds,
                                    _timing(history, config, spec), runner.generate(sample_noise, sample_labels), reason)
            if step % log_every == 0 or step == len(plan) - 1:
                rate = config.batch_size * spec.n_critic / (t1 - t0)
                log(f"epoch {epoch + 1}/{config.epochs} step {step + 1}/{len(plan)} "
                    f"d_loss {losses['d_loss']:.4f} g_loss {losses['g_loss']:.4f} {rate:.0f} img/s")
        epoch_seconds.append(time.perf_counter() - epoch_started)
    return TrainOutcome("ok", history, epoch_seconds, _timing(history, config, spec),
                        runner.generate(sample_noise, sample_labels))


def _timing(history: History, config: RunConfig, spec: GANSpec) -> dict[str, float | int]:
    images_per_step = config.batch_size * spec.n_critic
    return {"images_per_step": images_per_step, "steps": len(history.step_s),
            **summarize_steps(history.step_s, images_per_step)}
