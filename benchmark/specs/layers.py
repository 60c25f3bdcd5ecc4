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
- Canonical parameter layout (see `layer_parameters`): Dense kernel (in, out);
  Conv2d and ConvTranspose2d kernels (kh, kw, in, out), "in" being the layer's
  input channels; BatchNorm gamma, beta, moving_mean, moving_var (C,).
  Flatten and Reshape order features (H, W, C), so a Dense fed by a Flatten
  orders its input rows H, W, C, whatever the framework's image layout.
- Spectral norm (Miyato et al. 2018) on a Dense/Conv2d/ConvTranspose2d with
  `spectral_norm=True` divides its kernel by sigma, the largest singular value
  of W = kernel.reshape(-1, out).T, shape (out, fan_in), fan_in = kh*kw*in
  ordered (kh, kw, in). The estimates sn_u (out,) and sn_v (fan_in,) are state
  like BatchNorm's statistics: each forward pass in training mode runs one
  power iteration, v = normalize(W^T u), u = normalize(W v), then
  sigma = u . W v (u, v constants for the gradient); inference mode uses the
  stored u, v as they are. This is `torch.nn.utils.spectral_norm`'s arithmetic.
- SelfAttention holds three 1x1 Conv2d named query, key (no bias), value
  (keys "<net>/<attention>/query/kernel" ...) and a scalar gamma (1,),
  initialised 0.
- ConcatLabels appends the one-hot class label to its input: as features
  (F,) -> (F + classes,), or as constant maps, one channel per class,
  (H, W, C) -> (H, W, C + classes); the label channels come last.
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
    spectral_norm: bool = False


@dataclass(frozen=True)
class Conv2d:
    name: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    padding: int
    bias: bool = True
    spectral_norm: bool = False


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
    spectral_norm: bool = False


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


@dataclass(frozen=True)
class SelfAttention:
    """SAGAN's block (Zhang et al. 2018) on (H, W, C), N = H*W positions:
    q = query(x), k = key(x) (N, C // reduction); v = value(x) (N, C), each a
    1x1 convolution; A = softmax over j of q_i . k_j (N, N);
    out = gamma * (A v) + x, gamma a learned scalar initialised 0.
    The key has no bias: it would add q_i . b to every energy of row i, which
    the softmax cancels, so its gradient is 0 and it would only drift on
    rounding noise."""

    name: str
    channels: int
    reduction: int = 8
    spectral_norm: bool = False  # on the query, key and value convolutions

    @property
    def key_channels(self) -> int:
        return self.channels // self.reduction

    def convolutions(self) -> tuple[Conv2d, Conv2d, Conv2d]:
        """query, key, value: 1x1, stride 1, no padding."""
        c, ck, sn = self.channels, self.key_channels, self.spectral_norm
        return (Conv2d("query", c, ck, 1, 1, 0, spectral_norm=sn),
                Conv2d("key", c, ck, 1, 1, 0, bias=False, spectral_norm=sn),
                Conv2d("value", c, c, 1, 1, 0, spectral_norm=sn))


@dataclass(frozen=True)
class ConcatLabels:
    """Appends the one-hot class label (see the module docstring); a network
    holding one is conditional and is called with labels."""

    num_classes: int


Layer = Union[Dense, Conv2d, ConvTranspose2d, BatchNorm, Activation, Reshape, Flatten,
              SelfAttention, ConcatLabels]
ParametrisedLayer = Union[Dense, Conv2d, ConvTranspose2d, BatchNorm, SelfAttention]
Shape = tuple[int, ...]
InitKind = Literal["normal", "normal_one", "zeros", "ones", "unit_vector"]


