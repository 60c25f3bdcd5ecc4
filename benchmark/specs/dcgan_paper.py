"""The DCGAN paper's networks (Radford et al. 2016: its 64x64 LSUN, faces and
ImageNet architecture; pytorch/examples `dcgan`) for square images of side
4 * 2^k in SIDES and 1 or 3 channels.

G projects z to 4x4 and doubles the side with k4 s2 p1 transposed
convolutions up to the image; D mirrors it with k4 s2 p1 convolutions down to
4x4 and reads one logit. The paper's width rule: 64 channels on the largest
feature maps (side / 2), doubling each time the side halves. At 64x64x3:

    G  z (100,) -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64x3 (tanh)
    D  64x64x3 -> 32x32x64 -> 16x16x128 -> 8x8x256 -> 4x4x512 -> logit (1,)

BatchNorm in both except G's output and D's input; ReLU in G, LeakyReLU 0.2
in D. Where the references differ from our 28x28 networks we keep the 28x28
conventions, so that every size follows one set of rules:
- The ends. pytorch/examples starts G with ConvTranspose2d(nz, 512, 4, 1, 0)
  on a 1x1 input and ends D with Conv2d(512, 1, 4, 1, 0) on 4x4. On those
  inputs they are exactly a Dense to 4*4*512 features and a Dense from them
  (kernel[c, (4i + j) 512 + o] = W[c, o, i, j], and the canonical Conv2d kernel
  (4, 4, 512, 1) is the logit's (8192, 1) kernel in the order Flatten gives),
  with the same parameters, FLOPs and spectral-norm matrix. We write them as
  the paper describes G's first layer ("project and reshape") and as the
  28x28 nets do: Dense "project" + Reshape, Flatten + Dense "logit".
- Biases. dcgan.torch and pytorch/examples drop every bias (G 3,576,704 and D
  2,765,568 parameters at 64x64x3). We keep the 28x28 rule, a bias wherever no
  BatchNorm follows: G's output (+C), D's first convolution (+64) and logit
  (+1), and every convolution of a critic without BatchNorm.
"""

from __future__ import annotations

from benchmark.specs.layers import (
    Activation, BatchNorm, ConcatLabels, Conv2d, ConvTranspose2d, Dense, Flatten, Layer, NetSpec,
    Reshape, SelfAttention,
)

SIDES = (16, 32, 64, 128)  # 4 * 2^k; 16 is the smallest with a BatchNorm layer in D
CHANNELS = (1, 3)  # grey or RGB
WIDEST = 64  # channels of the largest feature maps (side / 2), the paper's ngf = ndf
SMALLEST = 4  # G's projection, D's last feature maps
# SAGAN's self-attention sits on feature maps this large, or on the largest
# there are when the image is under 64x64 (14x14 in the 28x28 nets). Zhang et
# al. (2018, Table 1) tried it on the 8, 16, 32 and 64 maps of 128x128 nets:
# 32 and 64 did best, 32 slightly better and with 16x fewer attention weights
# ((H W)^2 per image and head: 1024^2 against 4096^2). So 64x64 images get
# attention on their 32x32x64 maps in G and D, 128x128 images on 32x32x128.
ATTENTION_SIDE = 32


