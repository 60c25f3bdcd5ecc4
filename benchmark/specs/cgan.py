"""Conditional GAN (Mirza & Osindero 2014) on DCGAN's networks.

How the label y (one of `num_classes`, 10 digits on MNIST) enters, with no
extra parameters:
- G: the one-hot y is concatenated to the noise, (100,) -> (110,), before the
  projection Dense.
- D: the one-hot y becomes `num_classes` constant maps of the image's size
  (map y all ones, the rest zeros) concatenated to the image as channels, 28x28x1 ->
  28x28x11 (64x64x3 -> 64x64x13), before the first convolution.
Real images are paired with their own labels, fakes with the labels G was
asked for (`StepInputs.fake_labels`). Loss and optimizers are DCGAN's. Any
image shape DCGAN takes, for data that has class labels.
"""

from dataclasses import replace

from benchmark.specs.dcgan import (
    IMAGE_SHAPE, ImageShape, dcgan, dcgan_discriminator, dcgan_generator, sized_title,
)
from benchmark.specs.gan import GANSpec

NUM_CLASSES = 10


def cgan(image_shape: ImageShape = IMAGE_SHAPE, num_classes: int = NUM_CLASSES) -> GANSpec:
    """CGAN for images of `image_shape` labelled with `num_classes` classes
    (28x28x1, 10 classes: `CGAN`)."""
    if num_classes < 2:
        raise ValueError(f"cgan needs data with class labels (2 or more classes), not {num_classes}")
    title = "Conditional DCGAN" + ("" if num_classes == NUM_CLASSES else f" ({num_classes} classes)")
    return replace(
        dcgan(image_shape),
        name="cgan",
        title=sized_title(title, image_shape),
        paper="Mirza, Osindero 2014, arXiv:1411.1784",
        generator=dcgan_generator(image_shape, num_classes=num_classes),
        discriminator=dcgan_discriminator(image_shape, num_classes=num_classes),
        num_classes=num_classes,
    )


CGAN = cgan()
