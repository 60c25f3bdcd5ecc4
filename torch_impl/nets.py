"""Builds a `Network` (an `nn.Sequential` that can pass class labels) from a
framework-neutral `NetSpec`.

Images run NCHW; vectors keep the canonical (H, W, C) feature order. Every
setting PyTorch would default (BatchNorm momentum and eps, LeakyReLU slope,
padding) is taken from the spec.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.specs.layers import (
    Activation, BatchNorm, ConcatLabels, Conv2d, ConvTranspose2d, Dense, Flatten, Layer, NetSpec,
    Reshape, SelfAttention, infer_shapes,
)
from benchmark.weights import SN_EPS


class ChannelsFirstReshape(nn.Module):
    """(N, H*W*C) features in canonical (H, W, C) order -> (N, C, H, W)."""

    def __init__(self, hwc: tuple[int, int, int]) -> None:
        super().__init__()
        self.hwc = tuple(hwc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], *self.hwc).permute(0, 3, 1, 2)


class ChannelsLastFlatten(nn.Module):
    """(N, C, H, W) -> (N, H*W*C) in canonical (H, W, C) order, as Keras flattens.

    Permuting activations, not weights, keeps a Dense's canonical kernel valid
    whatever per-feature layers (BatchNorm, activations) stand between it and
    the Flatten/Reshape; it costs one small copy (measured: within step-time noise).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.permute(0, 2, 3, 1) if x.dim() == 4 else x).flatten(1)


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x / torch.clamp_min(torch.linalg.vector_norm(x), SN_EPS)


