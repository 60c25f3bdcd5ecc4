"""torch_impl's own layers against PyTorch's reference implementations, and
the DCGAN paper networks' ends against pytorch/examples' layers.

`SpectralNorm` is written by hand (see its docstring for why); here it is
checked against `torch.nn.utils.spectral_norm`, whose arithmetic it promises:
the same outputs, u, v and weight gradients over two training passes (a GAN's
D(real), D(fake)) and in eval mode. Tolerance: float32 rounding, relative to
the largest magnitude, since the reference lays out v as (in, kh, kw) and
ours as (kh, kw, in), so the sums run in another order: the budget of
`tests.parity.rounding` (u sqrt(2n) per sum of n terms) for the two passes
(power iterations, sigma, the layer) and the weight gradient's sum over batch
and positions, twice since both round. 8e-6 to 1.4e-5; measured 4.3e-7 at
most, with AVX-512 and AVX2 kernels."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from benchmark.specs import spec_for_image  # noqa: E402
from benchmark.specs.layers import (  # noqa: E402
    Conv2d, ConvTranspose2d, Dense, NetSpec, SelfAttention, infer_shapes,
)
from tests.parity.rounding import rounding_budget  # noqa: E402
from torch_impl.nets import (  # noqa: E402
    SelfAttentionBlock, SNConv2d, SNConvTranspose2d, SNDense, build_network,
)
from torch_impl.weights import import_network  # noqa: E402



def close(a: torch.Tensor, b: torch.Tensor, rtol: float) -> bool:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max()) < rtol


def rounding_tolerance(layer, input_shape: tuple[int, ...]) -> float:
    """Twice the budget of two training passes through `layer` (a spec layer)
    and of its weight gradient's sum over the batch and output positions."""
    canonical = (*input_shape[2:], input_shape[1]) if len(input_shape) == 4 else input_shape[1:]  # HWC
    net = NetSpec("n", tuple(canonical), (layer,))
    (_, _, out_shape), = infer_shapes(net)
    gradient_terms = input_shape[0] * (out_shape[0] * out_shape[1] if len(out_shape) == 3 else 1)
    return 2 * rounding_budget([net, net], training=True, batch=input_shape[0], extra=(gradient_terms,))


def fan_in_to_reference(v: torch.Tensor, layer: nn.Module) -> torch.Tensor:
    """Our v, ordered (kh, kw, in), in the reference's (in, kh, kw) order."""
    if isinstance(layer, nn.Linear):
        return v
    in_channels = layer.in_channels
    kh, kw = layer.kernel_size
    return v.view(kh, kw, in_channels).permute(2, 0, 1).reshape(-1)


# name: (ours, the reference, input shape (NCHW), spectral_norm's dim, the spec layer)
LAYERS = {
    "dense": (lambda: SNDense(7, 5, bias=True), lambda: nn.Linear(7, 5), (3, 7), 0,
              Dense("l", 7, 5, spectral_norm=True)),
    "conv": (lambda: SNConv2d(3, 5, 3, stride=2, padding=1),
             lambda: nn.Conv2d(3, 5, 3, stride=2, padding=1), (2, 3, 8, 8), 0,
             Conv2d("l", 3, 5, 3, 2, 1, spectral_norm=True)),
    "conv_transpose": (lambda: SNConvTranspose2d(3, 5, 4, stride=2, padding=1),
                       lambda: nn.ConvTranspose2d(3, 5, 4, stride=2, padding=1), (2, 3, 4, 4), 1,
                       ConvTranspose2d("l", 3, 5, 4, 2, 1, spectral_norm=True)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_spectral_norm_matches_torch_reference(name):
    make_ours, make_reference, input_shape, dim, spec_layer = LAYERS[name]
    rtol = rounding_tolerance(spec_layer, input_shape)
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
        assert close(a, b, rtol)
    assert close(ours.sn_u, reference.weight_u, rtol)
    assert close(fan_in_to_reference(ours.sn_v, ours), reference.weight_v, rtol)
    assert close(ours.weight.grad, reference.weight_orig.grad, rtol)


def test_self_attention_with_gamma_zero_is_the_identity():
    block = SelfAttentionBlock(SelfAttention("attention", 16))
    x = torch.randn(2, 16, 5, 5)
    assert torch.equal(block(x), x)


def test_the_paper_networks_ends_are_pytorch_examples_layers():
    """`benchmark.specs.dcgan_paper` writes pytorch/examples' first G layer,
    ConvTranspose2d(100, 512, 4, 1, 0) on z as a 1x1 image, as Dense "project"
    + Reshape, and D's last, Conv2d(512, 1, 4, 1, 0) on the 4x4 maps, as
    Flatten + Dense "logit": the same outputs from the same kernel, its
    entries rearranged (float64: equal up to its rounding)."""
    torch.manual_seed(0)
    spec = spec_for_image("dcgan", (64, 64, 3))
    project = NetSpec("g", (100,), spec.generator.layers[:2])  # Dense, Reshape((4, 4, 512))
    reference = nn.ConvTranspose2d(100, 512, 4, 1, 0, bias=False).double()
    ours = build_network(project).double()
    # (in, out, kh, kw) -> (in, kh, kw, out): the Dense's columns in (H, W, C) order
    import_network(project, ours, {"g/project/kernel": reference.weight.detach().permute(0, 2, 3, 1)
                                   .reshape(100, -1).numpy()})
    z = torch.randn(3, 100, dtype=torch.float64)
    assert torch.allclose(ours(z), reference(z.view(3, 100, 1, 1)), rtol=0, atol=1e-12)

    logit = NetSpec("d", (4, 4, 512), spec.discriminator.layers[-2:])  # Flatten, Dense
    reference = nn.Conv2d(512, 1, 4, 1, 0).double()
    ours = build_network(logit).double()
    # (out, in, kh, kw) -> (kh, kw, in, out), the canonical Conv2d kernel, is the Dense's (8192, 1)
    import_network(logit, ours, {"d/logit/kernel": reference.weight.detach().permute(2, 3, 1, 0)
                                 .reshape(-1, 1).numpy(), "d/logit/bias": reference.bias.detach().numpy()})
    x = torch.randn(3, 512, 4, 4, dtype=torch.float64)
    assert torch.allclose(ours(x), reference(x).flatten(1), rtol=0, atol=1e-12)
