"""The original GAN (Goodfellow et al. 2014) as multilayer perceptrons.

G: noise (100,) -> 256 -> 512 -> 1024 (Dense, BatchNorm, ReLU each) -> 784
(tanh) -> 28x28x1. D: image -> 784 -> 512 -> 256 (Dense, LeakyReLU 0.2, no
BatchNorm) -> one logit. The paper's maxout and dropout are left out, as in
most modern re-implementations; its loss with the non-saturating G objective,
and the DCGAN paper's Adam(2e-4, beta1 0.5).
"""

from benchmark.specs.dcgan import DCGAN, IMAGE_SHAPE, LATENT_DIM
from benchmark.specs.gan import GANSpec
from benchmark.specs.layers import Activation, BatchNorm, Dense, Flatten, NetSpec, Reshape

PIXELS = 28 * 28

GENERATOR = NetSpec(
    name="generator",
    input_shape=(LATENT_DIM,),
    layers=(
        Dense("fc1", LATENT_DIM, 256, bias=False),  # BatchNorm follows: no bias
        BatchNorm("bn1", 256),
        Activation("relu"),
        Dense("fc2", 256, 512, bias=False),
        BatchNorm("bn2", 512),
        Activation("relu"),
        Dense("fc3", 512, 1024, bias=False),
        BatchNorm("bn3", 1024),
        Activation("relu"),
        Dense("fc4", 1024, PIXELS),
        Activation("tanh"),
        Reshape(IMAGE_SHAPE),  # 28x28x1
    ),
)

DISCRIMINATOR = NetSpec(
    name="discriminator",
    input_shape=IMAGE_SHAPE,
    layers=(
        Flatten(),  # (784,)
        Dense("fc1", PIXELS, 512),
        Activation("leaky_relu", 0.2),
        Dense("fc2", 512, 256),
        Activation("leaky_relu", 0.2),
        Dense("logit", 256, 1),
    ),
)

VANILLA = GANSpec(
    name="vanilla",
    title="GAN (MLP)",
    paper="Goodfellow et al. 2014, arXiv:1406.2661",
    latent_dim=LATENT_DIM,
    image_shape=IMAGE_SHAPE,
    generator=GENERATOR,
    discriminator=DISCRIMINATOR,
    loss="bce",
    d_optimizer=DCGAN.d_optimizer,  # the DCGAN paper's Adam(2e-4, beta1 0.5)
    g_optimizer=DCGAN.g_optimizer,
)