@dataclass(frozen=True)
class Parameter:
    """One canonical array: its shape, how `benchmark.weights` initialises it
    (normal: N(0, std); normal_one: N(1, std); unit_vector: a normal draw
    scaled to norm 1), and whether an optimizer updates it."""

    shape: Shape
    init: InitKind
    trainable: bool = True


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
    if isinstance(layer, SelfAttention):
        if len(shape) != 3 or shape[2] != layer.channels:
            raise mismatch(f"(H, W, {layer.channels})")
        if layer.key_channels < 1:
            raise mismatch(f"at least {layer.reduction} channels")
        return shape
    if isinstance(layer, ConcatLabels):
        if len(shape) not in (1, 3):
            raise mismatch("(F,) or (H, W, C)")
        return (*shape[:-1], shape[-1] + layer.num_classes)
    return shape  # Activation


def _size(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def fan_in(layer: Dense | Conv2d | ConvTranspose2d) -> int:
    """Columns of the matrix spectral norm sees: kh * kw * in (in for Dense)."""
    if isinstance(layer, Dense):
        return layer.in_features
    return layer.kernel * layer.kernel * layer.in_channels


def layer_parameters(layer: ParametrisedLayer) -> dict[str, Parameter]:
    """The layer's own arrays by kind ("kernel", "sn_u", ...), canonical
    shapes; a SelfAttention's convolutions are layers of their own."""
    if isinstance(layer, (Dense, Conv2d, ConvTranspose2d)):
        out = layer.out_features if isinstance(layer, Dense) else layer.out_channels
        if isinstance(layer, Dense):
            kernel: Shape = (layer.in_features, out)
        else:
            kernel = (layer.kernel, layer.kernel, layer.in_channels, out)
        params = {"kernel": Parameter(kernel, "normal")}
        if layer.bias:
            params["bias"] = Parameter((out,), "zeros")
        if layer.spectral_norm:
            params["sn_u"] = Parameter((out,), "unit_vector", trainable=False)
            params["sn_v"] = Parameter((fan_in(layer),), "unit_vector", trainable=False)
        return params
    if isinstance(layer, BatchNorm):
        c = (layer.num_features,)
        return {"gamma": Parameter(c, "normal_one"), "beta": Parameter(c, "zeros"),
                "moving_mean": Parameter(c, "zeros", trainable=False),
                "moving_var": Parameter(c, "ones", trainable=False)}
    if isinstance(layer, SelfAttention):
        return {"gamma": Parameter((1,), "zeros")}
    raise TypeError(f"{layer!r} holds no parameters")


def parametrised_layers(net: NetSpec) -> list[tuple[str, ParametrisedLayer]]:
    """(path, layer) of every layer holding parameters, in network order;
    a SelfAttention is followed by its convolutions ("attention/query", ...)."""
    found: list[tuple[str, ParametrisedLayer]] = []
    for layer in net.layers:
        if isinstance(layer, (Dense, Conv2d, ConvTranspose2d, BatchNorm, SelfAttention)):
            found.append((layer.name, layer))
        if isinstance(layer, SelfAttention):
            found += [(f"{layer.name}/{conv.name}", conv) for conv in layer.convolutions()]
    return found


def parameter_specs(net: NetSpec) -> dict[str, Parameter]:
    """Canonical key ("generator/deconv1/kernel") -> Parameter, network order."""
    return {f"{net.name}/{path}/{kind}": param
            for path, layer in parametrised_layers(net)
            for kind, param in layer_parameters(layer).items()}


def parameter_shapes(net: NetSpec) -> dict[str, Shape]:
    """Canonical name -> canonical shape of every weight and state array
    (BatchNorm statistics, spectral-norm vectors)."""
    return {key: param.shape for key, param in parameter_specs(net).items()}


def trainable_parameter_count(net: NetSpec) -> int:
    """Trainable scalars (BatchNorm statistics and spectral-norm vectors excluded)."""
    return sum(_size(p.shape) for p in parameter_specs(net).values() if p.trainable)


def is_conditional(net: NetSpec) -> bool:
    """Whether the network reads class labels."""
    return any(isinstance(layer, ConcatLabels) for layer in net.layers)
