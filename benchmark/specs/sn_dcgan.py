"""SN-DCGAN (Miyato et al. 2018): DCGAN with spectral normalization on every
discriminator layer (every convolution and the output Dense) instead of
BatchNorm, which is removed (the convolutions before it get their bias back).

One power iteration per training forward pass, the estimates u, v kept as
state (`discriminator/conv1/sn_u` ...; see `benchmark.specs.layers`). Loss:
hinge, as in the paper's best results, D minimising E[relu(1 - D(x))] +
E[relu(1 + D(G(z)))], G -E[D(G(z))]. Optimizers: the paper's setting C, which
is DCGAN's Adam(2e-4, beta1 0.5, beta2 0.999), 1 D step per G step. G is
DCGAN's, BatchNorm kept. Any image shape DCGAN takes.
"""

from dataclasses import replace

from benchmark.specs.dcgan import IMAGE_SHAPE, ImageShape, dcgan, dcgan_discriminator, sized_title
from benchmark.specs.gan import GANSpec


def sn_dcgan(image_shape: ImageShape = IMAGE_SHAPE) -> GANSpec:
    """SN-DCGAN for images of `image_shape` (28x28x1: `SN_DCGAN`)."""
    return replace(
        dcgan(image_shape),
        name="sn_dcgan",
        title=sized_title("SN-DCGAN (spectral norm)", image_shape),
        paper="Miyato et al. 2018, arXiv:1802.05957",
        discriminator=dcgan_discriminator(image_shape, batchnorm=False, spectral_norm=True),
        loss="hinge",
    )


SN_DCGAN = sn_dcgan()
