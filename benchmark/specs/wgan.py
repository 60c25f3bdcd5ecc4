"""WGAN with weight clipping (Arjovsky, Chintala, Bottou 2017), for 28x28
MNIST and any image shape DCGAN takes.

The DCGAN networks, with D read as a critic: its Dense output is already
linear, so only the loss changes. Paper policy: RMSprop(5e-5), 5 critic updates
per generator update, every critic weight clamped to [-0.01, 0.01] after each
critic update. The paper's own LSUN critic is the DCGAN discriminator with
BatchNorm, as here.
"""

from dataclasses import replace

from benchmark.specs.dcgan import IMAGE_SHAPE, ImageShape, dcgan, sized_title
from benchmark.specs.gan import GANSpec, OptimizerSpec


def wgan(image_shape: ImageShape = IMAGE_SHAPE) -> GANSpec:
    """WGAN for images of `image_shape` (28x28x1: `WGAN`)."""
    rmsprop = OptimizerSpec("rmsprop", lr=5e-5, alpha=0.99, eps=1e-8)  # G's and D's
    return replace(
        dcgan(image_shape),
        name="wgan",
        title=sized_title("WGAN (weight clipping)", image_shape),
        paper="Arjovsky, Chintala, Bottou 2017, arXiv:1701.07875",
        loss="wasserstein",
        d_optimizer=rmsprop,
        g_optimizer=rmsprop,
        n_critic=5,
        clip_value=0.01,
    )


WGAN = wgan()
