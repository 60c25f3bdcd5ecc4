"""tf.function and XLA run the same step as eager TensorFlow.

One small model holds every path the zoo added to the traced step: labels
gathered on the device and concatenated (cgan), spectral norm's variable
updates (sn_dcgan, sagan), self-attention (sagan), and the gradient penalty's
nested tapes (wgan_gp), here through a spectrally normalised critic, which
also checks that the interpolates' forward pass advances the power iteration
in every mode. It is small so that XLA compiles it in seconds; the zoo's own
models run in XLA, TF's default CPU mode, in the benchmark's smoke profile.

Runs in float64 so that only a real difference shows: losses and every
exported array (parameters, BatchNorm statistics, spectral-norm vectors) after
two steps agree to 1e-9 relative (XLA fuses and reorders; measured ~1e-15),
relative to the array's largest magnitude or 1e-3, whichever is larger: a bias
whose gradient is analytically 0 (the penalty ignores biases, and hinge's
bias gradient is 0 while every score is inside the margin) holds only float64
noise, ~1e-14, which differs between modes."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.runner import RunnerOptions
from benchmark.specs import GANSpec, OptimizerSpec
from benchmark.specs.layers import (
    Activation, BatchNorm, ConcatLabels, Conv2d, ConvTranspose2d, Dense, Flatten, NetSpec, Reshape,
    SelfAttention,
)
from benchmark.weights import initial_weights
from tests.training import train_steps

tf_runner = pytest.importorskip("tf_impl.runner")

RTOL = 1e-9
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


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-3))


def train(mode: str) -> tuple[list[dict[str, float]], dict[str, np.ndarray]]:
    runner = tf_runner.TFRunner(EVERY_PATH, RunnerOptions(mode=mode, dtype="float64"))
    losses = train_steps(runner, steps=2, batch=BATCH, data=32, weight_seed=2, data_seed=4, dtype="float64")
    return losses, runner.export_weights()


@pytest.fixture(scope="module")
def eager():
    return train("eager")


@pytest.mark.parametrize("mode", ["function", "xla"])
def test_traced_step_equals_eager(mode, eager):
    eager_losses, eager_weights = eager
    losses, weights = train(mode)
    for expected, traced in zip(eager_losses, losses):
        for name in expected:
            assert traced[name] == pytest.approx(expected[name], rel=RTOL), name
    for key, value in eager_weights.items():
        assert relative_error(weights[key], value) < RTOL, key
    assert not np.array_equal(weights["discriminator/conv/sn_u"],
                              initial_weights(EVERY_PATH, seed=2)["discriminator/conv/sn_u"])
