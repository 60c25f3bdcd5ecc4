"""What the parity tests of every framework pair share: how results are
compared, and how far float32 rounding can move a training step's losses
(`loss_bound`, derived in `tests.parity.test_parity`'s module docstring and
below). Framework-free except `step_scales`, which reads float64 PyTorch."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from benchmark.runner import StepInputs
from benchmark.specs import GANSpec
from benchmark.weights import canonical_specs
from tests.parity.rounding import ELEMENTWISE_TERMS, rounding_budget
from tests.training import float32_constants  # noqa: F401  (the parity tests' import of it)

BATCH = 16
PIXELS = 28 * 28  # the penalty's gradient norm sums over one image


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |actual - expected| / max |expected|: scale-aware where elementwise
    relative error is meaningless (values crossing zero)."""
    scale = max(float(np.max(np.abs(expected))), 1e-12)
    return float(np.max(np.abs(actual - expected))) / scale


def clipped(spec: GANSpec, weights):
    """The weights as a clipping critic (WGAN) holds them after any update:
    the step's clipping then changes nothing."""
    if spec.clip_value is None:
        return weights
    trainable = canonical_specs(spec)
    return {key: np.clip(value, -spec.clip_value, spec.clip_value)
            if key.startswith("discriminator/") and trainable[key].trainable else value
            for key, value in weights.items()}


@dataclasses.dataclass(frozen=True)
class StepScales:
    """What a step's losses are sensitive to, from float64 PyTorch in training
    mode: `logit`, the largest |D(.)| of the step (every real batch, every
    G batch); `penalty`, the largest over critic passes of mean(2 |n - 1| n)
    for the penalty's per-image gradient norms n (0 without a penalty)."""

    logit: float
    penalty: float


def step_scales(runner, inputs: StepInputs) -> StepScales:
    """The scales of the step `inputs` from `runner`, a float64 TorchRunner
    holding the step's initial weights and data."""
    import torch

    spec = runner.spec
    generator, critic = runner.generator.train(), runner.discriminator.train()
    real, labels = runner.images, runner.labels
    noise, mix = (torch.from_numpy(a.astype(np.float64)) for a in (inputs.noise, inputs.mix))
    fake_labels = torch.from_numpy(inputs.fake_labels)
    conditional = spec.conditional
    logits, penalties = [], [0.0]
    for k, rows in enumerate(torch.from_numpy(inputs.indices)):
        y_real = labels[rows] if conditional else None
        y_fake = fake_labels[k] if conditional else None
        with torch.no_grad():
            fake = generator(noise[k], y_fake)
            logits += [critic(real[rows], y_real), critic(fake, y_fake)]
        if spec.gradient_penalty:
            m = mix[k].view(-1, 1, 1, 1)
            x_hat = (m * real[rows] + (1 - m) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(critic(x_hat, y_real).sum(), x_hat)
            n = grad.flatten(1).norm(dim=1)
            penalties.append(float((2 * (n - 1).abs() * n).mean()))
    y = fake_labels[-1] if conditional else None
    with torch.no_grad():
        logits.append(critic(generator(noise[-1], y), y))
    return StepScales(max(float(t.abs().max()) for t in logits), max(penalties))


def loss_bound(spec: GANSpec, name: str, value: float, scales: StepScales, path: float,
               batch: int = BATCH) -> float:
    """How far float32 rounding can move a step's loss `name` (float64
    value `value`) whose logits carry the relative rounding `path`, for
    batches of `batch` images.

    A loss is a batch mean (or two) of f(logit). Evaluating f and the means
    rounds relative to |loss| (f >= 0; a Wasserstein mean's share is in the
    next term). Each logit's error has a standard deviation of at most
    path * logit / sqrt(12) (`tests.parity.rounding`), so a mean of `batch`
    independent ones, through max|f'| over [-logit, logit] (1 for BCE, hinge
    and Wasserstein, logit + 1 for least squares), moves by at most
    slope * path * logit / sqrt(batch) at the same sqrt(12) deviations; a
    loss near 0 (Wasserstein, hinge) is a small mean of larger scores, which
    this term covers. The penalty mean((n - 1)^2) moves by at most
    mean(2 |n - 1| n) * path for a relative error `path` of n, times its weight."""
    # f, its batch mean, the sum of a D loss's terms, the mean over critic passes.
    evaluation = rounding_budget((), training=True, batch=batch,
                                 extra=(ELEMENTWISE_TERMS, batch, ELEMENTWISE_TERMS, spec.n_critic))
    slope = scales.logit + 1.0 if spec.loss == "least_squares" else 1.0
    means = 2 if name == "d_loss" else 1
    bound = evaluation * abs(value) + path * means * slope * scales.logit / math.sqrt(batch)
    if name == "d_loss" and spec.gradient_penalty:
        bound += path * spec.gradient_penalty * scales.penalty
    return bound
