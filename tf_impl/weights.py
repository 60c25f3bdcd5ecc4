"""Converts between Keras variables and canonical weights (`benchmark.weights`).

Keras layouts: Dense kernel (in, out) and NHWC Flatten/Reshape order, as the
canonical ones; Conv2D kernel (kh, kw, in, out), as canonical;
Conv2DTranspose kernel (kh, kw, out, in), transposed here. Every other array
(BatchNorm statistics, spectral-norm vectors, the attention gamma) is a
variable of the canonical name and shape.
"""

from __future__ import annotations

import keras
import numpy as np

from benchmark.specs.layers import ConvTranspose2d, NetSpec, layer_parameters, parametrised_layers
from benchmark.weights import Weights


def _variables(net: NetSpec, model: keras.Model):
    """Yields (spec layer, canonical key, Keras variable) for every weight and statistic."""
    for path, layer in parametrised_layers(net):
        top, *inner = path.split("/")
        keras_layer = model.get_layer(top)
        for part in inner:  # "attention/query": a sublayer of the block
            keras_layer = getattr(keras_layer, part)
        for kind in layer_parameters(layer):
            yield layer, f"{net.name}/{path}/{kind}", getattr(keras_layer, kind)


def _is_transposed_kernel(layer, key: str) -> bool:
    return isinstance(layer, ConvTranspose2d) and key.endswith("/kernel")


def export_network(net: NetSpec, model: keras.Model) -> Weights:
    weights: Weights = {}
    for layer, key, variable in _variables(net, model):
        value = np.asarray(variable.numpy())
        if _is_transposed_kernel(layer, key):
            value = value.transpose(0, 1, 3, 2)  # (kh, kw, out, in) -> (kh, kw, in, out)
        weights[key] = np.ascontiguousarray(value)
    return weights


def import_network(net: NetSpec, model: keras.Model, weights: Weights) -> None:
    for layer, key, variable in _variables(net, model):
        value = weights[key]
        if _is_transposed_kernel(layer, key):
            value = value.transpose(0, 1, 3, 2)
        variable.assign(np.ascontiguousarray(value, dtype=variable.dtype))
