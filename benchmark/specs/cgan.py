"""Conditional GAN (Mirza & Osindero 2014) on DCGAN's networks.

How the label y (one of 10 digits) enters, with no extra parameters:
- G: the one-hot y is concatenated to the noise, (100,) -> (110,), before the
  projection Dense.
- D: the one-hot y becomes 10 constant 28x28 maps (map y all ones, the rest
  zeros) concatenated to the image as channels, 28x28x1 -> 28x28x11, before
  the first convolution.
Real images are paired with their own labels, fakes with the labels G was
asked for (`StepInputs.fake_labels`). Loss and optimizers are DCGAN's.
"""

from benchmark.specs.dcgan import DCGAN, dcgan_discriminator, dcgan_generator
from benchmark.specs.gan import GANSpec

NUM_CLASSES = 10

CGAN = GANSpec(
    name="cgan",
    title="Conditional DCGAN",
    paper="Mirza, Osindero 2014, arXiv:1411.1784",
    latent_dim=DCGAN.latent_dim,
    image_shape=DCGAN.image_shape,
    generator=dcgan_generator(num_classes=NUM_CLASSES),
    discriminator=dcgan_discriminator(num_classes=NUM_CLASSES),
    loss="bce",
    d_optimizer=DCGAN.d_optimizer,
    g_optimizer=DCGAN.g_optimizer,
    num_classes=NUM_CLASSES,
)
