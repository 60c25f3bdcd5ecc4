"""Builds a `Network` (a pure function of explicit parameter and state
pytrees) from a framework-neutral `NetSpec`.

Plain JAX, no layer library: Flax's BatchNorm keeps the biased variance and
its SpectralNorm iterates v before u (../shared/JAX.md); here every PyTorch
convention is written out. JAX's native layouts are the canonical ones
(images NHWC, kernels HWIO = (kh, kw, in, out), Dense (in, out), features
flattened (H, W, C)), so `params` and `state` are flat dicts keyed by the
canonical names ("generator/deconv1/kernel"): trainable arrays in `params`,
BatchNorm statistics and spectral-norm vectors in `state`.

A training-mode call returns the new state (batch statistics folded into the
moving ones; one power iteration per spectrally normalised layer), threaded
through the layers in order, as PyTorch updates its buffers in place.

Mixed precision: `compute_dtype` (bfloat16) casts each matmul's and
convolution's operands; BatchNorm, softmax and spectral norm's sigma run in the
parameters' type, as under torch autocast and Keras' mixed policy.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import CustomVJPPrimal, SymbolicZero

from benchmark.specs.layers import (
    Activation, BatchNorm, ConcatLabels, Conv2d, ConvTranspose2d, Dense, Flatten, NetSpec,
    Reshape, SelfAttention, infer_shapes,
)
from benchmark.weights import SN_EPS

Arrays = dict[str, jax.Array]
CONV_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


@dataclass(frozen=True)
class Context:
    """What every layer of one pass reads: training or inference mode, the
    class labels (B,) of a conditional network, the matmul/conv operand type,
    and how many contiguous groups of the batch BatchNorm normalises apart in
    training (a data-parallel run's replicas without --sync-batchnorm)."""

    training: bool
    labels: jax.Array | None
    compute_dtype: Any
    batchnorm_groups: int = 1


def _normalize(x: jax.Array) -> jax.Array:
    return x / jnp.maximum(jnp.sqrt(jnp.sum(x * x)), SN_EPS)


def spectral_normalized(kernel: jax.Array, state: Arrays, prefix: str,
                        training: bool) -> tuple[jax.Array, Arrays]:
    """kernel / sigma with `torch_impl.nets.SpectralNorm`'s arithmetic: the
    (out, fan_in) matrix W = kernel.reshape(-1, out).T, fan_in ordered
    (kh, kw, in) as in the canonical kernel; in training mode first one power
    iteration v = normalize(W^T u), u = normalize(W v) (u before v's use, as
    torch); sigma = u . W v, the gradient flowing through W only."""
    matrix = kernel.reshape(-1, kernel.shape[-1]).T  # (out, fan_in)
    u, v = state[prefix + "sn_u"], state[prefix + "sn_v"]
    if training:
        frozen = lax.stop_gradient(matrix)
        v = _normalize(frozen.T @ u)
        u = _normalize(frozen @ v)
        state = {**state, prefix + "sn_u": u, prefix + "sn_v": v}
    sigma = jnp.dot(u, matrix @ v)
    return kernel / sigma, state


def conv_transpose_dilated(x: jax.Array, kernel: jax.Array, stride: int, padding: int,
                           output_padding: int) -> jax.Array:
    """PyTorch's ConvTranspose2d as XLA writes it (`lax.conv_transpose`'s form):
    the input dilated by the stride, padded k - 1 - p (plus output_padding at
    the end), correlated with the spatially flipped kernel. The reference:
    its kernel gradient is slow on XLA:CPU (jax#23783, ../shared/JAX.md)."""
    k = kernel.shape[0]
    pad = (k - 1 - padding, k - 1 - padding + output_padding)
    return lax.conv_general_dilated(x, kernel[::-1, ::-1], (1, 1), (pad, pad), lhs_dilation=(stride, stride),
                                    dimension_numbers=CONV_DIMENSIONS)


def conv_strided(x: jax.Array, kernel: jax.Array, stride: int, padding: int) -> jax.Array:
    """PyTorch's Conv2d(k, s, p) as XLA writes it: a strided convolution. Its
    input gradient is an lhs-dilated convolution, and that gradient's own
    kernel gradient (the gradient penalty's double backward) is the slow path
    of XLA:CPU that `conv_transpose_dilated` meets."""
    p = padding
    return lax.conv_general_dilated(x, kernel, (stride, stride), ((p, p), (p, p)),
                                    dimension_numbers=CONV_DIMENSIONS)


# The strided convolution with its gradients chosen by hand. XLA transposes a
# strided convolution into an lhs-dilated one (its input gradient), and the
# kernel gradient of that is XLA:CPU's slow path (jax#23783): the gradient
# penalty's double backward meets it in every strided layer of the critic.
# Written out, every first and second derivative is an ordinary strided
# convolution or that convolution's kernel gradient.
#
# The rules see which inputs are differentiated (symbolic_zeros) and compute
# only those gradients, each without evaluating a forward convolution it does
# not use: under jit XLA would drop such work, but eager mode runs every op it
# is given (the critic's kernel gradient in the generator's update, its input
# gradient at the real images, a forward convolution per kernel gradient).


def _differentiated(*primals: CustomVJPPrimal) -> tuple:
    """Which of a rule's primals are differentiated, as a residual: () for
    yes, None for no. Pytree structure, not values, so that it stays static
    under jit, where a bool among the residuals would become a tracer."""
    return tuple(() if primal.perturbed else None for primal in primals)


# The strided convolution's two transposes as JAX's own transpose rules write
# them (jax/_src/lax/convolution.py, `_conv_general_dilated_transpose_lhs`
# and `_rhs`): the same XLA convolutions, called directly. jax.vjp would also
# evaluate the forward convolution, and jax.linear_transpose traces the map
# at every call: ~0.5 ms of Python each in eager mode, a dozen times a step.

def _input_gradient(cotangent: jax.Array, kernel: jax.Array, x_size: int, stride: int,
                    padding: int) -> jax.Array:
    """dx = J(W)^T g for y = conv_strided(x, W) on x of side `x_size`: g
    dilated by the stride, padded k - 1 - p before and what restores x's size
    after, correlated with W flipped, its channel axes read swapped (HWOI)."""
    k, out = kernel.shape[0], cotangent.shape[1]
    before = k - 1 - padding
    after = x_size + k - 1 - ((out - 1) * stride + 1) - before
    return lax.conv_general_dilated(cotangent, lax.rev(kernel, (0, 1)), (1, 1), ((before, after),) * 2,
                                    lhs_dilation=(stride, stride), dimension_numbers=("NHWC", "HWOI", "NHWC"))


def _kernel_gradient(x: jax.Array, cotangent: jax.Array, kernel_size: int, stride: int, padding: int) -> jax.Array:
    """dW = J_x^T g for y = conv_strided(x, W): x correlated with g dilated by
    the stride, batch and channels trading places (x read CHWN, g IHWO, the
    result HWNC, i.e. W's (kh, kw, in, out)); padded p before and what gives
    the kernel's size after."""
    out = cotangent.shape[1]
    after = (out - 1) * stride + 1 - x.shape[1] + kernel_size - padding - 1
    return lax.conv_general_dilated(x, cotangent, (1, 1), ((padding, after),) * 2,
                                    rhs_dilation=(stride, stride), dimension_numbers=("CHWN", "IHWO", "HWNC"))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _conv_input_gradient(cotangent: jax.Array, kernel: jax.Array, x_shape: tuple[int, ...], stride: int,
                         padding: int) -> jax.Array:
    """dx = J(W)^T g, J(W) = conv_strided(., W): XLA's own (lhs-dilated) transpose."""
    return _input_gradient(cotangent, kernel, x_shape[1], stride, padding)


def _input_gradient_forward(cotangent, kernel, x_shape, stride, padding):
    wanted = _differentiated(cotangent, kernel)
    cotangent, kernel = cotangent.value, kernel.value
    return _conv_input_gradient(cotangent, kernel, x_shape, stride, padding), (cotangent, kernel, wanted)


def _input_gradient_backward(x_shape, stride, padding, residuals, h):
    """<h, J(W)^T g> = <conv_strided(h, W), g>: its gradient in g is that
    forward convolution, in W the forward convolution's kernel gradient."""
    cotangent, kernel, (want_cotangent, want_kernel) = residuals
    if isinstance(h, SymbolicZero):
        return None, None
    return (conv_strided(h, kernel, stride, padding) if want_cotangent is not None else None,
            _kernel_gradient(h, cotangent, kernel.shape[0], stride, padding) if want_kernel is not None else None)


_conv_input_gradient.defvjp(_input_gradient_forward, _input_gradient_backward, symbolic_zeros=True)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv(x: jax.Array, kernel: jax.Array, stride: int, padding: int) -> jax.Array:
    return conv_strided(x, kernel, stride, padding)


def _conv_forward(x, kernel, stride, padding):
    wanted = _differentiated(x, kernel)
    x, kernel = x.value, kernel.value
    return conv_strided(x, kernel, stride, padding), (x, kernel, wanted)


def _conv_backward(stride, padding, residuals, cotangent):
    x, kernel, (want_x, want_kernel) = residuals
    if isinstance(cotangent, SymbolicZero):
        return None, None
    return (_conv_input_gradient(cotangent, kernel, x.shape, stride, padding) if want_x is not None else None,
            _kernel_gradient(x, cotangent, kernel.shape[0], stride, padding) if want_kernel is not None else None)


_conv.defvjp(_conv_forward, _conv_backward, symbolic_zeros=True)


def conv_transpose(x: jax.Array, kernel: jax.Array, stride: int, padding: int, output_padding: int) -> jax.Array:
    """PyTorch's ConvTranspose2d(k, s, p, output_padding) as what it is, the
    adjoint of Conv2d(k, s, p) from `out` to `in` channels with the same
    kernel, channel axes swapped (kernel (kh, kw, in, out) -> (kh, kw, out,
    in), not flipped): y = J(W)^T x. Forward, XLA's own transpose of the
    strided convolution; gradients (`_conv_input_gradient`'s vjps), that
    convolution forward (input) and its kernel gradient (kernel), never the
    lhs-dilated kernel gradient of XLA:CPU's slow path. Measured on XLA:CPU at
    batch 128, forward and both gradients: DCGAN's 7x7x128 -> 14x14x64 27 ms
    (45 as four phase convolutions, 318 as `conv_transpose_dilated`), its
    14x14x64 -> 28x28x1 2.7 ms (5.9 as one sub-pixel convolution). The
    convolution maps the output size back to x's: its floor division drops
    output_padding (< stride, as torch requires)."""
    k, n = kernel.shape[0], x.shape[1]
    size = (n - 1) * stride - 2 * padding + k + output_padding
    return _conv_input_gradient(x, kernel.transpose(0, 1, 3, 2), (x.shape[0], size, size, kernel.shape[3]),
                                stride, padding)


def conv_strided_vjp(x: jax.Array, kernel: jax.Array, stride: int, padding: int) -> jax.Array:
    """`conv_strided` with its gradients written out (custom vjps): the
    same values and first derivatives (XLA's own), and a second derivative
    (the gradient penalty's) that never differentiates an lhs-dilated
    convolution. On XLA:CPU WGAN-GP's penalty gradient at batch 128 takes
    ~6x less time than with `conv_strided` (README, "JAX"). Stride 1 is
    `conv_strided` itself."""
    if stride == 1:
        return conv_strided(x, kernel, stride, padding)
    return _conv(x, kernel, stride, padding)


# The formulations the networks use (`conv_transpose` or
# `conv_transpose_dilated`; `conv_strided_vjp` or `conv_strided`): tests
# compare each with torch and with each other.
CONV_TRANSPOSE: Callable[..., jax.Array] = conv_transpose
CONV: Callable[..., jax.Array] = conv_strided_vjp


def cast(x: jax.Array, dtype: Any) -> jax.Array:
    """x in `dtype`: x itself when it is already (astype binds a conversion
    even then on a traced value, one more dispatched op in eager mode)."""
    return x if x.dtype == dtype else x.astype(dtype)


@functools.partial(jax.jit, static_argnames="negative_slope")
def leaky_relu(x: jax.Array, negative_slope: float) -> jax.Array:
    """PyTorch's x > 0 ? x : slope * x with the spec's slope (jax.nn.leaky_relu
    defaults to 0.01, and takes x >= 0, whose gradient at 0 is 1, not the
    slope). Jitted as jax.nn's activations are: one op in eager mode."""
    return jnp.where(x > 0, x, x * negative_slope)


def _linear(layer: Dense | Conv2d | ConvTranspose2d, prefix: str, params: Arrays, state: Arrays,
            x: jax.Array, ctx: Context) -> tuple[jax.Array, Arrays]:
    kernel = params[prefix + "kernel"]
    if layer.spectral_norm:
        kernel, state = spectral_normalized(kernel, state, prefix, ctx.training)
    dtype = ctx.compute_dtype
    x, kernel = cast(x, dtype), cast(kernel, dtype)
    if isinstance(layer, Dense):
        y = x @ kernel
    elif isinstance(layer, Conv2d):
        y = CONV(x, kernel, layer.stride, layer.padding)
    else:
        y = CONV_TRANSPOSE(x, kernel, layer.stride, layer.padding, layer.output_padding)
    if layer.bias:
        y = y + cast(params[prefix + "bias"], dtype)
    return y, state


def _batchnorm(layer: BatchNorm, prefix: str, params: Arrays, state: Arrays, x: jax.Array,
               ctx: Context) -> tuple[jax.Array, Arrays]:
    """Training mode normalises with the biased batch variance (two passes:
    mean, then mean of squared deviations) and moves the statistics with
    PyTorch's momentum, running = (1 - m) running + m batch, the variance
    unbiased (n / (n - 1)); inference mode reads the moving statistics.

    With `ctx.batchnorm_groups` = R > 1 the batch is R contiguous slices of
    B / R rows, each normalised with its own statistics, as R data-parallel
    replicas without synced BatchNorm do; the moving statistics take the
    slices' mean, which is what averaging R replicas' moving statistics
    after the step gives (the update is linear in the batch statistics)."""
    dtype = ctx.compute_dtype
    x = cast(x, params[prefix + "gamma"].dtype)
    if ctx.training:
        groups = ctx.batchnorm_groups
        grouped = x.reshape(groups, x.shape[0] // groups, *x.shape[1:])  # (R, B/R, ..., C)
        axes = tuple(range(1, grouped.ndim - 1))  # per group, all but channels
        mean = jnp.mean(grouped, axis=axes, keepdims=True)  # (R, 1, ..., 1, C)
        var = jnp.mean(jnp.square(grouped - mean), axis=axes, keepdims=True)
        n = grouped[0].size // x.shape[-1]  # rows a group's statistics average
        m = layer.momentum
        batch_mean = lax.stop_gradient(jnp.mean(mean, axis=0).reshape(-1))  # (C,), the groups' mean
        batch_var = lax.stop_gradient(jnp.mean(var, axis=0).reshape(-1))
        state = {**state,
                 prefix + "moving_mean": (1 - m) * state[prefix + "moving_mean"] + m * batch_mean,
                 prefix + "moving_var": (1 - m) * state[prefix + "moving_var"] + m * batch_var * (n / (n - 1))}
        y = (grouped - mean) * lax.rsqrt(var + layer.eps)
        y = y.reshape(x.shape) * params[prefix + "gamma"] + params[prefix + "beta"]
    else:
        mean, var = state[prefix + "moving_mean"], state[prefix + "moving_var"]
        y = (x - mean) * lax.rsqrt(var + layer.eps) * params[prefix + "gamma"] + params[prefix + "beta"]
    return cast(y, dtype), state


def _attention(layer: SelfAttention, prefix: str, params: Arrays, state: Arrays, x: jax.Array,
               ctx: Context) -> tuple[jax.Array, Arrays]:
    """out = gamma * (A v) + x, A = softmax_j(q_i . k_j) over the N = H W
    positions (ordered h W + w)."""
    b, h, w, c = x.shape
    outputs = []
    for conv in layer.convolutions():  # query, key, value
        y, state = _linear(conv, f"{prefix}{conv.name}/", params, state, x, ctx)
        outputs.append(y.reshape(b, h * w, -1))
    q, k, v = outputs  # (B, N, C/8), (B, N, C/8), (B, N, C)
    energies = cast(q @ k.transpose(0, 2, 1), params[prefix + "gamma"].dtype)  # (B, N_i, N_j)
    attention = cast(jax.nn.softmax(energies, axis=-1), ctx.compute_dtype)
    o = (attention @ v).reshape(b, h, w, c)
    return cast(params[prefix + "gamma"], ctx.compute_dtype) * o + cast(x, ctx.compute_dtype), state


def _concat_labels(layer: ConcatLabels, x: jax.Array, ctx: Context) -> jax.Array:
    if ctx.labels is None:
        raise ValueError("a conditional network needs labels")
    one_hot = jax.nn.one_hot(ctx.labels, layer.num_classes, dtype=x.dtype)  # (B, n)
    if x.ndim == 4:
        one_hot = jnp.broadcast_to(one_hot[:, None, None, :], (*x.shape[:3], layer.num_classes))
    return jnp.concatenate([x, one_hot], axis=-1)


def _activation(layer: Activation, x: jax.Array) -> jax.Array:
    if layer.kind == "relu":
        return jnp.maximum(x, 0)
    if layer.kind == "leaky_relu":
        return leaky_relu(x, layer.negative_slope)
    if layer.kind == "tanh":
        return jnp.tanh(x)
    return x


@dataclass(frozen=True)
class Network:
    """The spec's layers in order, as a pure function:
    `apply(params, state, x, labels, training) -> (y, new state)`."""

    spec: NetSpec

    def apply(self, params: Arrays, state: Arrays, x: jax.Array, labels: jax.Array | None = None, *,
              training: bool, compute_dtype: Any = None, batchnorm_groups: int = 1) -> tuple[jax.Array, Arrays]:
        ctx = Context(training, labels, compute_dtype or x.dtype, batchnorm_groups)
        x = cast(x, ctx.compute_dtype)
        for layer, _, _ in infer_shapes(self.spec):
            prefix = f"{self.spec.name}/{getattr(layer, 'name', '')}/"
            if isinstance(layer, (Dense, Conv2d, ConvTranspose2d)):
                x, state = _linear(layer, prefix, params, state, x, ctx)
            elif isinstance(layer, BatchNorm):
                x, state = _batchnorm(layer, prefix, params, state, x, ctx)
            elif isinstance(layer, SelfAttention):
                x, state = _attention(layer, prefix, params, state, x, ctx)
            elif isinstance(layer, ConcatLabels):
                x = _concat_labels(layer, x, ctx)
            elif isinstance(layer, Activation):
                x = _activation(layer, x)
            elif isinstance(layer, Reshape):
                x = x.reshape(x.shape[0], *layer.shape)  # canonical (H, W, C) is JAX's own order
            elif isinstance(layer, Flatten):
                x = x.reshape(x.shape[0], -1)
            else:
                raise TypeError(f"no JAX builder for {layer!r}")
        return x, state


def build_network(net: NetSpec) -> Network:
    return Network(net)


def parameter_count(params: Arrays) -> int:
    return sum(int(a.size) for a in params.values())

