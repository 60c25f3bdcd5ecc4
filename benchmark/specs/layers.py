"""The layer vocabulary every architecture is written in.

A network is a `NetSpec`: an input shape and a tuple of layers. Each framework's
builder (`torch_impl/nets.py`, `tf_impl/nets.py`) turns the same tuple into its
own modules; nothing about an architecture is written in framework code.

Conventions, fixed here once so that both builders agree:
- Shapes are canonical (H, W, C) for images and (F,) for vectors, batch omitted.
- Padding is explicit and symmetric (PyTorch's meaning). A transposed
  convolution's output is (in - 1) * stride - 2 * padding + kernel + output_padding.
- BatchNorm momentum uses PyTorch's convention:
  running = (1 - momentum) * running + momentum * batch statistic.
- Canonical parameter layout (see `parameter_shapes`): Dense kernel (in, out);
  Conv2d and ConvTranspose2d kernels (kh, kw, in, out), "in" being the layer's
  input channels; BatchNorm gamma, beta, moving_mean, moving_var (C,).
  Flatten and Reshape order features (H, W, C), so a Dense fed by a Flatten
  orders its input rows H, W, C, whatever the framework's image layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

ActivationKind = Literal["relu", "leaky_relu", "tanh", "identity"]


@dataclass(frozen=True)
class Dense:
    name: str
    in_features: int
    out_features: int
    bias: bool = True


@dataclass(frozen=True)
class Conv2d:
    name: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    padding: int
    bias: bool = True


@dataclass(frozen=True)
class ConvTranspose2d:
    name: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    padding: int
    output_padding: int = 0
    bias: bool = True


@dataclass(frozen=True)
class BatchNorm:
    name: str
    num_features: int
    momentum: float = 0.1  # PyTorch convention (Keras momentum = 1 - this)
    eps: float = 1e-5


@dataclass(frozen=True)
class Activation:
    kind: ActivationKind
    negative_slope: float = 0.2  # leaky_relu only; DCGAN paper value


@dataclass(frozen=True)
class Reshape:
    shape: tuple[int, int, int]  # (H, W, C)


@dataclass(frozen=True)
class Flatten:
    pass


Layer = Union[Dense, Conv2d, ConvTranspose2d, BatchNorm, Activation, Reshape, Flatten]
ParametrisedLayer = Union[Dense, Conv2d, ConvTranspose2d, BatchNorm]
Shape = tuple[int, ...]


@dataclass(frozen=True)
class NetSpec:
    """A feed-forward network: `input_shape` (canonical) through `layers`."""

    name: str  # "generator" or "discriminator": the prefix of its weight keys
    input_shape: Shape
    layers: tuple[Layer, ...]

    def __post_init__(self) -> None:
        infer_shapes(self)  # fail at definition time, not in a framework


def conv_output_size(size: int, layer: Conv2d) -> int:
    return (size + 2 * layer.padding - layer.kernel) // layer.stride + 1


def conv_transpose_output_size(size: int, layer: ConvTranspose2d) -> int:
    return (size - 1) * layer.stride - 2 * layer.padding + layer.kernel + layer.output_padding


def infer_shapes(net: NetSpec) -> list[tuple[Layer, Shape, Shape]]:
    """Walks the network and returns (layer, input shape, output shape) per layer.

    Raises ValueError naming the layer whose input does not fit.
    """
    shape: Shape = tuple(net.input_shape)
    walked = []
    for layer in net.layers:
        out = _output_shape(layer, shape, net.name)
        walked.append((layer, shape, out))
        shape = out
    return walked


def _output_shape(layer: Layer, shape: Shape, net_name: str) -> Shape:
    def mismatch(expected: str) -> ValueError:
        label = getattr(layer, "name", type(layer).__name__)
        return ValueError(f"{net_name}/{label}: expects {expected}, gets input of shape {shape}")

    if isinstance(layer, Dense):
        if shape != (layer.in_features,):
            raise mismatch(f"({layer.in_features},)")
        return (layer.out_features,)
    if isinstance(layer, (Conv2d, ConvTranspose2d)):
        if len(shape) != 3 or shape[2] != layer.in_channels:
            raise mismatch(f"(H, W, {layer.in_channels})")
        size = conv_output_size if isinstance(layer, Conv2d) else conv_transpose_output_size
        return (size(shape[0], layer), size(shape[1], layer), layer.out_channels)
    if isinstance(layer, BatchNorm):
        if shape[-1] != layer.num_features:
            raise mismatch(f"{layer.num_features} channels last")
        return shape
    if isinstance(layer, Reshape):
        if _size(shape) != _size(layer.shape):
            raise mismatch(f"{_size(layer.shape)} elements")
        return tuple(layer.shape)
    if isinstance(layer, Flatten):
        return (_size(shape),)
    return shape  # Activation


def _size(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def parameter_shapes(net: NetSpec) -> dict[str, Shape]:
    """Canonical name -> canonical shape of every weight and BatchNorm buffer."""
    shapes: dict[str, Shape] = {}
    for layer in net.layers:
        if isinstance(layer, Dense):
            shapes[f"{net.name}/{layer.name}/kernel"] = (layer.in_features, layer.out_features)
            if layer.bias:
                shapes[f"{net.name}/{layer.name}/bias"] = (layer.out_features,)
        elif isinstance(layer, (Conv2d, ConvTranspose2d)):
            k = layer.kernel
            shapes[f"{net.name}/{layer.name}/kernel"] = (k, k, layer.in_channels, layer.out_channels)
            if layer.bias:
                shapes[f"{net.name}/{layer.name}/bias"] = (layer.out_channels,)
        elif isinstance(layer, BatchNorm):
            for p in ("gamma", "beta", "moving_mean", "moving_var"):
                shapes[f"{net.name}/{layer.name}/{p}"] = (layer.num_features,)
    return shapes


def trainable_parameter_count(net: NetSpec) -> int:
    """Trainable scalars (BatchNorm moving statistics excluded)."""
    return sum(
        _size(shape)
        for key, shape in parameter_shapes(net).items()
        if not key.endswith(("/moving_mean", "/moving_var"))
    )
