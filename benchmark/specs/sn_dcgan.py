"""SN-DCGAN (Miyato et al. 2018): DCGAN with spectral normalization on every
discriminator layer (both convolutions and the output Dense) instead of
BatchNorm, which is removed (conv2 gets its bias back).

One power iteration per training forward pass, the estimates u, v kept as
state (`discriminator/conv1/sn_u` ...; see `benchmark.specs.layers`). Loss:
hinge, as in the paper's best results, D minimising E[relu(1 - D(x))] +
E[relu(1 + D(G(z)))], G -E[D(G(z))]. Optimizers: the paper's setting C, which
is DCGAN's Adam(2e-4, beta1 0.5, beta2 0.999), 1 D step per G step. G is
DCGAN's, BatchNorm kept.
"""

from benchmark.specs.dcgan import DCGAN, dcgan_discriminator
from benchmark.specs.gan import GANSpec

SN_DCGAN = GANSpec(
    name="sn_dcgan",
    title="SN-DCGAN (spectral norm)",
    paper="Miyato et al. 2018, arXiv:1802.05957",
    latent_dim=DCGAN.latent_dim,
    image_shape=DCGAN.image_shape,
    generator=DCGAN.generator,
    discriminator=dcgan_discriminator(batchnorm=False, spectral_norm=True),
    loss="hinge",
    d_optimizer=DCGAN.d_optimizer,
    g_optimizer=DCGAN.g_optimizer,
)
