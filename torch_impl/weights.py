"""Converts between PyTorch parameters and canonical weights (`benchmark.weights`).

PyTorch layouts: Linear weight (out, in); Conv2d weight (out, in, kh, kw);
ConvTranspose2d weight (in, out, kh, kw); BatchNorm running_var is the
unbiased batch variance, as the canonical moving_var is.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from benchmark.specs.layers import (
    BatchNorm, Conv2d, ConvTranspose2d, Dense, NetSpec, dense_feature_layouts,
)
from benchmark.weights import Weights


def hwc_to_chw_order(hwc: tuple[int, ...]) -> np.ndarray:
    """perm[j] = canonical (H, W, C) index of channels-first feature j."""
    h, w, c = hwc
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).ravel()


def _to_torch(layer, key: str, array: np.ndarray, layouts) -> np.ndarray:
    kind = key.rsplit("/", 1)[1]
    if isinstance(layer, Dense):
        flattened, reshaped = layouts[layer.name]
        if kind == "kernel":
            if flattened is not None:
                array = array[hwc_to_chw_order(flattened), :]
            if reshaped is not None:
                array = array[:, hwc_to_chw_order(reshaped)]
            return array.T
        return array[hwc_to_chw_order(reshaped)] if reshaped is not None else array
    if kind == "kernel" and isinstance(layer, Conv2d):
        return array.transpose(3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)
    if kind == "kernel" and isinstance(layer, ConvTranspose2d):
        return array.transpose(2, 3, 0, 1)  # (kh, kw, in, out) -> (in, out, kh, kw)
    return array


def _from_torch(layer, key: str, array: np.ndarray, layouts) -> np.ndarray:
    kind = key.rsplit("/", 1)[1]
    if isinstance(layer, Dense):
        flattened, reshaped = layouts[layer.name]
        if kind == "kernel":
            array = array.T
            if flattened is not None:
                array = _unpermute(array, hwc_to_chw_order(flattened), axis=0)
            if reshaped is not None:
                array = _unpermute(array, hwc_to_chw_order(reshaped), axis=1)
            return array
        return _unpermute(array, hwc_to_chw_order(reshaped), axis=0) if reshaped is not None else array
    if kind == "kernel" and isinstance(layer, Conv2d):
        return array.transpose(2, 3, 1, 0)
    if kind == "kernel" and isinstance(layer, ConvTranspose2d):
        return array.transpose(2, 3, 0, 1)
    return array


def _unpermute(array: np.ndarray, perm: np.ndarray, axis: int) -> np.ndarray:
    out = np.empty_like(array)
    index = [slice(None)] * array.ndim
    index[axis] = perm
    out[tuple(index)] = array
    return out


# canonical parameter name -> PyTorch attribute, per kind of layer
_WEIGHT_NAMES = {"kernel": "weight", "bias": "bias"}
_BATCHNORM_NAMES = {"gamma": "weight", "beta": "bias",
                    "moving_mean": "running_mean", "moving_var": "running_var"}


def _tensors(net: NetSpec, model: nn.Sequential):
    """Yields (spec layer, canonical key, torch tensor) for every weight and buffer."""
    for layer in net.layers:
        if isinstance(layer, BatchNorm):
            names = _BATCHNORM_NAMES
        elif isinstance(layer, (Dense, Conv2d, ConvTranspose2d)):
            names = _WEIGHT_NAMES
        else:
            continue
        module = getattr(model, layer.name)
        for kind, torch_name in names.items():
            tensor = getattr(module, torch_name)
            if tensor is not None:  # a layer built with bias=False has bias None
                yield layer, f"{net.name}/{layer.name}/{kind}", tensor


def export_network(net: NetSpec, model: nn.Sequential) -> Weights:
    layouts = dense_feature_layouts(net)
    return {
        key: np.ascontiguousarray(_from_torch(layer, key, t.detach().cpu().numpy(), layouts))
        for layer, key, t in _tensors(net, model)
    }


@torch.no_grad()
def import_network(net: NetSpec, model: nn.Sequential, weights: Weights) -> None:
    layouts = dense_feature_layouts(net)
    for layer, key, tensor in _tensors(net, model):
        value = np.ascontiguousarray(_to_torch(layer, key, weights[key], layouts))
        tensor.copy_(torch.from_numpy(value).to(tensor.dtype))
