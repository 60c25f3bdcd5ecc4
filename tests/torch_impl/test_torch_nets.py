"""torch_impl's own layers against PyTorch's reference implementations.

`SpectralNorm` is written by hand (see its docstring for why); here it is
checked against `torch.nn.utils.spectral_norm`, whose arithmetic it promises:
the same outputs, u, v and weight gradients over two training passes (a GAN's
D(real), D(fake)) and in eval mode. Tolerance: float32 rounding, 1e-6
relative (the reference lays out v as (in, kh, kw), ours (kh, kw, in), so the
sums run in another order)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from benchmark.specs.layers import SelfAttention  # noqa: E402
from torch_impl.nets import SelfAttentionBlock, SNConv2d, SNConvTranspose2d, SNDense  # noqa: E402

RTOL = 1e-6


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max()) < RTOL


def fan_in_to_reference(v: torch.Tensor, layer: nn.Module) -> torch.Tensor:
    """Our v, ordered (kh, kw, in), in the reference's (in, kh, kw) order."""
    if isinstance(layer, nn.Linear):
        return v
    in_channels = layer.in_channels
    kh, kw = layer.kernel_size
    return v.view(kh, kw, in_channels).permute(2, 0, 1).reshape(-1)


LAYERS = {
    "dense": (lambda: SNDense(7, 5, bias=True), lambda: nn.Linear(7, 5), (3, 7), 0),
    "conv": (lambda: SNConv2d(3, 5, 3, stride=2, padding=1),
             lambda: nn.Conv2d(3, 5, 3, stride=2, padding=1), (2, 3, 8, 8), 0),
    "conv_transpose": (lambda: SNConvTranspose2d(3, 5, 4, stride=2, padding=1),
                       lambda: nn.ConvTranspose2d(3, 5, 4, stride=2, padding=1), (2, 3, 4, 4), 1),
}


@pytest.mark.parametrize("name", LAYERS)
def test_spectral_norm_matches_torch_reference(name):
    make_ours, make_reference, input_shape, dim = LAYERS[name]
    torch.manual_seed(0)
    ours, reference = make_ours(), make_reference()
    with torch.no_grad():
        reference.weight.copy_(ours.weight)
        reference.bias.copy_(ours.bias)
    reference = nn.utils.spectral_norm(reference, dim=dim)
    with torch.no_grad():
        reference.weight_u.copy_(ours.sn_u)
        reference.weight_v.copy_(fan_in_to_reference(ours.sn_v, ours))

    x1, x2 = torch.randn(input_shape), torch.randn(input_shape)
    outputs = []
    for module in (ours, reference):
        module.train()
        y1, y2 = module(x1), module(x2)  # two passes, two power iterations, one backward
        (y1.square().mean() - y2.mean()).backward()
        module.eval()
        outputs.append((y1, y2, module(x1)))
    for a, b in zip(*outputs):
        assert close(a, b)
    assert close(ours.sn_u, reference.weight_u)
    assert close(fan_in_to_reference(ours.sn_v, ours), reference.weight_v)
    assert close(ours.weight.grad, reference.weight_orig.grad)


def test_self_attention_with_gamma_zero_is_the_identity():
    block = SelfAttentionBlock(SelfAttention("attention", 16))
    x = torch.randn(2, 16, 5, 5)
    assert torch.equal(block(x), x)
