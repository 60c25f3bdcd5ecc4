"""SAGAN (Zhang et al. 2018) scaled to DCGAN's networks.

A self-attention block (1x1 query/key convolutions to C/8 channels, value to
C, softmax over the positions, out = gamma * o + x, gamma initialised 0) in G
and in D: on their 14x14x64 feature maps at 28x28, on the 32x32 maps of the
paper networks for 64x64 and 128x128 images and on the largest maps (side / 2)
of smaller ones (`benchmark.specs.dcgan_paper.ATTENTION_SIDE` says why).
Spectral norm on every Dense and convolution of both nets, the attention's
included; G keeps its BatchNorm, D has none. Hinge loss; two time-scale update
rule: Adam(beta1 0, beta2 0.9) with D at 4e-4 and G at 1e-4, one D step per G
step.
"""

from dataclasses import replace

from benchmark.specs.dcgan import (
    IMAGE_SHAPE, ImageShape, dcgan, dcgan_discriminator, dcgan_generator, sized_title,
)
from benchmark.specs.gan import GANSpec, OptimizerSpec


def sagan(image_shape: ImageShape = IMAGE_SHAPE) -> GANSpec:
    """SAGAN for images of `image_shape` (28x28x1: `SAGAN`)."""
    return replace(
        dcgan(image_shape),
        name="sagan",
        title=sized_title("SAGAN (self-attention)", image_shape),
        paper="Zhang, Goodfellow, Metaxas, Odena 2018, arXiv:1805.08318",
        generator=dcgan_generator(image_shape, spectral_norm=True, attention=True),
        discriminator=dcgan_discriminator(image_shape, batchnorm=False, spectral_norm=True,
                                          attention=True),
        loss="hinge",
        d_optimizer=OptimizerSpec("adam", lr=4e-4, beta1=0.0, beta2=0.9),
        g_optimizer=OptimizerSpec("adam", lr=1e-4, beta1=0.0, beta2=0.9),
    )


SAGAN = sagan()
