"""WGAN with weight clipping (Arjovsky, Chintala, Bottou 2017), for 28x28
MNIST and any image shape DCGAN takes.

The DCGAN networks, with D read as a critic: its Dense output is already
linear, so only the loss changes. Paper policy: RMSprop(5e-5), 5 critic updates
per generator update, every critic weight clamped to [-0.01, 0.01] after each
critic update. The paper's own LSUN critic is the DCGAN discriminator with
BatchNorm, as here.
"""

from benchmark.specs.dcgan import (
    IMAGE_SHAPE, LATENT_DIM, ImageShape, dcgan_discriminator, dcgan_generator, sized_title,
)
from benchmark.specs.gan import GANSpec, OptimizerSpec


def wgan(image_shape: ImageShape = IMAGE_SHAPE) -> GANSpec:
    """WGAN for images of `image_shape` (28x28x1: `WGAN`)."""
    return GANSpec(
        name="wgan",
        title=sized_title("WGAN (weight clipping)", image_shape),
        paper="Arjovsky, Chintala, Bottou 2017, arXiv:1701.07875",
        latent_dim=LATENT_DIM,
        image_shape=tuple(image_shape),
        generator=dcgan_generator(image_shape),
        discriminator=dcgan_discriminator(image_shape),
        loss="wasserstein",
        d_optimizer=OptimizerSpec("rmsprop", lr=5e-5, alpha=0.99, eps=1e-8),
        g_optimizer=OptimizerSpec("rmsprop", lr=5e-5, alpha=0.99, eps=1e-8),
        n_critic=5,
        clip_value=0.01,
    )


WGAN = wgan()
