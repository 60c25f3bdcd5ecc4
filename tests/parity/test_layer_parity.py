"""Layer geometries and layers the model twins use only in a few places,
checked on their own from random weights: padding that Keras' "same" cannot
express (explicit ZeroPadding2D / Cropping2D), a transposed convolution with
output_padding, BatchNorm after a Dense, self-attention with a non-zero gamma
(the models start it at 0, which hides the attention path), spectral norm on
every kind of layer, and class labels concatenated as features and as maps.
Inference mode (moving statistics, stored u and v) and training mode (batch
statistics, one power iteration) both.

Tolerance: float32 rounding, derived per network and mode from its layers by
`tests.parity.rounding.rounding_budget` (u sqrt(2n) summed over its sums of n
terms), twice over since both twins round: 4e-6 to 4e-5 of the largest output
magnitude here, measured 16x to 100x below it with AVX-512 and AVX2 kernels."""

import numpy as np
import pytest

from benchmark.specs.layers import (
    Activation, BatchNorm, ConcatLabels, Conv2d, ConvTranspose2d, Dense, Flatten, NetSpec, Reshape,
    SelfAttention, parameter_specs,
)
from benchmark.weights import power_iteration, spectral_norm_matrix
from tests.parity.rounding import rounding_budget

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
    "spectral_norm_and_attention": NetSpec("g", (12,), (
        Dense("fc", 12, 4 * 4 * 16, spectral_norm=True), Reshape((4, 4, 16)),
        SelfAttention("attention", 16, spectral_norm=True),  # 16 positions, key channels 2
        ConvTranspose2d("up", 16, 8, kernel=4, stride=2, padding=1, spectral_norm=True),  # 8x8
        SelfAttention("attention2", 8, reduction=4),  # no spectral norm
        Conv2d("down", 8, 3, kernel=3, stride=2, padding=1, bias=False, spectral_norm=True),  # 4x4
    )),
    "labels_as_features_and_as_maps": NetSpec("c", (6,), (
        ConcatLabels(10), Dense("fc", 16, 5 * 5 * 4), Reshape((5, 5, 4)),
        ConcatLabels(10), Conv2d("conv", 14, 3, kernel=3, stride=1, padding=1),  # 5x5x3
    )),
}


def random_weights(net: NetSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """N(0, 0.2) everywhere (gamma too); positive moving variances; spectral-norm
    u, v a few power iterations in, so that sigma is far from 0."""
    weights = {k: rng.normal(0, 0.2, p.shape) for k, p in parameter_specs(net).items()}
    for key in weights:
        if key.endswith("moving_var"):
            weights[key] = np.abs(weights[key]) + 0.5
        if key.endswith("/sn_u"):
            prefix = key[: -len("sn_u")]
            u = weights[key]
            for _ in range(3):
                u, v = power_iteration(spectral_norm_matrix(weights[prefix + "kernel"]), u)
            weights[key], weights[prefix + "sn_v"] = u, v
    return {k: v.astype(np.float32) for k, v in weights.items()}


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("name", NETS)
def test_layers_agree(name, training):
    net = NETS[name]
    rng = np.random.default_rng(0)
    weights = random_weights(net, rng)
    x = rng.normal(size=(4, *net.input_shape)).astype(np.float32)
    labels = np.array([0, 3, 9, 3])

    t_model = torch_nets.build_network(net).train(training)
    torch_weights.import_network(net, t_model, weights)
    t_in = torch.from_numpy(x if x.ndim == 2 else x.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        t_out = t_model(t_in, torch.from_numpy(labels)).numpy()
    if t_out.ndim == 4:
        t_out = t_out.transpose(0, 2, 3, 1)

    k_model = tf_nets.build_network(net)
    tf_weights.import_network(net, k_model, weights)
    k_out = k_model(x, labels, training=training).numpy()

    # Each twin within the budget of exact arithmetic, so within twice it of
    # the other; the statistics and vectors come from sums along the same path.
    rtol = 2 * rounding_budget([net], training=training, batch=len(x))
    assert t_out.shape == k_out.shape
    assert np.max(np.abs(t_out - k_out)) / np.max(np.abs(k_out)) < rtol
    # Training mode moved the BatchNorm statistics and spectral-norm vectors the same way.
    t_state, k_state = torch_weights.export_network(net, t_model), tf_weights.export_network(net, k_model)
    for key, value in weights.items():
        scale = np.max(np.abs(value))
        assert np.max(np.abs(t_state[key] - k_state[key])) <= rtol * scale, key
        if not training:
            np.testing.assert_array_equal(t_state[key], value, err_msg=key)


def test_labels_change_the_output():
    net = NETS["labels_as_features_and_as_maps"]
    weights = random_weights(net, np.random.default_rng(1))
    model = tf_nets.build_network(net)
    tf_weights.import_network(net, model, weights)
    x = np.zeros((2, 6), np.float32)
    out = model(x, np.array([2, 7]), training=False).numpy()
    assert not np.allclose(out[0], out[1])
