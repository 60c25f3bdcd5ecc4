"""One small GAN that holds every path the zoo adds to a training step, for the
tests that compare one framework's execution modes (tests/torch_impl and
tests/tf_impl test_*_modes.py): labels concatenated (cgan), spectral norm's
power iteration (sn_dcgan, sagan), self-attention (sagan), BatchNorm, and the
gradient penalty's nested gradients (wgan_gp), here through a spectrally
normalised critic, so the interpolates' forward pass advances the power
iteration too. It is small so that XLA compiles it in seconds and
torch.compile in about a minute.

Imports no training framework: the torch test must load torch.compile's
modules before anything imports TensorFlow.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.specs import GANSpec, OptimizerSpec
from benchmark.specs.layers import (
    Activation, BatchNorm, ConcatLabels, Conv2d, ConvTranspose2d, Dense, Flatten, NetSpec, Reshape,
    SelfAttention,
)
from benchmark.weights import Weights, initial_weights

BATCH = 8

EVERY_PATH = GANSpec(
    name="every_path", title="", paper="", latent_dim=6, image_shape=(8, 8, 1),
    generator=NetSpec("generator", (6,), (
        ConcatLabels(10), Dense("project", 16, 4 * 4 * 8, bias=False, spectral_norm=True),
        Reshape((4, 4, 8)), BatchNorm("bn", 8), Activation("relu"),
        SelfAttention("attention", 8, reduction=4, spectral_norm=True),
        ConvTranspose2d("deconv", 8, 1, 4, 2, 1, spectral_norm=True), Activation("tanh"),  # 8x8x1
    )),
    discriminator=NetSpec("discriminator", (8, 8, 1), (
        ConcatLabels(10), Conv2d("conv", 11, 8, 4, 2, 1, spectral_norm=True),  # 4x4x8
        Activation("leaky_relu", 0.2), SelfAttention("attention", 8, reduction=4, spectral_norm=True),
        Flatten(), Dense("logit", 4 * 4 * 8, 1, spectral_norm=True),
    )),
    loss="hinge", n_critic=2, gradient_penalty=10.0,
    d_optimizer=OptimizerSpec("adam", lr=4e-4, beta1=0.0, beta2=0.9),
    g_optimizer=OptimizerSpec("adam", lr=1e-4, beta1=0.0, beta2=0.9),
)


# `tests.training.train_steps` arguments for the modes tests: two steps in float64.
TRAIN_OPTIONS = dict(steps=2, batch=BATCH, data=32, weight_seed=2, data_seed=4, dtype="float64")


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |actual - expected| over the array's largest magnitude or 1e-3,
    whichever is larger: a bias whose gradient is analytically 0 (the penalty
    ignores biases, and hinge's bias gradient is 0 while every score is inside
    the margin) holds only float64 noise, ~1e-14, which differs between modes."""
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-3))


def assert_same_training(expected: tuple[list[dict[str, float]], Weights],
                         actual: tuple[list[dict[str, float]], Weights], rtol: float) -> None:
    """Two (losses, exported weights) of `train_steps` agree to `rtol`: every
    loss, and every array (parameters, BatchNorm statistics, spectral-norm
    vectors); and the power iteration ran (the critic's u moved)."""
    (expected_losses, expected_weights), (losses, weights) = expected, actual
    for want, got in zip(expected_losses, losses, strict=True):
        for name in want:
            assert got[name] == pytest.approx(want[name], rel=rtol), name
    for key, value in expected_weights.items():
        assert relative_error(weights[key], value) < rtol, key
    assert not np.array_equal(weights["discriminator/conv/sn_u"],
                              initial_weights(EVERY_PATH, seed=TRAIN_OPTIONS["weight_seed"])["discriminator/conv/sn_u"])
