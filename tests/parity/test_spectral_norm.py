"""Spectral norm, written by hand in both twins (`SpectralNorm` in each
`nets.py`), against the numpy reference `benchmark.weights.power_iteration`.

Tolerances, float32 rounding derived by `tests.parity.rounding` (u sqrt(2n)
for each sum of n terms, u = 2^-24), each named at its test:
- one training pass moves u and v to the reference's one power iteration:
  the rounding of that iteration (`power_iteration_budget`), absolute on unit
  vectors: 1.3e-6 to 1.9e-6 here, measured 7e-8 at most.
- the layer's output is the layer with kernel / (u . W v): the layer's
  budget, twice (the reference rounds too), relative to the largest output;
  in inference mode sigma comes from the stored random u, v, a sum that can
  cancel, whose rounding is scaled up by how much it cancels: measured 6x or
  more below the bound.
- after 100 training passes u . W v is the largest singular value of W (numpy
  SVD) and W / sigma has spectral norm 1: power iteration converges like
  (sigma_2 / sigma_1)^(2k) (computed from the SVD, at most 6e-11 here), plus
  the rounding of the iteration and of sigma: measured 1.3e-7 at most.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.specs.layers import Conv2d, ConvTranspose2d, Dense, NetSpec, parameter_specs
from benchmark.weights import power_iteration, spectral_norm_matrix
from tests.parity.rounding import U32, power_iteration_lengths, rounding_budget

torch = pytest.importorskip("torch")
torch_nets = pytest.importorskip("torch_impl.nets")
torch_weights = pytest.importorskip("torch_impl.weights")
tf_nets = pytest.importorskip("tf_impl.nets")
tf_weights = pytest.importorskip("tf_impl.weights")

PASSES = 100  # of the convergence test

NETS = {  # one spectrally normalised layer each
    "dense": NetSpec("n", (10,), (Dense("layer", 10, 6, spectral_norm=True),)),
    "conv": NetSpec("n", (8, 8, 3), (Conv2d("layer", 3, 5, 3, 2, 1, spectral_norm=True),)),
    "conv_transpose": NetSpec("n", (4, 4, 3), (
        ConvTranspose2d("layer", 3, 5, 4, 2, 1, spectral_norm=True),)),
}


class Twin:
    """One framework's network with `layer` loaded, run in either mode, its
    state read back canonically."""

    def __init__(self, framework: str, net: NetSpec, weights: dict[str, np.ndarray]) -> None:
        self.framework, self.net = framework, net
        if framework == "torch":
            self.model = torch_nets.build_network(net)
            torch_weights.import_network(net, self.model, weights)
        else:
            self.model = tf_nets.build_network(net)
            tf_weights.import_network(net, self.model, weights)

    def __call__(self, x: np.ndarray, training: bool) -> np.ndarray:
        if self.framework == "tf":
            return self.model(x, training=training).numpy()
        self.model.train(training)
        images = x.ndim == 4
        with torch.no_grad():
            out = self.model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy() if images else x))
        return out.numpy().transpose(0, 2, 3, 1) if images else out.numpy()

    def state(self) -> dict[str, np.ndarray]:
        module = torch_weights if self.framework == "torch" else tf_weights
        return module.export_network(self.net, self.model)


def power_iteration_budget(matrix: np.ndarray) -> float:
    """The rounding of one float32 power iteration on `matrix` (out, fan_in), relative."""
    out, fan_in = matrix.shape
    return U32 * sum(np.sqrt(2 * n) for n in power_iteration_lengths(fan_in, out))


def draw(net: NetSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Kernel N(0, 1), bias N(0, 0.1), u and v independent random unit vectors."""
    rng = np.random.default_rng(seed)
    weights = {}
    for key, param in parameter_specs(net).items():
        value = rng.normal(0, 0.1 if key.endswith("bias") else 1.0, param.shape)
        weights[key] = value / np.linalg.norm(value) if key.endswith(("sn_u", "sn_v")) else value
    return {k: v.astype(np.float32) for k, v in weights.items()}


