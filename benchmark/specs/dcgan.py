"""DCGAN (Radford et al. 2016) for 28x28 MNIST.

Paper rules: strided (transposed) convolutions instead of pooling, BatchNorm in
both nets except G's output and D's input, ReLU in G with tanh out, LeakyReLU
0.2 in D, N(0, 0.02) initialisation, Adam(2e-4, beta1 0.5), BCE on logits.
28 = 7 * 2 * 2, so G projects to 7x7 and upsamples twice (k4 s2 p1 doubles).
"""

from benchmark.specs.gan import GANSpec, OptimizerSpec
from benchmark.specs.layers import (
    Activation, BatchNorm, Conv2d, ConvTranspose2d, Dense, Flatten, NetSpec, Reshape,
)

LATENT_DIM = 100
IMAGE_SHAPE = (28, 28, 1)

GENERATOR = NetSpec(
    name="generator",
    input_shape=(LATENT_DIM,),
    layers=(
        Dense("project", LATENT_DIM, 7 * 7 * 128, bias=False),  # BatchNorm follows: no bias
        Reshape((7, 7, 128)),
        BatchNorm("bn0", 128),
        Activation("relu"),
        ConvTranspose2d("deconv1", 128, 64, kernel=4, stride=2, padding=1, bias=False),  # 14x14x64
        BatchNorm("bn1", 64),
        Activation("relu"),
        ConvTranspose2d("deconv2", 64, 1, kernel=4, stride=2, padding=1),  # 28x28x1
        Activation("tanh"),
    ),
)

DISCRIMINATOR = NetSpec(
    name="discriminator",
    input_shape=IMAGE_SHAPE,
    layers=(
        Conv2d("conv1", 1, 64, kernel=4, stride=2, padding=1),  # 14x14x64, no BatchNorm on input
        Activation("leaky_relu", 0.2),
        Conv2d("conv2", 64, 128, kernel=4, stride=2, padding=1, bias=False),  # 7x7x128
        BatchNorm("bn2", 128),
        Activation("leaky_relu", 0.2),
        Flatten(),
        Dense("logit", 7 * 7 * 128, 1),  # a logit: the loss applies the sigmoid
    ),
)

DCGAN = GANSpec(
    name="dcgan",
    title="DCGAN",
    paper="Radford, Metz, Chintala 2016, arXiv:1511.06434",
    latent_dim=LATENT_DIM,
    image_shape=IMAGE_SHAPE,
    generator=GENERATOR,
    discriminator=DISCRIMINATOR,
    loss="bce",
    d_optimizer=OptimizerSpec("adam", lr=2e-4, beta1=0.5, beta2=0.999),
    g_optimizer=OptimizerSpec("adam", lr=2e-4, beta1=0.5, beta2=0.999),
)
