"""Converts between Keras variables and canonical weights (`benchmark.weights`).

Keras layouts: Dense kernel (in, out) and NHWC Flatten/Reshape order, as the
canonical ones; Conv2D kernel (kh, kw, in, out), as canonical;
Conv2DTranspose kernel (kh, kw, out, in), transposed here.
"""

from __future__ import annotations

import keras
import numpy as np

from benchmark.specs.layers import BatchNorm, Conv2d, ConvTranspose2d, Dense, NetSpec
from benchmark.weights import Weights


def _variables(net: NetSpec, model: keras.Sequential):
    """Yields (spec layer, canonical key, Keras variable) for every weight and statistic."""
    for layer in net.layers:
        if isinstance(layer, BatchNorm):
            kinds = ("gamma", "beta", "moving_mean", "moving_var")
        elif isinstance(layer, (Dense, Conv2d, ConvTranspose2d)):
            kinds = ("kernel", "bias") if layer.bias else ("kernel",)
        else:
            continue
        keras_layer = model.get_layer(layer.name)
        for kind in kinds:
            yield layer, f"{net.name}/{layer.name}/{kind}", getattr(keras_layer, kind)


def _is_transposed_kernel(layer, key: str) -> bool:
    return isinstance(layer, ConvTranspose2d) and key.endswith("/kernel")


def export_network(net: NetSpec, model: keras.Sequential) -> Weights:
    weights: Weights = {}
    for layer, key, variable in _variables(net, model):
        value = np.asarray(variable.numpy())
        if _is_transposed_kernel(layer, key):
            value = value.transpose(0, 1, 3, 2)  # (kh, kw, out, in) -> (kh, kw, in, out)
        weights[key] = np.ascontiguousarray(value)
    return weights


def import_network(net: NetSpec, model: keras.Sequential, weights: Weights) -> None:
    for layer, key, variable in _variables(net, model):
        value = weights[key]
        if _is_transposed_kernel(layer, key):
            value = value.transpose(0, 1, 3, 2)
        variable.assign(np.ascontiguousarray(value, dtype=variable.dtype))
