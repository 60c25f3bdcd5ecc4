"""Converts between PyTorch parameters and canonical weights (`benchmark.weights`).

PyTorch layouts: Linear weight (out, in); Conv2d weight (out, in, kh, kw);
ConvTranspose2d weight (in, out, kh, kw); BatchNorm running_var is the
unbiased batch variance, as the canonical moving_var is. Vector features keep
the canonical (H, W, C) order (`torch_impl.nets` permutes activations at
Flatten and Reshape), so a Dense kernel is only transposed. Spectral-norm
vectors and the attention gamma are stored as they are canonically.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from benchmark.specs.layers import (
    BatchNorm, Conv2d, ConvTranspose2d, Dense, NetSpec, SelfAttention, layer_parameters,
    parametrised_layers,
)
from benchmark.weights import Weights


def _to_torch(layer, key: str, array: np.ndarray) -> np.ndarray:
    if key.endswith("/kernel"):
        if isinstance(layer, Dense):
            return array.T  # (in, out) -> (out, in)
        if isinstance(layer, Conv2d):
            return array.transpose(3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)
        if isinstance(layer, ConvTranspose2d):
            return array.transpose(2, 3, 0, 1)  # (kh, kw, in, out) -> (in, out, kh, kw)
    return array


def _from_torch(layer, key: str, array: np.ndarray) -> np.ndarray:
    if key.endswith("/kernel"):
        if isinstance(layer, Dense):
            return array.T
        if isinstance(layer, Conv2d):
            return array.transpose(2, 3, 1, 0)
        if isinstance(layer, ConvTranspose2d):
            return array.transpose(2, 3, 0, 1)
    return array


# canonical parameter name -> PyTorch attribute, per kind of layer
_WEIGHT_NAMES = {"kernel": "weight", "bias": "bias", "sn_u": "sn_u", "sn_v": "sn_v"}
_BATCHNORM_NAMES = {"gamma": "weight", "beta": "bias",
                    "moving_mean": "running_mean", "moving_var": "running_var"}
_ATTENTION_NAMES = {"gamma": "gamma"}


def _tensors(net: NetSpec, model: nn.Module):
    """Yields (spec layer, canonical key, torch tensor) for every weight and buffer."""
    for path, layer in parametrised_layers(net):
        module = model
        for part in path.split("/"):  # "attention/query": a submodule of the block
            module = getattr(module, part)
        names = (_BATCHNORM_NAMES if isinstance(layer, BatchNorm)
                 else _ATTENTION_NAMES if isinstance(layer, SelfAttention) else _WEIGHT_NAMES)
        for kind in layer_parameters(layer):
            yield layer, f"{net.name}/{path}/{kind}", getattr(module, names[kind])


def export_network(net: NetSpec, model: nn.Module) -> Weights:
    """Copies, never views: a CPU tensor's .numpy() shares its memory, and a
    later step would change an exported BatchNorm statistic under its reader."""
    return {
        key: np.array(_from_torch(layer, key, t.detach().cpu().numpy()), order="C")
        for layer, key, t in _tensors(net, model)
    }


@torch.no_grad()
def import_network(net: NetSpec, model: nn.Module, weights: Weights) -> None:
    for layer, key, tensor in _tensors(net, model):
        value = np.ascontiguousarray(_to_torch(layer, key, weights[key]))
        tensor.copy_(torch.from_numpy(value).to(tensor.dtype))
