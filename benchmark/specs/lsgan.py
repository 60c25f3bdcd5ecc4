"""LSGAN (Mao et al. 2017): DCGAN's networks and optimizers, least-squares loss
with the paper's a = 0 (fake), b = 1 (real), c = 1 (what G wants D to say):
D minimises 0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2], G 0.5 E[(D(G(z)) - 1)^2],
D's output read as a score, not a logit. Any image shape DCGAN takes.
"""

from dataclasses import replace

from benchmark.specs.dcgan import IMAGE_SHAPE, ImageShape, dcgan, sized_title
from benchmark.specs.gan import GANSpec


def lsgan(image_shape: ImageShape = IMAGE_SHAPE) -> GANSpec:
    """LSGAN for images of `image_shape` (28x28x1: `LSGAN`)."""
    return replace(
        dcgan(image_shape),
        name="lsgan",
        title=sized_title("LSGAN", image_shape),
        paper="Mao et al. 2017, arXiv:1611.04076",
        loss="least_squares",
    )


LSGAN = lsgan()