def feature_sides(side: int) -> list[int]:
    """The sides of the feature maps between z and the image: 4, 8, ..., side / 2."""
    return [SMALLEST * 2**k for k in range((side // (2 * SMALLEST)).bit_length())]


def width(side: int, resolution: int) -> int:
    """Channels of the `resolution` x `resolution` feature maps in the nets for
    images of `side`: WIDEST at side / 2, doubling as the resolution halves."""
    return WIDEST * (side // 2) // resolution


def attention_side(side: int) -> int:
    """The feature-map side where a SAGAN net attends (see ATTENTION_SIDE)."""
    return min(side // 2, ATTENTION_SIDE)


def check_square(side: int, channels: int) -> None:
    if side not in SIDES or channels not in CHANNELS:
        raise ValueError(f"the DCGAN paper's networks take square images of side "
                         f"{', '.join(map(str, SIDES))} with {' or '.join(map(str, CHANNELS))} "
                         f"channels, not {side}x{side}x{channels}")


def paper_generator(side: int, channels: int, *, latent_dim: int, num_classes: int = 0,
                    spectral_norm: bool = False, attention: bool = False) -> NetSpec:
    """G: noise (latent_dim,) -> image (side, side, channels) in [-1, 1].

    Args as `benchmark.specs.dcgan.dcgan_generator`; `attention` adds a
    SelfAttention block after the `attention_side(side)` maps' ReLU.
    """
    check_square(side, channels)
    sn = spectral_norm
    sides = feature_sides(side)
    first = width(side, SMALLEST)
    layers: list[Layer] = [ConcatLabels(num_classes)] if num_classes else []  # (latent + classes,)
    layers += [
        # BatchNorm follows: no bias
        Dense("project", latent_dim + num_classes, SMALLEST * SMALLEST * first, bias=False,
              spectral_norm=sn),
        Reshape((SMALLEST, SMALLEST, first)),  # 4x4x(8 * WIDEST at 64x64)
        BatchNorm("bn0", first),
        Activation("relu"),
    ]
    for i, resolution in enumerate(sides[1:], start=1):
        out = width(side, resolution)
        layers += [
            ConvTranspose2d(f"deconv{i}", width(side, resolution // 2), out, kernel=4, stride=2,
                            padding=1, bias=False, spectral_norm=sn),  # resolution^2 x out
            BatchNorm(f"bn{i}", out),
            Activation("relu"),
        ]
        if attention and resolution == attention_side(side):
            layers.append(SelfAttention("attention", out, spectral_norm=sn))  # resolution^2 x out
    layers += [
        ConvTranspose2d(f"deconv{len(sides)}", WIDEST, channels, kernel=4, stride=2, padding=1,
                        spectral_norm=sn),  # side x side x channels
        Activation("tanh"),
    ]
    return NetSpec(name="generator", input_shape=(latent_dim,), layers=tuple(layers))


def paper_discriminator(side: int, channels: int, *, num_classes: int = 0, batchnorm: bool = True,
                        spectral_norm: bool = False, attention: bool = False) -> NetSpec:
    """D: image (side, side, channels) -> one logit (1,).

    Args as `benchmark.specs.dcgan.dcgan_discriminator`; `batchnorm` False
    gives every convolution its bias back; `attention` adds a SelfAttention
    block after the `attention_side(side)` maps' LeakyReLU.
    """
    check_square(side, channels)
    sn = spectral_norm
    layers: list[Layer] = [ConcatLabels(num_classes)] if num_classes else []  # side^2 x (C + classes)
    in_channels = channels + num_classes
    for i, resolution in enumerate(reversed(feature_sides(side)), start=1):
        out = width(side, resolution)
        normalized = batchnorm and i > 1  # no BatchNorm on the input layer
        layers.append(Conv2d(f"conv{i}", in_channels, out, kernel=4, stride=2, padding=1,
                             bias=not normalized, spectral_norm=sn))  # resolution^2 x out
        if normalized:
            layers.append(BatchNorm(f"bn{i}", out))
        layers.append(Activation("leaky_relu", 0.2))
        if attention and resolution == attention_side(side):
            layers.append(SelfAttention("attention", out, spectral_norm=sn))  # resolution^2 x out
        in_channels = out
    layers += [
        Flatten(),  # (4 * 4 * in_channels,), ordered (H, W, C)
        Dense("logit", SMALLEST * SMALLEST * in_channels, 1, spectral_norm=sn),  # a logit
    ]
    return NetSpec(name="discriminator", input_shape=(side, side, channels), layers=tuple(layers))
