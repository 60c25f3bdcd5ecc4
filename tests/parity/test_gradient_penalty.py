"""The WGAN-GP gradient penalty (`losses.gradient_penalty` in each twin) and
its place in the training step.

Tolerances, float32 rounding derived by `tests.parity.rounding` (u sqrt(2n)
for each sum of n terms, u = 2^-24), each named at its test:
- a linear critic f(x) = <w, x> has gradient w at every x, exactly, so the
  penalty is (||w|| - 1)^2; its rounding is that of w and of the 784-term norm,
  through d(n - 1)^2 = 2 (n - 1) dn (`linear_penalty_tolerance`).
- the penalty of the wgan_gp critic from the same weights and inputs: each
  gradient norm n carries the rounding of the critic's forward and backward
  passes and of its own sum, and moves the penalty mean((n - 1)^2) by at
  most 2 |n - 1| n times that (n from float64 PyTorch), plus the mean's own
  rounding; twice over, both twins round (`penalty_tolerance`).
- its gradient with respect to every critic weight (the double backward):
  four passes through the critic (forward, backward, and their backward), the
  norm and the weight gradient's sum over the batch and positions; twice,
  relative to the largest magnitude of each gradient.
- the step's d_loss with the penalty minus the d_loss without it is
  gradient_penalty * penalty: the penalty's tolerance with G's pass added
  (the step made the fake batch), times the weight, plus the two losses' own
  rounding.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmark.runner import RunnerOptions, StepInputs
from benchmark.specs import get_spec
from benchmark.specs.layers import Dense, Flatten, NetSpec
from benchmark.weights import initial_weights
from tests.parity.rounding import ELEMENTWISE_TERMS, U32, rounding_budget

torch = pytest.importorskip("torch")
torch_losses = pytest.importorskip("torch_impl.losses")
torch_nets = pytest.importorskip("torch_impl.nets")
torch_weights = pytest.importorskip("torch_impl.weights")
torch_runner = pytest.importorskip("torch_impl.runner")
tf = pytest.importorskip("tensorflow")
tf_losses = pytest.importorskip("tf_impl.losses")
tf_nets = pytest.importorskip("tf_impl.nets")
tf_weights = pytest.importorskip("tf_impl.weights")
tf_runner = pytest.importorskip("tf_impl.runner")

BATCH = 16
PIXELS = 28 * 28


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-12))


def nchw(images: np.ndarray) -> "torch.Tensor":
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def penalties(net: NetSpec, weights, real, fake, mix):
    """(torch penalty, tf penalty, torch gradients, tf gradients), gradients
    canonical: key -> array in the layout of `benchmark.weights`."""
    t_model = torch_nets.build_network(net).train()
    torch_weights.import_network(net, t_model, weights)
    t_penalty = torch_losses.gradient_penalty(t_model, nchw(real), nchw(fake), torch.from_numpy(mix))
    t_penalty.backward()
    # A weight the penalty does not depend on (a bias) gets no gradient: None, read as 0.
    t_grads = {key: torch_weights._from_torch(layer, key, zero_if_none(t.grad, t))
               for layer, key, t in torch_weights._tensors(net, t_model) if t.requires_grad}

    k_model = tf_nets.build_network(net)
    tf_weights.import_network(net, k_model, weights)
    keyed = [(key, v) for _, key, v in tf_weights._variables(net, k_model) if v.trainable]
    with tf.GradientTape() as tape:
        k_penalty = tf_losses.gradient_penalty(lambda x: k_model(x, training=True),
                                               tf.constant(real), tf.constant(fake), tf.constant(mix))
    k_grads = {key: zero_if_none(g, v)
               for (key, v), g in zip(keyed, tape.gradient(k_penalty, [v for _, v in keyed]))}
    return float(t_penalty.detach()), float(k_penalty), t_grads, k_grads


def zero_if_none(grad, variable) -> np.ndarray:
    return np.zeros(tuple(variable.shape), np.float32) if grad is None else np.asarray(grad)


def gradient_norms(net: NetSpec, weights, real, fake, mix) -> np.ndarray:
    """||grad_x critic(x_hat)|| per image, float64 PyTorch in training mode."""
    model = torch_nets.build_network(net).double().train()
    torch_weights.import_network(net, model, {k: v.astype(np.float64) for k, v in weights.items()})
    m = torch.from_numpy(mix.astype(np.float64)).view(-1, 1, 1, 1)
    x_hat = (m * nchw(real.astype(np.float64)) + (1 - m) * nchw(fake.astype(np.float64))).requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x_hat).sum(), x_hat)
    return grad.flatten(1).norm(dim=1).numpy()


def penalty_tolerance(nets: tuple[NetSpec, ...], norms: np.ndarray) -> float:
    """How far float32 rounding moves one twin's penalty mean((n - 1)^2):
    each n carries the rounding of `nets` (forward and backward) and of its
    sum over an image, and moves the mean by at most 2 |n - 1| n times that;
    the mean adds its own rounding on the penalty."""
    per_norm = rounding_budget(nets, training=True, batch=BATCH, extra=(PIXELS, ELEMENTWISE_TERMS))
    penalty = float(np.mean((norms - 1) ** 2))
    return float(np.mean(2 * np.abs(norms - 1) * norms)) * per_norm + penalty * U32 * np.sqrt(2 * BATCH)


def linear_penalty_tolerance(norm: float) -> float:
    """(n - 1)^2 for n = ||w||: w rounded to float32 (relative u) and its
    784-term norm (a square, a sum, a root) give n a relative error eps, and
    the penalty moves by 2 |n - 1| n eps + (n eps)^2."""
    eps = U32 + U32 * (np.sqrt(2 * PIXELS) + 2 * np.sqrt(2 * ELEMENTWISE_TERMS))
    return 2 * abs(norm - 1) * norm * eps + (norm * eps) ** 2


@pytest.fixture(scope="module")
def batch(mnist_train):
    rng = np.random.default_rng(5)
    real = np.array(mnist_train[0][:BATCH])
    fake = np.tanh(rng.normal(size=real.shape)).astype(np.float32)
    return real, fake, rng.random(BATCH).astype(np.float32)


@pytest.mark.parametrize("norm", [1.0, 2.0, 0.5])
def test_penalty_of_a_linear_critic_is_hand_computable(norm, batch):
    net = NetSpec("critic", (28, 28, 1), (Flatten(), Dense("score", 28 * 28, 1)))
    w = np.random.default_rng(0).normal(size=(28 * 28, 1))
    weights = {"critic/score/kernel": (norm * w / np.linalg.norm(w)).astype(np.float32),
               "critic/score/bias": np.array([0.3], np.float32)}
    t_penalty, k_penalty, _, _ = penalties(net, weights, *batch)
    assert t_penalty == pytest.approx((norm - 1.0) ** 2, abs=linear_penalty_tolerance(norm))
    assert k_penalty == pytest.approx((norm - 1.0) ** 2, abs=linear_penalty_tolerance(norm))


def test_penalty_and_its_gradients_agree_for_the_wgan_gp_critic(batch):
    spec = get_spec("wgan_gp")
    weights = initial_weights(spec, seed=3)
    critic = spec.discriminator
    t_penalty, k_penalty, t_grads, k_grads = penalties(critic, weights, *batch)
    assert t_penalty > 0.01  # not a trivial 0
    norms = gradient_norms(critic, weights, *batch)
    assert t_penalty == pytest.approx(k_penalty, abs=2 * penalty_tolerance((critic, critic), norms))
    assert t_grads.keys() == k_grads.keys()
    # Forward, backward, and the backward of both; the norm; a kernel's
    # gradient sums over the batch and every output position (at most a 28x28 image's).
    gradient_rtol = 2 * rounding_budget((critic,) * 4, training=True, batch=BATCH,
                                        extra=(PIXELS, BATCH * PIXELS))
    for key in t_grads:
        if key.endswith("logit/bias"):  # the bias leaves the gradient unchanged: exactly 0
            assert not np.any(t_grads[key]) and not np.any(k_grads[key])
        else:
            assert relative_error(t_grads[key], k_grads[key]) < gradient_rtol, key


@pytest.mark.parametrize("runner_cls", [torch_runner.TorchRunner, tf_runner.TFRunner],
                         ids=["torch", "tf"])
def test_training_step_adds_the_weighted_penalty(runner_cls, batch, mnist_train):
    real, _, _ = batch
    spec = dataclasses.replace(get_spec("wgan_gp"), n_critic=1)
    plain = dataclasses.replace(spec, gradient_penalty=None)
    rng = np.random.default_rng(11)
    inputs = StepInputs.draw(spec, np.arange(BATCH)[None, :], rng)
    weights = initial_weights(spec, seed=3)
    d_losses = []
    for s in (spec, plain):
        runner = runner_cls(s, RunnerOptions())
        runner.import_weights(weights)
        runner.load_data(real, np.zeros(BATCH, np.int64))
        d_losses.append(runner.train_step(inputs)["d_loss"])
    # The penalty the step saw: the step's fake batch is G(noise[0]) in training mode.
    runner = runner_cls(plain, RunnerOptions())
    runner.import_weights(weights)
    fake = generate_in_training_mode(runner, inputs.noise[0])
    net = spec.discriminator
    t_penalty, _, _, _ = penalties(net, weights, real, fake, inputs.mix[0])
    norms = gradient_norms(net, weights, real, fake, inputs.mix[0])
    # The runner's penalty and PyTorch's on the same fake batch, each within
    # penalty_tolerance (G's pass added: the step made the batch), and the
    # two d_losses' own rounding (a sum of terms, a mean over the batch).
    tolerance = (2 * spec.gradient_penalty * penalty_tolerance((spec.generator, net, net), norms)
                 + sum(abs(d) for d in d_losses) * U32 * (np.sqrt(2 * BATCH) + np.sqrt(2 * ELEMENTWISE_TERMS)))
    assert d_losses[0] - d_losses[1] == pytest.approx(spec.gradient_penalty * t_penalty, abs=tolerance)


def generate_in_training_mode(runner, noise: np.ndarray) -> np.ndarray:
    """G(noise) with batch statistics, as inside a training step."""
    if runner.framework == "torch":
        runner.generator.train()
        with torch.no_grad():
            return runner.generator(torch.from_numpy(noise)).permute(0, 2, 3, 1).numpy()
    return runner.generator(tf.constant(noise), training=True).numpy()
