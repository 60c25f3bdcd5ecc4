"""Builds a `keras.Sequential` from a framework-neutral `NetSpec`.

Activations run NHWC. Every setting Keras would default differently from
PyTorch (BatchNorm momentum, eps and running variance, LeakyReLU slope,
"same" padding, initialisers) is taken from the spec or set to match.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from benchmark.specs.layers import (
    Activation, BatchNorm, Conv2d, ConvTranspose2d, Dense, Flatten, Layer, NetSpec, Reshape,
)


class TorchBatchNorm(keras.layers.Layer):
    """BatchNorm with PyTorch's arithmetic, which Keras' layer does not offer:
    the moving variance tracks the unbiased batch variance (n / (n - 1)), and
    momentum is PyTorch's (moving = (1 - m) * moving + m * batch). Normalises
    over every axis but the last (channels)."""

    def __init__(self, momentum: float, eps: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.momentum = momentum
        self.eps = eps

    def build(self, input_shape) -> None:
        channels = (input_shape[-1],)
        self.gamma = self.add_weight(name="gamma", shape=channels, initializer="ones")
        self.beta = self.add_weight(name="beta", shape=channels, initializer="zeros")
        self.moving_mean = self.add_weight(name="moving_mean", shape=channels,
                                           initializer="zeros", trainable=False)
        self.moving_var = self.add_weight(name="moving_var", shape=channels,
                                          initializer="ones", trainable=False)

    def call(self, x, training=False):
        if not training:
            return tf.nn.batch_normalization(x, self.moving_mean, self.moving_var,
                                             self.beta, self.gamma, self.eps)
        axes = list(range(len(x.shape) - 1))
        mean, var = tf.nn.moments(x, axes)
        n = tf.cast(tf.size(x) // tf.shape(x)[-1], x.dtype)
        m = self.momentum
        self.moving_mean.assign((1.0 - m) * self.moving_mean + m * mean)
        self.moving_var.assign((1.0 - m) * self.moving_var + m * var * n / (n - 1.0))
        return tf.nn.batch_normalization(x, mean, var, self.beta, self.gamma, self.eps)


def keras_padding(kernel: int, stride: int, padding: int) -> str | None:
    """Keras' own padding mode equal to PyTorch's symmetric `padding`, if any.

    "same" pads (kernel - stride) in total, the odd pixel bottom/right; it is
    symmetric, and equal to `padding` on both sides, when kernel - stride == 2 * padding
    (for inputs divisible by the stride, which `infer_shapes` sizes keep).
    """
    if padding == 0:
        return "valid"
    if kernel - stride == 2 * padding:
        return "same"
    return None


def build_layers(layer: Layer, dtype: str) -> list[keras.layers.Layer]:
    """The Keras layers for one spec layer (a few need explicit padding around them)."""
    if isinstance(layer, Dense):
        return [keras.layers.Dense(layer.out_features, use_bias=layer.bias, name=layer.name, dtype=dtype)]
    if isinstance(layer, (Conv2d, ConvTranspose2d)):
        return _conv_layers(layer, dtype)
    if isinstance(layer, BatchNorm):
        return [TorchBatchNorm(layer.momentum, layer.eps, name=layer.name, dtype=dtype)]
    if isinstance(layer, Activation):
        return [{
            "relu": lambda: keras.layers.ReLU(dtype=dtype),
            "leaky_relu": lambda: keras.layers.LeakyReLU(negative_slope=layer.negative_slope, dtype=dtype),
            "tanh": lambda: keras.layers.Activation("tanh", dtype=dtype),
            "identity": lambda: keras.layers.Identity(dtype=dtype),
        }[layer.kind]()]
    if isinstance(layer, Reshape):
        return [keras.layers.Reshape(layer.shape, dtype=dtype)]
    if isinstance(layer, Flatten):
        return [keras.layers.Flatten(dtype=dtype)]
    raise TypeError(f"no Keras builder for {layer!r}")


def _conv_layers(layer: Conv2d | ConvTranspose2d, dtype: str) -> list[keras.layers.Layer]:
    transposed = isinstance(layer, ConvTranspose2d)
    cls = keras.layers.Conv2DTranspose if transposed else keras.layers.Conv2D
    mode = keras_padding(layer.kernel, layer.stride, layer.padding)
    if transposed and layer.output_padding:
        mode = None
    conv = cls(layer.out_channels, layer.kernel, strides=layer.stride, padding=mode or "valid",
               use_bias=layer.bias, name=layer.name, dtype=dtype)
    if mode is not None:
        return [conv]
    p = layer.padding
    if not transposed:
        return [keras.layers.ZeroPadding2D(p, dtype=dtype), conv]
    # A "valid" transposed conv gives (in - 1) * stride + kernel; PyTorch then drops
    # `padding` rows at the top/left and `padding - output_padding` at the bottom/right.
    bottom = p - layer.output_padding
    return [conv, keras.layers.Cropping2D(((p, bottom), (p, bottom)), dtype=dtype)]


def build_network(net: NetSpec, dtype: str = "float32") -> keras.Sequential:
    layers = [keras.Input(shape=net.input_shape, dtype=dtype)]
    for layer in net.layers:
        layers.extend(build_layers(layer, dtype))
    return keras.Sequential(layers, name=net.name)
