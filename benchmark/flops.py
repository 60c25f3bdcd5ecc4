"""Analytic FLOPs of a training step, from the spec alone.

Counted: the multiply-adds of Dense and convolution layers and of
self-attention's two (N x N) products, 2 FLOPs each; normalisation,
activations, softmax and spectral norm's power iteration (a few FLOPs per
element, or per weight once per batch) are left out, as is customary. A
backward pass costs twice its forward (input gradients plus weight gradients).
"""

from __future__ import annotations

from benchmark.specs import GANSpec
from benchmark.specs.layers import (
    Conv2d, ConvTranspose2d, Dense, NetSpec, SelfAttention, infer_shapes,
)


def forward_flops(net: NetSpec) -> int:
    """FLOPs of one sample's forward pass through `net`."""
    macs = 0
    for layer, in_shape, out_shape in infer_shapes(net):
        if isinstance(layer, Dense):
            macs += layer.in_features * layer.out_features
        elif isinstance(layer, Conv2d):
            macs += out_shape[0] * out_shape[1] * layer.out_channels * layer.in_channels * layer.kernel ** 2
        elif isinstance(layer, ConvTranspose2d):
            macs += in_shape[0] * in_shape[1] * layer.in_channels * layer.out_channels * layer.kernel ** 2
        elif isinstance(layer, SelfAttention):
            n, c, ck = in_shape[0] * in_shape[1], layer.channels, layer.key_channels
            macs += n * c * (2 * ck + c)  # query, key, value: 1x1 convolutions
            macs += n * n * (ck + c)  # energies q k^T, then attention-weighted values
    return 2 * macs


def training_flops_per_step(spec: GANSpec, batch_size: int) -> int:
    """FLOPs of one step: n_critic D updates and one G update.

    D update: G forward (no gradient), D forward and backward on a real and a
    fake batch: g + 2d + 4d. G update: G forward, D forward, D backward for
    input gradients only (d), G backward (2g): 3g + 2d. A gradient penalty's
    double backward is not counted.
    """
    g, d = forward_flops(spec.generator), forward_flops(spec.discriminator)
    return batch_size * (spec.n_critic * (g + 6 * d) + 3 * g + 2 * d)


def tutorial_dcgan_flops_per_step(spec: GANSpec, batch_size: int, one_forward: bool) -> int:
    """FLOPs of one step of the frameworks' DCGAN tutorials, which differ from
    ours in reusing one G forward pass for both updates (same counting as
    `training_flops_per_step`).

    pytorch/examples: G forward with gradient (g), D forward and backward on
    real and fake (6d), then D forward on the same fake, D input-gradient
    backward and G backward (d + d + 2g): 3g + 8d. TensorFlow's tutorial: G
    forward, D forward on real and fake (g + 2d), D's tape (4d), G's tape
    through the same forward pass (d + 2g): 3g + 7d. Ours: 4g + 8d.
    `one_forward`: the tutorial's G update reuses D's forward pass on the
    fake batch (TensorFlow's) instead of running D again (PyTorch's).
    """
    g, d = forward_flops(spec.generator), forward_flops(spec.discriminator)
    per_image = 3 * g + (7 * d if one_forward else 8 * d)
    return batch_size * per_image