def reference_output(net: NetSpec, weights: dict[str, np.ndarray], sigma: float,
                     x: np.ndarray) -> np.ndarray:
    """The plain layer (no spectral norm) with kernel / sigma, in torch."""
    plain_layer = net.layers[0].__class__(**{**net.layers[0].__dict__, "spectral_norm": False})
    plain = NetSpec(net.name, net.input_shape, (plain_layer,))
    scaled = {k: v for k, v in weights.items() if not k.endswith(("sn_u", "sn_v"))}
    scaled["n/layer/kernel"] = (weights["n/layer/kernel"] / np.float32(sigma)).astype(np.float32)
    return Twin("torch", plain, scaled)(x, training=False)


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize("name", NETS)
def test_one_training_pass_is_one_power_iteration(name, framework):
    net = NETS[name]
    weights = draw(net)
    x = np.random.default_rng(1).normal(size=(2, *net.input_shape)).astype(np.float32)
    matrix = spectral_norm_matrix(weights["n/layer/kernel"].astype(np.float64))
    u, v = power_iteration(matrix, weights["n/layer/sn_u"].astype(np.float64))

    twin = Twin(framework, net, weights)
    out = twin(x, training=True)
    state = twin.state()
    np.testing.assert_allclose(state["n/layer/sn_u"], u, atol=power_iteration_budget(matrix))
    np.testing.assert_allclose(state["n/layer/sn_v"], v, atol=power_iteration_budget(matrix))
    expected = reference_output(net, weights, u @ matrix @ v, x)
    rtol = 2 * rounding_budget([net], training=True, batch=len(x))
    assert np.max(np.abs(out - expected)) / np.max(np.abs(expected)) < rtol


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize("name", NETS)
def test_inference_uses_the_stored_vectors_and_keeps_them(name, framework):
    net = NETS[name]
    weights = draw(net)
    x = np.random.default_rng(1).normal(size=(2, *net.input_shape)).astype(np.float32)
    twin = Twin(framework, net, weights)
    out = twin(x, training=False)
    for key in ("n/layer/sn_u", "n/layer/sn_v"):
        np.testing.assert_array_equal(twin.state()[key], weights[key])
    matrix = spectral_norm_matrix(weights["n/layer/kernel"].astype(np.float64))
    u, v = weights["n/layer/sn_u"], weights["n/layer/sn_v"]
    sigma = u @ matrix @ v  # stored u, v: any sign, and possibly a cancelling sum
    expected = reference_output(net, weights, sigma, x)
    # The budget takes a sum of n terms t to be ~sqrt(sum t^2) large (random
    # signs); this one may be smaller (dense: 0.12 from terms 8.3x its size),
    # and its rounding relative to sigma grows by that factor.
    terms = u[:, None] * matrix * v[None, :]
    cancellation = max(1.0, float(np.sqrt(np.sum(terms**2)) / abs(sigma)))
    rows, fan_in = matrix.shape
    sigma_rounding = U32 * (np.sqrt(2 * fan_in) + np.sqrt(2 * rows))
    rtol = 2 * (rounding_budget([net], training=False, batch=len(x)) + sigma_rounding * (cancellation - 1))
    assert np.max(np.abs(out - expected)) / np.max(np.abs(expected)) < rtol


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize("name", NETS)
def test_sigma_converges_to_the_largest_singular_value(name, framework):
    net = NETS[name]
    weights = draw(net)
    x = np.zeros((1, *net.input_shape), np.float32)
    twin = Twin(framework, net, weights)
    for _ in range(PASSES):
        twin(x, training=True)
    state = twin.state()
    matrix = spectral_norm_matrix(weights["n/layer/kernel"].astype(np.float64))
    sigma = state["n/layer/sn_u"] @ matrix @ state["n/layer/sn_v"]
    singular_values = np.linalg.svd(matrix, compute_uv=False)
    rows, fan_in = matrix.shape
    rtol = ((singular_values[1] / singular_values[0]) ** (2 * PASSES)  # not yet converged
            + power_iteration_budget(matrix) + U32 * (np.sqrt(2 * fan_in) + np.sqrt(2 * rows)))  # u . W v
    assert sigma == pytest.approx(singular_values[0], rel=rtol)
    assert np.linalg.norm(matrix / sigma, 2) == pytest.approx(1.0, rel=rtol)
