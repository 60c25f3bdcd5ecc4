"""SAGAN (Zhang et al. 2018) scaled to DCGAN's 28x28 networks.

A self-attention block (1x1 query/key convolutions to C/8 channels, value to
C, softmax over the 14x14 positions, out = gamma * o + x, gamma initialised 0)
in G and in D on their 14x14x64 feature maps; spectral norm on every Dense and
convolution of both nets, the attention's included; G keeps its BatchNorm, D
has none. Hinge loss; two time-scale update rule: Adam(beta1 0, beta2 0.9)
with D at 4e-4 and G at 1e-4, one D step per G step.
"""

from benchmark.specs.dcgan import IMAGE_SHAPE, LATENT_DIM, dcgan_discriminator, dcgan_generator
from benchmark.specs.gan import GANSpec, OptimizerSpec

SAGAN = GANSpec(
    name="sagan",
    title="SAGAN (self-attention)",
    paper="Zhang, Goodfellow, Metaxas, Odena 2018, arXiv:1805.08318",
    latent_dim=LATENT_DIM,
    image_shape=IMAGE_SHAPE,
    generator=dcgan_generator(spectral_norm=True, attention=True),
    discriminator=dcgan_discriminator(batchnorm=False, spectral_norm=True, attention=True),
    loss="hinge",
    d_optimizer=OptimizerSpec("adam", lr=4e-4, beta1=0.0, beta2=0.9),
    g_optimizer=OptimizerSpec("adam", lr=1e-4, beta1=0.0, beta2=0.9),
)
