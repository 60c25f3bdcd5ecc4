"""Builds a `torch.nn.Sequential` from a framework-neutral `NetSpec`.

Images run NCHW; vectors keep the canonical (H, W, C) feature order. Every setting PyTorch would default (BatchNorm momentum
and eps, LeakyReLU slope, padding) is taken from the spec.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from benchmark.specs.layers import (
    Activation, BatchNorm, Conv2d, ConvTranspose2d, Dense, Flatten, Layer, NetSpec, Reshape,
    infer_shapes,
)


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


def build_layer(layer: Layer, batchnorm_dims: int) -> nn.Module:
    if isinstance(layer, Dense):
        return nn.Linear(layer.in_features, layer.out_features, bias=layer.bias)
    if isinstance(layer, Conv2d):
        return nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel,
                         stride=layer.stride, padding=layer.padding, bias=layer.bias)
    if isinstance(layer, ConvTranspose2d):
        return nn.ConvTranspose2d(layer.in_channels, layer.out_channels, layer.kernel,
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
    raise TypeError(f"no PyTorch builder for {layer!r}")


def module_name(layer: Layer, index: int) -> str:
    """The spec's name for parametrised layers, `<kind><index>` for the rest."""
    return getattr(layer, "name", None) or f"{type(layer).__name__.lower()}{index}"


def build_network(net: NetSpec) -> nn.Sequential:
    modules = OrderedDict()
    for index, (layer, in_shape, _) in enumerate(infer_shapes(net)):
        modules[module_name(layer, index)] = build_layer(layer, batchnorm_dims=len(in_shape))
    return nn.Sequential(modules)
