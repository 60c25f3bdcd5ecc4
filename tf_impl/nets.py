"""Builds a `Network` (a Keras model that can pass class labels) from a
framework-neutral `NetSpec`.

Activations run NHWC. Every setting Keras would default differently from
PyTorch (BatchNorm momentum, eps and running variance, LeakyReLU slope,
"same" padding, initialisers) is taken from the spec or set to match.

`dtype` is a Keras dtype policy name given to every layer: "float32",
"float64" (parity tests), or "mixed_bfloat16" / "mixed_float16" (float32
variables, computation in the low-precision type; BatchNorm statistics and
spectral norm's sigma stay float32).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from benchmark.specs.layers import (
    Activation, BatchNorm, ConcatLabels, Conv2d, ConvTranspose2d, Dense, Flatten, Layer, NetSpec,
    Reshape, SelfAttention,
)
from benchmark.weights import SN_EPS


class TorchBatchNorm(keras.layers.Layer):
    """BatchNorm with PyTorch's arithmetic, which Keras' layer does not offer:
    the moving variance tracks the unbiased batch variance (n / (n - 1)), and
    momentum is PyTorch's (moving = (1 - m) * moving + m * batch). Normalises
    over every axis but the last (channels). Under a mixed policy it computes
    in the variables' float32, as Keras' BatchNormalization does, and returns
    the input's type.

    Under tf.distribute (tf_impl/distributed.py) with `synchronized`, training
    normalises with the global batch's statistics: the per-channel sum, then
    the sum of squared deviations from the global mean, all-reduced over the
    replicas (ReplicaContext.all_reduce is differentiable), exactly what
    torch_impl.distributed.SyncedBatchNorm computes. Without it each replica
    normalises with its own slice, and the moving statistics are MEAN-aggregated:
    the mean over replicas of each one's update."""

    def __init__(self, momentum: float, eps: float, synchronized: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.momentum = momentum
        self.eps = eps
        self.synchronized = synchronized

    def build(self, input_shape) -> None:
        channels = (input_shape[-1],)
        # autocast=False: read in the variable type (float32) under a mixed policy too.
        self.gamma = self.add_weight(name="gamma", shape=channels, initializer="ones", autocast=False)
        self.beta = self.add_weight(name="beta", shape=channels, initializer="zeros", autocast=False)
        # Replicas' updates: synchronized ones are identical (the first is
        # taken as it is), the others are averaged.
        aggregation = "only_first_replica" if self.synchronized else "mean"
        self.moving_mean = self.add_weight(name="moving_mean", shape=channels, initializer="zeros",
                                           trainable=False, autocast=False, aggregation=aggregation)
        self.moving_var = self.add_weight(name="moving_var", shape=channels, initializer="ones",
                                          trainable=False, autocast=False, aggregation=aggregation)

    def call(self, x, training=False):
        y = tf.cast(x, self.variable_dtype)  # a no-op unless the policy is mixed
        if not training:
            y = tf.nn.batch_normalization(y, self.moving_mean, self.moving_var,
                                          self.beta, self.gamma, self.eps)
            return tf.cast(y, x.dtype)
        axes = list(range(len(y.shape) - 1))
        replicas = tf.distribute.get_replica_context()
        if self.synchronized and replicas is not None and replicas.num_replicas_in_sync > 1:
            return tf.cast(self._synchronized(y, axes, replicas), x.dtype)
        mean, var = tf.nn.moments(y, axes)
        n = tf.cast(tf.size(y) // tf.shape(y)[-1], y.dtype)
        m = self.momentum
        self.moving_mean.assign((1.0 - m) * self.moving_mean + m * mean)
        self.moving_var.assign((1.0 - m) * self.moving_var + m * var * n / (n - 1.0))
        return tf.cast(tf.nn.batch_normalization(y, mean, var, self.beta, self.gamma, self.eps), x.dtype)

    def _synchronized(self, y, axes, replicas):
        """Training over the global batch (class docstring); equal slices."""
        local = tf.cast(tf.size(y) // tf.shape(y)[-1], y.dtype)
        n = local * replicas.num_replicas_in_sync
        total = tf.distribute.ReduceOp.SUM
        mean = replicas.all_reduce(total, tf.reduce_sum(y, axes)) / n  # (C,)
        centered = y - mean
        var = replicas.all_reduce(total, tf.reduce_sum(tf.square(centered), axes)) / n  # biased
        m = self.momentum
        self.moving_mean.assign((1.0 - m) * self.moving_mean + m * mean)
        self.moving_var.assign((1.0 - m) * self.moving_var + m * var * n / (n - 1.0))
        return centered * tf.math.rsqrt(var + self.eps) * self.gamma + self.beta


def _normalize(x: tf.Tensor) -> tf.Tensor:
    return x / tf.maximum(tf.norm(x), SN_EPS)


class SpectralNorm:
    """Mixin for Dense/Conv2D/Conv2DTranspose: call uses kernel / sigma.

    Written here rather than keras.layers.SpectralNormalization, which
    assigns the normalised kernel over the kernel variable (the optimizer then
    updates W / sigma, not W) and iterates differently; this keeps `kernel`
    the raw parameter and u, v non-trainable variables, with the arithmetic of
    PyTorch's `nn.utils.spectral_norm` (see `benchmark.specs.layers`).

    The layer does not autocast: under a mixed policy the power iteration and
    sigma run on the float32 kernel, and `call` casts the inputs, W / sigma and
    the bias to the compute type.
    """

    kernel: tf.Variable

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, autocast=False, **kwargs)

    def _add_vectors(self, out: int, fan_in: int) -> None:
        # Placeholders: `import_weights` sets the canonical u, v.
        # Under tf.distribute every replica computes the same u, v from the
        # same weights: the first replica's update stands for all.
        self.sn_u = self.add_weight(name="sn_u", shape=(out,), initializer="random_normal",
                                    trainable=False, aggregation="only_first_replica")
        self.sn_v = self.add_weight(name="sn_v", shape=(fan_in,), initializer="random_normal",
                                    trainable=False, aggregation="only_first_replica")

    def kernel_matrix(self) -> tf.Tensor:
        """(fan_in, out): the transpose of the canonical (out, fan_in) matrix."""
        raise NotImplementedError

    def to_compute(self, x) -> tf.Tensor:
        return tf.cast(x, self.compute_dtype)  # a no-op unless the policy is mixed

    def normalized_kernel(self, training: bool) -> tf.Tensor:
        matrix_t = self.kernel_matrix()
        u, v = self.sn_u, self.sn_v
        if training:  # one power iteration per training forward pass
            constant = tf.stop_gradient(matrix_t)
            v = _normalize(tf.linalg.matvec(constant, u))  # W^T u
            u = _normalize(tf.linalg.matvec(constant, v, transpose_a=True))  # W v
            self.sn_v.assign(v)
            self.sn_u.assign(u)
        u, v = tf.stop_gradient(tf.convert_to_tensor(u)), tf.stop_gradient(tf.convert_to_tensor(v))
        sigma = tf.tensordot(u, tf.linalg.matvec(matrix_t, v, transpose_a=True), 1)  # u . W v
        return self.kernel / sigma


class SNDense(SpectralNorm, keras.layers.Dense):
    def build(self, input_shape) -> None:
        super().build(input_shape)
        self._add_vectors(self.units, input_shape[-1])

    def kernel_matrix(self) -> tf.Tensor:
        return self.kernel  # (in, out)

    def call(self, inputs, training=False):
        x = ops.matmul(self.to_compute(inputs), self.to_compute(self.normalized_kernel(training)))
        return ops.add(x, self.to_compute(self.bias)) if self.use_bias else x


class SNConv2d(SpectralNorm, keras.layers.Conv2D):
    def build(self, input_shape) -> None:
        super().build(input_shape)
        self._add_vectors(self.filters, int(np.prod(self.kernel.shape[:3])))

    def kernel_matrix(self) -> tf.Tensor:
        return tf.reshape(self.kernel, (-1, self.filters))  # (kh, kw, in, out)

    def call(self, inputs, training=False):
        x = self.convolution_op(self.to_compute(inputs), self.to_compute(self.normalized_kernel(training)))
        return ops.add(x, self.to_compute(self.bias)) if self.use_bias else x


class SNConvTranspose2d(SpectralNorm, keras.layers.Conv2DTranspose):
    def build(self, input_shape) -> None:
        super().build(input_shape)
        self._add_vectors(self.filters, int(np.prod(self.kernel.shape)) // self.filters)

    def kernel_matrix(self) -> tf.Tensor:
        # (kh, kw, out, in) -> (kh, kw, in, out) -> (kh * kw * in, out)
        return tf.reshape(tf.transpose(self.kernel, (0, 1, 3, 2)), (-1, self.filters))

    def call(self, inputs, training=False):
        x = ops.conv_transpose(self.to_compute(inputs), self.to_compute(self.normalized_kernel(training)),
                               strides=list(self.strides), padding=self.padding,
                               output_padding=self.output_padding,
                               dilation_rate=self.dilation_rate, data_format=self.data_format)
        return ops.add(x, self.to_compute(self.bias)) if self.use_bias else x


class SelfAttentionBlock(keras.layers.Layer):
    """SAGAN self-attention on (B, H, W, C) (see `benchmark.specs.layers.SelfAttention`)."""

    def __init__(self, layer: SelfAttention, **kwargs) -> None:
        super().__init__(**kwargs)
        self.channels, self.key_channels = layer.channels, layer.key_channels
        self.query, self.key, self.value = (build_layers(conv, self.dtype_policy.name)[0]
                                            for conv in layer.convolutions())

    def build(self, input_shape) -> None:
        for conv in (self.query, self.key, self.value):
            conv.build(input_shape)
        self.gamma = self.add_weight(name="gamma", shape=(1,), initializer="zeros")

    def call(self, x, training=False):
        shape = tf.shape(x)
        positions = shape[1] * shape[2]  # ordered h * W + w
        q = tf.reshape(self.query(x, training=training), (-1, positions, self.key_channels))
        k = tf.reshape(self.key(x, training=training), (-1, positions, self.key_channels))
        v = tf.reshape(self.value(x, training=training), (-1, positions, self.channels))
        attention = tf.nn.softmax(tf.matmul(q, k, transpose_b=True), axis=-1)  # (B, N_i, N_j)
        o = tf.reshape(tf.matmul(attention, v), shape)  # o_i = sum_j A_ij v_j
        return self.gamma * o + x


class LabelConcat(keras.layers.Layer):
    """Appends one-hot labels: (B, F) -> (B, F + n); (B, H, W, C) -> (B, H, W, C + n)."""

    def __init__(self, num_classes: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes

    def call(self, x, labels):
        one_hot = tf.one_hot(labels, self.num_classes, dtype=x.dtype)  # (B, n)
        if len(x.shape) == 4:
            shape = tf.shape(x)
            one_hot = tf.broadcast_to(one_hot[:, None, None, :],
                                      (shape[0], shape[1], shape[2], self.num_classes))
        return tf.concat([x, one_hot], axis=-1)


class Network(keras.Model):
    """The spec's layers in order; `labels` (B,) reach the LabelConcat layers
    of a conditional network and are ignored by others."""

    def __init__(self, net: NetSpec, dtype: str, sync_batchnorm: bool = False) -> None:
        super().__init__(name=net.name, dtype=dtype)
        self.stack = [k for layer in net.layers for k in build_layers(layer, dtype, sync_batchnorm)]

    def build(self, input_shape) -> None:
        """Nothing to build here: each layer that holds variables builds them
        in its own build() on its first call. Without this method Keras builds
        a subclassed model by tracing call() once symbolically before the
        first real call (`Layer._maybe_build`)."""

    def call(self, x, labels=None, training=False):
        for layer in self.stack:
            x = layer(x, labels) if isinstance(layer, LabelConcat) else layer(x, training=training)
        return x


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


def build_layers(layer: Layer, dtype: str, sync_batchnorm: bool = False) -> list[keras.layers.Layer]:
    """The Keras layers for one spec layer (a few need explicit padding around
    them); `sync_batchnorm`: BatchNorm over the global batch under tf.distribute."""
    if isinstance(layer, Dense):
        cls = SNDense if layer.spectral_norm else keras.layers.Dense
        return [cls(layer.out_features, use_bias=layer.bias, name=layer.name, dtype=dtype)]
    if isinstance(layer, (Conv2d, ConvTranspose2d)):
        return _conv_layers(layer, dtype)
    if isinstance(layer, BatchNorm):
        return [TorchBatchNorm(layer.momentum, layer.eps, sync_batchnorm, name=layer.name, dtype=dtype)]
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
    if isinstance(layer, SelfAttention):
        return [SelfAttentionBlock(layer, name=layer.name, dtype=dtype)]
    if isinstance(layer, ConcatLabels):
        return [LabelConcat(layer.num_classes, dtype=dtype)]
    raise TypeError(f"no Keras builder for {layer!r}")


def _conv_layers(layer: Conv2d | ConvTranspose2d, dtype: str) -> list[keras.layers.Layer]:
    transposed = isinstance(layer, ConvTranspose2d)
    if layer.spectral_norm:
        cls = SNConvTranspose2d if transposed else SNConv2d
    else:
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


def build_network(net: NetSpec, dtype: str = "float32", sync_batchnorm: bool = False) -> Network:
    """The network, its variables created (by one inference pass on zeros).
    `dtype`: a dtype policy name (module docstring); `sync_batchnorm`:
    `TorchBatchNorm`'s synchronized mode."""
    model = Network(net, dtype, sync_batchnorm)
    zeros = np.zeros((1, *net.input_shape), keras.DTypePolicy(dtype).variable_dtype)
    model(zeros, np.zeros((1,), np.int64), training=False)
    return model
