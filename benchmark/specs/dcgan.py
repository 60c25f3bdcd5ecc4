"""DCGAN (Radford et al. 2016) for 28x28 MNIST.

Paper rules: strided (transposed) convolutions instead of pooling, BatchNorm in
both nets except G's output and D's input, ReLU in G with tanh out, LeakyReLU
0.2 in D, N(0, 0.02) initialisation, Adam(2e-4, beta1 0.5), BCE on logits.
28 = 7 * 2 * 2, so G projects to 7x7 and upsamples twice (k4 s2 p1 doubles).

The two builders below are the one place these networks are written; the
variants other models need (labels, spectral norm, self-attention, a critic
without BatchNorm) are their arguments.
"""

from benchmark.specs.gan import GANSpec, OptimizerSpec
from benchmark.specs.layers import (
    Activation, BatchNorm, ConcatLabels, Conv2d, ConvTranspose2d, Dense, Flatten, Layer, NetSpec,
    Reshape, SelfAttention,
)

LATENT_DIM = 100
IMAGE_SHAPE = (28, 28, 1)


def dcgan_generator(*, num_classes: int = 0, spectral_norm: bool = False,
                    attention: bool = False) -> NetSpec:
    """G: noise (100,) -> image (28, 28, 1) in [-1, 1].

    Args:
      num_classes: > 0 appends the one-hot label to the noise (conditional G).
      spectral_norm: on the Dense and both transposed convolutions.
      attention: a SelfAttention block on the 14x14x64 features.
    """
    sn = spectral_norm
    layers: list[Layer] = [ConcatLabels(num_classes)] if num_classes else []  # (100 + classes,)
    layers += [
        # BatchNorm follows: no bias
        Dense("project", LATENT_DIM + num_classes, 7 * 7 * 128, bias=False, spectral_norm=sn),
        Reshape((7, 7, 128)),
        BatchNorm("bn0", 128),
        Activation("relu"),
        ConvTranspose2d("deconv1", 128, 64, kernel=4, stride=2, padding=1, bias=False,
                        spectral_norm=sn),  # 14x14x64
        BatchNorm("bn1", 64),
        Activation("relu"),
    ]
    if attention:
        layers.append(SelfAttention("attention", 64, spectral_norm=sn))  # 14x14x64
    layers += [
        ConvTranspose2d("deconv2", 64, 1, kernel=4, stride=2, padding=1, spectral_norm=sn),  # 28x28x1
        Activation("tanh"),
    ]
    return NetSpec(name="generator", input_shape=(LATENT_DIM,), layers=tuple(layers))


def dcgan_discriminator(*, num_classes: int = 0, batchnorm: bool = True,
                        spectral_norm: bool = False, attention: bool = False) -> NetSpec:
    """D: image (28, 28, 1) -> one logit (1,).

    Args:
      num_classes: > 0 appends one-hot label maps as extra input channels.
      batchnorm: False drops conv2's BatchNorm (WGAN-GP, spectral norm), and
        conv2 gets back its bias.
      spectral_norm: on both convolutions and the output Dense.
      attention: a SelfAttention block on the 14x14x64 features.
    """
    sn = spectral_norm
    layers: list[Layer] = [ConcatLabels(num_classes)] if num_classes else []  # 28x28x(1 + classes)
    layers += [
        # 14x14x64, no BatchNorm on the input
        Conv2d("conv1", 1 + num_classes, 64, kernel=4, stride=2, padding=1, spectral_norm=sn),
        Activation("leaky_relu", 0.2),
    ]
    if attention:
        layers.append(SelfAttention("attention", 64, spectral_norm=sn))  # 14x14x64
    layers.append(Conv2d("conv2", 64, 128, kernel=4, stride=2, padding=1, bias=not batchnorm,
                         spectral_norm=sn))  # 7x7x128
    if batchnorm:
        layers.append(BatchNorm("bn2", 128))
    layers += [
        Activation("leaky_relu", 0.2),
        Flatten(),
        Dense("logit", 7 * 7 * 128, 1, spectral_norm=sn),  # a logit: the loss applies the sigmoid
    ]
    return NetSpec(name="discriminator", input_shape=IMAGE_SHAPE, layers=tuple(layers))


GENERATOR = dcgan_generator()
DISCRIMINATOR = dcgan_discriminator()

DCGAN = GANSpec(
    name="dcgan",
    title="DCGAN",
    paper="Radford, Metz, Chintala 2016, arXiv:1511.06434",
    latent_dim=LATENT_DIM,
    image_shape=IMAGE_SHAPE,
    generator=GENERATOR,
    discriminator=DISCRIMINATOR,
    loss="bce",
    d_optimizer=OptimizerSpec("adam", lr=2e-4, beta1=0.5, beta2=0.999),
    g_optimizer=OptimizerSpec("adam", lr=2e-4, beta1=0.5, beta2=0.999),
)