class SpectralNorm:
    """Mixin for Linear/Conv2d/ConvTranspose2d: forward uses weight / sigma.

    Written here rather than taken from torch: `nn.utils.parametrizations.spectral_norm`
    runs 15 power iterations when applied (the canonical u, v already hold
    them) and renames the weight, and Keras' SpectralNormalization overwrites
    its kernel; this keeps `weight` the raw parameter and u, v plain buffers,
    with the arithmetic of `nn.utils.spectral_norm` (see `benchmark.specs.layers`).
    """

    weight: torch.Tensor
    sn_u: torch.Tensor  # (out,)
    sn_v: torch.Tensor  # (fan_in,)

    def _register_vectors(self, out: int) -> None:
        # Placeholders: `import_weights` sets the canonical u, v.
        self.register_buffer("sn_u", _normalize(torch.randn(out)))
        self.register_buffer("sn_v", _normalize(torch.randn(self.weight.numel() // out)))

    def weight_matrix(self) -> torch.Tensor:
        """(out, fan_in), fan_in ordered (kh, kw, in) as in the canonical kernel."""
        raise NotImplementedError

    def normalized_weight(self) -> torch.Tensor:
        # sigma in the parameters' type under mixed precision too (autocast
        # would run torch.mv in bfloat16 / float16 on CUDA); the layer's
        # convolution or matmul then casts W / sigma to the compute type.
        with torch.autocast(self.weight.device.type, enabled=False):
            return self._normalized_weight()

    def _normalized_weight(self) -> torch.Tensor:
        matrix = self.weight_matrix()
        if self.training:  # one power iteration per training forward pass
            with torch.no_grad():
                # New tensors, never in-place updates: this pass's backward
                # reads u and v, and D runs on real, fake (and interpolates)
                # before it. Eager torch would be safe with copy_ and a clone
                # (as nn.utils.spectral_norm does), but torch.compile elides
                # the clone and saves the buffer itself; the next pass's copy_
                # then fails that backward ("modified by an inplace
                # operation"), torch's own parametrizations.spectral_norm too.
                v = _normalize(torch.mv(matrix.t(), self.sn_u))
                self.sn_v = v
                self.sn_u = _normalize(torch.mv(matrix, v))
        sigma = torch.dot(self.sn_u, torch.mv(matrix, self.sn_v))  # gradient flows through the weight only
        return self.weight / sigma


class SNDense(SpectralNorm, nn.Linear):
    def __init__(self, in_features: int, out_features: int, bias: bool) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self._register_vectors(out_features)

    def weight_matrix(self) -> torch.Tensor:
        return self.weight  # (out, in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalized_weight(), self.bias)


class SNConv2d(SpectralNorm, nn.Conv2d):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._register_vectors(self.out_channels)

    def weight_matrix(self) -> torch.Tensor:
        return self.weight.permute(0, 2, 3, 1).reshape(self.out_channels, -1)  # (out, in, kh, kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.normalized_weight(), self.bias)


class SNConvTranspose2d(SpectralNorm, nn.ConvTranspose2d):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._register_vectors(self.out_channels)

    def weight_matrix(self) -> torch.Tensor:
        return self.weight.permute(1, 2, 3, 0).reshape(self.out_channels, -1)  # (in, out, kh, kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(x, self.normalized_weight(), self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class SelfAttentionBlock(nn.Module):
    """SAGAN self-attention on (B, C, H, W) (see `benchmark.specs.layers.SelfAttention`)."""

    def __init__(self, layer: SelfAttention) -> None:
        super().__init__()
        self.query, self.key, self.value = (build_layer(conv, 3) for conv in layer.convolutions())
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2)  # (B, C/8, N), positions ordered h * W + w
        k = self.key(x).flatten(2)  # (B, C/8, N)
        v = self.value(x).flatten(2)  # (B, C, N)
        attention = torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1)  # (B, N_i, N_j)
        o = torch.bmm(v, attention.transpose(1, 2)).view(b, c, h, w)  # o_i = sum_j A_ij v_j
        return self.gamma * o + x


class LabelConcat(nn.Module):
    """Appends one-hot labels: (B, F) -> (B, F + n); (B, C, H, W) -> (B, C + n, H, W)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(labels, self.num_classes).to(x.dtype)  # (B, n)
        if x.dim() == 4:
            one_hot = one_hot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return torch.cat([x, one_hot], dim=1)


class Network(nn.Sequential):
    """The spec's layers in order; `labels` (B,) reach the LabelConcat layers
    of a conditional network and are ignored by others."""

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        for module in self:
            x = module(x, labels) if isinstance(module, LabelConcat) else module(x)
        return x


def build_layer(layer: Layer, batchnorm_dims: int) -> nn.Module:
    if isinstance(layer, Dense):
        cls = SNDense if layer.spectral_norm else nn.Linear
        return cls(layer.in_features, layer.out_features, bias=layer.bias)
    if isinstance(layer, Conv2d):
        cls = SNConv2d if layer.spectral_norm else nn.Conv2d
        return cls(layer.in_channels, layer.out_channels, layer.kernel,
                   stride=layer.stride, padding=layer.padding, bias=layer.bias)
    if isinstance(layer, ConvTranspose2d):
        cls = SNConvTranspose2d if layer.spectral_norm else nn.ConvTranspose2d
        return cls(layer.in_channels, layer.out_channels, layer.kernel,
                   stride=layer.stride, padding=layer.padding,
                   output_padding=layer.output_padding, bias=layer.bias)
    if isinstance(layer, BatchNorm):
        cls = nn.BatchNorm2d if batchnorm_dims == 3 else nn.BatchNorm1d
        return cls(layer.num_features, eps=layer.eps, momentum=layer.momentum)
    if isinstance(layer, Activation):
        return {
            "relu": lambda: nn.ReLU(),
            "leaky_relu": lambda: nn.LeakyReLU(layer.negative_slope),
            "tanh": lambda: nn.Tanh(),
            "identity": lambda: nn.Identity(),
        }[layer.kind]()
    if isinstance(layer, Reshape):
        return ChannelsFirstReshape(layer.shape)
    if isinstance(layer, Flatten):
        return ChannelsLastFlatten()
    if isinstance(layer, SelfAttention):
        return SelfAttentionBlock(layer)
    if isinstance(layer, ConcatLabels):
        return LabelConcat(layer.num_classes)
    raise TypeError(f"no PyTorch builder for {layer!r}")


def module_name(layer: Layer, index: int) -> str:
    """The spec's name for parametrised layers, `<kind><index>` for the rest."""
    return getattr(layer, "name", None) or f"{type(layer).__name__.lower()}{index}"


def build_network(net: NetSpec) -> Network:
    modules = OrderedDict()
    for index, (layer, in_shape, _) in enumerate(infer_shapes(net)):
        modules[module_name(layer, index)] = build_layer(layer, batchnorm_dims=len(in_shape))
    return Network(modules)
