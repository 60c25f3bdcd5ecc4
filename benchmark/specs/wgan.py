"""WGAN with weight clipping (Arjovsky, Chintala, Bottou 2017) for 28x28 MNIST.

The DCGAN networks, with D read as a critic: its Dense output is already
linear, so only the loss changes. Paper policy: RMSprop(5e-5), 5 critic updates
per generator update, every critic weight clamped to [-0.01, 0.01] after each
critic update.
"""

from benchmark.specs.dcgan import DISCRIMINATOR, GENERATOR, IMAGE_SHAPE, LATENT_DIM
from benchmark.specs.gan import GANSpec, OptimizerSpec

WGAN = GANSpec(
    name="wgan",
    title="WGAN (weight clipping)",
    paper="Arjovsky, Chintala, Bottou 2017, arXiv:1701.07875",
    latent_dim=LATENT_DIM,
    image_shape=IMAGE_SHAPE,
    generator=GENERATOR,
    discriminator=DISCRIMINATOR,
    loss="wasserstein",
    d_optimizer=OptimizerSpec("rmsprop", lr=5e-5, alpha=0.99, eps=1e-8),
    g_optimizer=OptimizerSpec("rmsprop", lr=5e-5, alpha=0.99, eps=1e-8),
    n_critic=5,
    clip_value=0.01,
)
