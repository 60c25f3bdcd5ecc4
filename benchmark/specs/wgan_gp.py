"""WGAN-GP (Gulrajani et al. 2017): the Wasserstein loss with a gradient
penalty instead of weight clipping.

Critic loss E[f(G(z))] - E[f(x)] + 10 E[(||grad f(x_hat)||_2 - 1)^2] on
x_hat = mix * x + (1 - mix) * G(z), one mix ~ U[0, 1) per sample
(`StepInputs.mix`); 5 critic steps per G step; Adam(1e-4, beta1 0, beta2 0.9)
for both nets: the paper's Algorithm 1 defaults.

The critic is the DCGAN discriminator with its BatchNorm removed (the
convolutions before it get their bias back): the penalty is taken per sample,
which batch statistics would break; the paper recommends no BatchNorm in the
critic (it uses layer norm or none). G is DCGAN's, BatchNorm kept. Any image
shape DCGAN takes.
"""

from dataclasses import replace

from benchmark.specs.dcgan import IMAGE_SHAPE, ImageShape, dcgan, dcgan_discriminator, sized_title
from benchmark.specs.gan import GANSpec, OptimizerSpec


def wgan_gp(image_shape: ImageShape = IMAGE_SHAPE) -> GANSpec:
    """WGAN-GP for images of `image_shape` (28x28x1: `WGAN_GP`)."""
    adam = OptimizerSpec("adam", lr=1e-4, beta1=0.0, beta2=0.9)  # G's and D's
    return replace(
        dcgan(image_shape),
        name="wgan_gp",
        title=sized_title("WGAN-GP", image_shape),
        paper="Gulrajani et al. 2017, arXiv:1704.00028",
        discriminator=dcgan_discriminator(image_shape, batchnorm=False),
        loss="wasserstein",
        d_optimizer=adam,
        g_optimizer=adam,
        n_critic=5,
        gradient_penalty=10.0,
    )


WGAN_GP = wgan_gp()
