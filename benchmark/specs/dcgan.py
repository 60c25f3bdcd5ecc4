"""DCGAN (Radford et al. 2016) for 28x28 MNIST, and the paper's own networks
for other image shapes.

Paper rules: strided (transposed) convolutions instead of pooling, BatchNorm in
both nets except G's output and D's input, ReLU in G with tanh out, LeakyReLU
0.2 in D, N(0, 0.02) initialisation, Adam(2e-4, beta1 0.5), BCE on logits.
28 = 7 * 2 * 2, so G projects to 7x7 and upsamples twice (k4 s2 p1 doubles).

The two builders below are the one place these networks are written. Their
image shape picks the 28x28x1 MNIST networks written here, or the paper's
64x64 architecture at a square side of 16, 32, 64 or 128 with 1 or 3
channels (`benchmark.specs.dcgan_paper`); the variants other models need
(labels, spectral norm, self-attention, a critic without BatchNorm) are their
other arguments. `benchmark.specs.spec_for_image` gives a model's spec for a
data set's image shape.
"""

from __future__ import annotations

from benchmark.specs.dcgan_paper import check_square, paper_discriminator, paper_generator
from benchmark.specs.gan import GANSpec, OptimizerSpec
from benchmark.specs.layers import (
    Activation, BatchNorm, ConcatLabels, Conv2d, ConvTranspose2d, Dense, Flatten, Layer, NetSpec,
    Reshape, SelfAttention,
)

LATENT_DIM = 100
IMAGE_SHAPE = (28, 28, 1)  # MNIST: the networks every model had before other data

ImageShape = tuple[int, int, int]  # (H, W, C)


def square(image_shape: ImageShape) -> tuple[int, int]:
    """(side, channels) of a square image shape; ValueError otherwise."""
    height, width, channels = image_shape
    if height != width:
        raise ValueError(f"the DCGAN paper's networks take square images, not {height}x{width}")
    return height, channels


def check_image_shape(image_shape: ImageShape) -> ImageShape:
    """`image_shape` as a tuple if DCGAN's networks take it (28x28x1, or a
    square `dcgan_paper` size); ValueError otherwise."""
    shape = tuple(int(d) for d in image_shape)
    if shape != IMAGE_SHAPE:
        if len(shape) != 3:
            raise ValueError(f"an image shape is (H, W, C), not {shape}")
        check_square(*square(shape))
    return shape


def sized_title(title: str, image_shape: ImageShape) -> str:
    """A model's title with its image size where that is not MNIST's: "DCGAN
    64x64" (RGB), "DCGAN 32x32x1" (grey), "DCGAN" (28x28x1)."""
    if tuple(image_shape) == IMAGE_SHAPE:
        return title
    height, width, channels = image_shape
    return f"{title} {height}x{width}" + ("" if channels == 3 else f"x{channels}")


def dcgan_generator(image_shape: ImageShape = IMAGE_SHAPE, *, num_classes: int = 0,
                    spectral_norm: bool = False, attention: bool = False) -> NetSpec:
    """G: noise (100,) -> image `image_shape` in [-1, 1]; below, the 28x28x1
    network, else `dcgan_paper.paper_generator`.

    Args:
      num_classes: > 0 appends the one-hot label to the noise (conditional G).
      spectral_norm: on the Dense and every transposed convolution.
      attention: a SelfAttention block on the 14x14x64 features (the paper
        nets: `dcgan_paper.attention_side`).
    """
    if tuple(image_shape) != IMAGE_SHAPE:
        return paper_generator(*square(image_shape), latent_dim=LATENT_DIM, num_classes=num_classes,
                               spectral_norm=spectral_norm, attention=attention)
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


def dcgan_discriminator(image_shape: ImageShape = IMAGE_SHAPE, *, num_classes: int = 0,
                        batchnorm: bool = True, spectral_norm: bool = False,
                        attention: bool = False) -> NetSpec:
    """D: image `image_shape` -> one logit (1,); below, the 28x28x1 network,
    else `dcgan_paper.paper_discriminator`.

    Args:
      num_classes: > 0 appends one-hot label maps as extra input channels.
      batchnorm: False drops every BatchNorm (WGAN-GP, spectral norm), and
        the convolutions before them get back their bias.
      spectral_norm: on every convolution and the output Dense.
      attention: a SelfAttention block on the 14x14x64 features (the paper
        nets: `dcgan_paper.attention_side`).
    """
    if tuple(image_shape) != IMAGE_SHAPE:
        return paper_discriminator(*square(image_shape), num_classes=num_classes, batchnorm=batchnorm,
                                   spectral_norm=spectral_norm, attention=attention)
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


def dcgan(image_shape: ImageShape = IMAGE_SHAPE) -> GANSpec:
    """DCGAN for images of `image_shape` (28x28x1: `DCGAN`)."""
    adam = OptimizerSpec("adam", lr=2e-4, beta1=0.5, beta2=0.999)  # G's and D's
    return GANSpec(
        name="dcgan",
        title=sized_title("DCGAN", image_shape),
        paper="Radford, Metz, Chintala 2016, arXiv:1511.06434",
        latent_dim=LATENT_DIM,
        image_shape=tuple(image_shape),
        generator=dcgan_generator(image_shape),
        discriminator=dcgan_discriminator(image_shape),
        loss="bce",
        d_optimizer=adam,
        g_optimizer=adam,
    )


DCGAN = dcgan()
