"""What a GAN is, independent of any framework: two networks, a loss, and a
training policy (optimizers, critic steps, weight clipping, initialisation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from benchmark.specs.layers import NetSpec, trainable_parameter_count

LossName = Literal["bce", "wasserstein"]


@dataclass(frozen=True)
class OptimizerSpec:
    """Both frameworks implement exactly PyTorch's update rule for these.

    adam:    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
             p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
    rmsprop: v = alpha v + (1-alpha) g^2;  p -= lr * g / (sqrt(v) + eps)
    """

    name: Literal["adam", "rmsprop"]
    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    alpha: float = 0.99  # rmsprop smoothing (Keras calls it rho)
    eps: float = 1e-8


@dataclass(frozen=True)
class InitSpec:
    """DCGAN paper: every kernel N(0, std), BatchNorm gamma N(1, std), biases 0."""

    std: float = 0.02


@dataclass(frozen=True)
class GANSpec:
    name: str
    title: str
    paper: str
    latent_dim: int
    image_shape: tuple[int, int, int]  # (H, W, C)
    generator: NetSpec
    discriminator: NetSpec
    loss: LossName
    d_optimizer: OptimizerSpec
    g_optimizer: OptimizerSpec
    num_classes: int = 10  # classes a conditional model can be asked for
    n_critic: int = 1  # discriminator updates per generator update
    clip_value: float | None = None  # WGAN: clamp every critic weight to +-clip_value
    init: InitSpec = InitSpec()

    def __post_init__(self) -> None:
        if self.generator.input_shape != (self.latent_dim,):
            raise ValueError(f"{self.name}: generator input must be ({self.latent_dim},)")
        if self.discriminator.input_shape != self.image_shape:
            raise ValueError(f"{self.name}: discriminator input must be {self.image_shape}")
        if self.n_critic < 1:
            raise ValueError(f"{self.name}: n_critic must be >= 1")

    def parameter_counts(self) -> dict[str, int]:
        return {
            "generator": trainable_parameter_count(self.generator),
            "discriminator": trainable_parameter_count(self.discriminator),
        }
