"""LSGAN (Mao et al. 2017): DCGAN's networks and optimizers, least-squares loss
with the paper's a = 0 (fake), b = 1 (real), c = 1 (what G wants D to say):
D minimises 0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2], G 0.5 E[(D(G(z)) - 1)^2],
D's output read as a score, not a logit.
"""

from benchmark.specs.dcgan import DCGAN
from benchmark.specs.gan import GANSpec

LSGAN = GANSpec(
    name="lsgan",
    title="LSGAN",
    paper="Mao et al. 2017, arXiv:1611.04076",
    latent_dim=DCGAN.latent_dim,
    image_shape=DCGAN.image_shape,
    generator=DCGAN.generator,
    discriminator=DCGAN.discriminator,
    loss="least_squares",
    d_optimizer=DCGAN.d_optimizer,
    g_optimizer=DCGAN.g_optimizer,
)
