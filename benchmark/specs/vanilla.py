"""The original GAN (Goodfellow et al. 2014) as multilayer perceptrons.

G: noise (100,) -> 256 -> 512 -> 1024 (Dense, BatchNorm, ReLU each) -> H*W*C
(tanh) -> the image, 28x28x1 on MNIST. D: image -> H*W*C -> 512 -> 256 (Dense,
LeakyReLU 0.2, no BatchNorm) -> one logit. The paper's maxout and dropout are
left out, as in most modern re-implementations; its loss with the
non-saturating G objective, and the DCGAN paper's Adam(2e-4, beta1 0.5).

Other image shapes (any DCGAN takes) keep these hidden widths and only resize
the image layers: the paper itself trained its fully connected model on
CIFAR-10 (32x32x3, its Figure 2c), and an MLP at the data's size keeps the
model in every suite, as the heaviest Dense workload (64x64x3: G's output
layer alone has 12.6M weights). It is a baseline, not a face generator.
"""

import math
from dataclasses import replace

from benchmark.specs.dcgan import (
    DCGAN, IMAGE_SHAPE, LATENT_DIM, ImageShape, check_image_shape, sized_title,
)
from benchmark.specs.gan import GANSpec
from benchmark.specs.layers import Activation, BatchNorm, Dense, Flatten, NetSpec, Reshape


def vanilla(image_shape: ImageShape = IMAGE_SHAPE) -> GANSpec:
    """The MLP GAN for images of `image_shape` (28x28x1: `VANILLA`)."""
    image_shape = check_image_shape(image_shape)  # the shapes every other model takes
    pixels = math.prod(image_shape)
    generator = NetSpec(
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
            Dense("fc4", 1024, pixels),
            Activation("tanh"),
            Reshape(image_shape),  # 28x28x1 on MNIST
        ),
    )
    discriminator = NetSpec(
        name="discriminator",
        input_shape=image_shape,
        layers=(
            Flatten(),  # (H*W*C,): 784 on MNIST
            Dense("fc1", pixels, 512),
            Activation("leaky_relu", 0.2),
            Dense("fc2", 512, 256),
            Activation("leaky_relu", 0.2),
            Dense("logit", 256, 1),
        ),
    )
    # DCGAN's loss (this paper's) and optimizers (the DCGAN paper's Adam(2e-4, beta1 0.5))
    return replace(
        DCGAN,
        name="vanilla",
        title=sized_title("GAN (MLP)", image_shape),
        paper="Goodfellow et al. 2014, arXiv:1406.2661",
        image_shape=image_shape,
        generator=generator,
        discriminator=discriminator,
    )


VANILLA = vanilla()
