"""Layer geometries the DCGAN twins do not use, checked on their own: padding
that Keras' "same" cannot express (explicit ZeroPadding2D / Cropping2D), a
transposed convolution with output_padding, and BatchNorm after a Dense.

Tolerance: 1e-5 relative to the largest output magnitude (float32 rounding)."""

import numpy as np
import pytest

from benchmark.specs.layers import (
    Activation, BatchNorm, Conv2d, ConvTranspose2d, Dense, Flatten, NetSpec, Reshape,
    parameter_shapes,
)

torch = pytest.importorskip("torch")
torch_nets = pytest.importorskip("torch_impl.nets")
torch_weights = pytest.importorskip("torch_impl.weights")
tf_nets = pytest.importorskip("tf_impl.nets")
tf_weights = pytest.importorskip("tf_impl.weights")

NETS = {
    "k5_s2_p2_with_output_padding": NetSpec("g", (16,), (
        Dense("fc", 16, 7 * 7 * 8), BatchNorm("bn", 7 * 7 * 8), Reshape((7, 7, 8)),
        ConvTranspose2d("up", 8, 4, kernel=5, stride=2, padding=2, output_padding=1),  # 14x14
        Activation("leaky_relu", 0.2),
        Conv2d("down", 4, 3, kernel=5, stride=2, padding=2),  # 7x7
        Activation("tanh"),
    )),
    "k3_s1_p1_then_dense": NetSpec("d", (12, 12, 2), (
        Conv2d("conv", 2, 5, kernel=3, stride=1, padding=1), BatchNorm("bn", 5),
        Activation("relu"), Conv2d("valid", 5, 4, kernel=3, stride=3, padding=0),  # 4x4
        Flatten(), Dense("fc", 64, 3),
    )),
}


@pytest.mark.parametrize("name", NETS)
def test_odd_geometries_agree(name):
    net = NETS[name]
    rng = np.random.default_rng(0)
    weights = {k: rng.normal(0, 0.2, s).astype(np.float32) for k, s in parameter_shapes(net).items()}
    for key in weights:
        if key.endswith("moving_var"):
            weights[key] = np.abs(weights[key]) + 0.5
    x = rng.normal(size=(4, *net.input_shape)).astype(np.float32)

    t_model = torch_nets.build_network(net).eval()
    torch_weights.import_network(net, t_model, weights)
    t_in = torch.from_numpy(x if x.ndim == 2 else x.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        t_out = t_model(t_in).numpy()
    if t_out.ndim == 4:
        t_out = t_out.transpose(0, 2, 3, 1)

    k_model = tf_nets.build_network(net)
    tf_weights.import_network(net, k_model, weights)
    k_out = k_model(x, training=False).numpy()

    assert t_out.shape == k_out.shape
    assert np.max(np.abs(t_out - k_out)) / np.max(np.abs(k_out)) < 1e-5
