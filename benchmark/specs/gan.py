"""What a GAN is, independent of any framework: two networks, a loss, and a
training policy (optimizers, critic steps, weight clipping, gradient penalty,
initialisation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from benchmark.specs.layers import ConcatLabels, NetSpec, is_conditional, trainable_parameter_count

# The twins' `losses.LOSSES` keys; formulas in torch_impl/losses.py.
LossName = Literal["bce", "wasserstein", "least_squares", "hinge"]


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
    # WGAN-GP: add gradient_penalty * E[(||grad D(x_hat)||_2 - 1)^2] to every
    # critic loss, x_hat = mix * real + (1 - mix) * fake (StepInputs.mix)
    gradient_penalty: float | None = None
    init: InitSpec = InitSpec()

    def __post_init__(self) -> None:
        if self.generator.input_shape != (self.latent_dim,):
            raise ValueError(f"{self.name}: generator input must be ({self.latent_dim},)")
        if self.discriminator.input_shape != self.image_shape:
            raise ValueError(f"{self.name}: discriminator input must be {self.image_shape}")
        if self.n_critic < 1:
            raise ValueError(f"{self.name}: n_critic must be >= 1")
        if self.gradient_penalty is not None and self.gradient_penalty <= 0:
            raise ValueError(f"{self.name}: gradient_penalty must be > 0 or None")
        for net in (self.generator, self.discriminator):
            for layer in net.layers:
                if isinstance(layer, ConcatLabels) and layer.num_classes != self.num_classes:
                    raise ValueError(f"{self.name}: {net.name} concatenates {layer.num_classes} "
                                     f"classes, the model has {self.num_classes}")

    @property
    def conditional(self) -> bool:
        """Whether G and D read class labels (StepInputs.fake_labels, the data's labels)."""
        return is_conditional(self.generator) or is_conditional(self.discriminator)

    def parameter_counts(self) -> dict[str, int]:
        return {
            "generator": trainable_parameter_count(self.generator),
            "discriminator": trainable_parameter_count(self.discriminator),
        }
