"""How far float32 rounding can move one pass through a network: a bound
derived from the network's spec, for the parity tests that compare a float32
result with the float64 result of the same arithmetic.

The unit is the relative error max|float32 - float64| / max|float64| over a
batch of outputs. The bound does not depend on the CPU or its kernels; it
assumes IEEE float32 arithmetic, so on a GPU TF32 must be off.

Derivation. A sum of n float32 terms, accumulated in any order, rounds each
partial sum once, by a relative error within +-u (u = 2^-24). Taking these
errors independent and uniform (variance u^2 / 3), and the partial sums of
zero-mean terms growing like sqrt(k) times the terms' scale s, the total error
has variance u^2 s^2 n^2 / 6 against a result of scale s sqrt(n): a relative
standard deviation of u sqrt(n / 6) (Higham and Mary, "A new approach to
probabilistic rounding error analysis", SIAM J. Sci. Comput. 2019, give the
rigorous form). That is plain left-to-right summation; the blocked and
pairwise orders of oneDNN, Eigen and MKL round less. We allow sqrt(12) ~ 3.5
standard deviations: u sqrt(2n) per reduction of n terms. The largest error
and the largest output of a batch grow alike with the batch, so their ratio
needs no further factor for the number of outputs. It does assume that a
sum is about as large as sqrt(sum of its squared terms), as it is for random
signs; a test that knows its sum cancels further scales that sum's share.
A layer passes its input's relative error on with a gain of about 1: ReLU,
LeakyReLU and tanh are 1-Lipschitz, BatchNorm divides by the spread it
normalises, spectral norm by the sigma it estimates, a random N(0, s) kernel
maps a relative error delta to about delta. So errors add along the path:
the bound is the sum of u sqrt(2n) over every reduction a pass makes. An
elementwise operation (activation, bias, BatchNorm's affine, a vectorised
tanh or exp approximate to a few ulp) counts as a reduction of
ELEMENTWISE_TERMS.
"""

from __future__ import annotations

import math
from typing import Iterable

from benchmark.specs.layers import (
    BatchNorm, Conv2d, ConvTranspose2d, Dense, NetSpec, SelfAttention, infer_shapes,
)

U32 = 2.0**-24  # float32 unit roundoff
ELEMENTWISE_TERMS = 4  # u sqrt(8) ~ 2.8 u: a few ulp


def reduction_lengths(net: NetSpec, *, training: bool, batch: int) -> list[int]:
    """The number of terms of every sum one pass through `net` computes along
    the path from input to output, one entry per reduction (elementwise
    operations as ELEMENTWISE_TERMS).

    Dense: in; Conv2d: k^2 in; ConvTranspose2d: ceil(k / s)^2 in (the taps
    that reach one output); BatchNorm in training mode: its mean and variance
    over batch x H x W; SelfAttention on N = H W positions: the 1x1 convolution
    (C), the energies (C / reduction), the softmax normaliser and A v (N each);
    spectral norm: sigma = u . W v (fan_in, then out), after, in training mode,
    one power iteration (`power_iteration_lengths`).
    """
    lengths: list[int] = []
    for layer, shape_in, _ in infer_shapes(net):
        if isinstance(layer, (Dense, Conv2d, ConvTranspose2d)):
            if isinstance(layer, Dense):
                fan_in, taps = layer.in_features, layer.in_features
            elif isinstance(layer, Conv2d):
                fan_in = taps = layer.kernel**2 * layer.in_channels
            else:
                fan_in = layer.kernel**2 * layer.in_channels
                taps = math.ceil(layer.kernel / layer.stride) ** 2 * layer.in_channels
            out = layer.out_features if isinstance(layer, Dense) else layer.out_channels
            lengths += [taps, ELEMENTWISE_TERMS]
            if layer.spectral_norm:
                lengths += (power_iteration_lengths(fan_in, out) if training else []) + [fan_in, out]
        elif isinstance(layer, BatchNorm):
            positions = shape_in[0] * shape_in[1] if len(shape_in) == 3 else 1
            lengths += ([batch * positions] if training else []) + [ELEMENTWISE_TERMS]
        elif isinstance(layer, SelfAttention):
            positions = shape_in[0] * shape_in[1]
            lengths += [layer.channels, layer.key_channels, positions, positions, ELEMENTWISE_TERMS]
            if layer.spectral_norm:  # sigma of the query/key/value convolutions
                lengths += ((power_iteration_lengths(layer.channels, layer.channels) if training else [])
                            + [layer.channels, layer.channels])
        else:  # activation, reshape, flatten, labels
            lengths.append(ELEMENTWISE_TERMS)
    return lengths


def power_iteration_lengths(fan_in: int, out: int) -> list[int]:
    """One power iteration on the (out, fan_in) matrix W: v = W^T u (sums of
    out terms), its norm (fan_in), u = W v (fan_in), its norm (out), and the
    two divisions."""
    return [out, fan_in, fan_in, out, ELEMENTWISE_TERMS, ELEMENTWISE_TERMS]


def rounding_budget(nets: Iterable[NetSpec], *, training: bool, batch: int,
                    extra: Iterable[int] = ()) -> float:
    """The relative rounding bound of one pass through `nets` in turn (e.g.
    (generator, discriminator) for D(G(z))), plus `extra` reductions (a loss's
    batch mean): u * sum of sqrt(2 n) over every reduction (module docstring)."""
    lengths = [n for net in nets for n in reduction_lengths(net, training=training, batch=batch)]
    return U32 * sum(math.sqrt(2 * n) for n in [*lengths, *extra])
